/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Imports: long work runs in a helper, as the user, out of slurmstepd (lc_helper_run_split):
 * ctr-import, or the site's importer (pyxis's protocol: "get URI", "release"). Both answer on
 * stdout (lc_import_answer); their log is shown only when they fail.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../pyxis/pyxis.h"
#include "plugin.h"

#define PATH_DEFAULT "/usr/local/bin:/usr/bin:/bin"

bool import_by_importer(const step_state *s)
{
	return s->cfg->importer && !args_image_is_file();
}

/* The job's environment minus what admins decide, plus pyxis's variables, for the helpers. */
static char **helper_env(spank_t sp, const step_state *s)
{
	const size_t n_extra = sizeof(s->extra_env) / sizeof(*s->extra_env);
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
		env[k++] = (char *)s->extra_env[i];
	for (size_t i = 0; i < n; i++)
		if (!helper_env_denied(job_env[i]))
			env[k++] = job_env[i];
	return env;
}

/* A line the import helper said while it works (ctr-import --progress-fd: how far it got, or
 * which node it waits for), as it comes; the helper made control characters '?'. */
static void progress_line(void *userdata, const char *line)
{
	(void)userdata;
	slurm_spank_log(PLUGIN_NAME ": %s", line);
}

int helper_run(spank_t sp, const step_state *s, const char *const *argv, bool progress,
	       char ***ret_stdout, char ***ret_log, int *ret_status, lc_error *err)
{
	lc_helper_opts o = LC_HELPER_OPTS_INIT;
	char **env = helper_env(sp, s);
	int r;

	o.path = argv[0];
	o.argv = argv;
	o.env = (const char *const *)env;
	o.uid = s->uid;
	o.gid = s->gid;
	o.groups = s->gids;
	o.n_groups = (size_t)s->n_gids;
	o.on_progress = progress ? progress_line : NULL;
	r = env ? lc_helper_run_split(&o, ret_status, ret_stdout, ret_log, err)
		: lc_error_set(err, ENOMEM, "out of memory");
	free(env);
	return r;
}

void print_log(const char *what, char **log, bool failed)
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

/* The import failed with its message ("failed to import docker image: X"): the task that ran it
 * prints it; the others are told without it (log scrapers count it once, as with pyxis). */
static bool import_failed;

void group_fail(lc_group *g, const lc_error *why)
{
	lc_error generic = LC_ERROR_INIT;

	if (import_failed)
		lc_error_set(&generic, why->code, "its image could not be imported");
	lc_group_fail(g, import_failed ? &generic : why);
}

/* Run an import helper (ctr-import, or the site's @importer) as the user and read its answer
 * from its stdout. A failed one prints its log and fails with pyxis's message. */
static int run_importer(spank_t sp, const step_state *s, const char *const *argv,
			const char *importer, lc_import_answer *ans, lc_error *err)
{
	char **out = NULL, **log = NULL;
	int status = 0;
	int r = helper_run(sp, s, argv, !importer, &out, &log, &status, err);

	if (r >= 0 && status == 0)
		r = lc_import_answer_parse((const char *const *)out, ans, err);
	if (r >= 0 && (status != 0 || (ans->image_path && ans->image_path[0] != '/') ||
		       (importer && !ans->image_path))) {
		lc_import_answer_clear(ans);
		print_log(importer ? "importer" : "import", log, true);
		import_failed = true;
		if (importer)
			r = lc_error_set(err, EIO,
					 "failed to import docker image: %s (importer: %s)",
					 args.image, importer);
		else
			r = lc_error_set(err, WIFSIGNALED(status) ? EINTR : EIO,
					 "failed to import docker image: %s", args.image);
	}
	lc_strv_free(out);
	lc_strv_free(log);
	return r;
}

static void add_arg(const char **argv, size_t *n, const char *a, const char *b)
{
	argv[(*n)++] = a;
	if (b)
		argv[(*n)++] = b;
}

