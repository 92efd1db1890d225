/* SPDX-License-Identifier: Apache-2.0 */
/* The --container-* flags and PYXIS_* variables, with pyxis's validation and messages. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libcontainer/libcontainer.h>

#include "plugin.h"

#define ENV_VALUE_MAX 4096 /* pyxis ignores longer PYXIS_* values */

plugin_args args = {
    .mount_home = UNSET, .remap_root = UNSET, .entrypoint = UNSET, .writable = UNSET};

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	slurm_error("%s", msg);
	return -1;
}

/* A value that may be given more than once only if it is the same. */
static int set_once(char **field, const char *value, const char *flag)
{
	if (!value || !*value)
		return fail(PLUGIN_NAME ": --%s: argument required", flag);
	if (*field && strcmp(*field, value))
		return fail(PLUGIN_NAME ": --%s: specified multiple times", flag);
	if (!*field && !(*field = strdup(value)))
		return -1;
	return 0;
}

/* --X / --no-X (or --container-writable / --container-readonly). */
static int set_pair(int *field, int val, const char *yes, const char *no)
{
	if (*field != UNSET && *field != val)
		return fail(PLUGIN_NAME ": both --%s and --%s were specified", yes, no);
	*field = val;
	return 0;
}

static int cb_image(int val, const char *optarg, int remote)
{
	(void)val, (void)remote;
	return set_once(&args.image, optarg, "container-image");
}

static int cb_workdir(int val, const char *optarg, int remote)
{
	(void)val, (void)remote;
	return set_once(&args.workdir, optarg, "container-workdir");
}

static int cb_save(int val, const char *optarg, int remote)
{
	(void)val, (void)remote;
	if (optarg && *optarg && optarg[strlen(optarg) - 1] == '/')
		return fail(PLUGIN_NAME ": --container-save: target is a directory");
	return set_once(&args.save, optarg, "container-save");
}

int args_add_mounts(const char *spec)
{
	lc_error err = LC_ERROR_INIT;
	char *joined = NULL;

	if (!spec || !*spec)
		return fail(PLUGIN_NAME ": --container-mounts: argument required");
	if (lc_mounts_check(spec, &err) < 0)
		return fail(PLUGIN_NAME ": --container-mounts: %s", lc_error_message(&err));
	if (args.mounts && asprintf(&joined, "%s,%s", args.mounts, spec) < 0)
		return -1;
	if (!args.mounts && !(joined = strdup(spec)))
		return -1;
	free(args.mounts);
	args.mounts = joined;
	return 0;
}

/* NAME[:auto|create|exec|no_exec]'s flag: NAME_* or -1. */
static int name_flag(const char *colon)
{
	static const char *const flags[] = {"auto", "create", "exec", "no_exec"};

	if (!colon)
		return NAME_AUTO;
	for (int i = 0; i < 4; i++)
		if (!strcmp(colon + 1, flags[i]))
			return i;
	return -1;
}

/* The name alone: a directory's name. */
static int check_name(const char *name)
{
	if (strchr(name, '/') || name[0] == '.' || strlen(name) > 200)
		return fail(PLUGIN_NAME ": --container-name: invalid name '%s' (no '/', no leading "
					"'.', at most 200 characters)",
			    name);
	if (args.name && (strcmp(args.name, name)))
		return fail(PLUGIN_NAME ": --container-name: specified multiple times");
	return 0;
}

/* NAME[:auto|create|exec|no_exec], as pyxis; the name becomes a directory's. */
static int cb_name(int val, const char *optarg, int remote)
{
	const char *colon = optarg ? strrchr(optarg, ':') : NULL;
	int flag = name_flag(colon), r;
	char *name;

	(void)val, (void)remote;
	if (!optarg || !*optarg || optarg == colon)
		return fail(PLUGIN_NAME ": --container-name: empty name");
	if (flag < 0)
		return fail(PLUGIN_NAME ": --container-name: flag must be \"auto\", "
					"\"create\", \"exec\" or \"no_exec\"");
	name = colon ? strndup(optarg, (size_t)(colon - optarg)) : strdup(optarg);
	if (!name)
		return -1;
	r = check_name(name);
	if (r >= 0 && args.name && (int)args.name_flag != flag)
		r = fail(PLUGIN_NAME ": --container-name: specified multiple times");
	if (r >= 0 && !args.name)
		args.name = name;
	else
		free(name);
	if (r >= 0)
		args.name_flag = (enum name_flag)flag;
	return r;
}

