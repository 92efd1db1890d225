/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private interface of the site module: enroot's site configuration, read the way enroot reads
 * it, so that a pyxis+enroot site's /etc/enroot (ENROOT_SYSCONF_PATH) and a user's
 * ~/.config/enroot (ENROOT_CONFIG_PATH) keep their meaning here:
 *   enroot.conf, enroot.conf.d/ *.conf   KEY VALUE settings (conf.c)
 *   environ.d/ *.env                     K=V variables for the container (environ.c)
 *   mounts.d/ *.fstab                    mounts in fstab syntax with enroot's extensions (fstab.c)
 * Everything here is text in, values out: files are opened, and mounts made, elsewhere. Site
 * files are input like any other: nothing in them runs a program.
 */
#ifndef LC_SITE_H
#define LC_SITE_H

#include <stdbool.h>
#include <sys/types.h>

#include <libcontainer/libcontainer.h>

#include "../util/util.h"

/* What the substitutions of a site file read. */
typedef struct lc_site_vars {
	const char *const *env; /* "K=V": the caller's (a job's) environment; NULL: empty */
	uid_t uid;              /* $(id -u) */
	gid_t gid;              /* $(id -g) */
} lc_site_vars;

/* ---- substitution (expand.c) */
/* enroot's envsubst, for environ.d and fstab files: every ${VAR} (a name of letters, digits and
 * '_', not starting with a digit) becomes its value in @v->env, or "" when unset; nothing else
 * changes. @v NULL: no substitution (a hook's output). -ENOMEM. */
int lc_site_subst(const lc_site_vars *v, const char *text, char **ret);
/*
 * An enroot.conf value as enroot's `eval echo VALUE` gives it, for the forms sites use: words
 * separated by blanks (joined by one space), 'single' and "double" quotes, backslash escapes,
 * $VAR, ${VAR}, ${VAR:-default}, a leading ~ (HOME), $(id -u) and $(id -g). Any other command
 * substitution, a backquote, or an unterminated quote is refused: a site file never runs a
 * program here. Unset variables are "".
 */
int lc_site_conf_value(const lc_site_vars *v, const char *text, char **ret, lc_error *err);

/* ---- enroot.conf (conf.c) */
/* Whether enroot reads @key from its configuration: ENROOT_[A-Z_]+, MELLANOX_*, NVIDIA_*,
 * SSL_CERT_DIR, SSL_CERT_FILE, and all/no/http/https_proxy. */
bool lc_site_conf_key(const char *key);
/*
 * Add the settings of one configuration file (@text, named @name in messages) to @conf ("K=V"):
 * "KEY VALUE" or "KEY=VALUE" lines, others (comments, unknown keys) skipped, values as
 * lc_site_conf_value() gives them, a later line winning over an earlier one. A key that @v->env
 * sets to a non-empty value keeps the environment's value (enroot: the caller's environment beats
 * the files). Errors name the file and line.
 */
int lc_site_conf_parse(const char *text, const char *name, const lc_site_vars *v, lc_strvec *conf,
		       lc_error *err);
/* After every file: remove the ENROOT_* settings whose value is false (n, no, N, No, NO, f, F,
 * false, False, FALSE, 0), as enroot unsets them: a feature is on when its key is set. They
 * go to @off ("K=V", may be NULL): turned off on purpose, which is not the same as unset where
 * this runtime's default differs from enroot's (ENROOT_RESTRICT_DEV). -ENOMEM. */
int lc_site_conf_finish(lc_strvec *conf, lc_strvec *off);
/* Whether the setting @key is on (set, and not removed as false). */
bool lc_site_conf_on(const lc_strvec *conf, const char *key);

/* ---- environ.d (environ.c) */
/* Add the variables of one .env file to @env, as enroot makes the container's environment file:
 * ${VAR} substituted from @v->env, leading blanks removed, comments, blank and malformed lines
 * (not NAME=...) dropped, ENROOT_* dropped, one pair of quotes around the value removed, a
 * later line winning. */
