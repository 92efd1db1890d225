/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Named containers: one directory per name, the user's.
 *
 *   image.sqsh   the image (imported there, or copied in)
 *   upper/       the overlay's persistent writable layer
 *   work/        the overlay's work directory of the name's instance
 *   work.<id>/   that of a separate instance (no_exec)
 *   .lock        held exclusively while a process decides what to do with the name (and
 *                creates it), and by an ending instance while it stops listening
 *   sock         the running instance's socket (SOCK_SEQPACKET): on connect it sends its pidfd,
 *                its namespace flags and its image; a joining group sends back the read end of
 *                its lifeline, and the instance lives until every lifeline has hung up
 *
 * An instance that keeps its writable layer on its tmpfs (LC_CONTAINER_VOLATILE_UPPER: a Slurm
 * step's unnamed container) has only .lock and sock there.
 *
 * This file owns the layout and both ends of the socket's protocol: the caller's (open, state,
 * join) and the holder's (the instance's layers, listening and serving joiners).
 *
 * A root caller touches the directory with the user's filesystem ids, so a user's link or
 * permissions there never make root do what the user could not.
 */
#include <dirent.h>
#include <poll.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/pidfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "../squash/squash.h"
#include "runtime.h"

#define NAMED_IMAGE "image.sqsh"
#define NAMED_UPPER "upper"
#define NAMED_WORK "work"
#define NAMED_LOCK ".lock"
#define NAMED_SOCK "sock"
#define ATTACH_TIMEOUT_S 30

struct lc_named {
	char *dir;
	char *image;
	int dir_fd; /* O_PATH */
	int lock_fd;
	uid_t uid;
	gid_t gid;
	int pidfd;    /* of the running instance, once lc_named_state() found it */
	int image_fd; /* the image it serves */
	int conn;     /* the connection to it, until lc_group_attach() */
	int ns_flags;
};

