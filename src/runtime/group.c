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
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../image/image.h"
#include "../squash/squash.h"
#include "runtime.h"

#define GROUP_MAP_SIZE (4u << 20) /* pages are touched only as the environment needs them */
#define GROUP_ERROR_MAX 512

enum group_state { GROUP_NEW, GROUP_READY, GROUP_FAILED, GROUP_CREATOR_DIED };

#define CREATOR_DIED "a previous task terminated unexpectedly during container setup"

typedef struct group_shared {
	pthread_mutex_t lock;
	enum group_state state;
	int ns_flags;
	unsigned entered; /* processes that entered the container */
	bool own_holder;  /* lc_group_create() made it (lc_group_attach() joined another's) */
	char error[GROUP_ERROR_MAX];
	char workdir[4096];
	size_t env_len;    /* bytes of env: "K=V\0K=V\0..." */
	size_t config_len; /* the image config's JSON, right after the environment */
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

LC_API int lc_group_release(lc_group *g, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	struct pollfd p = {.fd = -1, .events = POLLIN};

	if (!err)
		err = &local;
	if (!g)
		return 0;
	lc_closep(&g->lifeline[1]);
	if (!g->sh->own_holder || g->sh->state != GROUP_READY)
		return 0; /* nothing made here: the hangup is all */
	if (g->pidfd < 0 && lc_fd_recv(g->sock[1], &g->pidfd, MSG_DONTWAIT) < 0)
		return lc_fail(err, EIO, "the container's holder is not known here");
	p.fd = g->pidfd;
	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			return lc_fail(err, errno, "poll: %m");
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

/* The environment, then the image config (for lc_group_save). */
static int store_env(lc_group *g, char *const *env, const char *config, lc_error *err)
{
	size_t off = 0, room = GROUP_MAP_SIZE - sizeof(group_shared);
	size_t config_len = config ? strlen(config) : 0;

	for (char *const *e = env; e && *e; e++) {
		size_t n = strlen(*e) + 1;

		if (n > room - off)
			return lc_fail(err, E2BIG, "the container's environment is too large");
		memcpy(g->sh->env + off, *e, n);
		off += n;
	}
	if (config_len > room - off)
		return lc_fail(err, E2BIG, "the container's environment is too large");
	memcpy(g->sh->env + off, config, config_len);
	g->sh->env_len = off;
	g->sh->config_len = config_len;
	return 0;
}

/* What every process starts from: the environment, the image's config (for lc_group_save),
 * the working directory (@cwd, else the image's) and the namespaces to join. */
static int store_start(lc_group *g, char *const *env, const lc_image *img, const char *cwd,
		       int ns_flags, lc_error *err)
{
	_cleanup_free_ char *config = img ? lc_image_config_json(img) : NULL;
	const char *img_dir = img ? lc_image_workdir(img) : NULL;
	const char *workdir = cwd ? cwd : img_dir && *img_dir ? img_dir : "/";
	int r;

	if (img && !config)
		return lc_fail(err, ENOMEM, "out of memory");
	r = store_env(g, env, config, err);
	if (r < 0)
		return r;
	g->sh->ns_flags = ns_flags;
	snprintf(g->sh->workdir, sizeof(g->sh->workdir), "%s", workdir);
	return 0;
}

/* A new container's start: its environment, through the entrypoint when asked. */
static int record(lc_group *g, lc_container *c, const lc_group_opts *o, char ***ret_log,
		  lc_error *err)
{
	lc_entrypoint_result ep = {0};
	char **env = NULL;
	int r = lc_container_env(c, o->env_overrides, &env, err);

	if (r >= 0 && (o->flags & LC_GROUP_ENTRYPOINT)) {
		r = lc_entrypoint_run(c, env, &ep, err);
		if (ret_log)
			*ret_log = TAKE_PTR(ep.log);
	}
	if (r >= 0)
		r = store_start(g, ep.ran ? ep.env : env, lc_container_image(c),
				ep.ran ? ep.cwd : NULL, lc_container_ns_flags(c), err);
	lc_entrypoint_result_free(&ep);
	lc_strv_free(env);
	return r;
}

/* Hand @pidfd (taken) on to the others and release the lock; on failure tell them. */
static int publish(lc_group *g, int pidfd, int r, lc_error *err)
{
	if (r >= 0) {
		g->pidfd = pidfd;
		r = lc_fd_send(g->sock[0], g->pidfd, 'P', MSG_DONTWAIT);
		if (r < 0)
			lc_fail(err, -r, "cannot pass the container on: %s", strerror(-r));
	} else if (pidfd >= 0) {
		close(pidfd);
	}
	if (r < 0) {
		lc_group_fail(g, err);
		return r;
	}
	g->sh->state = GROUP_READY;
	unlock(g);
	return 0;
}

static int check_creator(lc_group *g, const lc_group_opts *o, lc_error *err)
{
	int r;

	if (!g || !g->locked)
		return lc_fail(err, EINVAL, "lc_group_create: the group is not locked");
	r = lc_opts_check(o, o->version, LC_GROUP_OPTS_VERSION, o->flags, LC_GROUP_ALL,
			  "lc_group_opts", err);
	if (r < 0)
		lc_group_fail(g, err);
	return r;
}

LC_API int lc_group_create(lc_ctx *ctx, lc_group *g, const lc_container_opts *opts,
			   const lc_group_opts *group_opts, char ***ret_log, lc_error *err)
{
	static const lc_group_opts defaults = LC_GROUP_OPTS_INIT;
	lc_error local = LC_ERROR_INIT;
	lc_container *c = NULL;
	int r, pidfd = -1;

	if (!err)
		err = &local;
	if (ret_log)
		*ret_log = NULL;
	if (!group_opts)
		group_opts = &defaults;
	r = check_creator(g, group_opts, err);
	if (r < 0)
		return r;
	r = lc_container_create_detached(ctx, opts, g->lifeline[0], &c, err);
	if (r >= 0)
		r = record(g, c, group_opts, ret_log, err);
	if (r >= 0) {
		pidfd = fcntl(lc_container_pidfd(c), F_DUPFD_CLOEXEC, 3);
		r = pidfd < 0 ? lc_fail(err, errno, "dup: %m") : 0;
	}
	lc_container_free(c); /* detached: the holder stays */
	g->sh->own_holder = r >= 0;
	return publish(g, pidfd, r, err);
}

LC_API int lc_group_attach(lc_ctx *ctx, lc_group *g, lc_named *named, const lc_container_opts *opts,
			   const lc_group_opts *group_opts, lc_error *err)
{
	static const lc_group_opts defaults = LC_GROUP_OPTS_INIT;
	lc_error local = LC_ERROR_INIT;
	lc_user user = {0};
	lc_image *img = NULL;
	lc_strvec env = {0};
	lc_container_opts o;
	int r, pidfd = -1;

	if (!err)
		err = &local;
	if (!group_opts)
		group_opts = &defaults;
	r = check_creator(g, group_opts, err);
	if (r < 0)
		return r;
	if (!named || !opts) {
		lc_fail(err, EINVAL, "lc_group_attach: NULL argument");
		return publish(g, -1, -EINVAL, err);
	}
	r = lc_container_opts_read(opts, &o, err);
	if (r >= 0)
		r = lc_user_lookup(o.uid == (uid_t)-1 ? getuid() : o.uid,
				   o.gid == (gid_t)-1 ? getgid() : o.gid, o.flags, &user, err);
	if (r >= 0)
		r = lc_named_image_config(named, &img, err);
	if (r >= 0)
		r = lc_env_build(&user, img, o.site ? (const char *const *)o.site->environ.v : NULL,
				 group_opts->env_overrides, &env, err);
	if (r >= 0)
		r = store_start(g, env.v, img, NULL, lc_named_ns_flags(named), err);
	if (r >= 0)
		r = lc_named_join(named, g->lifeline[0], &pidfd, err);
	if (r >= 0)
		lc_debug(ctx, "joined the running container %s", lc_named_image_path(named));
	lc_strvec_free(&env);
	lc_image_free(img);
	lc_user_free(&user);
	return publish(g, pidfd, r, err);
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
	r = lc_container_join(g->pidfd, g->sh->ns_flags, dir, prog, err);
	lc_seccomp_prog_free(prog);
	if (r >= 0)
		__atomic_add_fetch(&g->sh->entered, 1, __ATOMIC_SEQ_CST);
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

LC_API int lc_group_holder(lc_group *g, int *ret_pidfd, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	int r = 0;

	if (!err)
		err = &local;
	*ret_pidfd = -1;
	if (!g || !ret_pidfd)
		return lc_fail(err, EINVAL, "lc_group_holder: NULL argument");
	if (g->pidfd < 0) {
		r = pthread_mutex_trylock(&g->sh->lock); /* a creator holds it while it works */
		if (r == EBUSY)
			return 0;
		if (r == EOWNERDEAD) {
			pthread_mutex_consistent(&g->sh->lock);
			g->sh->state = GROUP_CREATOR_DIED;
		} else if (r) {
			return lc_fail(err, r, "cannot lock the container group: %s", strerror(r));
		}
		if (g->sh->state == GROUP_READY)
			r = take_pidfd(g, err);
		pthread_mutex_unlock(&g->sh->lock);
		if (r < 0)
			return r;
		if (g->pidfd < 0)
			return g->sh->state == GROUP_NEW ? 0 : -ECHILD; /* not yet, or never */
	}
	*ret_pidfd = fcntl(g->pidfd, F_DUPFD_CLOEXEC, 3);
	return *ret_pidfd < 0 ? lc_fail(err, errno, "fcntl: %m") : 1;
}

LC_API unsigned lc_group_entered(const lc_group *g)
{
	return g && g->sh ? __atomic_load_n(&g->sh->entered, __ATOMIC_SEQ_CST) : 0;
}

/* ---------------------------------------------------------------- saving the filesystem */

typedef struct save_job {
	const lc_group *g;
	const char *output;
	const lc_save_opts *o;
	const char *config;
} save_job;

/* @output's directory, opened on the host as the user, and its last component. */
static int open_output_dir(const save_job *j, int *ret_fd, char **ret_name, lc_error *err)
{
	const char *slash = strrchr(j->output, '/');
	const char *name = slash ? slash + 1 : j->output;
	_cleanup_free_ char *dir =
	    slash ? strndup(j->output, slash == j->output ? 1 : (size_t)(slash - j->output))
		  : strdup(".");
	struct stat st;
	int fd;

	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return lc_fail(err, EISDIR, "%s: target is a directory", j->output);
	if (!dir || !(*ret_name = strdup(name)))
		return lc_fail(err, ENOMEM, "out of memory");
	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return lc_fail(err, errno, "cannot open the directory of %s: %m", j->output);
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return lc_fail(err, EISDIR, "%s: target is a directory", j->output);
	}
	*ret_fd = fd;
	return 0;
}

/* The library cache of the saved tree where the runtime's rebuilt one is (inject.c), on a
 * read-only clone of the root; none when it cannot be made (the save leaves it out). */
static void saved_cache(int tree_fd, int root_fd, int ldconfig_fd, char **cache, size_t *len)
{
	struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
	struct stat st;

	if (ldconfig_fd >= 0 &&
	    fstatat(root_fd, "etc/ld.so.cache", &st, AT_SYMLINK_NOFOLLOW) == 0 && lc_rebuilt(&st) &&
	    mount_setattr(tree_fd, "", AT_EMPTY_PATH, &ro, sizeof(ro)) == 0)
		(void)lc_inject_saved_cache(root_fd, ldconfig_fd, cache, len);
}

/* The child: become the user, open the output's directory, join the container, save the root
 * mount alone (a clone without the mounts on top of it). */
static int save_in_child(const save_job *j, lc_error *err)
{
	const lc_save_opts *o = j->o;
	_cleanup_close_ int dir_fd = -1;
	_cleanup_close_ int tree_fd = -1;
	_cleanup_close_ int root_fd = -1;
	_cleanup_close_ int ldconfig_fd = -1;
	_cleanup_free_ char *name = NULL;
	_cleanup_free_ char *ldconfig = NULL;
	_cleanup_free_ char *cache = NULL;
	size_t cache_len = 0;
	int r;

	lc_oom_score_adj_reset();
	r = lc_become_user(o->uid, o->gid, o->groups, o->n_groups);
	if (r < 0)
		return lc_fail(err, -r, "cannot become the user: %s", strerror(-r));
	if (o->cwd && j->output[0] != '/' && chdir(o->cwd) < 0)
		return lc_fail(err, errno, "cannot chdir to %s: %m", o->cwd);
	r = open_output_dir(j, &dir_fd, &name, err);
	if (r < 0)
		return r;
	if (lc_host_ldconfig("/sbin/ldconfig", &ldconfig, NULL) >= 0)
		ldconfig_fd = open(ldconfig, O_RDONLY | O_CLOEXEC);
	if (setns(j->g->pidfd, CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return lc_fail(err, errno, "cannot join the container: %m");
	tree_fd = open_tree(AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree_fd >= 0)
		root_fd = openat(tree_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return lc_fail(err, errno, "cannot open the container's root: %m");
	saved_cache(tree_fd, root_fd, ldconfig_fd, &cache, &cache_len);
	return lc_squash_save_at(NULL, root_fd, dir_fd, name, o->squash, j->config, cache,
				 cache_len, err);
}

static int check_save_opts(const lc_save_opts *o, lc_error *err)
{
	return lc_opts_check(o, o ? o->version : 0, LC_SAVE_OPTS_VERSION, o ? o->flags : 0,
			     LC_SAVE_ALL, "lc_save_opts", err);
}

/* Run the save in a child; its error message comes back through a pipe. */
static int run_save(const save_job *j, lc_error *err)
{
	char msg[sizeof(err->msg)] = "";
	int pipe_fd[2], status = 0;
	ssize_t n, got = 0;
	pid_t pid;

	if (pipe2(pipe_fd, O_CLOEXEC) < 0)
		return lc_fail(err, errno, "pipe: %m");
	pid = fork();
	if (pid < 0) {
		close(pipe_fd[0]);
		close(pipe_fd[1]);
		return lc_fail(err, errno, "fork: %m");
	}
	if (pid == 0) {
		lc_error child_err = LC_ERROR_INIT;

		close(pipe_fd[0]);
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (save_in_child(j, &child_err) >= 0)
			_exit(0);
		(void)!write(pipe_fd[1], child_err.msg, strlen(child_err.msg));
		_exit(1);
	}
	close(pipe_fd[1]);
	while ((n = read(pipe_fd[0], msg + got, sizeof(msg) - 1 - (size_t)got)) > 0 ||
	       (n < 0 && errno == EINTR))
		got += n > 0 ? n : 0;
	msg[got] = '\0';
	close(pipe_fd[0]);
	if (lc_wait_child(pid, &status) < 0)
		return lc_fail(err, errno, "waitpid: %m");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (*msg)
		return lc_fail(err, EIO, "%s", msg);
	return lc_fail(err, EIO, "the save process %s %d",
		       WIFSIGNALED(status) ? "was killed by signal" : "exited with",
		       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

LC_API int lc_group_save(lc_ctx *ctx, lc_group *g, const char *output, const lc_save_opts *opts,
			 lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	_cleanup_free_ char *config = NULL;
	int r;

	(void)ctx; /* the child does not log: the caller may be multi-threaded */
	if (!err)
		err = &local;
	if (!g || !output || !*output)
		return lc_fail(err, EINVAL, "lc_group_save: NULL argument");
	r = check_save_opts(opts, err);
	if (r >= 0 && (r = lc_group_lock(g, err)) == 1) { /* takes the holder's pidfd */
		unlock(g);
		r = lc_fail(err, ECHILD, "the container was not started");
	}
	if (r < 0)
		return r;
	if (g->sh->config_len &&
	    !(config = strndup(g->sh->env + g->sh->env_len, g->sh->config_len)))
		return lc_fail(err, ENOMEM, "out of memory");
	return run_save(&(save_job){g, output, opts, config}, err);
}
