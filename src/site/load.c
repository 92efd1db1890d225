/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading a site's configuration: the files of the site's directory (ENROOT_SYSCONF_PATH) and
 * of the user's (ENROOT_CONFIG_PATH) in enroot's order, each through its format's parser. The
 * site's files are read as the caller; the user's as the user (a link there never shows the
 * user a file that only root may read). Files named like enroot's own hooks and fstab files are
 * skipped: the runtime does what they do.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "site.h"

#define SITE_FILE_MAX (1u << 20)

/* enroot's standard hooks and extras, and its standard fstab files, done by the runtime. */
static const char *const standard_files[] = {"10-aptfix.sh",
					     "10-cgroups.sh",
					     "10-devices.sh",
					     "10-home.sh",
					     "10-localtime.sh",
					     "10-shadow.sh",
					     "50-slurm-pmi.sh",
					     "50-slurm-pytorch.sh",
					     "98-nvidia.sh",
					     "99-mellanox.sh",
					     "10-system.fstab",
					     "20-config.fstab",
					     NULL};

bool lc_site_standard_file(const char *name)
{
	for (size_t i = 0; standard_files[i]; i++)
		if (!strcmp(name, standard_files[i]))
			return true;
	return false;
}

/* One directory of the configuration and who reads it. */
typedef struct site_dir {
	const char *path;
	bool as_user;
	uid_t uid;
	gid_t gid;
} site_dir;

static int name_has_suffix(const struct dirent *d, const char *suffix)
{
	size_t n = strlen(d->d_name), s = strlen(suffix);

	return d->d_name[0] != '.' && n > s && !strcmp(d->d_name + n - s, suffix);
}

static int suffix_conf(const struct dirent *d)
{
	return name_has_suffix(d, ".conf");
}
static int suffix_env(const struct dirent *d)
{
	return name_has_suffix(d, ".env");
}
static int suffix_fstab(const struct dirent *d)
{
	return name_has_suffix(d, ".fstab");
}
static int suffix_sh(const struct dirent *d)
{
	return name_has_suffix(d, ".sh");
}

/* What one file gives the configuration. */
typedef int (*file_fn)(lc_site *site, const lc_site_vars *v, const char *path, const char *text,
		       lc_error *err);

typedef struct walk_ctx {
	lc_ctx *ctx;
	lc_site *site;
	const lc_site_vars *v;
} walk_ctx;

/* Every file of @dir/@sub matching @filter, in sorted order (enroot's glob), read and handed to
 * @fn (@fn gets no text when @read is false). */
static int each_file(const walk_ctx *w, const site_dir *dir, const char *sub,
		     int (*filter)(const struct dirent *), bool read, file_fn fn, lc_error *err)
{
	_cleanup_free_ char *path = NULL;
	struct dirent **names = NULL;
	bool switched = dir->as_user && lc_fsids_become(dir->uid, dir->gid);
	int n, r = 0;

	if (asprintf(&path, "%s/%s", dir->path, sub) < 0)
		r = lc_fail(err, ENOMEM, "out of memory");
	n = r < 0 ? 0 : scandir(path, &names, filter, alphasort);
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *file = NULL;
		_cleanup_free_ char *text = NULL;

		bool own_hooks = filter == suffix_sh && w->site->flags & LC_SITE_RUN_STANDARD_HOOKS;

		if (r >= 0 && lc_site_standard_file(names[i]->d_name) && !own_hooks) {
			lc_debug(w->ctx, "%s/%s: enroot's standard file, built in: not used", path,
				 names[i]->d_name);
			free(names[i]);
			continue;
		}
		if (r >= 0 && asprintf(&file, "%s/%s", path, names[i]->d_name) < 0)
			r = lc_fail(err, ENOMEM, "out of memory");
		if (r >= 0 && read)
			r = lc_file_read_all(file, SITE_FILE_MAX, &text, NULL, err);
		if (r >= 0)
			r = fn(w->site, w->v, file, text, err);
		free(names[i]);
	}
	free(names);
	lc_fsids_restore(switched);
	return r;
}

static int add_conf(lc_site *site, const lc_site_vars *v, const char *path, const char *text,
		    lc_error *err)
{
	return lc_site_conf_parse(text, path, v, &site->conf, err);
}

static int add_environ(lc_site *site, const lc_site_vars *v, const char *path, const char *text,
		       lc_error *err)
{
	int r = lc_site_environ_parse(text, v, &site->environ, err);

	return r < 0 ? lc_error_prefix(err, r, "%s", path) : r;
}

