/* SPDX-License-Identifier: Apache-2.0 */
/*
 * slurmstepd: one container per node per step. The first task to lock the group imports the
 * image (a helper run as the user) and creates the container; every task then joins it in
 * task_init, right before Slurm execs the task's command. Mechanisms live in the library.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libcontainer/libcontainer.h>

#include "../util/util.h"
#include "plugin.h"

#define SPECIAL_STEP_IDS 0xfffffff0u /* batch, extern, interactive... */
#define BATCH_STEP 0xfffffffbu       /* SLURM_BATCH_SCRIPT: sbatch's script */
#define INTERACTIVE_STEP 0xfffffffau /* SLURM_INTERACTIVE_STEP: salloc's shell */
#define PATH_DEFAULT "/usr/local/bin:/usr/bin:/bin"
#define ENV_VALUE_BUF 4096

static struct {
	bool enabled;
	const plugin_config *cfg;
	uid_t uid;
	gid_t gid;
	gid_t *gids;
	int n_gids;
	uint32_t jobid, stepid;
	char uid_name[16];  /* "<uid>": the user's directory under runtime_path */
	char step_name[32]; /* "<jobid>.<stepid>": the step's directory in it */
	char cwd[PATH_MAX];
	char *step_dir; /* <runtime_path>/<uid>/<jobid>.<stepid>, for imports */
	lc_group *group;
	uint32_t local_tasks, exited_tasks;
	char *save_path;                  /* --container-save, absolute */
	char extra_env[6][PATH_MAX + 32]; /* what pyxis passes its importer, for every helper */
	/* --container-name, or for an unnamed step its own name <jobid>.<stepid> through which
	 * other steps join it: <runtime_path>/<uid>/<ename> */
	char *named_dir;
	char ename[256];             /* pyxis_NAME, or pyxis_<jobid>_NAME in job scope */
	int64_t import_ms, setup_ms; /* the creator's, for the timings line */
	char import_timings[256];
	bool entrypoint, created;
} st;

/* ---------------------------------------------------------------- directories */

/* @name under @parent_fd: a directory owned by the user, mode 0700, never a link. */
static int user_dir(int parent_fd, const char *name, int *ret_fd)
{
	struct stat s;
	bool made = mkdirat(parent_fd, name, 0700) == 0;
	int fd;

	if (!made && errno != EEXIST)
		return -errno;
	fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (made && fchown(fd, st.uid, st.gid) < 0) {
		close(fd);
		return -errno;
	}
	if (fstat(fd, &s) < 0 || s.st_uid != st.uid || (s.st_mode & 022)) {
		close(fd);
		return -EPERM;
	}
	*ret_fd = fd;
	return 0;
}

/* @base (root's, made when missing) and the user's directory <uid> in it. -errno. */
static int base_user_dir(const char *base, int *ret_fd)
{
	int base_fd, r;

	if (mkdir(base, 0755) < 0 && errno != EEXIST)
		return -errno;
	base_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (base_fd < 0)
		return -errno;
	r = user_dir(base_fd, st.uid_name, ret_fd);
	close(base_fd);
	return r;
}

/* <runtime_path>/<uid>, and in it the step's directory for an import (@step). */
static int make_runtime_dirs(bool step_dir)
{
	const char *base = st.cfg->runtime_path, *uid = st.uid_name, *step = st.step_name;
	int uid_fd = -1, step_fd = -1, r = base_user_dir(base, &uid_fd);

	if (r >= 0 && step_dir)
		r = user_dir(uid_fd, step, &step_fd);
	if (r >= 0 && step_dir && asprintf(&st.step_dir, "%s/%s/%s", base, uid, step) < 0)
		r = -ENOMEM;
	if (uid_fd >= 0)
		close(uid_fd);
	if (step_fd >= 0)
		close(step_fd);
	if (r < 0)
		slurm_error(PLUGIN_NAME ": cannot make %s/%s/%s: %s", base, uid, step,
			    strerror(-r));
	return r < 0 ? -1 : 0;
}

/* Remove @name in the directory @dir of the user's: root removes there without following a
 * link. */
static void remove_under(const char *dir, const char *name)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), r;

	if (fd < 0)
		return;
	r = lc_rm_rf_at(fd, name);
	if (r < 0 && r != -ENOENT)
		slurm_info(PLUGIN_NAME ": cannot remove %s/%s: %s", dir, name, strerror(-r));
	close(fd);
}

/* <runtime_path>/<uid>: where the step's directories and the names are. */
static void user_runtime_dir(char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", st.cfg->runtime_path, st.uid_name);
}

/* Remove the step's directory (the image file in it, or what a killed import left). */
static void remove_step_dir(void)
{
	char path[PATH_MAX];

	if (!st.step_dir)
		return;
	user_runtime_dir(path, sizeof(path));
	remove_under(path, st.step_name);
}

/* ---------------------------------------------------------------- post_opt, user_init */

