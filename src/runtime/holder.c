/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The holder: a process that owns a container's namespaces, serves its image over FUSE and
 * keeps its mounts. In order:
 *   1. drops to the user when the caller is root (after /dev/fuse and the image were opened);
 *   2. for a named container's own instance, listens on the name's socket (named_sock.c);
 *   3. unshares user, mount and cgroup namespaces (+ net/ipc/uts on request), single-id maps;
 *   4. opens every bind source as a detached mount tree while the host's root is still its root,
 *      so host paths resolve as the user sees them;
 *   5. builds the root filesystem and applies the mount plan (rootfs.c);
 *   6. the phase before the root switch (before_root_switch());
 *   7. makes the root read-only unless asked otherwise, pivot_root()s into it and detaches the
 *      host's tree; then reports success and lives until the caller, its lifeline, or for a
 *      named instance every joined group, is gone.
 * Everything lives in the holder's namespaces: when it ends, nothing remains on the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "container.h"

#define HOOK_ENV_MAX (1 << 20)
#define TIMINGS_TAG '\001'

/* ---------------------------------------------------------------- holder: namespaces */

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int r;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	r = n == (ssize_t)strlen(text) ? 0 : n < 0 ? -errno : -EIO;
	close(fd);
	return r;
}

static int enter_namespaces(lc_holder *h, lc_error *err)
{
	const lc_user *u = &h->c->user;
	char map[64];
	int r;

	if (unshare(lc_ns_flags(h->c->flags)) < 0)
		return lc_fail(err, errno, "cannot create the container's namespaces: %m");
	r = write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "%u %u 1", (unsigned)u->in_uid, (unsigned)u->uid);
	if (!r)
		r = write_file("/proc/self/uid_map", map);
	snprintf(map, sizeof(map), "%u %u 1", (unsigned)u->in_gid, (unsigned)u->gid);
	if (!r)
		r = write_file("/proc/self/gid_map", map);
	if (r < 0)
		return lc_fail(err, -r, "cannot write the user namespace's id maps: %s",
			       strerror(-r));
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return lc_fail(err, errno, "cannot make the mounts private: %m");
	return 0;
}

/* Bring the loopback interface up in a new network namespace. */
static void loopback_up(void)
{
	struct ifreq ifr = {.ifr_name = "lo"};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		(void)ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
}

/* ---------------------------------------------------------------- holder: /dev/fuse */

/*
 * FUSE takes only a /dev/fuse opened in the user namespace of the mount. The user opens it
 * there itself when it may (mode 0666, the usual); for a root caller, a helper of the caller
 * joins our user namespace as root, opens it and passes it on (fuse_helper()).
 */
static int open_fuse(lc_holder *h, lc_error *err)
{
	if (!h->fuse_from_caller) {
		h->fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
		if (h->fuse_fd < 0)
			return lc_fail(err, errno,
				       "cannot open /dev/fuse: %m (the user needs read and write "
				       "access to it)");
		return 0;
	}
	if (send(h->sock, "F", 1, MSG_NOSIGNAL) != 1)
		return lc_fail(err, EIO, "no /dev/fuse from the caller");
	if (lc_fd_recv(h->sock, &h->fuse_fd, 0) < 0)
		return lc_fail(err, EIO, "cannot open /dev/fuse for the user");
	return 0;
}

/* ---------------------------------------------------------------- holder: sources */

static int open_sources(lc_holder *h, lc_error *err)
{
	h->source_fds = malloc(h->plan.n * sizeof(int));
	if (!h->source_fds)
		return lc_fail(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < h->plan.n; i++) {
		const lc_mount_step *s = &h->plan.steps[i];
		int fd;

		h->source_fds[i] = -1;
		if (s->kind == LC_STEP_FSTAB) {
			int r = lc_rootfs_fstab_source(-1, s->fstab, &h->source_fds[i]);

			if (r < 0 && !s->fstab->nofail)
				return lc_fail(err, -r, "cannot open '%s' (site mount on '%s'): %s",
					       s->source, s->target, strerror(-r));
			continue;
		}
		if (s->kind != LC_STEP_BIND)
			continue;
		fd = open_tree(AT_FDCWD, s->source,
			       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
				   (s->recursive ? AT_RECURSIVE : 0));
		if (fd < 0 && s->optional)
			continue;
		if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
			return lc_fail(err, ENOENT, "source path does not exist: %s", s->source);
		if (fd < 0)
			return lc_fail(err, errno, "cannot bind '%s': %m", s->source);
		h->source_fds[i] = fd;
	}
	return 0;
}

/*
 * The phase before the root switch: the root is at h->root_fd, complete and still writable,
 * the host's tree still reachable, the holder the user with every capability in the
 * container's user namespace only. Site mounts, standard hooks, device injection and site hooks
 * go here; none yet.
 */
static int before_root_switch(lc_holder *h, lc_error *err)
{
	(void)h, (void)err;
	return 0;
}

