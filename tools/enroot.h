/* SPDX-License-Identifier: Apache-2.0 */
/* ctr-enroot: enroot's command line (import, create, start, list, remove, export, exec) over the
 * library and the Slurm plugin's named containers. */
#ifndef LC_TOOLS_ENROOT_H
#define LC_TOOLS_ENROOT_H

#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/types.h>

#include <libcontainer/libcontainer.h>

enum { ENROOT_OK = 0, ENROOT_FAILED = 1 };

static inline void enroot_freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ __attribute__((cleanup(enroot_freep)))

/* "[ERROR] message" on stderr, as enroot says it; returns ENROOT_FAILED. */
int enroot_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The verb's usage on stdout (--help) or stderr; returns @status. */
int enroot_usage(const char *verb, int status);

/* What every verb uses: the context, the site configuration, where the containers are. */
typedef struct enroot_cli {
	lc_ctx *ctx;
	lc_site *site;
	char *data_path; /* the directory of container names */
	bool force;      /* ENROOT_FORCE_OVERRIDE or --force */
} enroot_cli;

/* The named container @name under the data path: "Invalid argument" for a name with '/', "." or
 * "..". *@ret_dir is its directory. */
int enroot_name_dir(const enroot_cli *cli, const char *name, char **ret_dir);
/* The same, and it must be a named container: "No such file or directory: DIR". */
int enroot_existing_name_dir(const enroot_cli *cli, const char *name, char **ret_dir);

#define HELP_OPTION                            \
	{                                      \
		"help", no_argument, NULL, 'h' \
	}
#define END_OPTIONS              \
	{                        \
		NULL, 0, NULL, 0 \
	}

/* getopt_long on a verb's arguments (argv[0] is the verb), stopping at the first operand: the
 * next option, -1 at the end, or -2 after --help (usage on stdout, *@ret_status 0) or a bad
 * option (usage on stderr, *@ret_status 1), when the verb returns *@ret_status. */
int enroot_next_option(int argc, char **argv, const char *shortopts, const struct option *longopts,
		       const char *verb, int *ret_status);

/* The length of the variable name @s starts with (a letter or '_', then letters, digits, '_'),
 * 0 when it does not start with one. */
size_t enroot_env_name_len(const char *s);

/* enroot start --conf CONFIG: what a configuration script gives (enroot-conf.c). */
typedef struct enroot_conf {
	char **overrides; /* its #ENROOT_KEY=VALUE directives, "KEY=VALUE" */
	size_t n_overrides;
	char **env; /* what environ() printed, "KEY=VALUE" */
	size_t n_env;
	char *fstab;    /* what mounts() printed */
	char *rc;       /* rc(), a script for /bin/sh with the command as its arguments */
	char *hook;     /* a program that runs hooks(), in hook_dir */
	char *hook_dir; /* removed by enroot_conf_clear() */
} enroot_conf;
/* Read @path's directives and run its functions (bash, as the caller) with @args, the
 * container's command: "[ERROR] ..." and ENROOT_FAILED when it cannot be read or fails. */
int enroot_conf_load(const char *path, char *const *args, enroot_conf *c);
void enroot_conf_clear(enroot_conf *c);
/* The value of @path's last #KEY directive (KEY is "ENROOT_..."), NULL when it has none or
 * cannot be read ("[ERROR] ..." then). */
char *enroot_conf_directive(const char *path, const char *key);

/* enroot start [options] NAME|IMAGE [COMMAND] [ARG...] (argv[0] is "start"). */
int enroot_start(enroot_cli *cli, int argc, char **argv);
/* enroot batch [--] CONFIG [COMMAND] [ARG...]: start -c CONFIG ENROOT_ROOTFS. */
int enroot_batch(enroot_cli *cli, int argc, char **argv);
/* enroot exec [options] PID COMMAND [ARG...]. */
int enroot_exec(enroot_cli *cli, int argc, char **argv);
/* enroot list [-f]. */
int enroot_list(enroot_cli *cli, int argc, char **argv);

#endif
