/* SPDX-License-Identifier: Apache-2.0 */
/* The SPANK plugin's private interface: configuration, options, and the slurmstepd side. */
#ifndef LC_SPANK_PLUGIN_H
#define LC_SPANK_PLUGIN_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>
#include <slurm/spank.h>

#include <libcontainer/libcontainer.h>

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
	char *sysconf_path;  /* enroot_sysconf_path: enroot's site configuration (/etc/enroot) */
	char *cdi_spec_dirs; /* cdi_spec_dirs: where CDI specs are; NULL: the library's default */
	char *nvidia_backend;  /* nvidia_backend: auto, cdi, cli or nvidia-container-cli's path */
	bool refuse_cdi_hooks; /* cdi_hooks=refuse: a spec's hook not done natively fails */
	bool standard_hook_scripts; /* enroot_standard_hooks=script: run them, not the built-ins */
	/* shared_import_path: a directory every node sees (Lustre, NFS) where one node of a job
	 * imports an image for all; NULL: each node in its runtime_path */
	char *shared_import_path;
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
	char **devices;   /* --container-devices: CDI names, NULL-terminated */
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
/* dockerd://IMAGE or podman://IMAGE: a local daemon's image, saved by the import helper. */
bool args_image_is_daemon(void);
/* --container-cache's conditions: -1 with a message when one fails. */
int args_refuse_cache(const plugin_config *cfg);
/* Whether the image's entrypoint runs: the flag (or PYXIS_*), else execute_entrypoint. */
bool args_run_entrypoint(const plugin_config *cfg);
void args_free(void);

/* ---------------------------------------------------------------- slurmstepd */

/* The step on this node: what post_opt learnt, what the task that made the container did. */
typedef struct step_state {
	bool enabled;
	const plugin_config *cfg;
	uid_t uid;
	gid_t gid;
	gid_t *gids;
	int n_gids;
	uint32_t jobid, stepid;
	uint32_t local_tasks, exited_tasks;
	uint32_t nodeid;    /* this node's index in the step (0: the first) */
	char step_name[32]; /* "<jobid>.<stepid>" */
	char cwd[PATH_MAX]; /* the job's working directory ("/" when unknown) */
	char *user_dir;     /* <runtime_path>/<uid> */
	char *job_images;   /* the job's imports (a node cache's layout), for a registry image */
	char *save_path;    /* --container-save, absolute */
	/* --container-name's container, or for an unnamed step its own name <jobid>.<stepid>,
	 * through which other steps join it: <user_dir>/<ename> */
	char ename[256]; /* pyxis_NAME, or pyxis_<jobid>_NAME in job scope */
	char *named_dir;
	char extra_env[6][PATH_MAX + 32]; /* what pyxis passes its importer, for every helper */
	lc_group *group;
	bool entrypoint; /* the image's entrypoint runs */
	bool created;    /* this task started (or joined) the container */
	int64_t import_ms, setup_ms;
	char import_timings[256];
} step_state;

/* How start_container() gets the group's container. */
enum start_mode {
	START_NEW,      /* a new container (with a name: the name's instance) */
	START_JOIN,     /* join the running instance of the name */
	START_SEPARATE, /* no_exec beside a running one: its own overlay work directory */
};

static inline int64_t plugin_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* step.c: the SPANK hooks in slurmstepd */
int remote_post_opt(spank_t sp, const plugin_config *cfg);
int remote_user_init(spank_t sp);
int remote_task_init_privileged(spank_t sp);
int remote_task_init(spank_t sp);
int remote_task_post_fork(spank_t sp);
int remote_task_exit(spank_t sp);
int remote_exit(spank_t sp);

/* start.c: the step's container from its state, the library's log, --container-save */
int start_container(spank_t sp, step_state *s, const char *image, int hold_fd, lc_named *named,
		    enum start_mode mode, lc_error *err);
/* An unnamed step's container, which other steps may join by its name <jobid>.<stepid>. */
int create_container(spank_t sp, step_state *s, lc_error *err);
int save_container(spank_t sp, const step_state *s);

/* watch.c: the container's holder, watched from slurmstepd while the tasks run: when it dies
 * (its FUSE server with it), the tasks are ended with SIGKILL and the step fails. */
void watch_task(lc_group *group, pid_t pid);
void watch_end(void);

/* import.c: helpers run as the user; ctr-import and the site's importer */
bool import_by_importer(const step_state *s);
/* With @progress, the helper's progress lines (LC_HELPER_PROGRESS_FD) go to the job's log as
 * they come. */
int helper_run(spank_t sp, const step_state *s, const char *const *argv, bool progress,
	       char ***ret_stdout, char ***ret_log, int *ret_status, lc_error *err);
/* A helper's or the entrypoint's output: as errors when something failed, else to the user. */
void print_log(const char *what, char **log, bool failed);
/* A registry image into the file @to (or the site's importer's), announced and timed. */
int import_image(spank_t sp, step_state *s, const char *to, char **ret_path, lc_error *err);
/* A local daemon's image (dockerd://, podman://: ctr-import runs its save as the user) into
 * this step's file of the job's node-local imports; forget_daemon_image() removes it once the
 * container holds it. */
int daemon_image(spank_t sp, step_state *s, char **ret_path, lc_error *err);
void forget_daemon_image(const step_state *s);
/* The node cache's entry of the image in @dir: look only (@lookup), or import when missing.
 * *@ret_path is NULL on a miss. */
int import_cache_entry(spank_t sp, step_state *s, const char *dir, bool lookup, char **ret_path,
		       lc_error *err);
/* lc_group_fail() for the step's other tasks: an import failure without its message, which
 * the task that imported printed. */
void group_fail(lc_group *g, const lc_error *why);
/* "IMPORTER release": once the container holds the image, and again at the end. */
void importer_release(spank_t sp, const step_state *s);

/* cache.c: --container-cache */
int cache_image(spank_t sp, step_state *s, char **ret_path, int *ret_lock, lc_error *err);
/* cache.c: a registry image from the job's imports (s->job_images), imported when missing. */
int job_image(spank_t sp, step_state *s, char **ret_path, lc_error *err);

/* named.c: --container-name */
int named_container(spank_t sp, step_state *s, lc_error *err);
/* The step is over: its own name goes, or a no_exec instance's work directory. */
void named_step_end(const step_state *s);

/* epilog.c: slurmd's job epilog: the job's named containers (container_scope=job), killed
 * steps' files */
int remote_job_epilog(spank_t sp, const plugin_config *cfg);

/* names.c: the plugin's pure string helpers (unit-tested against the SPANK stub) */
/* A job variable a helper does not get (the admin's and pyxis's own win). */
bool helper_env_denied(const char *kv);
/* --container-save's target: absolute, or relative to @cwd ("" when unknown: -EINVAL). */
int save_path_resolve(const char *save, const char *cwd, char **ret_path);
/* The URI an importer gets: the image with "docker://" in front unless it has a scheme. */
int importer_uri(const char *image, char **ret_uri);
/* The names of @job_env's variables that @env does not set (to unset in the task); NULL on
 * ENOMEM. */
char **env_names_dropped(char *const *job_env, char *const *env);

#endif