static int holder_setup(lc_holder *h, lc_error *err)
{
	int r;

	if (h->lifeline < 0 && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != h->parent))
		return lc_fail(err, ESRCH, "the caller went away");
	h->at[LC_PHASE_FORK] = lc_now_us();
	r = lc_user_become(&h->c->user);
	if (r < 0)
		return lc_fail(err, -r, "cannot become user %u: %s", (unsigned)h->c->user.uid,
			       strerror(-r));
	(void)prctl(PR_SET_DUMPABLE, 1); /* the id maps need it after a uid change */
	r = h->serve ? lc_named_server_listen(&h->server, h->named_fd, h->image_fd, err) : 0;
	if (r >= 0)
		r = enter_namespaces(h, err);
	if (r >= 0 && h->named_fd >= 0 && h->named_upper)
		r = lc_named_dir_reopen(h->named_fd, h->named_path, err);
	h->at[LC_PHASE_NAMESPACES] = lc_now_us();
	if (r >= 0 && h->kernel_fd < 0)
		r = open_fuse(h, err);
	h->at[LC_PHASE_FUSE] = lc_now_us();
	if (r >= 0)
		r = lc_devices_check_requires(&h->devices, err);
	if (r >= 0)
		r = open_sources(h, err);
	if (r >= 0 && h->site && h->site->hooks.n)
		h->host_tmp_fd = open(LC_SCRATCH, O_PATH | O_DIRECTORY | O_CLOEXEC);
	h->at[LC_PHASE_SOURCES] = lc_now_us();
	if (r >= 0)
		r = lc_rootfs_mount(h, err);
	h->at[LC_PHASE_ROOTFS] = lc_now_us();
	if (r >= 0)
		r = lc_rootfs_apply_plan(h, err);
	if (r >= 0)
		r = before_root_switch(h, err);
	h->at[LC_PHASE_MOUNTS] = lc_now_us();
	if (r >= 0)
		r = lc_rootfs_enter(h, err);
	if (r >= 0 && (h->c->flags & LC_CONTAINER_UNSHARE_NET))
		loopback_up();
	h->at[LC_PHASE_PIVOT] = lc_now_us();
	return r;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The holder keeps none of the caller's files (a task's output pipes, a daemon's sockets):
 * stdio becomes /dev/null, every other fd but its own is closed. */
static void holder_close_fds(const lc_holder *h)
{
	int keep[] = {h->sock, h->image_fd, h->lifeline, h->kernel_fd, h->hold_fd, h->named_fd},
	    from = 3;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	for (int fd = 0; fd < 3 && null >= 0; fd++)
		(void)dup2(null, fd);
	qsort(keep, LC_ELEMENTSOF(keep), sizeof(int), cmp_int);
	for (size_t i = 0; i < LC_ELEMENTSOF(keep); i++) {
		if (keep[i] < from)
			continue;
		if (keep[i] > from)
			(void)close_range((unsigned)from, (unsigned)keep[i] - 1, 0);
		from = keep[i] + 1;
	}
	(void)close_range((unsigned)from, ~0u, 0);
}

/* Until the caller closes the control socket, or for a detached holder, the lifeline. */
static void holder_wait_end(const lc_holder *h)
{
	struct pollfd p = {.fd = h->lifeline, .events = POLLIN};
	char byte;

	if (h->lifeline < 0) {
		while (recv(h->sock, &byte, 1, 0) != 0 && (errno == EINTR || errno == EAGAIN))
			;
		return;
	}
	while (poll(&p, 1, -1) < 0 || !(p.revents & (POLLHUP | POLLERR | POLLNVAL)))
		if (p.revents & POLLIN)
			(void)!read(h->lifeline, &byte, 1);
}

/* The holder's phase times: TIMINGS_TAG and the array (no message starts with it). */
static void send_timings(const lc_holder *h)
{
	char msg[1 + sizeof(h->at)] = {TIMINGS_TAG};

	memcpy(msg + 1, h->at, sizeof(h->at));
	(void)!send(h->sock, msg, sizeof(msg), MSG_NOSIGNAL);
}

static _Noreturn void holder_main(lc_holder *h)
{
	static const int detached_ignores[] = {SIGHUP,  SIGTERM, SIGUSR1, SIGUSR2,
					       SIGPIPE, SIGTTIN, SIGTTOU, SIGALRM};
	lc_error err = LC_ERROR_INIT;
	pid_t self = getpid();

	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGTSTP, SIG_IGN);
	holder_close_fds(h);
	if (h->lifeline >= 0) {
		/* outlives its creator: only the lifeline (or SIGKILL) ends it */
		for (size_t i = 0; i < LC_ELEMENTSOF(detached_ignores); i++)
			signal(detached_ignores[i], SIG_IGN);
		(void)setsid();
		(void)!send(h->sock, &self, sizeof(self), MSG_NOSIGNAL);
	}
	if (holder_setup(h, &err) < 0) {
		(void)!send(h->sock, err.msg, strlen(err.msg), MSG_NOSIGNAL);
		_exit(1);
	}
	if (h->hook_env_fd >= 0) { /* the environment the hooks made, then success */
		(void)!send(h->sock, "E", 1, MSG_NOSIGNAL);
		(void)lc_fd_send(h->sock, h->hook_env_fd, 'E', 0);
		lc_closep(&h->hook_env_fd);
	}
	send_timings(h);
	(void)!send(h->sock, "", 1, MSG_NOSIGNAL);
	if (h->serve)
		lc_named_server_run(&h->server, h->lifeline, lc_ns_flags(h->c->flags));
	else
		holder_wait_end(h);
	_exit(0);
}

