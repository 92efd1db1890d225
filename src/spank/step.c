/* SPDX-License-Identifier: Apache-2.0 */
/*
 * slurmstepd: one container per node per step. The first task to lock the group imports the
 * image (a helper run as the user) and creates the container (start.c); every task then joins
 * it in task_init, right before Slurm execs the task's command. Mechanisms live in the library.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pyxis/pyxis.h"
#include "plugin.h"

#define SPECIAL_STEP_IDS 0xfffffff0u /* batch, extern, interactive... */
#define BATCH_STEP 0xfffffffbu       /* SLURM_BATCH_SCRIPT: sbatch's script */
#define INTERACTIVE_STEP 0xfffffffau /* SLURM_INTERACTIVE_STEP: salloc's shell */

static step_state st;

/* ---------------------------------------------------------------- post_opt, user_init */

/* PYXIS_RUNTIME_PATH, PYXIS_VERSION and the job's ids, as pyxis gives its importer. */
static void set_extra_env(step_state *s)
{
	const size_t size = sizeof(s->extra_env[0]);

	snprintf(s->extra_env[0], size, "PYXIS_RUNTIME_PATH=%s", s->cfg->runtime_path);
	snprintf(s->extra_env[1], size, "PYXIS_VERSION=%s", lc_version());
	snprintf(s->extra_env[2], size, "SLURM_JOB_UID=%u", (unsigned)s->uid);
	snprintf(s->extra_env[3], size, "SLURM_JOB_GID=%u", (unsigned)s->gid);
	snprintf(s->extra_env[4], size, "SLURM_JOB_ID=%u", s->jobid);
	snprintf(s->extra_env[5], size, "SLURM_STEP_ID=%u", s->stepid);
}

static int read_job_ids(spank_t sp, step_state *s)
{
	gid_t *gids = NULL;

	if (spank_get_item(sp, S_JOB_UID, &s->uid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_GID, &s->gid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_ID, &s->jobid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_STEPID, &s->stepid) != ESPANK_SUCCESS) {
		slurm_error(PLUGIN_NAME ": cannot read the job's ids");
		return -1;
	}
	if (spank_get_item(sp, S_JOB_SUPPLEMENTARY_GIDS, &gids, &s->n_gids) == ESPANK_SUCCESS &&
	    s->n_gids > 0) {
		s->gids = malloc((size_t)s->n_gids * sizeof(gid_t));
		if (!s->gids)
			return -1;
		memcpy(s->gids, gids, (size_t)s->n_gids * sizeof(gid_t));
	}
	lc_pyxis_step_name(s->jobid, s->stepid, s->step_name, sizeof(s->step_name));
	set_extra_env(s);
	if (spank_get_item(sp, S_JOB_LOCAL_TASK_COUNT, &s->local_tasks) != ESPANK_SUCCESS)
		s->local_tasks = 0;
	if (spank_get_item(sp, S_JOB_NODEID, &s->nodeid) != ESPANK_SUCCESS)
		s->nodeid = 0;
	if (spank_getenv(sp, "PWD", s->cwd, sizeof(s->cwd)) != ESPANK_SUCCESS)
		*s->cwd = '\0';
	return 0;
}

/* --container-save's target: a relative path is the job's working directory's. */
static int resolve_save_path(step_state *s)
{
	int r = args.save ? save_path_resolve(args.save, s->cwd, &s->save_path) : 0;

	if (r == -EINVAL)
		slurm_error(PLUGIN_NAME ": --container-save: relative path %s, but PWD is not set",
			    args.save);
	return r < 0 ? -1 : 0;
}

/* The job's imports: <runtime_path>/<uid>/<jobid>.images, or the same under
 * shared_import_path, which every node of the job sees. */
static int job_images_dir(step_state *s, lc_error *err)
{
	char *shared = NULL;
	int r = 0;

	/* a daemon's image is the node's own: never shared */
	if (s->cfg->shared_import_path && !args_image_is_daemon())
		r = lc_pyxis_user_dir(s->cfg->shared_import_path, s->uid, s->gid, &shared, err);
	if (r >= 0)
		r = lc_pyxis_job_images_dir(shared ? shared : s->user_dir, s->uid, s->gid, s->jobid,
					    &s->job_images, err);
	free(shared);
	return r;
}

/* <runtime_path>/<uid>; in it the name's directory (--container-name, or an unnamed step's own
 * name <jobid>.<stepid>, so --container-name=<jobid>.<stepid> joins it in both scopes), and the
 * job's imports for an import by ctr-import (@import_here). */
