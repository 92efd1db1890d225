/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The step's container: its options, built in one place from the step's state and the flags,
 * then created (or joined) for the group of the step's tasks on this node; and at the end,
 * --container-save.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin.h"

#define ENV_VALUE_BUF 4096

static void library_log(void *userdata, enum lc_log_level level, const char *msg)
{
	(void)userdata;
	if (level <= LC_LOG_WARNING)
		slurm_info(PLUGIN_NAME ": %s", msg);
	else
		slurm_debug(PLUGIN_NAME ": %s", msg);
}

/* "NAME=value" for each --container-env name the job sets: the host's value wins. */
static char **env_overrides(spank_t sp)
{
	size_t n = 0, k = 0;
	char **v, buf[ENV_VALUE_BUF];

	while (args.env_names && args.env_names[n])
		n++;
	v = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; v && i < n; i++)
		if (spank_getenv(sp, args.env_names[i], buf, sizeof(buf)) == ESPANK_SUCCESS &&
		    asprintf(&v[k], "%s=%s", args.env_names[i], buf) >= 0)
			k++;
	return v;
}

/*
 * What enroot's hooks would see of the step: the job's environment, after two variables that
 * Slurm gives a task only after its container exists (22.05 sets a task's PMIX_* after
 * task_init_privileged): SLURM_JOB_UID, and PMIX_SERVER_TMPDIR, which the PMIx server put in
 * slurmstepd's own environment when it started. @owned gets the two strings to free.
 */
static char **site_env(char **job_env, const step_state *s, char *owned[2])
{
	const char *tmpdir = getenv("PMIX_SERVER_TMPDIR");
	size_t n = 0, k = 0;
	char **env;

	while (job_env && job_env[n])
		n++;
	env = calloc(n + 3, sizeof(char *));
	if (!env || asprintf(&owned[0], "SLURM_JOB_UID=%u", (unsigned)s->uid) < 0 ||
	    (tmpdir && asprintf(&owned[1], "PMIX_SERVER_TMPDIR=%s", tmpdir) < 0)) {
		free(env);
		return NULL;
	}
	env[k++] = owned[0];
	if (owned[1])
		env[k++] = owned[1];
	memcpy(env + k, job_env, n * sizeof(char *));
	return env;
}

/* The site's configuration for the step's container: enroot's files, expanded with the job's
 * environment, enroot's own variables for the flags given (pyxis passes its flags to enroot so:
 * they beat the files). */
static int load_site(spank_t sp, const step_state *s, lc_ctx *ctx, lc_site **ret, lc_error *err)
{
	static const struct {
		const int *flag;
		const char *key;
	} flags[] = {{&args.writable, "ENROOT_ROOTFS_WRITABLE"},
		     {&args.remap_root, "ENROOT_REMAP_ROOT"},
		     {&args.mount_home, "ENROOT_MOUNT_HOME"}};
	lc_site_opts so = LC_SITE_OPTS_INIT;
	char overrides[3][40];
	const char *ov[4] = {NULL};
	char **job_env = NULL, **env, *owned[2] = {NULL, NULL};
	size_t n = 0;
	int r;

	for (size_t i = 0; i < sizeof(flags) / sizeof(*flags); i++) {
		if (*flags[i].flag == UNSET)
			continue;
		snprintf(overrides[n], sizeof(overrides[n]), "%s=%s", flags[i].key,
			 *flags[i].flag ? "y" : "n");
		ov[n] = overrides[n];
		n++;
	}
	if (spank_get_item(sp, S_JOB_ENV, &job_env) != ESPANK_SUCCESS)
		job_env = NULL;
	env = site_env(job_env, s, owned);
	if (!env) {
		free(owned[0]);
		return lc_error_set(err, ENOMEM, "out of memory");
	}
	so.flags = s->cfg->standard_hook_scripts ? LC_SITE_RUN_STANDARD_HOOKS : 0;
	so.sysconf_path = s->cfg->sysconf_path;
	so.env = (const char *const *)env;
	so.overrides = ov;
	so.uid = s->uid;
	so.gid = s->gid;
	r = lc_site_load(ctx, &so, ret, err);
	free(owned[0]);
	free(owned[1]);
	free(env);
	return r;
}

/* Everything the container and the group's common start get: from the flags, the step's state
 * and what is started (@image, @hold_fd kept by the holder, @named in @mode). */