/* In a child of the caller (root): join the holder's user namespace, open /dev/fuse there and
 * send it to the holder. */
static _Noreturn void fuse_helper(const lc_container *c, int sock)
{
	int fd;

	if (setns(c->pidfd, CLONE_NEWUSER) < 0)
		_exit(1);
	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		_exit(1);
	_exit(lc_fd_send(sock, fd, 'F', 0) < 0);
}

static int run_fuse_helper(lc_container *c, int sock, lc_error *err)
{
	pid_t pid = fork();

	if (pid == 0)
		fuse_helper(c, sock);
	if (pid < 0)
		return lc_fail(err, errno, "fork: %m");
	(void)lc_wait_child(pid, NULL);
	return 0; /* a failed helper sends nothing: the holder reports it */
}

/* The container's environment as the site's hooks left it in their file (@fd, the holder's):
 * enroot's envfmt rules, no substitution. */
static int read_hook_env(lc_container *c, int sock, lc_error *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *text = NULL;
	lc_strvec env = {0};
	int r = lc_fd_recv(sock, &fd, 0);

	if (r < 0 || fd < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return lc_fail(err, EIO, "no environment from the container's hooks");
	/* the holder is the user's: its fd is read as any file of theirs, never waited on */
	r = lc_fd_read_all(fd, "the hooks' environment", HOOK_ENV_MAX, &text, NULL, err);
	if (r >= 0)
		r = lc_site_environ_parse(text, NULL, &env, err);
	if (r < 0) {
		lc_strvec_free(&env);
		return r;
	}
	lc_strvec_free(&c->site_env);
	c->site_env = env;
	return 0;
}

/* Serve the holder until it reports: "" is success, anything else its error message. Its
 * phase times come first. */
static int wait_ready(lc_container *c, lc_holder *h, int sock, lc_error *err)
{
	char msg[LC_REPORT_MAX];
	ssize_t n;

	for (;;) {
		n = recv(sock, msg, sizeof(msg) - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 1 + (ssize_t)sizeof(h->at) && msg[0] == TIMINGS_TAG) {
			int64_t at[LC_PHASES];

			memcpy(at, msg + 1, sizeof(at));
			memcpy(&h->at[LC_PHASE_FORK], &at[LC_PHASE_FORK],
			       (LC_PHASE_REPORT - LC_PHASE_FORK) * sizeof(*at));
			continue;
		}
		if (n == 1 && msg[0] == 'F') {
			if (run_fuse_helper(c, sock, err) < 0)
				return -err->code;
			continue;
		}
		if (n == 1 && msg[0] == 'E') {
			if (read_hook_env(c, sock, err) < 0)
				return -err->code;
			continue;
		}
		break;
	}
	if (n == 1 && msg[0] == '\0')
		return 0;
	msg[n > 0 ? n : 0] = '\0';
	if (n <= 0)
		return lc_fail(err, ECHILD, "the container's holder process died while starting");
	return lc_fail(err, EIO, "%s", msg);
}

/* A detached holder is a grandchild: the middle process exits at once, the holder sends its
 * pid first. It cannot end before it reports (or its socket closes), so the pidfd opened in
 * between is the holder's. */
static int fork_detached(lc_container *c, lc_holder *h, int sock, lc_error *err)
{
	pid_t mid = fork(), holder_pid = -1;
	int status = 0;

	if (mid == 0) {
		pid_t p = fork();

		if (p == 0) {
			close(sock);
			holder_main(h);
		}
		_exit(p < 0);
	}
	if (mid < 0)
		return lc_fail(err, errno, "fork: %m");
	(void)lc_wait_child(mid, &status);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    recv(sock, &holder_pid, sizeof(holder_pid), 0) != sizeof(holder_pid))
		return lc_fail(err, ECHILD, "the container's holder process did not start");
	c->pid = holder_pid;
	c->detached = true;
	return 0;
}

int lc_holder_start(lc_container *c, lc_holder *h, lc_error *err)
{
	int sv[2];
	int r = 0;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return lc_fail(err, errno, "socketpair: %m");
	h->sock = sv[1];
	h->parent = getpid();
	if (h->lifeline >= 0) {
		r = fork_detached(c, h, sv[0], err);
	} else {
		c->pid = fork();
		if (c->pid == 0) {
			close(sv[0]);
			holder_main(h);
		}
		if (c->pid < 0)
			r = lc_fail(err, errno, "fork: %m");
	}
	close(sv[1]);
	c->control_fd = sv[0];
	if (r < 0)
		return r;
	c->pidfd = pidfd_open(c->pid, 0);
	if (c->pidfd < 0)
		return lc_fail(err, errno, "pidfd_open: %m");
	r = wait_ready(c, h, sv[0], err);
	h->at[LC_PHASE_REPORT] = lc_now_us();
	return r;
}