/* PYXIS_RUNTIME_PATH, PYXIS_VERSION and the job's ids, as pyxis gives its importer. */
static void set_extra_env(void)
{
	const size_t size = sizeof(st.extra_env[0]);

	snprintf(st.extra_env[0], size, "PYXIS_RUNTIME_PATH=%s", st.cfg->runtime_path);
	snprintf(st.extra_env[1], size, "PYXIS_VERSION=%s", LC_VERSION);
	snprintf(st.extra_env[2], size, "SLURM_JOB_UID=%u", (unsigned)st.uid);
	snprintf(st.extra_env[3], size, "SLURM_JOB_GID=%u", (unsigned)st.gid);
	snprintf(st.extra_env[4], size, "SLURM_JOB_ID=%u", st.jobid);
	snprintf(st.extra_env[5], size, "SLURM_STEP_ID=%u", st.stepid);
}

static int read_job_ids(spank_t sp)
{
	gid_t *gids = NULL;

	if (spank_get_item(sp, S_JOB_UID, &st.uid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_GID, &st.gid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_ID, &st.jobid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_STEPID, &st.stepid) != ESPANK_SUCCESS) {
		slurm_error(PLUGIN_NAME ": cannot read the job's ids");
		return -1;
	}
	if (spank_get_item(sp, S_JOB_SUPPLEMENTARY_GIDS, &gids, &st.n_gids) == ESPANK_SUCCESS &&
	    st.n_gids > 0) {
		st.gids = malloc((size_t)st.n_gids * sizeof(gid_t));
		if (!st.gids)
			return -1;
		memcpy(st.gids, gids, (size_t)st.n_gids * sizeof(gid_t));
	}
	snprintf(st.uid_name, sizeof(st.uid_name), "%u", (unsigned)st.uid);
	snprintf(st.step_name, sizeof(st.step_name), "%u.%u", st.jobid, st.stepid);
	set_extra_env();
	if (spank_get_item(sp, S_JOB_LOCAL_TASK_COUNT, &st.local_tasks) != ESPANK_SUCCESS)
		st.local_tasks = 0;
	if (spank_getenv(sp, "PWD", st.cwd, sizeof(st.cwd)) != ESPANK_SUCCESS)
		*st.cwd = '\0';
	return 0;
}

/* --container-save's target: a relative path is the job's working directory's. */
static int resolve_save_path(void)
{
	const char *rel = args.save;

	if (!args.save)
		return 0;
	while (rel[0] == '.' && rel[1] == '/')
		rel += 2;
	if (args.save[0] != '/' && !*st.cwd) {
		slurm_error(PLUGIN_NAME ": --container-save: relative path %s, but PWD is not set",
			    args.save);
		return -1;
	}
	if (args.save[0] == '/' ? !(st.save_path = strdup(args.save))
				: asprintf(&st.save_path, "%s%s%s", st.cwd,
					   st.cwd[strlen(st.cwd) - 1] == '/' ? "" : "/", rel) < 0)
		return -1;
	return 0;
}

/* pyxis's names: pyxis_NAME, or pyxis_<jobid>_NAME with container_scope=job; an unnamed
 * step's is <jobid>.<stepid>, so --container-name=<jobid>.<stepid> joins it in both scopes. */
static int name_container(void)
{
	const char *name = args.name ? args.name : st.step_name;

	if (st.cfg->scope_job)
		snprintf(st.ename, sizeof(st.ename), "pyxis_%u_%s", st.jobid, name);
	else
		snprintf(st.ename, sizeof(st.ename), "pyxis_%s", name);
	if (asprintf(&st.named_dir, "%s/%s/%s", st.cfg->runtime_path, st.uid_name, st.ename) < 0)
		return -1;
	return 0;
}

int remote_post_opt(spank_t sp, const plugin_config *cfg)
{
	st.cfg = cfg;
	if (args_apply_env(sp) < 0)
		return -1;
	if (!args_check_enabled())
		return 0;
	if (read_job_ids(sp) < 0)
		return -1;
	if (st.stepid >= SPECIAL_STEP_IDS && st.stepid != BATCH_STEP &&
	    st.stepid != INTERACTIVE_STEP)
		return 0; /* the extern step, and Slurm's other internal ones */
	st.enabled = true;
	if (args_refuse_cache(cfg) < 0 || resolve_save_path() < 0 || name_container() < 0)
		return -1;
	if (!*st.cwd)
		snprintf(st.cwd, sizeof(st.cwd), "/");
	/* an importer writes in <uid> itself; a named container's image goes in its directory */
	return make_runtime_dirs(!cfg->importer && !args.name && !args_image_is_file() &&
				 !args.cache);
}

/* sbatch's script, bound read-only at its own path, as pyxis does: the container runs it. */
static int bind_batch_script(spank_t sp)
{
	char **argv = NULL, *spec = NULL;
	int argc = 0, r;

	if (spank_get_item(sp, S_JOB_ARGV, &argc, &argv) != ESPANK_SUCCESS || argc < 1 ||
	    !argv[0] || argv[0][0] != '/' || strpbrk(argv[0], ":,")) {
		slurm_error(PLUGIN_NAME ": cannot bind the batch script into the container: %s",
			    argc > 0 && argv[0] ? argv[0] : "no path");
		return -1;
	}
	if (asprintf(&spec, "%s:%s:ro+nosuid+nodev", argv[0], argv[0]) < 0)
		return -1;
	r = args_add_mounts(spec);
	free(spec);
	return r;
}