static void container_opts(const step_state *s, const char *image, int hold_fd, lc_named *named,
			   enum start_mode mode, char **overrides, const lc_site *site,
			   lc_container_opts *o, lc_group_opts *g)
{
	*o = (lc_container_opts)LC_CONTAINER_OPTS_INIT;
	o->flags = (args.writable == 1 ? LC_CONTAINER_RW : 0) |
		   (args.remap_root == 1 ? LC_CONTAINER_REMAP_ROOT : 0) |
		   (args.mount_home == 1 ? LC_CONTAINER_MOUNT_HOME : 0) | args.unshare |
		   (s->cfg->kernel_squashfs ? LC_CONTAINER_KERNEL_SQUASHFS : 0) |
		   LC_CONTAINER_HOST_TMP |
		   (s->cfg->refuse_cdi_hooks ? LC_CONTAINER_REFUSE_CDI_HOOKS : 0) |
		   /* the step's own name: joinable, its writes on the tmpfs */
		   (named && !args.name ? LC_CONTAINER_VOLATILE_UPPER : 0);
	o->image_path = image;
	o->mounts = args.mounts;
	o->uid = s->uid;
	o->gid = s->gid;
	o->cwd = s->cwd;
	o->hold_fd = hold_fd;
	o->named = named;
	o->named_instance = mode == START_SEPARATE ? s->step_name : NULL;
	o->site = site;
	o->devices = (const char *const *)args.devices;
	o->cdi_spec_dirs = s->cfg->cdi_spec_dirs;
	o->nvidia_backend = s->cfg->nvidia_backend;
	*g = (lc_group_opts)LC_GROUP_OPTS_INIT;
	g->flags = s->entrypoint ? LC_GROUP_ENTRYPOINT : 0;
	g->env_overrides = (const char *const *)overrides;
}

int start_container(spank_t sp, step_state *s, const char *image, int hold_fd, lc_named *named,
		    enum start_mode mode, lc_error *err)
{
	lc_container_opts o;
	lc_group_opts g;
	char **overrides = env_overrides(sp), **log = NULL;
	lc_site *site = NULL;
	lc_ctx *ctx = NULL;
	int64_t t0 = plugin_now_ms();
	int r = overrides ? lc_ctx_new(&ctx, err) : lc_error_set(err, ENOMEM, "out of memory");

	if (r >= 0) {
		lc_ctx_set_log(ctx, library_log, LC_LOG_DEBUG, NULL);
		r = load_site(sp, s, ctx, &site, err);
	}
	container_opts(s, image, hold_fd, named, mode, overrides, site, &o, &g);
	if (r >= 0) {
		if (mode == START_JOIN) {
			r = lc_group_attach(ctx, s->group, named, &o, &g, err);
		} else {
			r = lc_group_create(ctx, s->group, &o, &g, &log, err);
			if (r < 0 || args.entrypoint_log)
				print_log("entrypoint", log, r < 0);
		}
	} else {
		lc_group_fail(s->group, err);
	}
	s->setup_ms = plugin_now_ms() - t0;
	s->created = r >= 0;
	lc_strv_free(overrides);
	lc_strv_free(log);
	lc_site_free(site);
	lc_ctx_free(ctx);
	return r;
}

int create_container(spank_t sp, step_state *s, lc_error *err)
{
	char *imported = NULL;
	int cache_lock = -1, r = 0;
	lc_named *self = NULL;

	if (args.cache)
		r = cache_image(sp, s, &imported, &cache_lock, err);
	else if (args_image_is_daemon() && s->job_images)
		r = daemon_image(sp, s, &imported, err);
	else if (s->job_images)
		r = job_image(sp, s, &imported, err);
	else if (!args_image_is_file())
		r = import_image(sp, s, NULL, &imported, err);
	if (r >= 0)
		r = lc_named_open(s->named_dir, s->uid, s->gid, &self, err);
	if (r >= 0 && lc_named_state(self, NULL) != LC_NAMED_ABSENT)
		self = lc_named_free(self); /* a container the user named so: not the step's */
	if (r >= 0)
		r = start_container(sp, s, imported ? imported : args.image, cache_lock, self,
				    START_NEW, err);
	else
		group_fail(s->group, err);
	lc_named_free(self);
	if (imported && args_image_is_daemon())
		forget_daemon_image(s); /* the container holds it open */
	if (cache_lock >= 0)
		close(cache_lock); /* the holder keeps its own */
	if (import_by_importer(s))
		importer_release(sp, s);
	free(imported);
	return r;
}

int save_container(spank_t sp, const step_state *s)
{
	lc_import_opts io = LC_IMPORT_OPTS_INIT;
	lc_save_opts so = LC_SAVE_OPTS_INIT;
	lc_error err = LC_ERROR_INIT;
	char squash_options[ENV_VALUE_BUF];
	int64_t t0 = plugin_now_ms();
	unsigned entered = lc_group_entered(s->group);

	if (entered < s->local_tasks) {
		slurm_error(PLUGIN_NAME ": not exporting the container: %u of %u tasks started",
			    entered, s->local_tasks);
		return -1;
	}
	io.flags = LC_IMPORT_ALL_ROOT | LC_IMPORT_FORCE; /* as enroot export -f */
	io.compression = s->cfg->compression;
	if (spank_getenv(sp, "ENROOT_SQUASH_OPTIONS", squash_options, sizeof(squash_options)) ==
	    ESPANK_SUCCESS)
		io.squash_options = squash_options;
	so.squash = &io;
	so.uid = s->uid;
	so.gid = s->gid;
	so.groups = s->gids;
	so.n_groups = (size_t)s->n_gids;
	if (lc_group_save(NULL, s->group, s->save_path, &so, &err) < 0) {
		slurm_error(PLUGIN_NAME ": failed to export container %s: %s", s->step_name,
			    lc_error_message(&err));
		return -1;
	}
	slurm_info(PLUGIN_NAME ": exported container %s to %s in %lld ms", s->step_name,
		   s->save_path, (long long)(plugin_now_ms() - t0));
	return 0;
}
