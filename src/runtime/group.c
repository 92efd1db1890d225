/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One container for a group of sibling processes (the tasks of a job step on a node).
 *
 * The parent maps a shared page (a process-shared robust mutex, the state, the container's
 * environment), a socket pair that carries the holder's pidfd, and a pipe whose read end is the
 * holder's lifeline. The first child to lock creates the container; each later one takes the
 * pidfd from the socket and puts a copy back for the next, under the lock, so the socket never
 * holds more than one message however many tasks there are.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../squash/squash.h"
#include "../registry/registry.h"
#include "runtime.h"

#define GROUP_MAP_SIZE (4u << 20) /* pages are touched only as the environment needs them */
#define GROUP_ERROR_MAX 512

enum group_state { GROUP_NEW, GROUP_READY, GROUP_FAILED, GROUP_CREATOR_DIED };

#define CREATOR_DIED "a previous task terminated unexpectedly during container setup"

typedef struct group_shared {
	pthread_mutex_t lock;
	enum group_state state;
	int ns_flags;
	char error[GROUP_ERROR_MAX];
	char workdir[4096];
	size_t env_len; /* bytes of env: "K=V\0K=V\0..." */
	char env[];
} group_shared;

struct lc_group {
	group_shared *sh;
	int sock[2];     /* the pidfd goes in at [0] and comes out at [1] */
	int lifeline[2]; /* the holder polls [0]; the parent keeps [1] */
	int pidfd;
	bool locked;
};

LC_API int lc_group_new(lc_group **ret_group, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	pthread_mutexattr_t attr;
	lc_group *g;
	int r;

	if (!err)
		err = &local;
	g = calloc(1, sizeof(*g));
	if (!g)
		return lc_fail(err, ENOMEM, "out of memory");
	*g = (lc_group){.sock = {-1, -1}, .lifeline = {-1, -1}, .pidfd = -1};
	g->sh =
	    mmap(NULL, GROUP_MAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g->sh == MAP_FAILED) {
		r = errno;
		g->sh = NULL;
		lc_group_free(g);
		return lc_fail(err, r, "cannot map the group's shared state: %s", strerror(r));
	}
	r = pthread_mutexattr_init(&attr);
	if (!r)
		r = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	if (!r)
		r = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	if (!r)
		r = pthread_mutex_init(&g->sh->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (!r && (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, g->sock) < 0 ||
		   pipe2(g->lifeline, O_CLOEXEC) < 0))
		r = errno;
	if (r) {
		lc_group_free(g);
		return lc_fail(err, r, "cannot set up the container group: %s", strerror(r));
	}
	*ret_group = g;
	return 0;
}

LC_API lc_group *lc_group_free(lc_group *g)
{
	if (!g)
		return NULL;
	if (g->sh)
		munmap(g->sh, GROUP_MAP_SIZE);
	for (int i = 0; i < 2; i++) {
		lc_closep(&g->sock[i]);
		lc_closep(&g->lifeline[i]);
	}
	lc_closep(&g->pidfd);
	free(g);
	return NULL;
}

/* Under the lock: take the pidfd and put it back for the next process. */
static int take_pidfd(lc_group *g, lc_error *err)
{
	int r = g->pidfd >= 0 ? 0 : lc_fd_recv(g->sock[1], &g->pidfd, MSG_DONTWAIT);

	if (r >= 0)
		r = lc_fd_send(g->sock[0], g->pidfd, 'P', MSG_DONTWAIT);
	if (r < 0)
		return lc_fail(err, -r,
			       "cannot receive the container from the task that created it: %s",
			       strerror(-r));
	return 0;
}

static void unlock(lc_group *g)
{
	g->locked = false;
	pthread_mutex_unlock(&g->sh->lock);
}

LC_API int lc_group_lock(lc_group *g, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	int r;

	if (!err)
		err = &local;
	r = pthread_mutex_lock(&g->sh->lock);
	if (r == EOWNERDEAD) {
		pthread_mutex_consistent(&g->sh->lock);
		g->sh->state = GROUP_CREATOR_DIED;
		unlock(g);
		return lc_fail(err, ECHILD, CREATOR_DIED);
	}
	if (r)
		return lc_fail(err, r, "cannot lock the container group: %s", strerror(r));
	g->locked = true;
	switch (g->sh->state) {
	case GROUP_NEW:
		return 1;
	case GROUP_READY:
		r = take_pidfd(g, err);
		unlock(g);
		return r;
	case GROUP_CREATOR_DIED:
		unlock(g);
		return lc_fail(err, ECHILD, CREATOR_DIED);
	case GROUP_FAILED:
		break;
	}
	unlock(g);
	return lc_fail(err, ECHILD, "container was not started successfully by another task%s%s",
		       *g->sh->error ? ": " : "", g->sh->error);
}

LC_API void lc_group_fail(lc_group *g, const lc_error *why)
{
	if (!g || !g->locked)
		return;
	g->sh->state = GROUP_FAILED;
	snprintf(g->sh->error, sizeof(g->sh->error), "%s", why ? lc_error_message(why) : "");
	unlock(g);
}

