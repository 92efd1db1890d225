/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pyxis's policy, for the Slurm plugin: the layout of a node's runtime directory (per user, per
 * step, per container name), the job epilog's cleanup of it, and the environment of a task.
 * Internal (not in the ABI): the plugin links it statically; the unit tests test it. Includes only
 * the public header, so the plugin sees no private helper through it.
 *
 *   <runtime_path>/<uid>/                     the user's (0700), root makes it
 *   <runtime_path>/<uid>/<jobid>.<stepid>/    a step's import by earlier versions (removed)
 *   <runtime_path>/<uid>/<jobid>.images/      the job's imports (a node cache's layout: one
 *                                             import per image and job), the user's (0700);
 *                                             with shared_import_path=DIR, DIR/<uid>/ instead
 *   <runtime_path>/<uid>/pyxis_<name>         a named container (lc_named_open)
 *   <runtime_path>/<uid>/pyxis_<jobid>_<name> the same with container_scope=job
 *   <runtime_path>/<uid>/pyxis_<jobid>.<stepid>  an unnamed step's own name (joinable)
 *
 * The node cache's BASE/<uid> is made the same way (lc_pyxis_user_dir).
 */
#ifndef LC_PYXIS_H
#define LC_PYXIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libcontainer/libcontainer.h>

/* "<jobid>.<stepid>": a step's directory and its own container name. */
void lc_pyxis_step_name(uint32_t jobid, uint32_t stepid, char *buf, size_t size);
/* The directory name of container @name: "pyxis_NAME", or "pyxis_<jobid>_NAME" with
 * container_scope=job (@scope_job). -ENAMETOOLONG when it does not fit. */
int lc_pyxis_container_dir_name(const char *name, bool scope_job, uint32_t jobid, char *buf,
				size_t size);
/* Whether @name in a user's runtime directory (@dir_fd) is what job @jobid leaves for its
 * epilog: its steps' directories (<jobid>.<stepid>), its imports (<jobid>.images), its named
 * containers with
 * container_scope=job (pyxis_<jobid>_*), and its steps' own names (pyxis_<jobid>.<stepid>)
 * unless the user named a container so (it holds an image or writes). */
bool lc_pyxis_is_job_leftover(int dir_fd, const char *name, uint32_t jobid, bool scope_job);

/*
 * <@base>/<uid>: the user's own directory, mode 0700, never a link, under @base (root's, made
 * 0755 when missing; one that others cannot search is an error naming it). Made and given to the
 * user when missing; an existing one must be the user's and writable by the user only. *@ret_path
 * is "<base>/<uid>". For a root caller.
 */
int lc_pyxis_user_dir(const char *base, uid_t uid, gid_t gid, char **ret_path, lc_error *err);
/* <@user_dir>/<jobid>.images, made as lc_pyxis_user_dir() makes <uid>: the job's imports. */
int lc_pyxis_job_images_dir(const char *user_dir, uid_t uid, gid_t gid, uint32_t jobid,
			    char **ret_dir, lc_error *err);
/* Where step @stepid imports a local daemon's image (dockerd://, podman://) in the job's
 * (node-local) imports; the step removes it once its container holds it. */
int lc_pyxis_daemon_image_path(const char *job_images, uint32_t stepid, char **ret_path,
			       lc_error *err);
/* Remove it (lc_pyxis_remove_under: no link followed). */
int lc_pyxis_daemon_image_remove(const char *job_images, uint32_t stepid, lc_error *err);
/* Remove @name and what is below it in the directory @dir (a user's), which is opened without
 * following a link, as is every level below. A missing @dir or @name is not an error. */
int lc_pyxis_remove_under(const char *dir, const char *name, lc_error *err);
/* The job epilog: remove job @jobid's leftovers (lc_pyxis_is_job_leftover) in the directory of
 * user @uid under @base. Goes on after a failure; returns the first, with *@ret_failed (may be
 * NULL) the number that stayed. */
int lc_pyxis_remove_job_leftovers(const char *base, uid_t uid, uint32_t jobid, bool scope_job,
				  size_t *ret_failed, lc_error *err);

/* ---- the task environment (taskenv.c) */
/*
 * The environment of a task that runs in a container, as pyxis makes it: @job_env without
 * LANG, LANGUAGE and LC_ALL (unless named in @host_wins), then every variable of
 * @container_env, which wins except for the names in @host_wins that @job_env sets.
 * When the result has PYTORCH_VERSION: RANK = SLURM_PROCID, LOCAL_RANK = SLURM_LOCALID, and,
 * unless @container_env sets them, MASTER_ADDR (first host of SLURM_STEP_NODELIST or
 * SLURM_JOB_NODELIST), MASTER_PORT (61000 + SLURM_JOB_ID % 4536, stable within the job),
 * WORLD_SIZE (SLURM_NTASKS) and OMP_NUM_THREADS=1 when there are more tasks than nodes.
 * Free with lc_strv_free().
 */
int lc_pyxis_task_env(const char *const *job_env, const char *const *container_env,
		      const char *const *host_wins, char ***ret_env, lc_error *err);
/* The first host of a Slurm host list ("node[07-09,12],gpu1" -> "node07"). Caller frees. */
int lc_pyxis_hostlist_first(const char *hostlist, char **ret_host, lc_error *err);

#endif