/* The directory, made and checked as the user. */
static int open_dir(lc_named *n, lc_error *err)
{
	bool switched = lc_fsids_become(n->uid, n->gid);
	struct stat st;
	int r = 0;

	if (mkdir(n->dir, 0700) < 0 && errno != EEXIST)
		r = lc_fail(err, errno, "cannot make %s: %m", n->dir);
	if (r >= 0) {
		n->dir_fd = open(n->dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (n->dir_fd < 0)
			r = lc_fail(err, errno, "cannot open %s: %m", n->dir);
	}
	if (r >= 0 && (fstat(n->dir_fd, &st) < 0 || st.st_uid != n->uid || (st.st_mode & 022)))
		r = lc_fail(err, EPERM, "%s is not the user's own directory", n->dir);
	if (r >= 0) {
		n->lock_fd = openat(n->dir_fd, NAMED_LOCK,
				    O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
		if (n->lock_fd < 0 || fstat(n->lock_fd, &st) < 0 || !S_ISREG(st.st_mode))
			r = lc_fail(err, n->lock_fd < 0 ? errno : EINVAL,
				    "cannot open %s/" NAMED_LOCK ": %s", n->dir,
				    n->lock_fd < 0 ? strerror(errno) : "not a file");
	}
	lc_fsids_restore(switched);
	return r;
}

/* 1 once locked, 0 when the name was removed meanwhile. */
static int lock(lc_named *n, lc_error *err)
{
	while (flock(n->lock_fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return lc_fail(err, errno, "cannot lock %s: %m", n->dir);
	return lc_fd_is_at(n->lock_fd, n->dir_fd, NAMED_LOCK);
}

LC_API int lc_named_open(const char *dir, uid_t uid, gid_t gid, lc_named **ret_named, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	lc_named *n;
	int r;

	if (!err)
		err = &local;
	if (!dir || !*dir)
		return lc_fail(err, EINVAL, "lc_named_open: no directory");
	n = calloc(1, sizeof(*n));
	if (!n)
		return lc_fail(err, ENOMEM, "out of memory");
	*n = (lc_named){.dir_fd = -1,
			.lock_fd = -1,
			.pidfd = -1,
			.image_fd = -1,
			.conn = -1,
			.uid = uid == (uid_t)-1 ? getuid() : uid,
			.gid = gid == (gid_t)-1 ? getgid() : gid};
	n->dir = strdup(dir);
	if (!n->dir || asprintf(&n->image, "%s/" NAMED_IMAGE, dir) < 0) {
		lc_named_free(n);
		return lc_fail(err, ENOMEM, "out of memory");
	}
	for (int tries = 0; tries < 10; tries++) {
		r = open_dir(n, err);
		if (r >= 0)
			r = lock(n, err);
		if (r != 0)
			break;
		lc_closep(&n->lock_fd); /* removed while we waited (lc_named_remove): again */
		lc_closep(&n->dir_fd);
	}
	if (r == 0)
		r = lc_fail(err, EBUSY, "%s keeps being removed", dir);
	if (r < 0) {
		lc_named_free(n);
		return r;
	}
	*ret_named = n;
	return 0;
}

static void forget_instance(lc_named *n)
{
	lc_closep(&n->conn);
	lc_closep(&n->pidfd);
	lc_closep(&n->image_fd);
	n->ns_flags = 0;
}

LC_API lc_named *lc_named_free(lc_named *n)
{
	if (!n)
		return NULL;
	forget_instance(n);
	lc_closep(&n->lock_fd); /* unlocks */
	lc_closep(&n->dir_fd);
	free(n->image);
	free(n->dir);
	free(n);
	return NULL;
}

/* ---------------------------------------------------------------- finding the instance */

/* The pid a pidfd refers to (its fdinfo), or -1. */
static pid_t pidfd_pid(int pidfd)
{
	char path[64], buf[512];
	pid_t pid = -1;
	ssize_t len;
	const char *p;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	p = strstr(buf, "\nPid:");
	if (p)
		pid = (pid_t)strtol(p + 5, NULL, 10);
	return pid;
}

/* "/proc/self/fd/N/NAME": a path in the directory @dir_fd, short whatever its length. */
static void dir_fd_path(int dir_fd, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "/proc/self/fd/%d/%s", dir_fd, name);
}

/* Connect to the instance's socket as the user; -ENOENT/-ECONNREFUSED: none listens. */
static int connect_instance(lc_named *n)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	bool switched;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return -errno;
	dir_fd_path(n->dir_fd, NAMED_SOCK, addr.sun_path, sizeof(addr.sun_path));
	switched = lc_fsids_become(n->uid, n->gid);
	r = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ? -errno : 0;
	lc_fsids_restore(switched);
	if (r < 0) {
		close(fd);
		return r;
	}
	n->conn = fd;
	return 0;
}

/* What the instance sends on connect: its pidfd, its namespace flags, its image. Its peer must
 * be the user's process, the pidfd that process's own, the image a file. */
static int take_instance(lc_named *n, lc_error *err)
{
	struct timeval timeout = {.tv_sec = ATTACH_TIMEOUT_S};
	struct ucred cred;
	struct stat st;
	socklen_t len = sizeof(cred);
	int flags = 0, r;

	if (getsockopt(n->conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != n->uid)
		return lc_fail(err, EPERM, "%s/sock: the running container is not the user's",
			       n->dir);
	(void)setsockopt(n->conn, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	r = lc_fd_recv(n->conn, &n->pidfd, 0);
	if (r >= 0 && recv(n->conn, &flags, sizeof(flags), 0) != sizeof(flags))
		r = -EIO;
	if (r >= 0)
		r = lc_fd_recv(n->conn, &n->image_fd, 0);
	if (r < 0)
		return 0; /* the instance went away meanwhile: stopped */
	if (pidfd_pid(n->pidfd) != cred.pid)
		return lc_fail(err, EPERM, "%s/sock: the running container sent a foreign pidfd",
			       n->dir);
	if (fstat(n->image_fd, &st) < 0 || !S_ISREG(st.st_mode))
		return lc_fail(err, EPERM, "%s/sock: the running container's image is not a file",
			       n->dir);
	n->ns_flags = flags;
	return 1;
}

LC_API int lc_named_state(lc_named *n, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	struct stat st;
	int r;

	if (!err)
		err = &local;
	forget_instance(n);
	r = connect_instance(n) < 0 ? 0 : take_instance(n, err);
	if (r <= 0)
		forget_instance(n);
	if (r > 0)
		return LC_NAMED_RUNNING;
	if (r < 0)
		return r;
	if (fstatat(n->dir_fd, NAMED_IMAGE, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return LC_NAMED_ABSENT;
	return LC_NAMED_STOPPED;
}

LC_API int lc_named_ns_flags(const lc_named *n)
{
	return n && n->pidfd >= 0 ? n->ns_flags : 0;
}

LC_API const char *lc_named_image_path(const lc_named *n)
{
	return n->image;
}

const char *lc_named_dir(const lc_named *n)
{
	return n->dir;
}

int lc_named_dir_fd(const lc_named *n)
{
	return n->dir_fd;
}

int lc_named_image_config(const lc_named *n, lc_image **ret_image, lc_error *err)
{
	int fd = -1, r = 0;

	if (n->image_fd >= 0) { /* the running instance's */
		fd = fcntl(n->image_fd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return lc_fail(err, errno, "dup: %m");
	} else {
		r = lc_image_open_as(n->uid, n->gid, n->image, &fd, err);
	}
	return r < 0 ? r : lc_squash_image_config_fd(fd, n->image, ret_image, err);
}

/* ---------------------------------------------------------------- the holder's side */

int lc_named_dir_reopen(int dir_fd, const char *path, lc_error *err)
{
	struct stat before, now;
	int fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 || fstat(dir_fd, &before) < 0 || fstat(fd, &now) < 0 ||
	    before.st_dev != now.st_dev || before.st_ino != now.st_ino) {
		if (fd >= 0)
			close(fd);
		return lc_fail(err, EBUSY, "%s changed while the container started", path);
	}
	if (dup3(fd, dir_fd, O_CLOEXEC) < 0) {
		close(fd);
		return lc_fail(err, errno, "dup3: %m");
	}
	close(fd);
	return 0;
}

/* The overlay work directory of @instance (NULL: the name's own instance). */
static void work_name(const char *instance, char *buf, size_t size)
{
	snprintf(buf, size, NAMED_WORK "%s%s", instance ? "." : "", instance ? instance : "");
}

int lc_named_overlay_layers(int dir_fd, const char *instance, char *buf, size_t size, lc_error *err)
{
	char work[NAME_MAX + 1], upper_path[64], work_path[64 + NAME_MAX];

	work_name(instance, work, sizeof(work));
	if ((mkdirat(dir_fd, NAMED_UPPER, 0755) < 0 && errno != EEXIST) ||
	    (mkdirat(dir_fd, work, 0755) < 0 && errno != EEXIST))
		return lc_fail(err, errno, "cannot make the container's writable layer: %m");
	dir_fd_path(dir_fd, NAMED_UPPER, upper_path, sizeof(upper_path));
	dir_fd_path(dir_fd, work, work_path, sizeof(work_path));
	snprintf(buf, size, "upperdir=%s,workdir=%s", upper_path, work_path);
	return 0;
}

/* ---------------------------------------------------------------- the instance's side */

int lc_named_server_listen(lc_named_server *s, int dir_fd, int image_fd, lc_error *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};

	s->dir_fd = dir_fd;
	dir_fd_path(dir_fd, NAMED_SOCK, addr.sun_path, sizeof(addr.sun_path));
	s->lock_fd = openat(dir_fd, NAMED_LOCK, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	s->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	s->share_fd = fcntl(image_fd, F_DUPFD_CLOEXEC, 3);
	if (s->lock_fd < 0 || s->listen_fd < 0 || s->share_fd < 0)
		return lc_fail(err, errno, "cannot set the named container up: %m");
	if (unlinkat(dir_fd, NAMED_SOCK, 0) < 0 && errno != ENOENT)
		return lc_fail(err, errno, "cannot remove the old socket: %m");
	if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(s->listen_fd, 128) < 0)
		return lc_fail(err, errno, "cannot listen on the named container's socket: %m");
	return 0;
}

#define WATCH_MAX 4096

/* What the instance polls: [0] its socket, then lifelines and new connections. */
typedef struct watches {
	struct pollfd fd[WATCH_MAX];
	bool conn[WATCH_MAX]; /* a connection that has not sent its lifeline yet */
	size_t n;
} watches;

static void watch_add(watches *w, int fd, bool conn)
{
	if (w->n == WATCH_MAX) {
		close(fd);
		return;
	}
	w->fd[w->n] = (struct pollfd){.fd = fd, .events = POLLIN};
	w->conn[w->n++] = conn;
}

static void watch_drop(watches *w, size_t i)
{
	close(w->fd[i].fd);
	w->n--;
	w->fd[i] = w->fd[w->n];
	w->conn[i] = w->conn[w->n];
}

/* A new connection gets our pidfd, namespace flags and image. */
static void serve_accept(const lc_named_server *s, int self_pidfd, int ns_flags, watches *w)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (lc_fd_send(fd, self_pidfd, 'P', MSG_DONTWAIT) < 0 ||
	    send(fd, &ns_flags, sizeof(ns_flags), MSG_DONTWAIT | MSG_NOSIGNAL) !=
		sizeof(ns_flags) ||
	    lc_fd_send(fd, s->share_fd, 'I', MSG_DONTWAIT) < 0) {
		close(fd);
		return;
	}
	watch_add(w, fd, true);
}

/* A connection sends the lifeline of the group that joins, which takes its place. */
static void serve_conn(watches *w, size_t i, short events)
{
	int lifeline = -1;

	if (!(events & POLLIN) || lc_fd_recv(w->fd[i].fd, &lifeline, MSG_DONTWAIT) < 0) {
		watch_drop(w, i);
		return;
	}
	(void)!send(w->fd[i].fd, "K", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(w->fd[i].fd);
	w->fd[i] = (struct pollfd){.fd = lifeline, .events = POLLIN};
	w->conn[i] = false;
}

/* Until every lifeline has hung up. Then, under the name's lock (so that nobody is deciding to
 * join meanwhile), stop listening. */
void lc_named_server_run(lc_named_server *s, int lifeline, int ns_flags)
{
	static watches w;
	int self_pidfd = pidfd_open(getpid(), 0);
	char byte;

	watch_add(&w, s->listen_fd, false);
	watch_add(&w, lifeline, false);
	for (;;) {
		if (w.n == 1 && flock(s->lock_fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (poll(w.fd, w.n, w.n == 1 ? 100 : -1) <= 0)
			continue;
		if (w.fd[0].revents & POLLIN)
			serve_accept(s, self_pidfd, ns_flags, &w);
		for (size_t i = w.n; i-- > 1;) {
			short ev = w.fd[i].revents;

			w.fd[i].revents = 0;
			if (w.conn[i] && ev)
				serve_conn(&w, i, ev);
			else if (ev & (POLLHUP | POLLERR | POLLNVAL))
				watch_drop(&w, i);
			else if (ev & POLLIN)
				(void)!read(w.fd[i].fd, &byte, 1);
		}
	}
	(void)unlinkat(s->dir_fd, NAMED_SOCK, 0);
}

/* ---------------------------------------------------------------- joining */

int lc_named_join(lc_named *n, int lifeline, int *ret_pidfd, lc_error *err)
{
	char ack = 0;
	int r;

	if (n->conn < 0 || n->pidfd < 0)
		return lc_fail(err, EINVAL, "%s: no running container to join", n->dir);
	r = lc_fd_send(n->conn, lifeline, 'L', 0);
	if (r >= 0 && recv(n->conn, &ack, 1, 0) != 1)
		r = -EIO;
	if (r < 0 || ack != 'K')
		return lc_fail(err, EIO, "%s: the running container did not take this step: %s",
			       n->dir, strerror(r < 0 ? -r : EIO));
	lc_closep(&n->conn);
	*ret_pidfd = TAKE_FD(n->pidfd);
	return 0;
}

/* ---------------------------------------------------------------- making and removing */

LC_API int lc_named_reset(lc_named *n, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	int r = lc_rm_rf_children(n->dir_fd, NAMED_LOCK);

	if (r < 0 && r != -ENOENT)
		return lc_fail(err ? err : &local, -r, "cannot clean %s: %s", n->dir, strerror(-r));
	return 0;
}

LC_API bool lc_named_is_volatile_at(int dir_fd, const char *name)
{
	DIR *d = lc_opendir_at(dir_fd, name);
	struct dirent *de;
	bool only = d != NULL;

	while (only && (de = readdir(d)))
		only = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		       !strcmp(de->d_name, NAMED_LOCK) || !strcmp(de->d_name, NAMED_SOCK);
	if (d)
		closedir(d);
	return only;
}

LC_API bool lc_named_exists_at(int dir_fd, const char *name)
{
	_cleanup_close_ int fd =
	    openat(dir_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	return fd >= 0 && fstatat(fd, NAMED_LOCK, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode);
}

LC_API pid_t lc_named_peek(const char *dir, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	lc_named n = {.dir = (char *)dir,
		      .dir_fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
		      .lock_fd = -1,
		      .pidfd = -1,
		      .image_fd = -1,
		      .conn = -1,
		      .uid = getuid(),
		      .gid = getgid()};
	pid_t pid = 0;
	int r;

	if (n.dir_fd < 0)
		return lc_fail(err ? err : &local, errno, "cannot open %s: %m", dir);
	r = connect_instance(&n) < 0 ? 0 : take_instance(&n, err ? err : &local);
	if (r > 0)
		pid = pidfd_pid(n.pidfd);
	forget_instance(&n);
	close(n.dir_fd);
	return r < 0 ? r : pid < 0 ? 0 : pid;
}

LC_API int lc_named_remove(lc_named *n, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	bool switched;
	int r = lc_named_reset(n, err ? err : &local);

	if (r < 0)
		return r;
	(void)unlinkat(n->dir_fd, NAMED_LOCK, 0); /* those waiting for it open the name again */
	switched = lc_fsids_become(n->uid, n->gid);
	r = rmdir(n->dir) < 0 && errno != ENOENT ? -errno : 0;
	lc_fsids_restore(switched);
	if (r < 0)
		return lc_fail(err ? err : &local, -r, "cannot remove %s: %s", n->dir,
			       strerror(-r));
	return 0;
}

LC_API int lc_named_remove_instance(const char *dir, const char *instance, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	_cleanup_close_ int fd = -1;
	char work[NAME_MAX + 1];
	int r;

	if (!err)
		err = &local;
	if (!dir || !instance || !*instance || strchr(instance, '/') ||
	    strlen(instance) > NAME_MAX - 5)
		return lc_fail(err, EINVAL, "lc_named_remove_instance: bad arguments");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : lc_fail(err, errno, "cannot open %s: %m", dir);
	work_name(instance, work, sizeof(work));
	r = lc_rm_rf_at(fd, work);
	if (r < 0 && r != -ENOENT)
		return lc_fail(err, -r, "cannot remove %s/%s: %s", dir, work, strerror(-r));
	return 0;
}

static int copy_fd(int in, int out)
{
	ssize_t n;

	while ((n = copy_file_range(in, NULL, out, NULL, 1u << 30, 0)) > 0)
		;
	if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP)) {
		while ((n = sendfile(out, in, NULL, 1u << 30)) > 0)
			;
	}
	return n < 0 ? -errno : 0;
}

LC_API int lc_named_copy_image(lc_named *n, const char *src, const char *cwd, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	_cleanup_free_ char *path = NULL, *tmp = NULL;
	_cleanup_close_ int in = -1;
	_cleanup_close_ int out = -1;
	bool switched;
	int r;

	if (!err)
		err = &local;
	if (src[0] != '/' && cwd && asprintf(&path, "%s/%s", cwd, src) < 0)
		return lc_fail(err, ENOMEM, "out of memory");
	r = lc_image_open_as(n->uid, n->gid, path ? path : src, &in, err);
	if (r < 0)
		return r;
	switched = lc_fsids_become(n->uid, n->gid);
	r = lc_output_open_temp_at(n->dir_fd, NAMED_IMAGE, &tmp, &out, err);
	lc_fsids_restore(switched);
	if (r >= 0 && (r = copy_fd(in, out)) < 0)
		lc_fail(err, -r, "cannot copy '%s' to %s: %s", src, n->image, strerror(-r));
	if (r >= 0)
		r = lc_output_publish_at(out, n->dir_fd, tmp, NAMED_IMAGE, true, err);
	if (r < 0 && tmp)
		(void)unlinkat(n->dir_fd, tmp, 0);
	return r;
}