int lc_site_environ_parse(const char *text, const lc_site_vars *v, lc_strvec *env, lc_error *err);

/* ---- mounts.d (fstab.c) */
enum lc_fstab_create {
	LC_FSTAB_CREATE_NONE,
	LC_FSTAB_CREATE_DIR,
	LC_FSTAB_CREATE_FILE,
	LC_FSTAB_CREATE_AUTO
};
typedef struct lc_fstab_entry {
	char *source;        /* the fs_spec: a host path for binds, else what the fs takes */
	char *target;        /* inside the container's root */
	char *type;          /* "none" for binds */
	char *data;          /* the filesystem's own options (not flags), "" when none */
	unsigned long flags; /* MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, ... */
	unsigned long propagation;   /* MS_PRIVATE/SLAVE/SHARED/UNBINDABLE [| MS_REC] */
	enum lc_fstab_create create; /* x-create=dir|file|auto */
	bool move;                   /* x-move */
	bool detach;                 /* x-detach: unmount the target */
	bool nofail;                 /* a failure is only a warning */
	bool silent;                 /* ... and with nofail, not even that */
	int pass; /* fs_passno (fs_freq when that is 0): -1 before hooks, 0 after */
} lc_fstab_entry;
/*
 * One fstab line (@line of @name, for messages) with ${VAR} substituted, \ooo escapes decoded,
 * and enroot's completion of short forms:
 *   tmpfs /dst        -> tmpfs /dst tmpfs ""          /src /dst      -> rbind,x-create=auto
 *   /src              -> /src /src none rbind,x-create=auto      /src bind -> /src /src none bind
 *   none /dst devpts  -> as written
 * Returns 1 with *@e filled, 0 for a blank or comment line, < 0 for a bad line (the error names
 * the file, the line and what is wrong: an unknown x- option, a missing field).
 */
int lc_fstab_parse_line(const char *line, const char *name, unsigned lineno, const lc_site_vars *v,
			lc_fstab_entry *e, lc_error *err);
void lc_fstab_entry_clear(lc_fstab_entry *e);
typedef struct lc_fstab_list {
	lc_fstab_entry *v;
	size_t n, cap;
} lc_fstab_list;
/* Every line of @text (a file named @name) added to @list; the first bad line is an error. */
int lc_fstab_parse(const char *text, const char *name, const lc_site_vars *v, lc_fstab_list *list,
		   lc_error *err);
void lc_fstab_list_clear(lc_fstab_list *list);

/* ---- enroot's 50-slurm-pmi (slurm.c), for a Slurm step using PMIx (@env: the job's) */
/* PMIX_MCA_ptl/psec/gds from PMIX_PTL_MODULE/SECURITY_MODE/GDS_MODULE, unless @env sets them. */
int lc_site_slurm_pmi_env(const char *const *env, lc_strvec *out);
/* PMIX_SERVER_TMPDIR, and Slurm 22.05's client directory /tmp/spmix_appdir_<uid>_<job>.<step>,
 * bound read-write at their own paths when they exist. */
void lc_site_slurm_pmi_mounts(const char *const *env, lc_fstab_list *mounts);

/* ---- the configuration (load.c) */
struct lc_site {
	uint32_t flags;       /* LC_SITE_* */
	lc_strvec conf;       /* settings, "K=V", after lc_site_conf_finish() */
	lc_strvec off;        /* the ENROOT_* settings with a false value, "K=V" */
	lc_strvec environ;    /* the environ.d variables ("K=V"), TERM first */
	lc_fstab_list mounts; /* mounts.d, site then user, in file order */
	lc_strvec hooks;      /* executable hooks.d scripts (paths), site then user */
	lc_strvec env;        /* the caller's environment, which the hooks get */
};
/* @name is one of enroot's standard hooks, extras or fstab files, which the runtime does. */
bool lc_site_standard_file(const char *name);

#endif