static int add_fstab(lc_site *site, const lc_site_vars *v, const char *path, const char *text,
		     lc_error *err)
{
	return lc_fstab_parse(text, path, v, &site->mounts, err);
}

/* A hook is an executable regular file (enroot: `[ -x FILE ]`); others are skipped. */
static int add_hook(lc_site *site, const lc_site_vars *v, const char *path, const char *text,
		    lc_error *err)
{
	struct stat st;

	(void)v, (void)text;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111))
		return 0;
	return lc_strvec_push(&site->hooks, path) < 0 ? lc_fail(err, ENOMEM, "out of memory") : 0;
}

/* The caller's non-empty values of enroot's keys beat the files; the overrides beat both. */
static int settings_from(lc_strvec *conf, const char *const *env, bool all)
{
	int r = 0;

	for (; !r && env && *env; env++) {
		size_t n = lc_env_name_len(*env);
		char key[256];

		if (!n || (*env)[n] != '=' || n >= sizeof(key))
			continue;
		snprintf(key, sizeof(key), "%.*s", (int)n, *env);
		if (all || (lc_site_conf_key(key) && (*env)[n + 1]))
			r = lc_env_put(conf, *env);
	}
	return r;
}

static char *user_config_path(const lc_site_opts *o, const lc_site *site)
{
	const char *set = lc_env_get(&site->conf, "ENROOT_CONFIG_PATH");
	const char *xdg = lc_strv_get(o->env, "XDG_CONFIG_HOME");
	const char *home = lc_strv_get(o->env, "HOME");
	char *path = NULL;

	if (o->config_path)
		return *o->config_path ? strdup(o->config_path) : NULL;
	if (set && *set)
		return strdup(set);
	if (xdg && *xdg)
		return asprintf(&path, "%s/enroot", xdg) < 0 ? NULL : path;
	if (home && *home)
		return asprintf(&path, "%s/.config/enroot", home) < 0 ? NULL : path;
	return NULL;
}

static int load(lc_ctx *ctx, const lc_site_opts *o, lc_site *site, lc_error *err)
{
	const char *env_sysconf = getenv("ENROOT_SYSCONF_PATH");
	const lc_site_vars v = {
	    .env = o->env,
	    .uid = o->uid == (uid_t)-1 ? getuid() : o->uid,
	    .gid = o->gid == (gid_t)-1 ? getgid() : o->gid,
	};
	const walk_ctx w = {ctx, site, &v};
	site_dir dirs[2] = {{.path = o->sysconf_path               ? o->sysconf_path
				     : env_sysconf && *env_sysconf ? env_sysconf
								   : "/etc/enroot"}};
	_cleanup_free_ char *conf_file = NULL;
	_cleanup_free_ char *user_path = NULL;
	const char *term = lc_strv_get(o->env, "TERM");
	size_t n_dirs = o->flags & LC_SITE_NO_SITE_CONFIG ? 0 : 1;
	int r = asprintf(&conf_file, "%s/enroot.conf", dirs[0].path) < 0 ? -ENOMEM : 0;
	_cleanup_free_ char *text = NULL;

	if (r >= 0 && n_dirs && access(conf_file, F_OK) == 0)
		r = lc_file_read_all(conf_file, SITE_FILE_MAX, &text, NULL, err);
	if (r >= 0 && text)
		r = add_conf(site, &v, conf_file, text, err);
	if (r >= 0 && n_dirs)
		r = each_file(&w, &dirs[0], "enroot.conf.d", suffix_conf, true, add_conf, err);
	if (r >= 0 && (settings_from(&site->conf, o->env, false) < 0 ||
		       settings_from(&site->conf, o->overrides, true) < 0))
		r = lc_fail(err, ENOMEM, "out of memory");
	if (r < 0)
		return r;
	if (lc_site_conf_finish(&site->conf, &site->off) < 0)
		return lc_fail(err, ENOMEM, "out of memory");
	if (!(o->flags & LC_SITE_NO_USER_CONFIG) && (user_path = user_config_path(o, site)))
		dirs[n_dirs++] = (site_dir){user_path, true, v.uid, v.gid};
	/* enroot ships environ.d/10-terminal.env (TERM=${TERM}): the job's terminal, always */
	if (term && lc_env_set(&site->environ, "TERM", term) < 0)
		return lc_fail(err, ENOMEM, "out of memory");
	if (settings_from(&site->env, o->env, true) < 0)
		return lc_fail(err, ENOMEM, "out of memory");
	for (size_t i = 0; r >= 0 && i < n_dirs; i++)
		r = each_file(&w, &dirs[i], "environ.d", suffix_env, true, add_environ, err);
	for (size_t i = 0; r >= 0 && i < n_dirs; i++)
		r = each_file(&w, &dirs[i], "mounts.d", suffix_fstab, true, add_fstab, err);
	if (r >= 0 && o->version >= 2 && o->mounts)
		r = lc_fstab_parse(o->mounts, "--mount", &v, &site->mounts, err);
	if (r >= 0 && lc_site_slurm_pmi_env(o->env, &site->environ) < 0)
		r = lc_fail(err, ENOMEM, "out of memory");
	if (r >= 0)
		lc_site_slurm_pmi_mounts(o->env, &site->mounts);
	for (size_t i = 0; r >= 0 && i < n_dirs; i++)
		r = each_file(&w, &dirs[i], "hooks.d", suffix_sh, false, add_hook, err);
	for (const char *const *h = o->version >= 2 ? o->hooks : NULL; r >= 0 && h && *h; h++)
		if (lc_strvec_push(&site->hooks, *h) < 0)
			r = lc_fail(err, ENOMEM, "out of memory");
	if (r >= 0)
		lc_debug(ctx,
			 "site configuration from %s%s%s: %zu settings, %zu variables, %zu mounts, "
			 "%zu hooks",
			 n_dirs ? dirs[0].path : "nowhere", n_dirs > 1 ? " and " : "",
			 n_dirs > 1 ? dirs[1].path : "", site->conf.n, site->environ.n,
			 site->mounts.n, site->hooks.n);
	return r;
}