static int cb_mounts(int val, const char *optarg, int remote)
{
	(void)val, (void)remote;
	return args_add_mounts(optarg);
}

static int cb_mount_home(int val, const char *optarg, int remote)
{
	(void)optarg, (void)remote;
	return set_pair(&args.mount_home, val, "container-mount-home", "no-container-mount-home");
}

static int cb_remap_root(int val, const char *optarg, int remote)
{
	(void)optarg, (void)remote;
	return set_pair(&args.remap_root, val, "container-remap-root", "no-container-remap-root");
}

static int cb_entrypoint(int val, const char *optarg, int remote)
{
	(void)optarg, (void)remote;
	return set_pair(&args.entrypoint, val, "container-entrypoint", "no-container-entrypoint");
}

static int cb_entrypoint_log(int val, const char *optarg, int remote)
{
	(void)val, (void)optarg, (void)remote;
	args.entrypoint_log = true;
	return 0;
}

static int cb_cache(int val, const char *optarg, int remote)
{
	(void)val, (void)optarg, (void)remote;
	args.cache = true;
	return 0;
}

static int cb_writable(int val, const char *optarg, int remote)
{
	(void)optarg, (void)remote;
	return set_pair(&args.writable, val, "container-writable", "container-readonly");
}

static bool valid_env_name(const char *s, size_t len)
{
	if (!len || isdigit((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

static bool env_name_known(const char *s, size_t len)
{
	for (char **n = args.env_names; n && *n; n++)
		if (strlen(*n) == len && !strncmp(*n, s, len))
			return true;
	return false;
}

/* Append a copy of the @len bytes at @s to the NULL-terminated *@v. */
static int strv_append(char ***v, const char *s, size_t len)
{
	size_t n = 0;
	char **grown;

	while (*v && (*v)[n])
		n++;
	grown = realloc(*v, (n + 2) * sizeof(char *));
	if (!grown)
		return -1;
	*v = grown;
	grown[n] = strndup(s, len);
	grown[n + 1] = NULL;
	return grown[n] ? 0 : -1;
}

static int add_env_name(const char *s, size_t len)
{
	return env_name_known(s, len) ? 0 : strv_append(&args.env_names, s, len);
}

static int cb_env(int val, const char *optarg, int remote)
{
	(void)val, (void)remote;
	if (!optarg || !*optarg)
		return fail(PLUGIN_NAME ": --container-env: invalid format");
	for (const char *p = optarg;; p++) {
		const char *end = strchrnul(p, ',');

		if (!valid_env_name(p, (size_t)(end - p)))
			return fail(PLUGIN_NAME ": --container-env: invalid format");
		if (add_env_name(p, (size_t)(end - p)) < 0)
			return -1;
		if (!*end)
			return 0;
		p = end;
	}
}

/* A CDI name: vendor.com/class=name (the library checks the rest against the specs). */
static bool device_name_ok(const char *s, size_t len)
{
	const char *eq = memchr(s, '=', len), *slash = memchr(s, '/', len);

	return eq && slash && slash > s && slash + 1 < eq && eq + 1 < s + len &&
	       !memchr(s, ' ', len);
}

static int cb_devices(int val, const char *optarg, int remote)
{
	(void)val, (void)remote;
	if (!optarg || !*optarg)
		return fail(PLUGIN_NAME ": --container-devices: empty device list");
	for (const char *p = optarg;; p++) {
		const char *end = strchrnul(p, ',');

		if (!device_name_ok(p, (size_t)(end - p))) {
			slurm_error(PLUGIN_NAME ": --container-devices: '%.*s' is not a CDI device "
						"name (vendor.com/class=name)",
				    (int)(end - p > 200 ? 200 : end - p), p);
			return -1;
		}
		if (strv_append(&args.devices, p, (size_t)(end - p)) < 0)
			return -1;
		if (!*end)
			return 0;
		p = end;
	}
}

static int cb_unshare(int val, const char *optarg, int remote)
{
	static const struct {
		const char *name;
		uint32_t flag;
	} known[] = {{"net", LC_CONTAINER_UNSHARE_NET},
		     {"ipc", LC_CONTAINER_UNSHARE_IPC},
		     {"uts", LC_CONTAINER_UNSHARE_UTS}};

	(void)val, (void)remote;
	if (!optarg || !*optarg)
		return fail(PLUGIN_NAME ": --container-unshare: empty namespace argument");
	for (const char *p = optarg;; p++) {
		const char *end = strchrnul(p, ',');
		size_t len = (size_t)(end - p), i;
		char shown[64];

		for (i = 0; i < sizeof(known) / sizeof(*known); i++)
			if (strlen(known[i].name) == len && !strncmp(known[i].name, p, len))
				break;
		if (!len)
			return fail(PLUGIN_NAME ": --container-unshare: empty namespace argument");
		if (i == sizeof(known) / sizeof(*known)) {
			snprintf(shown, sizeof(shown), "%.*s", (int)len, p);
			return fail(PLUGIN_NAME ": --container-unshare: unknown namespace '%s'",
				    shown);
		}
		args.unshare |= known[i].flag;
		args.unshare_set = true;
		if (!*end)
			return 0;
		p = end;
	}
}

#define OPT(name, arg, usage, has_arg, val, cb)                            \
	{                                                                  \
		(char *)name, (char *)arg, (char *)usage, has_arg, val, cb \
	}
static struct spank_option options[] = {
    OPT("container-image", "[USER@][REGISTRY#]IMAGE[:TAG]|PATH",
	"[" PLUGIN_NAME "] the image to run the job in: a registry image, or a squashfs file "
	"(a path starting with '.' or '/')",
	1, 0, cb_image),
    OPT("container-mounts", "SRC:DST[:FLAGS][,SRC:DST...]",
	"[" PLUGIN_NAME "] bind mount[s] inside the container; flags joined by '+': ro, rw, "
	"rbind, nosuid, nodev, noexec, private, rprivate, slave, rslave...; SRC may be "
	"\"tmpfs\" or \"umount\"",
	1, 0, cb_mounts),
    OPT("container-workdir", "PATH",
	"[" PLUGIN_NAME "] working directory inside the container (default: the image's)", 1, 0,
	cb_workdir),
    OPT("container-name", "NAME[:FLAG]",
	"[" PLUGIN_NAME "] name the container: later steps (or jobs, with container_scope=global) "
	"reuse its filesystem, or join it while it runs; FLAG: auto (default), create, exec, "
	"no_exec",
	1, 0, cb_name),
    OPT("container-save", "PATH",
	"[" PLUGIN_NAME "] save the container's filesystem (the image and what the job wrote) as a "
	"squashfs file at the end of the step",
	1, 0, cb_save),
    OPT("container-mount-home", NULL, "[" PLUGIN_NAME "] bind mount the user's home directory", 0,
	1, cb_mount_home),
    OPT("no-container-mount-home", NULL,
	"[" PLUGIN_NAME "] do not bind mount the user's home directory (default)", 0, 0,
	cb_mount_home),
    OPT("container-remap-root", NULL,
	"[" PLUGIN_NAME "] be root (uid 0) inside the container; chown and setuid calls are "
	"faked",
	0, 1, cb_remap_root),
    OPT("no-container-remap-root", NULL,
	"[" PLUGIN_NAME "] keep your own uid inside the container (default)", 0, 0, cb_remap_root),
    OPT("container-entrypoint", NULL, "[" PLUGIN_NAME "] run the image's entrypoint", 0, 1,
	cb_entrypoint),
    OPT("no-container-entrypoint", NULL, "[" PLUGIN_NAME "] do not run the image's entrypoint", 0,
	0, cb_entrypoint),
    OPT("container-entrypoint-log", NULL, "[" PLUGIN_NAME "] print the entrypoint's output", 0, 0,
	cb_entrypoint_log),
    OPT("container-writable", NULL,
	"[" PLUGIN_NAME "] make the container filesystem writable (writes vanish at the end)", 0, 1,
	cb_writable),
    OPT("container-readonly", NULL,
	"[" PLUGIN_NAME "] make the container filesystem read-only (default)", 0, 0, cb_writable),
    OPT("container-env", "NAME[,NAME...]",
	"[" PLUGIN_NAME "] names of environment variables whose host value wins over the "
	"image's",
	1, 0, cb_env),
    OPT("container-cache", NULL,
	"[" PLUGIN_NAME "] keep the imported image in the node's cache and start from it in later "
	"jobs (read-only)",
	0, 1, cb_cache),
    OPT("container-unshare", "NS[,NS...]",
	"[" PLUGIN_NAME "] new namespaces for the container: net, ipc, uts", 1, 0, cb_unshare),
    OPT("container-devices", "NAME[,NAME...]",
	"[" PLUGIN_NAME "] devices by their CDI names (vendor.com/class=name), from the node's "
	"CDI specs",
	1, 0, cb_devices),
    SPANK_OPTIONS_TABLE_END,
};

int args_register(spank_t sp)
{
	for (struct spank_option *o = options; o->name; o++)
		if (spank_option_register(sp, o) != ESPANK_SUCCESS) {
			slurm_error(PLUGIN_NAME ": cannot register option --%s", o->name);
			return -1;
		}
	return 0;
}

/* The value of @name in the job's environment (@sp) or the process's; NULL if unset or too
 * long. */
static const char *env_value(spank_t sp, const char *name, char *buf, size_t size)
{
	const char *v;

	if (sp)
		return spank_getenv(sp, name, buf, (int)size) == ESPANK_SUCCESS ? buf : NULL;
	v = getenv(name);
	return v && strlen(v) < size ? v : NULL;
}

static int env_bool(spank_t sp, const char *name)
{
	char buf[16];
	const char *v = env_value(sp, name, buf, sizeof(buf));

	if (!v)
		return UNSET;
	if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "y"))
		return 1;
	if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "n"))
		return 0;
	return UNSET; /* pyxis ignores a bad value */
}