static int runtime_dirs(step_state *s, bool import_here)
{
	lc_error err = LC_ERROR_INIT;
	int r = lc_pyxis_user_dir(s->cfg->runtime_path, s->uid, s->gid, &s->user_dir, &err);

	if (r >= 0)
		r = lc_pyxis_container_dir_name(args.name ? args.name : s->step_name,
						s->cfg->scope_job, s->jobid, s->ename,
						sizeof(s->ename)) < 0
			? lc_error_set(&err, ENAMETOOLONG, "container name too long")
			: 0;
	if (r >= 0 && asprintf(&s->named_dir, "%s/%s", s->user_dir, s->ename) < 0)
		r = lc_error_set(&err, ENOMEM, "out of memory");
	if (r >= 0 && import_here)
		r = job_images_dir(s, &err);
	if (r < 0)
		slurm_error(PLUGIN_NAME ": %s", lc_error_message(&err));
	return r < 0 ? -1 : 0;
}

int remote_post_opt(spank_t sp, const plugin_config *cfg)
{
	st.cfg = cfg;
	if (args_apply_env(sp) < 0)
		return -1;
	if (!args_check_enabled())
		return 0;
	if (read_job_ids(sp, &st) < 0)
		return -1;
	if (st.stepid >= SPECIAL_STEP_IDS && st.stepid != BATCH_STEP &&
	    st.stepid != INTERACTIVE_STEP)
		return 0; /* the extern step, and Slurm's other internal ones */
	st.enabled = true;
	st.entrypoint = args_run_entrypoint(cfg);
	if (args_refuse_cache(cfg) < 0 || resolve_save_path(&st) < 0)
		return -1;
	if (!*st.cwd)
		snprintf(st.cwd, sizeof(st.cwd), "/");
	/* an importer writes where it likes; a named container's image goes in its directory */
	return runtime_dirs(&st,
			    !cfg->importer && !args.name && !args_image_is_file() && !args.cache);
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

/* ---------------------------------------------------------------- tasks */

int remote_task_init_privileged(spank_t sp)
{
	lc_error err = LC_ERROR_INIT;
	int r;

	if (!st.enabled)
		return 0;
	r = lc_group_lock(st.group, &err);
	if (r == 1)
		r = args.name ? named_container(sp, &st, &err) : create_container(sp, &st, &err);
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
	char **drop = env_names_dropped(job_env, env);

	if (!drop)
		return -1;
	for (char **d = drop; *d; d++)
		spank_unsetenv(sp, *d);
	for (char **e = env; *e; e++) {
		char *eq = strchr(*e, '=');

		*eq = '\0';
		spank_setenv(sp, *e, eq + 1, 1);
		*eq = '=';
	}
	lc_strv_free(drop);
	return 0;
}

int remote_task_init(spank_t sp)
{
	lc_error err = LC_ERROR_INIT;
	char **container_env = NULL, **task_env = NULL, **job_env = NULL;
	int64_t t0 = plugin_now_ms();
	int r;

	if (!st.enabled)
		return 0;
	r = spank_get_item(sp, S_JOB_ENV, &job_env) == ESPANK_SUCCESS ? 0 : -EINVAL;
	if (r >= 0)
		r = lc_group_env(st.group, &container_env, &err);
	if (r >= 0)
		r = lc_pyxis_task_env((const char *const *)job_env,
				      (const char *const *)container_env,
				      (const char *const *)args.env_names, &task_env, &err);
	if (r >= 0 && apply_env(sp, job_env, task_env) < 0)
		r = lc_error_set(&err, ENOMEM, "cannot set the task's environment");
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
		    (long long)(plugin_now_ms() - t0));
	else
		slurm_verbose(PLUGIN_NAME ": joined the container in %lld ms",
			      (long long)(plugin_now_ms() - t0));
	return 0;
}

/* ---------------------------------------------------------------- exit */

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

int remote_task_post_fork(spank_t sp)
{
	pid_t pid = 0;

	if (st.enabled && spank_get_item(sp, S_TASK_PID, &pid) == ESPANK_SUCCESS && pid > 0)
		watch_task(st.group, pid);
	return 0;
}

int remote_task_exit(spank_t sp)
{
	lc_error err = LC_ERROR_INIT;
	int r = 0;

	if (!st.enabled || ++st.exited_tasks != st.local_tasks)
		return 0;
	watch_end(); /* the holder now ends as it should */
	/* one node writes --container-save's file: a path on a shared filesystem must never be
	 * written twice (each node's container saved over the other's) */
	if (st.save_path && st.nodeid == 0)
		r = save_container(sp, &st);
	else if (st.save_path)
		slurm_verbose(PLUGIN_NAME ": --container-save: the step's first node saves %s",
			      st.save_path);
	if (import_by_importer(&st))
		importer_release(sp, &st);
	/* the step that created a container ends after the steps that joined it */
	if (step_in_cgroup() && lc_group_release(st.group, &err) < 0)
		slurm_info(PLUGIN_NAME ": %s", lc_error_message(&err));
	return r;
}

int remote_exit(spank_t sp)
{
	(void)sp;
	watch_end();
	st.group = lc_group_free(st.group); /* the holder ends with its lifeline */
	named_step_end(&st);
	free(st.user_dir);
	free(st.job_images);
	free(st.named_dir);
	free(st.save_path);
	free(st.gids);
	st = (step_state){0};
	return 0;
}
