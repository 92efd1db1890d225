/* SPDX-License-Identifier: Apache-2.0 */
/* The SPANK plugin's private interface: configuration, options, and the slurmstepd side. */
#ifndef LC_SPANK_PLUGIN_H
#define LC_SPANK_PLUGIN_H

#include <stdbool.h>
#include <stdint.h>
#include <slurm/spank.h>

#define PLUGIN_NAME "libcontainer"

/* plugstack.conf arguments: "required spank_libcontainer.so key=value ..." */
typedef struct plugin_config {
	char *runtime_path;      /* runtime_path: per-user, per-step scratch (node-local) */
	bool execute_entrypoint; /* execute_entrypoint: default of --container-entrypoint */
	bool kernel_squashfs;    /* kernel_squashfs: trusted images may use the kernel's driver */
	bool sbatch_support;     /* sbatch_support: options in sbatch/salloc */
	char *cache_path;        /* cache_path: blob cache root (<dir>/<uid>); NULL: the user's */
	unsigned connections;    /* import_connections: parallel downloads; 0: default */
	char *compression;       /* compression: zstd[:LEVEL] or none; NULL: default */
	char *http_registries;   /* allow_http: registries reached over plain HTTP */
	char *import_helper;     /* import_helper: ctr-import, absolute */
	char *importer;          /* importer: pyxis's importer protocol ("get URI", "release") */
	char *cache_data_path;   /* container_cache_data_path: the node cache; NULL: no cache */
	unsigned cache_gc_high;  /* container_cache_gc_high: % of the filesystem that starts a GC */
	unsigned cache_gc_low;   /* container_cache_gc_low: % the GC brings it under */
	bool cache_offline; /* container_cache_offline: the last digest when the registry is down */
	bool use_squashfuse; /* use_squashfuse: accepted for pyxis's plugstack lines; always FUSE */
	bool scope_job;      /* container_scope=job: named containers end with the job */
} plugin_config;

int config_parse(int argc, char **argv, plugin_config *cfg);
void config_free(plugin_config *cfg);

enum { UNSET = -1 };

/* What the --container-* flags and PYXIS_* variables asked for. */
typedef struct plugin_args {
	char *image;
	char *mounts; /* entries joined by ',' */
	char *workdir;
	int mount_home; /* UNSET, 0 or 1 */
	int remap_root;
	int entrypoint;
	bool entrypoint_log;
	int writable;
	char **env_names; /* NULL-terminated */
	uint32_t unshare; /* LC_CONTAINER_UNSHARE_* */
	bool unshare_set;
	bool cache; /* --container-cache */
	char *save; /* --container-save: where the rootfs goes at the end */
	char *name; /* --container-name's NAME */
	enum name_flag { NAME_AUTO, NAME_CREATE, NAME_EXEC, NAME_NO_EXEC } name_flag;
} plugin_args;

/* The one instance the option callbacks fill (SPANK callbacks have no user pointer). */
extern plugin_args args;

/* Add mount entries (pyxis syntax) to args.mounts, checked: -1 with a message when bad. */
int args_add_mounts(const char *spec);
/* Register every --container-* option. */
int args_register(spank_t sp);
/* PYXIS_* variables for what the flags left unset; @sp NULL: the process environment. */
int args_apply_env(spank_t sp);
/* Notes for flags that do nothing without an image; true when the plugin is on. */
bool args_check_enabled(void);
/* The plugin is on for the step: an image or a name. */
bool args_enabled(void);
/* The image is a squashfs file (a path), not a registry reference. */
bool args_image_is_file(void);
/* --container-cache's conditions: -1 with a message when one fails. */
int args_refuse_cache(const plugin_config *cfg);
/* Whether the image's entrypoint runs: the flag (or PYXIS_*), else execute_entrypoint. */
bool args_run_entrypoint(const plugin_config *cfg);
void args_free(void);

/* slurmstepd (remote.c) */
int remote_post_opt(spank_t sp, const plugin_config *cfg);
int remote_user_init(spank_t sp);
int remote_task_init_privileged(spank_t sp);
int remote_task_init(spank_t sp);
int remote_task_exit(spank_t sp);
int remote_exit(spank_t sp);
/* slurmd's job epilog: the job's named containers (container_scope=job), killed steps' files */
int remote_job_epilog(spank_t sp, const plugin_config *cfg);

#endif