static int apply_env_strings(spank_t sp)
{
	const struct {
		const char *var;
		spank_opt_cb_f cb;
		bool given; /* by a flag, which wins */
	} vars[] = {{"PYXIS_CONTAINER_IMAGE", cb_image, args.image},
		    {"PYXIS_CONTAINER_MOUNTS", cb_mounts, args.mounts},
		    {"PYXIS_CONTAINER_WORKDIR", cb_workdir, args.workdir},
		    {"PYXIS_CONTAINER_SAVE", cb_save, args.save},
		    {"PYXIS_CONTAINER_NAME", cb_name, args.name},
		    {"PYXIS_CONTAINER_ENV", cb_env, args.env_names},
		    {"PYXIS_CONTAINER_UNSHARE", cb_unshare, args.unshare_set},
		    {"PYXIS_CONTAINER_DEVICES", cb_devices, args.devices}};
	char buf[ENV_VALUE_MAX];

	for (size_t i = 0; i < sizeof(vars) / sizeof(*vars); i++) {
		const char *v = vars[i].given ? NULL : env_value(sp, vars[i].var, buf, sizeof(buf));

		if (v && vars[i].cb(0, v, sp != NULL) < 0)
			return -1;
	}
	return 0;
}

int args_apply_env(spank_t sp)
{
	int v;

	if (apply_env_strings(sp) < 0)
		return -1;
	if (args.mount_home == UNSET)
		args.mount_home = env_bool(sp, "PYXIS_CONTAINER_MOUNT_HOME");
	if (args.remap_root == UNSET)
		args.remap_root = env_bool(sp, "PYXIS_CONTAINER_REMAP_ROOT");
	if (args.entrypoint == UNSET)
		args.entrypoint = env_bool(sp, "PYXIS_CONTAINER_ENTRYPOINT");
	if (!args.entrypoint_log)
		args.entrypoint_log = env_bool(sp, "PYXIS_CONTAINER_ENTRYPOINT_LOG") == 1;
	if (args.writable == UNSET)
		args.writable = env_bool(sp, "PYXIS_CONTAINER_WRITABLE");
	if (args.writable == UNSET && (v = env_bool(sp, "PYXIS_CONTAINER_READONLY")) != UNSET)
		args.writable = !v;
	if (!args.cache)
		args.cache = env_bool(sp, "PYXIS_CONTAINER_CACHE") == 1;
	return 0;
}