/* ctr-import as the user; @mode: "--output FILE" or "--node-cache DIR [--lookup]". */
static int run_import(spank_t sp, const step_state *s, const char *const *mode,
		      lc_import_answer *ans, lc_error *err)
{
	const plugin_config *c = s->cfg;
	const char *argv[26];
	char cache[PATH_MAX], conns[16];
	size_t n = 0;

	add_arg(argv, &n, c->import_helper, "--quiet");
	add_arg(argv, &n, "--verbose", NULL); /* its log is shown when it fails */
	_Static_assert(LC_HELPER_PROGRESS_FD == 3, "the progress fd ctr-import is told");
	add_arg(argv, &n, "--progress-fd", "3");
	for (; *mode; mode++)
		add_arg(argv, &n, *mode, NULL);
	if (c->cache_path && !args.cache) { /* the node cache keeps its own blobs */
		snprintf(cache, sizeof(cache), "%s/%u", c->cache_path, (unsigned)s->uid);
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
	if (c->sysconf_path) /* enroot.conf's import keys, under the job's ENROOT_* */
		add_arg(argv, &n, "--sysconf", c->sysconf_path);
	add_arg(argv, &n, "--", args.image);
	argv[n] = NULL;
	return run_importer(sp, s, argv, NULL, ans, err);
}

/* pyxis's protocol: "IMPORTER get URI" prints the image file's absolute path as the first line
 * of its stdout and logs on stderr (shown when it fails). */
static int importer_get(spank_t sp, const step_state *s, lc_import_answer *ans, lc_error *err)
{
	const char *importer = s->cfg->importer;
	char *uri = NULL;
	int r;

	if (importer_uri(args.image, &uri) < 0)
		return lc_error_set(err, ENOMEM, "out of memory");
	r = run_importer(sp, s, (const char *const[]){importer, "get", uri, NULL}, importer, ans,
			 err);
	free(uri);
	return r;
}

void importer_release(spank_t sp, const step_state *s)
{
	lc_error err = LC_ERROR_INIT;
	char **log = NULL;
	int status = 0;

	if (helper_run(sp, s, (const char *const[]){s->cfg->importer, "release", NULL}, false, NULL,
		       &log, &status, &err) < 0)
		slurm_info(PLUGIN_NAME ": importer release: %s", lc_error_message(&err));
	else if (status != 0)
		print_log("importer release", log, true);
	lc_strv_free(log);
}

/* The import's phases, for the verbose summary. */
static void note_timings(step_state *s, const lc_import_answer *ans)
{
	if (!ans->convert_ms && !ans->image_bytes)
		return; /* nothing was imported */
	snprintf(s->import_timings, sizeof(s->import_timings),
		 "resolve %.3f s, download+convert %.3f s, finish %.3f s, total %.3f s",
		 (double)ans->resolve_ms / 1e3, (double)ans->convert_ms / 1e3,
		 (double)ans->finish_ms / 1e3, (double)ans->total_ms / 1e3);
}

/* ctr-import into @to, or the site's importer. */
static int import_file(spank_t sp, step_state *s, const char *to, char **ret_path, lc_error *err)
{
	lc_import_answer ans = {0};
	int r;

	if (import_by_importer(s)) {
		r = importer_get(sp, s, &ans, err);
	} else if (!to) {
		return lc_error_set(err, EINVAL, "no place to import to");
	} else {
		r = run_import(sp, s, (const char *const[]){"--output", to, NULL}, &ans, err);
		if (r >= 0 && !ans.image_path)
			r = lc_error_set(err, EIO, "the import helper named no image");
	}
	if (r >= 0) {
		note_timings(s, &ans);
		*ret_path = ans.image_path;
		ans.image_path = NULL;
	}
	lc_import_answer_clear(&ans);
	return r;
}

int import_image(spank_t sp, step_state *s, const char *to, char **ret_path, lc_error *err)
{
	int64_t t0 = plugin_now_ms();
	int r;

	slurm_spank_log(PLUGIN_NAME ": importing docker image: %s", args.image);
	r = import_file(sp, s, to, ret_path, err);
	if (r >= 0)
		slurm_spank_log(PLUGIN_NAME ": imported docker image: %s", args.image);
	s->import_ms = plugin_now_ms() - t0;
	return r;
}

int daemon_image(spank_t sp, step_state *s, char **ret_path, lc_error *err)
{
	char *to = NULL;
	int r = lc_pyxis_daemon_image_path(s->job_images, s->stepid, &to, err);

	if (r >= 0)
		r = import_image(sp, s, to, ret_path, err);
	free(to);
	return r;
}

void forget_daemon_image(const step_state *s)
{
	lc_error err = LC_ERROR_INIT;

	if (lc_pyxis_daemon_image_remove(s->job_images, s->stepid, &err) < 0)
		slurm_info(PLUGIN_NAME ": %s", lc_error_message(&err));
}

int import_cache_entry(spank_t sp, step_state *s, const char *dir, bool lookup, char **ret_path,
		       lc_error *err)
{
	const char *const mode[] = {"--node-cache", dir, lookup ? "--lookup" : NULL,
				    lookup && s->cfg->cache_offline ? "--offline-fallback" : NULL,
				    NULL};
	lc_import_answer ans = {0};
	int r = run_import(sp, s, mode, &ans, err);

	*ret_path = NULL;
	if (r < 0)
		return r;
	if (!lookup)
		note_timings(s, &ans);
	if (ans.offline)
		slurm_spank_log(PLUGIN_NAME ": the registry is unreachable (%s); using the digest "
					    "%s resolved to last time",
				ans.offline, args.image);
	*ret_path = ans.image_path;
	ans.image_path = NULL;
	lc_import_answer_clear(&ans);
	if (!lookup && !*ret_path)
		return lc_error_set(err, EIO, "the import helper named no cache entry");
	return 0;
}