LC_API int lc_site_load(lc_ctx *ctx, const lc_site_opts *opts, lc_site **ret_site, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	lc_site *site;
	int r;

	if (!err)
		err = &local;
	r = lc_opts_check(opts, opts ? opts->version : 0, LC_SITE_OPTS_VERSION,
			  opts ? opts->flags : 0, LC_SITE_ALL, "lc_site_opts", err);
	if (r < 0)
		return r;
	site = calloc(1, sizeof(*site));
	if (!site)
		return lc_fail(err, ENOMEM, "out of memory");
	site->flags = opts->flags;
	r = load(ctx, opts, site, err);
	if (r < 0) {
		lc_site_free(site);
		return r;
	}
	*ret_site = site;
	return 0;
}

LC_API lc_site *lc_site_free(lc_site *site)
{
	if (!site)
		return NULL;
	lc_strvec_free(&site->conf);
	lc_strvec_free(&site->off);
	lc_strvec_free(&site->environ);
	lc_strvec_free(&site->hooks);
	lc_strvec_free(&site->env);
	lc_fstab_list_clear(&site->mounts);
	free(site);
	return NULL;
}

LC_API const char *lc_site_setting(const lc_site *site, const char *key)
{
	const char *value = site && key ? lc_env_get(&site->conf, key) : NULL;

	return value && *value ? value : NULL;
}

LC_API uint32_t lc_site_container_flags(const lc_site *site)
{
	static const struct {
		const char *key;
		uint32_t flag;
	} map[] = {
	    {"ENROOT_ROOTFS_WRITABLE", LC_CONTAINER_RW},
	    {"ENROOT_REMAP_ROOT", LC_CONTAINER_REMAP_ROOT},
	    {"ENROOT_MOUNT_HOME", LC_CONTAINER_MOUNT_HOME},
	    {"ENROOT_UNSHARE_NET", LC_CONTAINER_UNSHARE_NET},
	    {"ENROOT_UNSHARE_IPC", LC_CONTAINER_UNSHARE_IPC},
	    {"ENROOT_UNSHARE_UTS", LC_CONTAINER_UNSHARE_UTS},
	};
	uint32_t flags = 0;

	for (size_t i = 0; i < LC_ELEMENTSOF(map); i++)
		if (lc_site_setting(site, map[i].key))
			flags |= map[i].flag;
	/* enroot binds the host's /dev unless ENROOT_RESTRICT_DEV; here only when it says no */
	if (site && lc_env_get(&site->off, "ENROOT_RESTRICT_DEV"))
		flags |= LC_CONTAINER_HOST_DEV;
	return flags;
}

LC_API size_t lc_site_hook_count(const lc_site *site)
{
	return site ? site->hooks.n : 0;
}