static void note_ignored(bool set, const char *flag)
{
	if (set)
		slurm_info(PLUGIN_NAME ": ignoring --%s because neither --container-image nor "
				       "--container-name is set",
			   flag);
}

bool args_enabled(void)
{
	return args.image || args.name;
}

bool args_check_enabled(void)
{
	if (args_enabled())
		return true;
	note_ignored(args.mounts, "container-mounts");
	note_ignored(args.workdir, "container-workdir");
	note_ignored(args.devices, "container-devices");
	note_ignored(args.save, "container-save");
	note_ignored(args.mount_home != UNSET,
		     args.mount_home ? "container-mount-home" : "no-container-mount-home");
	note_ignored(args.remap_root != UNSET,
		     args.remap_root ? "container-remap-root" : "no-container-remap-root");
	note_ignored(args.entrypoint != UNSET,
		     args.entrypoint ? "container-entrypoint" : "no-container-entrypoint");
	note_ignored(args.entrypoint_log, "container-entrypoint-log");
	note_ignored(args.writable != UNSET,
		     args.writable ? "container-writable" : "container-readonly");
	return false;
}

bool args_image_is_file(void)
{
	return args.image && (args.image[0] == '/' || args.image[0] == '.');
}

bool args_image_is_daemon(void)
{
	return args.image &&
	       (!strncmp(args.image, "dockerd://", 10) || !strncmp(args.image, "podman://", 9));
}