int remote_user_init(spank_t sp)
{
	lc_error err = LC_ERROR_INIT;

	if (!st.enabled)
		return 0;
	if (st.stepid == BATCH_STEP && bind_batch_script(sp) < 0)
		return -1;
	if (lc_group_new(&st.group, &err) < 0) {
		slurm_error(PLUGIN_NAME ": %s", lc_error_message(&err));
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- import */

static bool helper_env_denied(const char *kv)
{
	static const char *const denied[] = {
	    "PATH=",           "LD_LIBRARY_PATH=",    "LD_PRELOAD=",        "LD_AUDIT=",
	    "SLURM_PROCID=",   "SLURM_LOCALID=",      "SLURM_TASK_PID=",    "PMIX_RANK=",
	    "PMI_FD=",         "ENROOT_ALLOW_HTTP=",  "ENROOT_CACHE_PATH=", "ENROOT_TEMP_PATH=",
	    "XDG_CACHE_HOME=", "PYXIS_RUNTIME_PATH=", "PYXIS_VERSION=",     "SLURM_JOB_UID=",
	    "SLURM_JOB_GID=",  "SLURM_JOB_ID=",       "SLURM_STEP_ID=",     NULL};

	for (int i = 0; denied[i]; i++)
		if (!strncmp(kv, denied[i], strlen(denied[i])))
			return true;
	return false;
}

/* The job's environment minus what admins decide, plus set_extra_env's, for the helpers. */
static char **helper_env(spank_t sp)
{
	const size_t n_extra = sizeof(st.extra_env) / sizeof(*st.extra_env);
	char **job_env = NULL, **env;
	size_t n = 0, k = 0;

	if (spank_get_item(sp, S_JOB_ENV, &job_env) != ESPANK_SUCCESS)
		job_env = NULL;
	while (job_env && job_env[n])
		n++;
	env = calloc(n + n_extra + 2, sizeof(char *));
	if (!env)
		return NULL;
	env[k++] = (char *)"PATH=" PATH_DEFAULT;
	for (size_t i = 0; i < n_extra; i++)
		env[k++] = st.extra_env[i];
	for (size_t i = 0; i < n; i++)
		if (!helper_env_denied(job_env[i]))
			env[k++] = job_env[i];
	return env;
}

static void add_arg(const char **argv, size_t *n, const char *a, const char *b)
{
	argv[(*n)++] = a;
	if (b)
		argv[(*n)++] = b;
}

/* A helper's or the entrypoint's output: as errors when something failed, else to the user. */
static void print_log(const char *what, char **log, bool failed)
{
	if (!log || !*log)
		return;
	if (failed)
		slurm_error(PLUGIN_NAME ": printing the %s log:", what);
	for (char **l = log; *l; l++)
		if (failed && **l)
			slurm_error(PLUGIN_NAME ":   %s", *l);
		else if (!failed)
			slurm_spank_log("%s", *l);
}

/* Run @argv (argv[0] absolute) as the user, with helper_env; its stdout apart when
 * @ret_stdout is given. */
static int run_helper(spank_t sp, const char *const *argv, char ***ret_stdout, char ***ret_log,
		      int *ret_status, lc_error *err)
{
	lc_helper_opts o = LC_HELPER_OPTS_INIT;
	char **env = helper_env(sp);
	int r;

	o.path = argv[0];
	o.argv = argv;
	o.env = (const char *const *)env;
	o.uid = st.uid;
	o.gid = st.gid;
	o.groups = st.gids;
	o.n_groups = (size_t)st.n_gids;
	r = env ? lc_helper_run_split(&o, ret_status, ret_stdout, ret_log, err)
		: lc_fail(err, ENOMEM, "out of memory");
	free(env);
	return r;
}

/* Run an import helper (ctr-import, or the site's @importer) as the user and read its answer
 * from its stdout. A failed one prints its log and fails with pyxis's message. */
static int run_importer(spank_t sp, const char *const *argv, const char *importer,
			lc_import_answer *ans, lc_error *err)
{
	char **out = NULL, **log = NULL;
	int status = 0;
	int r = run_helper(sp, argv, &out, &log, &status, err);

	if (r >= 0 && status == 0)
		r = lc_import_answer_parse((const char *const *)out, ans, err);
	if (r >= 0 &&
	    (status != 0 || (ans->image && ans->image[0] != '/') || (importer && !ans->image))) {
		lc_import_answer_clear(ans);
		print_log(importer ? "importer" : "import", log, true);
		if (importer)
			r = lc_fail(err, EIO, "failed to import docker image: %s (importer: %s)",
				    args.image, importer);
		else
			r = lc_fail(err, WIFSIGNALED(status) ? EINTR : EIO,
				    "failed to import docker image: %s", args.image);
	}
	lc_strv_free(out);
	lc_strv_free(log);
	return r;
}

/* ctr-import as the user; @mode: "--output FILE" or "--node-cache DIR [--lookup]". */
static int run_import(spank_t sp, const char *const *mode, lc_import_answer *ans, lc_error *err)
{
	const plugin_config *c = st.cfg;
	const char *argv[24];
	char cache[PATH_MAX], conns[16];
	size_t n = 0;

	add_arg(argv, &n, c->import_helper, "--quiet");
	add_arg(argv, &n, "--verbose", NULL); /* its log is shown when it fails */
	for (; *mode; mode++)
		add_arg(argv, &n, *mode, NULL);
	if (c->cache_path && !args.cache) { /* the node cache keeps its own blobs */
		snprintf(cache, sizeof(cache), "%s/%u", c->cache_path, (unsigned)st.uid);
		add_arg(argv, &n, "--cache", cache);
	}
	if (c->connections) {
		snprintf(conns, sizeof(conns), "%u", c->connections);
		add_arg(argv, &n, "--connections", conns);
	}
	if (c->compression)
		add_arg(argv, &n, "--compress", c->compression);
	if (c->http_registries)
		add_arg(argv, &n, "--http-registries", c->http_registries);
	add_arg(argv, &n, "--", args.image);
	argv[n] = NULL;
	return run_importer(sp, argv, NULL, ans, err);
}

/* ---------------------------------------------------------------- the admin's importer */

static bool use_importer(void)
{
	return st.cfg->importer && !args_image_is_file();
}

/* pyxis's protocol: "IMPORTER get URI" prints the image file's absolute path as the first line
 * of its stdout and logs on stderr (shown when it fails). */
static int importer_get(spank_t sp, lc_import_answer *ans, lc_error *err)
{
	const char *importer = st.cfg->importer;
	bool scheme =
	    !strncmp(args.image, "docker://", 9) || !strncmp(args.image, "dockerd://", 10);
	_cleanup_free_ char *uri = NULL;

	if (asprintf(&uri, "%s%s", scheme ? "" : "docker://", args.image) < 0)
		return lc_fail(err, ENOMEM, "out of memory");
	return run_importer(sp, (const char *const[]){importer, "get", uri, NULL}, importer, ans,
			    err);
}

/* "IMPORTER release": once the container holds the image, and again at the end (it must be
 * idempotent). */
static void importer_release(spank_t sp)
{
	lc_error err = LC_ERROR_INIT;
	char **log = NULL;
	int status = 0;

	if (run_helper(sp, (const char *const[]){st.cfg->importer, "release", NULL}, NULL, &log,
		       &status, &err) < 0)
		slurm_info(PLUGIN_NAME ": importer release: %s", lc_error_message(&err));
	else if (status != 0)
		print_log("importer release", log, true);
	lc_strv_free(log);
}

/* The import's phases, for the verbose summary. */
static void note_timings(const lc_import_answer *ans)
{
	if (!ans->convert_ms && !ans->image_bytes)
		return; /* nothing was imported */
	snprintf(st.import_timings, sizeof(st.import_timings),
		 "resolve %.3f s, download+convert %.3f s, finish %.3f s, total %.3f s",
		 (double)ans->resolve_ms / 1e3, (double)ans->convert_ms / 1e3,
		 (double)ans->finish_ms / 1e3, (double)ans->total_ms / 1e3);
}

/* ctr-import into @to (NULL: the step's directory), or the site's importer. */
static int import_image(spank_t sp, const char *to, char **ret_path, lc_error *err)
{
	lc_import_answer ans = {0};
	_cleanup_free_ char *output = NULL;
	int r;

	if (use_importer()) {
		r = importer_get(sp, &ans, err);
	} else if (to ? !(output = strdup(to))
		      : asprintf(&output, "%s/image.sqsh", st.step_dir) < 0) {
		return lc_fail(err, ENOMEM, "out of memory");
	} else {
		r = run_import(sp, (const char *const[]){"--output", output, NULL}, &ans, err);
		if (r >= 0 && !ans.image)
			r = lc_fail(err, EIO, "the import helper named no image");
	}
	if (r >= 0) {
		note_timings(&ans);
		*ret_path = TAKE_PTR(ans.image);
	}
	lc_import_answer_clear(&ans);
	return r;
}

/* A registry image into a file, by the admin's importer or ctr-import (into @to, NULL: the
 * step's directory): announced and timed. */
static int import_announced(spank_t sp, const char *to, char **ret_path, lc_error *err)
{
	int64_t t0 = lc_now_ms();
	int r;

	slurm_spank_log(PLUGIN_NAME ": importing docker image: %s", args.image);
	r = import_image(sp, to, ret_path, err);
	if (r >= 0)
		slurm_spank_log(PLUGIN_NAME ": imported docker image: %s", args.image);
	st.import_ms = lc_now_ms() - t0;
	return r;
}

/* ---------------------------------------------------------------- node cache */

/* BASE/<uid>, the user's: made by root without following links. */
static int cache_user_dir(char **ret_dir, lc_error *err)
{
	const char *base = st.cfg->cache_data_path;
	int uid_fd = -1, r = base_user_dir(base, &uid_fd);

	if (uid_fd >= 0)
		close(uid_fd);
	if (r < 0)
		return lc_fail(err, -r, "cannot make %s/%s: %s", base, st.uid_name, strerror(-r));
	if (asprintf(ret_dir, "%s/%s", base, st.uid_name) < 0)
		return lc_fail(err, ENOMEM, "out of memory");
	return 0;
}

/* Ask the helper for the entry of the image: look only (@lookup), or import when missing. */
static int cache_helper(spank_t sp, const char *dir, bool lookup, char **ret_path, lc_error *err)
{
	const char *const mode[] = {"--node-cache", dir, lookup ? "--lookup" : NULL,
				    lookup && st.cfg->cache_offline ? "--offline-fallback" : NULL,
				    NULL};
	lc_import_answer ans = {0};
	int r = run_import(sp, mode, &ans, err);

	*ret_path = NULL;
	if (r < 0)
		return r;
	if (!lookup)
		note_timings(&ans);
	if (ans.offline)
		slurm_spank_log(PLUGIN_NAME ": the registry is unreachable (%s); using the digest "
					    "%s resolved to last time",
				ans.offline, args.image);
	*ret_path = TAKE_PTR(ans.image);
	lc_import_answer_clear(&ans);
	if (!lookup && !*ret_path)
		return lc_fail(err, EIO, "the import helper named no cache entry");
	return 0;
}

/* Before a new entry: make room (the GC decides whether it must run). */
static void cache_gc(void)
{
	const plugin_config *c = st.cfg;
	lc_cache_gc_result res;
	lc_error err = LC_ERROR_INIT;

	if (lc_cache_gc(c->cache_data_path, c->cache_gc_high, c->cache_gc_low, &res, &err) < 0)
		slurm_info(PLUGIN_NAME ": cache GC failed: %s", lc_error_message(&err));
	else if (res.concurrent)
		slurm_verbose(PLUGIN_NAME ": cache GC: another GC is running");
	else
		slurm_verbose(PLUGIN_NAME
			      ": cache GC: %s, %u%% used, now %u%%; evicted %zu, in use "
			      "%zu, dead fills removed %zu, stale records removed %zu",
			      res.ran ? "ran" : "not needed", res.used_before, res.used_after,
			      res.evicted, res.busy, res.stale_fills, res.stale_records);
}

/* Mark the entry of @image_path (what the helper named: only one of the user's own) in use by
 * the job until its epilog, before the step locks it: the GC keeps it between steps too. */
static int hold_entry(const char *image_path, lc_error *err)
{
	return lc_cache_job_hold(st.cfg->cache_data_path, st.jobid, image_path, st.uid, err);
}

/* The image from the node cache, locked shared (the holder keeps *@ret_lock) and marked for the
 * job: the warm path is one look at the registry; the cold path imports into a new entry. */
static int cache_image(spank_t sp, char **ret_path, int *ret_lock, lc_error *err)
{
	_cleanup_free_ char *dir = NULL;
	char *path = NULL;
	int64_t t0 = lc_now_ms();
	int r = cache_user_dir(&dir, err);

	if (r >= 0)
		r = cache_helper(sp, dir, true, &path, err);
	if (r >= 0 && path && hold_entry(path, err) == 0 &&
	    lc_cache_use(path, st.uid, st.gid, ret_lock, err) == 0) {
		slurm_verbose(PLUGIN_NAME ": cached image: %s (%s)", args.image, path);
	} else if (r >= 0) {
		free(path);
		cache_gc();
		slurm_spank_log(PLUGIN_NAME ": importing docker image: %s", args.image);
		r = cache_helper(sp, dir, false, &path, err);
		if (r >= 0)
			r = hold_entry(path, err);
		if (r >= 0)
			r = lc_cache_use(path, st.uid, st.gid, ret_lock, err);
		if (r >= 0)
			slurm_spank_log(PLUGIN_NAME ": imported docker image: %s", args.image);
	}
	st.import_ms = lc_now_ms() - t0;
	if (r < 0) {
		free(path);
		return r;
	}
	*ret_path = path;
	return 0;
}

/* ---------------------------------------------------------------- create, enter */

static void library_log(void *userdata, enum lc_log_level level, const char *msg)
{
	(void)userdata;
	if (level <= LC_LOG_WARNING)
		slurm_info(PLUGIN_NAME ": %s", msg);
	else
		slurm_debug(PLUGIN_NAME ": %s", msg);
}

static uint32_t container_flags(void)
{
	return (args.writable == 1 ? LC_CONTAINER_RW : 0) |
	       (args.remap_root == 1 ? LC_CONTAINER_REMAP_ROOT : 0) |
	       (args.mount_home == 1 ? LC_CONTAINER_MOUNT_HOME : 0) | args.unshare |
	       (st.cfg->kernel_squashfs ? LC_CONTAINER_KERNEL_SQUASHFS : 0) | LC_CONTAINER_HOST_TMP;
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

/* What the container needs beyond its image. */
static void fill_opts(lc_container_opts *o, lc_group_opts *g, char **overrides)
{
	o->flags = container_flags();
	o->mounts = args.mounts;
	o->uid = st.uid;
	o->gid = st.gid;
	o->cwd = st.cwd;
	st.entrypoint = args_run_entrypoint(st.cfg);
	g->flags = st.entrypoint ? LC_PROCESS_ENTRYPOINT : 0;
	g->env_overrides = (const char *const *)overrides;
}

enum start_mode {
	START_NEW,      /* a new container (with @named: the name's instance) */
	START_JOIN,     /* join the running instance of @named */
	START_SEPARATE, /* no_exec beside a running one: its own work.<step> */
};

/* A container from @image for the group, as @mode says; the holder keeps @hold_fd. */
static int start_container(spank_t sp, const char *image, int hold_fd, lc_named *named,
			   enum start_mode mode, lc_error *err)
{
	lc_container_opts o = LC_CONTAINER_OPTS_INIT;
	lc_group_opts g = LC_GROUP_OPTS_INIT;
	char **overrides = env_overrides(sp), **log = NULL;
	lc_ctx *ctx = NULL;
	int64_t t0 = lc_now_ms();
	int r = overrides ? lc_ctx_new(&ctx, err) : lc_fail(err, ENOMEM, "out of memory");

	fill_opts(&o, &g, overrides);
	o.image = image;
	o.hold_fd = hold_fd;
	o.named = named;
	if (named && !args.name) /* the step's own name: joinable, its writes on the tmpfs */
		o.flags |= LC_CONTAINER_VOLATILE_UPPER;
	o.named_instance = mode == START_SEPARATE ? st.step_name : NULL;
	if (r >= 0) {
		lc_ctx_set_log(ctx, library_log, LC_LOG_DEBUG, NULL);
		if (mode == START_JOIN) {
			r = lc_group_attach(st.group, ctx, named, &o, &g, err);
		} else {
			r = lc_group_create(st.group, ctx, &o, &g, &log, err);
			if (r < 0 || args.entrypoint_log)
				print_log("entrypoint", log, r < 0);
		}
	} else {
		lc_group_fail(st.group, err);
	}
	st.setup_ms = lc_now_ms() - t0;
	st.created = r >= 0;
	lc_strv_free(overrides);
	lc_strv_free(log);
	lc_ctx_free(ctx);
	return r;
}

/* An unnamed step's container, which other steps may join by its name <jobid>.<stepid>. */
static int create_container(spank_t sp, lc_error *err)
{
	char *imported = NULL;
	_cleanup_close_ int cache_lock = -1;
	lc_named *self = NULL;
	int r = 0;

	if (args.cache)
		r = cache_image(sp, &imported, &cache_lock, err);
	else if (!args_image_is_file())
		r = import_announced(sp, NULL, &imported, err);
	if (r >= 0)
		r = lc_named_open(st.named_dir, st.uid, st.gid, &self, err);
	if (r >= 0 && lc_named_state(self, NULL) != LC_NAMED_ABSENT)
		self = lc_named_free(self); /* a container the user named so: not the step's */
	if (r >= 0)
		r = start_container(sp, imported ? imported : args.image, cache_lock, self,
				    START_NEW, err);
	else
		lc_group_fail(st.group, err);
	lc_named_free(self);
	remove_step_dir(); /* the holder keeps the image open */
	if (use_importer())
		importer_release(sp);
	free(imported);
	return r;
}

/* ---------------------------------------------------------------- named containers */

/* The image of a new named container, in its directory. */
static int named_image(spank_t sp, lc_named *n, lc_error *err)
{
	char *imported = NULL;
	int r;

	if (!args.image)
		return lc_fail(err, ENOENT,
			       "error: a container with name \"%s\" does not exist, and "
			       "--container-image is not set",
			       st.ename);
	r = lc_named_reset(n, err);
	if (r >= 0 && args_image_is_file())
		return lc_named_copy_image(n, args.image, st.cwd, err);
	if (r >= 0)
		r = import_announced(sp, lc_named_image(n), &imported, err);
	if (r >= 0 && use_importer())
		r = lc_named_copy_image(n, imported, NULL, err);
	free(imported);
	return r;
}

/* What --container-name's flag allows in @state; the message is pyxis's. */
static int named_check_flag(int state, lc_error *err)
{
	if (args.name_flag == NAME_CREATE && state != LC_NAMED_ABSENT)
		return lc_fail(err, EEXIST,
			       "error: \"create\" flag was passed to --container-name but the "
			       "container already exists");
	if (args.name_flag == NAME_EXEC && state != LC_NAMED_RUNNING)
		return lc_fail(err, ESRCH,
			       "error: \"exec\" flag was passed to --container-name but the "
			       "container is not running");
	return 0;
}

/* Joining a running container: the namespaces asked for must be there. */
static int named_check_attach(lc_named *n, lc_error *err)
{
	static const struct {
		uint32_t flag;
		int clone;
		const char *ns, *what;
	} unshare[] = {{LC_CONTAINER_UNSHARE_NET, CLONE_NEWNET, "net", "network"},
		       {LC_CONTAINER_UNSHARE_IPC, CLONE_NEWIPC, "ipc", "IPC"},
		       {LC_CONTAINER_UNSHARE_UTS, CLONE_NEWUTS, "uts", "UTS"}};

	for (size_t i = 0; i < sizeof(unshare) / sizeof(*unshare); i++)
		if ((args.unshare & unshare[i].flag) && !(lc_named_ns_flags(n) & unshare[i].clone))
			return lc_fail(err, EINVAL,
				       "--container-unshare=%s requested but the container is not "
				       "in a separate %s namespace",
				       unshare[i].ns, unshare[i].what);
	if (args.mounts)
		slurm_spank_log(
		    PLUGIN_NAME
		    ": ignoring --container-mounts when attaching to a running container");
	slurm_verbose(PLUGIN_NAME ": reusing existing container namespaces: %s", st.ename);
	return 0;
}

/* --container-name: under the name's lock (another step creating it is waited for), join the
 * running instance, start on the stopped one's filesystem, or create it. */
static int named_container(spank_t sp, lc_error *err)
{
	lc_named *n = NULL;
	enum start_mode mode;
	int r = lc_named_open(st.named_dir, st.uid, st.gid, &n, err), state = 0;

	if (r >= 0)
		r = state = lc_named_state(n, err);
	if (r >= 0)
		r = named_check_flag(state, err);
	mode = state != LC_NAMED_RUNNING        ? START_NEW
	       : args.name_flag == NAME_NO_EXEC ? START_SEPARATE
						: START_JOIN;
	if (r >= 0 && mode == START_JOIN)
		r = named_check_attach(n, err);
	else if (r >= 0 && state == LC_NAMED_ABSENT)
		r = named_image(sp, n, err);
	else if (r >= 0)
		slurm_verbose(PLUGIN_NAME ": reusing existing container filesystem: %s", st.ename);
	if (r >= 0)
		r = start_container(sp, lc_named_image(n), -1, n, mode, err);
	else
		lc_group_fail(st.group, err);
	if (r < 0 && state == LC_NAMED_ABSENT && n) /* a failed creation leaves nothing */
		(void)lc_named_remove(n, NULL);
	if (state == LC_NAMED_ABSENT && use_importer())
		importer_release(sp);
	lc_named_free(n); /* unlocks the name */
	return r;
}

int remote_task_init_privileged(spank_t sp)
{
	lc_error err = LC_ERROR_INIT;
	int r;

	if (!st.enabled)
		return 0;
	r = lc_group_lock(st.group, &err);
	if (r == 1)
		r = args.name ? named_container(sp, &err) : create_container(sp, &err);
	if (r < 0) {
		slurm_error(PLUGIN_NAME ": %s", lc_error_message(&err));
		return -1;
	}
	return 0;
}

/* Turn the task's environment, @job_env, into @env: what @env lacks is unset, the rest set.
 * The names to unset are copied first: setting may move @job_env. */
static int apply_env(spank_t sp, char **job_env, char **env)
{
	char **drop = NULL;
	size_t n = 0, k = 0;

	while (job_env && job_env[n])
		n++;
	drop = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; drop && i < n; i++) {
		const char *eq = strchr(job_env[i], '=');
		size_t len = eq ? (size_t)(eq - job_env[i]) : strlen(job_env[i]);
		bool kept = false;

		for (char **e = env; !kept && *e; e++)
			kept = !strncmp(*e, job_env[i], len) && (*e)[len] == '=';
		if (!kept)
			drop[k++] = strndup(job_env[i], len);
	}
	for (size_t i = 0; drop && i < k; i++)
		if (drop[i])
			spank_unsetenv(sp, drop[i]);
	for (char **e = env; drop && *e; e++) {
		char *eq = strchr(*e, '=');

		*eq = '\0';
		spank_setenv(sp, *e, eq + 1, 1);
		*eq = '=';
	}
	lc_strv_free(drop);
	return drop ? 0 : -1;
}

int remote_task_init(spank_t sp)
{
	lc_error err = LC_ERROR_INIT;
	char **container_env = NULL, **task_env = NULL, **job_env = NULL;
	int64_t t0 = lc_now_ms();
	int r;

	if (!st.enabled)
		return 0;
	r = spank_get_item(sp, S_JOB_ENV, &job_env) == ESPANK_SUCCESS ? 0 : -EINVAL;
	if (r >= 0)
		r = lc_group_env(st.group, &container_env, &err);
	if (r >= 0)
		r = lc_task_env((const char *const *)job_env, (const char *const *)container_env,
				(const char *const *)args.env_names, &task_env, &err);
	if (r >= 0 && apply_env(sp, job_env, task_env) < 0)
		r = lc_fail(&err, ENOMEM, "cannot set the task's environment");
	if (r >= 0)
		r = lc_group_enter(st.group, args.workdir, &err);
	lc_strv_free(container_env);
	lc_strv_free(task_env);
	if (r < 0) {
		slurm_error(PLUGIN_NAME ": %s", lc_error_message(&err));
		return -1;
	}
	if (st.created)
		slurm_verbose(
		    PLUGIN_NAME ": container setup: import %lld ms (%s), mount%s %lld ms, "
				"join %lld ms",
		    (long long)st.import_ms, *st.import_timings ? st.import_timings : "none",
		    st.entrypoint ? " and entrypoint" : "", (long long)st.setup_ms,
		    (long long)(lc_now_ms() - t0));
	else
		slurm_verbose(PLUGIN_NAME ": joined the container in %lld ms",
			      (long long)(lc_now_ms() - t0));
	return 0;
}

/* ---------------------------------------------------------------- exit */

/* --container-save, by the last task of the node, when every task had started. */
static int save_container(spank_t sp)
{
	lc_import_opts io = LC_IMPORT_OPTS_INIT;
	lc_save_opts so = LC_SAVE_OPTS_INIT;
	lc_error err = LC_ERROR_INIT;
	char squash_options[ENV_VALUE_BUF];
	int64_t t0 = lc_now_ms();
	unsigned entered = lc_group_entered(st.group);

	if (entered < st.local_tasks) {
		slurm_error(PLUGIN_NAME ": not exporting the container: %u of %u tasks started",
			    entered, st.local_tasks);
		return -1;
	}
	io.flags = LC_IMPORT_ALL_ROOT | LC_IMPORT_FORCE; /* as enroot export -f */
	io.compression = st.cfg->compression;
	if (spank_getenv(sp, "ENROOT_SQUASH_OPTIONS", squash_options, sizeof(squash_options)) ==
	    ESPANK_SUCCESS)
		io.squash_options = squash_options;
	so.squash = &io;
	so.uid = st.uid;
	so.gid = st.gid;
	so.groups = st.gids;
	so.n_groups = (size_t)st.n_gids;
	if (lc_group_save(st.group, NULL, st.save_path, &so, &err) < 0) {
		slurm_error(PLUGIN_NAME ": failed to export container %s: %s", st.step_name,
			    lc_error_message(&err));
		return -1;
	}
	slurm_info(PLUGIN_NAME ": exported container %s to %s in %lld ms", st.step_name,
		   st.save_path, (long long)(lc_now_ms() - t0));
	return 0;
}

/* Whether Slurm keeps this step in a cgroup of its own (proctrack/cgroup, task/cgroup), whose
 * processes it kills when the step ends: the container's holder too, even while steps that
 * joined the container still run. */
static bool step_in_cgroup(void)
{
	char line[4096];
	FILE *f = fopen("/proc/self/cgroup", "re");
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, "/step_") != NULL;
	if (f)
		fclose(f);
	return found;
}

int remote_task_exit(spank_t sp)
{
	lc_error err = LC_ERROR_INIT;
	int r = 0;

	if (!st.enabled || ++st.exited_tasks != st.local_tasks)
		return 0;
	if (st.save_path)
		r = save_container(sp);
	if (use_importer())
		importer_release(sp);
	/* the step that created a container ends after the steps that joined it */
	if (step_in_cgroup() && lc_group_release(st.group, &err) < 0)
		slurm_info(PLUGIN_NAME ": %s", lc_error_message(&err));
	return r;
}

/* Once the holder is told to end: an unnamed step's name goes (no step joins it any more; one
 * that did keeps it running), a separate (no_exec) instance's overlay work directory too (the
 * task that started it decided that: slurmstepd only knows the name). */
static void remove_step_name(void)
{
	char path[PATH_MAX], work[64];

	if (!st.named_dir)
		return;
	user_runtime_dir(path, sizeof(path));
	if (!args.name) {
		/* the step's own name holds only that; else it is a container the user named so */
		if (lc_named_is_volatile_at(AT_FDCWD, st.named_dir))
			remove_under(path, st.ename);
		return;
	}
	snprintf(work, sizeof(work), "work.%s", st.step_name);
	remove_under(st.named_dir, work);
}

int remote_exit(spank_t sp)
{
	(void)sp;
	st.group = lc_group_free(st.group); /* the holder ends with its lifeline */
	remove_step_dir();
	remove_step_name();
	free(st.named_dir);
	free(st.step_dir);
	free(st.save_path);
	free(st.gids);
	st = (typeof(st)){0};
	return 0;
}

/* ---------------------------------------------------------------- job epilog */

/* "<jobid>.<stepid>" at @name. */
static bool is_step_of(const char *name, uint32_t jobid)
{
	char prefix[32];
	size_t len = (size_t)snprintf(prefix, sizeof(prefix), "%u.", jobid);

	return !strncmp(name, prefix, len) && name[len] &&
	       strspn(name + len, "0123456789") == strlen(name + len);
}

/* A directory the job's epilog removes: the job's named containers (pyxis_<jobid>_*) with
 * container_scope=job, and what killed steps left: their directories (<jobid>.<stepid>) and
 * names (pyxis_<jobid>.<stepid>, unless a container the user named so is there). */
static bool job_leftover(int dir_fd, const char *name, uint32_t jobid, bool scope_job)
{
	char prefix[32];
	size_t len = (size_t)snprintf(prefix, sizeof(prefix), "pyxis_%u_", jobid);

	if (scope_job && !strncmp(name, prefix, len))
		return true;
	return is_step_of(name, jobid) ||
	       (!strncmp(name, "pyxis_", 6) && is_step_of(name + 6, jobid) &&
		lc_named_is_volatile_at(dir_fd, name));
}

/* The job's leftovers in runtime_path/<uid>; -1 when one stays. */
static int remove_job_containers(const plugin_config *cfg, uid_t uid, uint32_t jobid)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int fd, failed = 0;

	snprintf(path, sizeof(path), "%s/%u", cfg->runtime_path, (unsigned)uid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0; /* nothing was made for this user here */
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d))) {
		int r;

		if (!job_leftover(dirfd(d), de->d_name, jobid, cfg->scope_job))
			continue;
		r = lc_rm_rf_at(dirfd(d), de->d_name);
		if (r < 0 && r != -ENOENT) {
			slurm_error(PLUGIN_NAME ": container %s was not removed: %s", de->d_name,
				    strerror(-r));
			failed = 1;
		}
	}
	closedir(d);
	if (failed)
		slurm_error(PLUGIN_NAME ": couldn't cleanup containers for job %u", jobid);
	return failed ? -1 : 0;
}

int remote_job_epilog(spank_t sp, const plugin_config *cfg)
{
	lc_error err = LC_ERROR_INIT;
	uid_t uid;
	uint32_t jobid;

	if (spank_get_item(sp, S_JOB_UID, &uid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_ID, &jobid) != ESPANK_SUCCESS) {
		slurm_error(PLUGIN_NAME ": job epilog: cannot read the job's ids");
		return -1;
	}
	/* the GC may take the job's cache entries now (a failure only keeps them longer) */
	if (cfg->cache_data_path && lc_cache_job_done(cfg->cache_data_path, jobid, &err) < 0)
		slurm_info(PLUGIN_NAME ": %s", lc_error_message(&err));
	return remove_job_containers(cfg, uid, jobid);
}