static int store_env(lc_group *g, char *const *env, lc_error *err)
{
	size_t off = 0, room = GROUP_MAP_SIZE - sizeof(group_shared);

	for (char *const *e = env; e && *e; e++) {
		size_t n = strlen(*e) + 1;

		if (n > room - off)
			return lc_fail(err, E2BIG, "the container's environment is too large");
		memcpy(g->sh->env + off, *e, n);
		off += n;
	}
	g->sh->env_len = off;
	return 0;
}

/* The environment and working directory every process starts from. */
static int record(lc_group *g, lc_container *c, const lc_group_opts *o, char ***ret_log,
		  lc_error *err)
{
	const lc_image *img = lc_container_image(c);
	lc_entrypoint_result ep = {0};
	const char *workdir = img && img->workdir && *img->workdir ? img->workdir : "/";
	char **env = NULL;
	int r = lc_container_env(c, o->env_overrides, &env, err);

	if (r >= 0 && (o->flags & LC_PROCESS_ENTRYPOINT)) {
		r = lc_entrypoint_run(c, env, &ep, err);
		if (ret_log)
			*ret_log = TAKE_PTR(ep.log);
	}
	if (r >= 0)
		r = store_env(g, ep.ran ? ep.env : env, err);
	if (r >= 0) {
		g->sh->ns_flags = lc_container_ns_flags(c);
		snprintf(g->sh->workdir, sizeof(g->sh->workdir), "%s", ep.ran ? ep.cwd : workdir);
	}
	lc_entrypoint_result_free(&ep);
	lc_strv_free(env);
	return r;
}

LC_API int lc_group_create(lc_group *g, lc_ctx *ctx, const lc_container_opts *opts,
			   const lc_group_opts *group_opts, char ***ret_log, lc_error *err)
{
	static const lc_group_opts defaults = LC_GROUP_OPTS_INIT;
	lc_error local = LC_ERROR_INIT;
	lc_container *c = NULL;
	int r;

	if (!err)
		err = &local;
	if (ret_log)
		*ret_log = NULL;
	if (!group_opts)
		group_opts = &defaults;
	if (!g || !g->locked)
		return lc_fail(err, EINVAL, "lc_group_create: the group is not locked");
	if (group_opts->version != LC_GROUP_OPTS_VERSION ||
	    (group_opts->flags & ~(uint32_t)LC_PROCESS_ENTRYPOINT)) {
		r = lc_fail(err, EINVAL, "lc_group_create: bad options");
		lc_group_fail(g, err);
		return r;
	}
	r = lc_container_create_detached(ctx, opts, g->lifeline[0], &c, err);
	if (r >= 0)
		r = record(g, c, group_opts, ret_log, err);
	if (r >= 0) {
		g->pidfd = fcntl(lc_container_pidfd(c), F_DUPFD_CLOEXEC, 3);
		r = g->pidfd < 0 ? lc_fail(err, errno, "dup: %m") : 0;
	}
	if (r >= 0) {
		r = lc_fd_send(g->sock[0], g->pidfd, 'P', MSG_DONTWAIT);
		if (r < 0)
			lc_fail(err, -r, "cannot pass the container on: %s", strerror(-r));
	}
	lc_container_free(c); /* detached: the holder stays */
	if (r < 0) {
		lc_group_fail(g, err);
		return r;
	}
	g->sh->state = GROUP_READY;
	unlock(g);
	return 0;
}

LC_API int lc_group_enter(lc_group *g, const char *workdir, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	lc_seccomp_prog *prog = NULL;
	const char *dir = workdir && *workdir ? workdir : g->sh->workdir;
	int r;

	if (!err)
		err = &local;
	if (g->pidfd < 0 || g->sh->state != GROUP_READY)
		return lc_fail(err, EINVAL, "no container to enter");
	r = lc_seccomp_prog_new(&prog, err);
	if (r < 0)
		return r;
	if (setns(g->pidfd, g->sh->ns_flags) < 0)
		r = lc_fail(err, errno, "couldn't join the container's namespaces: %m");
	else if (chdir(dir) < 0)
		r = lc_fail(err, errno, "couldn't chdir to %s: %m", dir);
	else if ((r = lc_seccomp_install(prog)) < 0)
		lc_fail(err, -r, "seccomp filter failed: %s", strerror(-r));
	lc_seccomp_prog_free(prog);
	return r;
}

LC_API int lc_group_env(const lc_group *g, char ***ret_env, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	lc_strvec e = {0};

	for (size_t off = 0; off < g->sh->env_len; off += strlen(g->sh->env + off) + 1)
		if (lc_env_put(&e, g->sh->env + off) < 0) {
			lc_strvec_free(&e);
			return lc_fail(err ? err : &local, ENOMEM, "out of memory");
		}
	*ret_env = lc_strvec_steal(&e);
	return *ret_env ? 0 : lc_fail(err ? err : &local, ENOMEM, "out of memory");
}