int args_refuse_cache(const plugin_config *cfg)
{
	const char *why = NULL;

	if (!args.cache)
		return 0;
	if (!args.image)
		why = "--container-cache requires --container-image";
	else if (args_image_is_file())
		why = "--container-cache requires a registry image, not a squashfs file";
	else if (args_image_is_daemon())
		why = "--container-cache requires a registry image, not a local daemon's";
	else if (args.writable == 1)
		why = "--container-cache cannot be used with --container-writable: cached images "
		      "are read-only";
	else if (cfg->importer)
		why = "--container-cache cannot be used on this cluster: its importer (plugstack "
		      "importer=) makes the images";
	else if (args.save)
		why = "--container-cache cannot be used with --container-save: cached images are "
		      "read-only";
	else if (args.name)
		why = "--container-cache cannot be used with --container-name: a named container "
		      "keeps its own image and writes";
	else if (!cfg->cache_data_path)
		why = "--container-cache needs container_cache_data_path in plugstack.conf, which "
		      "this cluster does not set";
	if (!why)
		return 0;
	slurm_error(PLUGIN_NAME ": %s", why);
	return -1;
}

bool args_run_entrypoint(const plugin_config *cfg)
{
	return args.entrypoint == 1 || (args.entrypoint == UNSET && cfg->execute_entrypoint);
}

void args_free(void)
{
	free(args.image);
	free(args.mounts);
	free(args.workdir);
	free(args.save);
	free(args.name);
	for (char **n = args.env_names; n && *n; n++)
		free(*n);
	free(args.env_names);
	for (char **n = args.devices; n && *n; n++)
		free(*n);
	free(args.devices);
	args = (plugin_args){
	    .mount_home = UNSET, .remap_root = UNSET, .entrypoint = UNSET, .writable = UNSET};
}
