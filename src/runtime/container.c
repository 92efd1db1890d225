/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Containers: a holder process owns the namespaces, serves the image over FUSE and keeps the
 * mounts; processes join it through its pidfd.
 *
 * The holder (a child of the caller), in order:
 *   1. drops to the user when the caller is root (after /dev/fuse and the image were opened);
 *   2. unshares user, mount and cgroup namespaces (+ net/ipc/uts on request), single-id maps;
 *   3. opens every bind source as a detached mount tree while the host's root is still its root,
 *      so host paths resolve as the user sees them;
 *   4. mounts a private tmpfs over /tmp (in its own namespace) holding the FUSE mount of the
 *      image (lower), the writable layer (upper, work) and the overlay root;
 *   5. applies the mount plan, every target resolved inside the overlay (resolve.c);
 *   6. makes the root read-only unless asked otherwise, pivot_root()s into it and detaches the
 *      host's tree; then reports success and waits for the caller to go.
 * Everything lives in the holder's namespaces: when it ends, nothing remains on the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include <sys/stat.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../registry/registry.h"
#include "../squash/squash.h"
#include "runtime.h"

#define SCRATCH "/tmp"
#define MSG_MAX 512

struct lc_container {
	lc_ctx *ctx;
	uint32_t flags;
	pid_t pid;
	int pidfd;
	int control_fd; /* the holder ends when this closes (unless detached) */
	bool detached;  /* the holder is not our child and ends with its lifeline */
	lc_user user;
	lc_image *img;
	lc_seccomp_prog *seccomp;
};

/* Everything the holder needs, prepared by the caller before fork(). */
typedef struct holder {
	const lc_container *c;
	int image_fd;
	int fuse_fd;
	int kernel_fd; /* the image mounted by the kernel's driver (detached), else -1 */
	int hold_fd;   /* the caller's, kept open for the holder's life; -1: none */
	int sock;     /* SOCK_SEQPACKET to the caller: reports, the /dev/fuse fd, then EOF to end */
	int lifeline; /* detached: a pipe's read end; the holder ends at its hangup. Else -1 */
	bool fuse_from_caller;
	pid_t parent;
	const char *image_name;
	const char *tmpfs_size;
	lc_mount_plan plan;
	int *source_fds; /* per step: a detached tree for BIND steps, else -1 */
	int root_fd;
	/* a named container: its directory (O_PATH), whether its writable layer is there (else
	 * on the tmpfs), the overlay's work directory's name in it, and for the name's instance
	 * (serve) the socket others join through, the lock, and the image joiners read */
	int named_fd;
	const char *named_path;
	bool named_upper;
	char named_work[NAME_MAX + 1];
	bool serve;
	int listen_fd;
	int lock_fd;
	int share_fd;
} holder;

static int ns_flags(uint32_t flags)
{
	return CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP |
	       (flags & LC_CONTAINER_UNSHARE_NET ? CLONE_NEWNET : 0) |
	       (flags & LC_CONTAINER_UNSHARE_IPC ? CLONE_NEWIPC : 0) |
	       (flags & LC_CONTAINER_UNSHARE_UTS ? CLONE_NEWUTS : 0);
}

/* Become the container's user when the caller is root (async-signal-safe). */
static int drop_to_user(const lc_user *u)
{
	return u->uid == 0 ? 0 : lc_become_user(u->uid, u->gid, u->groups, (size_t)u->n_groups);
}

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

static int enter_namespaces(holder *h, lc_error *err)
{
	const lc_user *u = &h->c->user;
	char map[64];
	int r;

	if (unshare(ns_flags(h->c->flags)) < 0)
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
static int open_fuse(holder *h, lc_error *err)
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

static int open_sources(holder *h, lc_error *err)
{
	h->source_fds = malloc(h->plan.n * sizeof(int));
	if (!h->source_fds)
		return lc_fail(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < h->plan.n; i++) {
		const lc_mount_step *s = &h->plan.steps[i];
		int fd;

		h->source_fds[i] = -1;
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

/* ---------------------------------------------------------------- holder: the root filesystem */

static int mount_image(holder *h, lc_error *err)
{
	const lc_user *u = &h->c->user;
	lc_sqfs_server *server = NULL;
	char opts[160];
	int r;

	if (h->kernel_fd >= 0) {
		r = move_mount(h->kernel_fd, "", AT_FDCWD, SCRATCH "/lower",
			       MOVE_MOUNT_F_EMPTY_PATH);
		r = r < 0 ? lc_fail(err, errno, "cannot attach the image's mount: %m") : 0;
		lc_closep(&h->kernel_fd);
		lc_closep(&h->image_fd); /* the loop device holds the file */
		return r;
	}
	r = lc_sqfs_server_new(h->image_fd, h->image_name, u->in_uid, u->in_gid, &server, err);
	h->image_fd = -1;
	if (r < 0)
		return r;
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=%u,group_id=%u,allow_other,default_permissions",
		 h->fuse_fd, (unsigned)u->in_uid, (unsigned)u->in_gid);
	if (mount(h->image_name, SCRATCH "/lower", "fuse.lc-squashfs",
		  MS_RDONLY | MS_NOSUID | MS_NODEV, opts) < 0)
		return lc_fail(err, errno, "cannot mount the image over FUSE: %m");
	r = lc_sqfs_server_start(server, h->fuse_fd, err);
	h->fuse_fd = -1;
	return r; /* the server lives as long as the holder */
}

/* The overlay's layers: a named container's persistent ones, else on the tmpfs. */
static int overlay_options(holder *h, char *buf, size_t size, lc_error *err)
{
	if (h->named_fd < 0 || !h->named_upper) {
		snprintf(buf, size,
			 "lowerdir=" SCRATCH "/lower,upperdir=" SCRATCH "/upper,workdir=" SCRATCH
			 "/work,userxattr");
		return 0;
	}
	if ((mkdirat(h->named_fd, "upper", 0755) < 0 && errno != EEXIST) ||
	    (mkdirat(h->named_fd, h->named_work, 0755) < 0 && errno != EEXIST))
		return lc_fail(err, errno, "cannot make the container's writable layer: %m");
	snprintf(buf, size,
		 "lowerdir=" SCRATCH "/lower,upperdir=/proc/self/fd/%d/upper,workdir=/proc/self/"
		 "fd/%d/%s,userxattr",
		 h->named_fd, h->named_fd, h->named_work);
	return 0;
}

static int mount_root(holder *h, lc_error *err)
{
	char opts[256 + NAME_MAX];
	int r;

	snprintf(opts, sizeof(opts), "mode=0700,size=%s", h->tmpfs_size ? h->tmpfs_size : "50%");
	if (mount("tmpfs", SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
		return lc_fail(err, errno, "cannot mount the container's tmpfs (size=%s): %m",
			       h->tmpfs_size ? h->tmpfs_size : "50%");
	for (const char *const *d = (const char *const[]){SCRATCH "/lower", SCRATCH "/upper",
							  SCRATCH "/work", SCRATCH "/root", NULL};
	     *d; d++)
		if (mkdir(*d, 0755) < 0)
			return lc_fail(err, errno, "mkdir %s: %m", *d);
	r = mount_image(h, err);
	if (r >= 0)
		r = overlay_options(h, opts, sizeof(opts), err);
	if (r < 0)
		return r;
	if (mount("overlay", SCRATCH "/root", "overlay", MS_NOSUID | MS_NODEV, opts) < 0)
		return lc_fail(err, errno, "cannot mount the overlay root: %m");
	h->root_fd = open(SCRATCH "/root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (h->root_fd < 0)
		return lc_fail(err, errno, "open the root: %m");
	return 0;
}

/* ---------------------------------------------------------------- holder: plan steps */

static unsigned long mount_attrs(unsigned long flags)
{
	return (flags & MS_RDONLY ? MOUNT_ATTR_RDONLY : 0) |
	       (flags & MS_NOSUID ? MOUNT_ATTR_NOSUID : 0) |
	       (flags & MS_NODEV ? MOUNT_ATTR_NODEV : 0) |
	       (flags & MS_NOEXEC ? MOUNT_ATTR_NOEXEC : 0);
}

/* Attach the mount @tree_fd at @target and give it the step's flags and propagation. */
static int attach(const lc_mount_step *s, int tree_fd, int target_fd)
{
	struct mount_attr attr = {.attr_set = mount_attrs(s->flags)};
	unsigned rec = s->recursive ? AT_RECURSIVE : 0;

	if (move_mount(tree_fd, "", target_fd, "",
		       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return -errno;
	if (attr.attr_set &&
	    mount_setattr(tree_fd, "", AT_EMPTY_PATH | rec, &attr, sizeof(attr)) < 0)
		return -errno;
	if (s->propagation) {
		attr = (struct mount_attr){.propagation = s->propagation & ~MS_REC};
		if (mount_setattr(tree_fd, "",
				  AT_EMPTY_PATH | (s->propagation & MS_REC ? AT_RECURSIVE : 0),
				  &attr, sizeof(attr)) < 0)
			return -errno;
	}
	return 0;
}

/* A new filesystem instance (tmpfs, devpts, cgroup2) with "k=v,flag" options. */
static int new_fs(const char *type, const char *data)
{
	_cleanup_close_ int fs = fsopen(type, FSOPEN_CLOEXEC);
	_cleanup_free_ char *copy = data ? strdup(data) : NULL;
	char *save = NULL;
	int r;

	if (fs < 0)
		return -errno;
	if (data && !copy)
		return -ENOMEM;
	for (char *opt = copy ? strtok_r(copy, ",", &save) : NULL; opt;
	     opt = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(opt, '=');

		if (eq)
			*eq = '\0';
		if (fsconfig(fs, eq ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, opt,
			     eq ? eq + 1 : NULL, 0) < 0)
			return -errno;
	}
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	r = fsmount(fs, FSMOUNT_CLOEXEC, 0);
	return r < 0 ? -errno : r;
}

static int step_bind(holder *h, size_t i)
{
	const lc_mount_step *s = &h->plan.steps[i];
	_cleanup_close_ int target = -1;
	struct stat st;
	int r;

	if (h->source_fds[i] < 0)
		return 0; /* optional and absent */
	if (fstat(h->source_fds[i], &st) < 0)
		return -errno;
	r = lc_resolve_in_root(h->root_fd, s->target,
			       S_ISDIR(st.st_mode) ? LC_RESOLVE_DIR : LC_RESOLVE_FILE, &target);
	return r < 0 ? r : attach(s, h->source_fds[i], target);
}

static int step_new_fs(holder *h, const lc_mount_step *s, const char *type)
{
	_cleanup_close_ int target = -1;
	_cleanup_close_ int mnt = -1;
	int r = lc_resolve_in_root(h->root_fd, s->target,
				   s->kind == LC_STEP_CGROUP2 ? LC_RESOLVE_NONE : LC_RESOLVE_DIR,
				   &target);

	if (r < 0)
		return r;
	mnt = new_fs(type, s->data);
	return mnt < 0 ? mnt : attach(s, mnt, target);
}

/* Split @path into its parent, resolved (created) inside the root, and its last name. */
static int resolve_parent(holder *h, const char *path, int *ret_fd, const char **ret_name)
{
	_cleanup_free_ char *dir = strdup(path);
	char *slash = dir ? strrchr(dir, '/') : NULL;

	if (!dir)
		return -ENOMEM;
	if (!slash || !slash[1])
		return -EINVAL;
	*ret_name = path + (slash - dir) + 1;
	*slash = '\0';
	return lc_resolve_in_root(h->root_fd, *dir ? dir : "/", LC_RESOLVE_DIR, ret_fd);
}

static int step_symlink(holder *h, const lc_mount_step *s)
{
	_cleanup_close_ int dir = -1;
	const char *name;
	int r = resolve_parent(h, s->target, &dir, &name);

	if (r < 0)
		return r;
	return symlinkat(s->source, dir, name) < 0 && errno != EEXIST ? -errno : 0;
}

/* The image's /etc/passwd or /etc/group without lines for the user, then the user's line. */
static int step_userdb(holder *h, const lc_mount_step *s)
{
	const lc_user *u = &h->c->user;
	bool passwd = !strcmp(s->target, "/etc/passwd");
	_cleanup_close_ int dir = -1;
	_cleanup_close_ int in = -1;
	_cleanup_close_ int out = -1;
	_cleanup_free_ char *old = NULL;
	lc_buf text = LC_BUF_INIT;
	const char *name;
	char key[64];
	int r = resolve_parent(h, s->target, &dir, &name);
	size_t len = 0;

	if (r < 0)
		return r;
	in = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in >= 0) {
		struct stat st;

		if (fstat(in, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < (1 << 22) &&
		    (old = calloc(1, (size_t)st.st_size + 1)))
			len = (size_t)read(in, old, (size_t)st.st_size);
		if (len == (size_t)-1)
			len = 0;
	}
	snprintf(key, sizeof(key), "%s:", u->in_name);
	for (char *line = old, *next; line && *line && r >= 0; line = next) {
		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		if (!lc_str_has_prefix(line, key))
			r = lc_buf_append(&text, line, (size_t)(next - line));
	}
	if (r >= 0 && text.len && text.data[text.len - 1] != '\n')
		r = lc_buf_append(&text, "\n", 1);
	if (r >= 0 && passwd)
		r = lc_buf_printf(&text, "%s:x:%u:%u:%s:%s:/bin/sh\n", u->in_name,
				  (unsigned)u->in_uid, (unsigned)u->in_gid, u->in_name, u->in_home);
	else if (r >= 0)
		r = lc_buf_printf(&text, "%s:x:%u:\n", u->in_name, (unsigned)u->in_gid);
	if (r >= 0) {
		(void)unlinkat(dir, name, 0); /* never write through a link */
		out = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		r = out < 0                                                ? -errno
		    : write(out, text.data, text.len) == (ssize_t)text.len ? 0
									   : -EIO;
	}
	lc_buf_free(&text);
	return r;
}

static int step_umount(holder *h, const lc_mount_step *s)
{
	_cleanup_close_ int target = -1;
	char path[64];
	int r = lc_resolve_in_root(h->root_fd, s->target, LC_RESOLVE_NONE, &target);

	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", target);
	return umount2(path, MNT_DETACH) < 0 ? -errno : 0;
}

static int apply_step(holder *h, size_t i)
{
	const lc_mount_step *s = &h->plan.steps[i];
	_cleanup_close_ int fd = -1;

	switch (s->kind) {
	case LC_STEP_BIND:
		return step_bind(h, i);
	case LC_STEP_TMPFS:
		return step_new_fs(h, s, "tmpfs");
	case LC_STEP_DEVPTS:
		return step_new_fs(h, s, "devpts");
	case LC_STEP_CGROUP2:
		return step_new_fs(h, s, "cgroup2");
	case LC_STEP_SYSFS:
		return step_new_fs(h, s, "sysfs");
	case LC_STEP_SYMLINK:
		return step_symlink(h, s);
	case LC_STEP_USERDB:
		return step_userdb(h, s);
	case LC_STEP_MKDIR:
		return lc_resolve_in_root(h->root_fd, s->target, LC_RESOLVE_DIR, &fd);
	case LC_STEP_UMOUNT:
		return step_umount(h, s);
	}
	return -EINVAL;
}

static int step_fail(const lc_mount_step *s, int r, lc_error *err)
{
	const char *why =
	    r == -EXDEV ? "it resolves outside the container's root filesystem" : strerror(-r);

	if (s->user && s->source)
		return lc_fail(err, -r, "cannot mount '%s' on '%s': %s", s->source, s->target, why);
	if (s->user && s->kind == LC_STEP_UMOUNT)
		return lc_fail(err, -r, "cannot unmount '%s': %s", s->target, why);
	return lc_fail(err, -r, "cannot set up '%s' in the container: %s", s->target, why);
}

static int apply_plan(holder *h, lc_error *err)
{
	for (size_t i = 0; i < h->plan.n; i++) {
		int r = apply_step(h, i);

		/* optional steps may lack a source, never resolve outside the root */
		if (r < 0 && (!h->plan.steps[i].optional || r == -EXDEV))
			return step_fail(&h->plan.steps[i], r, err);
	}
	return 0;
}

static int enter_root(holder *h, lc_error *err)
{
	struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};

	if (!(h->c->flags & LC_CONTAINER_RW) &&
	    mount_setattr(h->root_fd, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0)
		return lc_fail(err, errno, "cannot make the root read-only: %m");
	if (fchdir(h->root_fd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return lc_fail(err, errno, "cannot enter the container's root: %m");
	return 0;
}

/* ---------------------------------------------------------------- holder: a named instance */

/* As the user, on the host: the socket others join through (a stale one from an instance that
 * was killed is replaced: the caller holds the name's lock), our own lock handle, and a copy
 * of the image's fd (the FUSE server takes the other) for joiners to read its config from. */
static int listen_named(holder *h, lc_error *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};

	snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/sock", h->named_fd);
	h->lock_fd = openat(h->named_fd, ".lock", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	h->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	h->share_fd = fcntl(h->image_fd, F_DUPFD_CLOEXEC, 3);
	if (h->lock_fd < 0 || h->listen_fd < 0 || h->share_fd < 0)
		return lc_fail(err, errno, "cannot set the named container up: %m");
	if (unlinkat(h->named_fd, "sock", 0) < 0 && errno != ENOENT)
		return lc_fail(err, errno, "cannot remove the old socket: %m");
	if (bind(h->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(h->listen_fd, 128) < 0)
		return lc_fail(err, errno, "cannot listen on the named container's socket: %m");
	return 0;
}

/* Overlay takes its upper layer only from a mount of the holder's own mount namespace: the
 * name's directory again, by its path now, and it must be the same directory. */
static int reopen_named(holder *h, lc_error *err)
{
	struct stat before, now;
	int fd = open(h->named_path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 || fstat(h->named_fd, &before) < 0 || fstat(fd, &now) < 0 ||
	    before.st_dev != now.st_dev || before.st_ino != now.st_ino) {
		if (fd >= 0)
			close(fd);
		return lc_fail(err, EBUSY, "%s changed while the container started", h->named_path);
	}
	if (dup3(fd, h->named_fd, O_CLOEXEC) < 0) {
		close(fd);
		return lc_fail(err, errno, "dup3: %m");
	}
	close(fd);
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
static void serve_accept(const holder *h, int self_pidfd, watches *w)
{
	int fd = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC), flags = ns_flags(h->c->flags);

	if (fd < 0)
		return;
	if (lc_fd_send(fd, self_pidfd, 'P', MSG_DONTWAIT) < 0 ||
	    send(fd, &flags, sizeof(flags), MSG_DONTWAIT | MSG_NOSIGNAL) != sizeof(flags) ||
	    lc_fd_send(fd, h->share_fd, 'I', MSG_DONTWAIT) < 0) {
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
static void holder_serve(holder *h)
{
	static watches w;
	int self_pidfd = pidfd_open(getpid(), 0);
	char byte;

	watch_add(&w, h->listen_fd, false);
	watch_add(&w, h->lifeline, false);
	for (;;) {
		if (w.n == 1 && flock(h->lock_fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (poll(w.fd, w.n, w.n == 1 ? 100 : -1) <= 0)
			continue;
		if (w.fd[0].revents & POLLIN)
			serve_accept(h, self_pidfd, &w);
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
	(void)unlinkat(h->named_fd, "sock", 0);
}

static int holder_setup(holder *h, lc_error *err)
{
	int r;

	if (h->lifeline < 0 && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != h->parent))
		return lc_fail(err, ESRCH, "the caller went away");
	r = drop_to_user(&h->c->user);
	if (r < 0)
		return lc_fail(err, -r, "cannot become user %u: %s", (unsigned)h->c->user.uid,
			       strerror(-r));
	(void)prctl(PR_SET_DUMPABLE, 1); /* the id maps need it after a uid change */
	r = h->serve ? listen_named(h, err) : 0;
	if (r >= 0)
		r = enter_namespaces(h, err);
	if (r >= 0 && h->named_fd >= 0 && h->named_upper)
		r = reopen_named(h, err);
	if (r >= 0 && h->kernel_fd < 0)
		r = open_fuse(h, err);
	if (r >= 0)
		r = open_sources(h, err);
	if (r >= 0)
		r = mount_root(h, err);
	if (r >= 0)
		r = apply_plan(h, err);
	if (r >= 0)
		r = enter_root(h, err);
	if (r >= 0 && (h->c->flags & LC_CONTAINER_UNSHARE_NET))
		loopback_up();
	return r;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The holder keeps none of the caller's files (a task's output pipes, a daemon's sockets):
 * stdio becomes /dev/null, every other fd but its own is closed. */
static void holder_close_fds(const holder *h)
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
static void holder_wait_end(const holder *h)
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

static _Noreturn void holder_main(holder *h)
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
	(void)!send(h->sock, "", 1, MSG_NOSIGNAL);
	if (h->serve)
		holder_serve(h);
	else
		holder_wait_end(h);
	_exit(0);
}

/* ---------------------------------------------------------------- create */

int lc_image_open_as(uid_t uid, gid_t gid, const char *path, int *ret_fd, lc_error *err)
{
	bool switched = lc_fsids_become(uid, gid);
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		fd = -errno;
	lc_fsids_restore(switched);
	if (fd < 0)
		return lc_fail(err, -fd, "cannot open image '%s': %s", path, strerror(-fd));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return lc_fail(err, EINVAL, "image '%s' is not a regular file", path);
	}
	*ret_fd = fd;
	return 0;
}

static int check_opts(const lc_container_opts *o, lc_error *err)
{
	if (!o || (o->version != LC_CONTAINER_OPTS_VERSION && o->version != 2))
		return lc_fail(err, EINVAL, "lc_container_create: bad options version");
	if (o->version >= 3 && o->named_instance &&
	    (!o->named || !*o->named_instance || strchr(o->named_instance, '/') ||
	     strlen(o->named_instance) > NAME_MAX - 5))
		return lc_fail(err, EINVAL, "lc_container_create: bad named instance");
	if (o->flags & ~(uint32_t)LC_CONTAINER_ALL)
		return lc_fail(err, EINVAL, "lc_container_create: unknown flags 0x%x", o->flags);
	if ((o->flags & LC_CONTAINER_VOLATILE_UPPER) &&
	    (o->version < 3 || !o->named || o->named_instance))
		return lc_fail(
		    err, EINVAL,
		    "lc_container_create: a volatile upper layer is for a named instance");
	if (!o->image || !*o->image)
		return lc_fail(err, EINVAL, "no image given");
	if (geteuid() != 0 && o->uid != (uid_t)-1 && o->uid != getuid())
		return lc_fail(err, EPERM, "only root can create a container for another user");
	return 0;
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

/* Serve the holder until it reports: "" is success, anything else its error message. */
static int wait_ready(lc_container *c, int sock, lc_error *err)
{
	char msg[MSG_MAX];
	ssize_t n;

	for (;;) {
		n = recv(sock, msg, sizeof(msg) - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 1 && msg[0] == 'F') {
			if (run_fuse_helper(c, sock, err) < 0)
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
static int fork_detached(lc_container *c, holder *h, int sock, lc_error *err)
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

static int start_holder(lc_container *c, holder *h, lc_error *err)
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
	return wait_ready(c, sv[0], err);
}

/* The kernel's driver for a trusted image in a read-only container, else FUSE (logged why). */
static void try_kernel_squashfs(lc_container *c, holder *h, const char *path)
{
	lc_error why = LC_ERROR_INIT;

	if (c->flags & LC_CONTAINER_RW) {
		lc_debug(c->ctx, "%s: writable container, served over FUSE", path);
		return;
	}
	if (lc_image_trust_check(h->image_fd, path, &why) < 0) {
		lc_debug(c->ctx, "%s: not for the kernel's squashfs driver (%s), served over FUSE",
			 path, lc_error_message(&why));
		return;
	}
	if (lc_kernel_squashfs_mount(h->image_fd, c->user.uid, c->user.gid, &h->kernel_fd, &why) <
	    0) {
		h->kernel_fd = -1;
		lc_warn(c->ctx, "%s: the kernel's squashfs driver failed (%s), served over FUSE",
			path, lc_error_message(&why));
		return;
	}
	lc_debug(c->ctx, "%s: mounted by the kernel's squashfs driver", path);
}

static int prepare(lc_container *c, const lc_container_opts *o, holder *h, lc_error *err)
{
	_cleanup_free_ char *cwd = o->cwd ? strdup(o->cwd) : getcwd(NULL, 0);
	_cleanup_free_ char *image = NULL;
	lc_mount_spec *specs = NULL;
	size_t n_specs = 0;
	int r, config_fd;

	r = lc_user_lookup(o->uid == (uid_t)-1 ? getuid() : o->uid,
			   o->gid == (gid_t)-1 ? getgid() : o->gid, o->flags, &c->user, err);
	if (r >= 0 && o->mounts && *o->mounts)
		r = lc_mount_specs_parse(o->mounts, &specs, &n_specs, err);
	if (r >= 0 && o->image[0] != '/' && o->cwd &&
	    asprintf(&image, "%s/%s", o->cwd, o->image) < 0)
		r = lc_fail(err, ENOMEM, "out of memory");
	if (r >= 0)
		r = lc_image_open_as(c->user.uid, c->user.gid, image ? image : o->image,
				     &h->image_fd, err);
	if (r >= 0) {
		config_fd = fcntl(h->image_fd, F_DUPFD_CLOEXEC, 3);
		r = config_fd < 0 ? lc_fail(err, errno, "dup: %m")
				  : lc_squash_image_config_fd(config_fd, o->image, &c->img, err);
	}
	if (r >= 0) {
		lc_plan_input in = {.flags = o->flags,
				    .user = &c->user,
				    .specs = specs,
				    .n_specs = n_specs,
				    .cwd = cwd,
				    .workdir = c->img->workdir};

		r = lc_mount_plan_build(&in, &h->plan, err);
	}
	lc_mount_specs_free(specs, n_specs);
	if (r >= 0)
		r = lc_seccomp_prog_new(&c->seccomp, err);
	if (r >= 0 && (o->flags & LC_CONTAINER_KERNEL_SQUASHFS))
		try_kernel_squashfs(c, h, image ? image : o->image);
	h->fuse_from_caller = geteuid() == 0 && c->user.uid != 0 && h->kernel_fd < 0;
	return r;
}

static int create(lc_ctx *ctx, const lc_container_opts *opts, int lifeline,
		  lc_container **ret_container, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	lc_container *c;
	holder h = {.image_fd = -1,
		    .fuse_fd = -1,
		    .kernel_fd = -1,
		    .root_fd = -1,
		    .lifeline = lifeline,
		    .named_fd = -1,
		    .listen_fd = -1,
		    .lock_fd = -1,
		    .share_fd = -1};
	int r;

	if (!err)
		err = &local;
	r = check_opts(opts, err);
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c)
		return lc_fail(err, ENOMEM, "out of memory");
	*c = (lc_container){.ctx = ctx, .flags = opts->flags, .pidfd = -1, .control_fd = -1};
	h.c = c;
	h.image_name = opts->image;
	h.hold_fd = opts->hold_fd;
	h.tmpfs_size = opts->tmpfs_size;
	if (opts->version >= 3 && opts->named) {
		h.named_fd = lc_named_dir_fd(opts->named);
		h.named_path = lc_named_dir(opts->named);
		h.named_upper = !(opts->flags & LC_CONTAINER_VOLATILE_UPPER);
		snprintf(h.named_work, sizeof(h.named_work), "work%s%s",
			 opts->named_instance ? "." : "",
			 opts->named_instance ? opts->named_instance : "");
		h.serve = !opts->named_instance && lifeline >= 0;
	}
	r = prepare(c, opts, &h, err);
	if (r >= 0)
		r = start_holder(c, &h, err);
	lc_closep(&h.image_fd);
	lc_closep(&h.fuse_fd);
	lc_closep(&h.kernel_fd);
	lc_mount_plan_free(&h.plan);
	if (r < 0) {
		lc_container_free(c);
		return lc_error_prefix(err, r, "container from '%s'", opts->image);
	}
	lc_debug(ctx, "container from '%s': holder %d", opts->image, (int)c->pid);
	*ret_container = c;
	return 0;
}

LC_API int lc_container_create(lc_ctx *ctx, const lc_container_opts *opts,
			       lc_container **ret_container, lc_error *err)
{
	return create(ctx, opts, -1, ret_container, err);
}

int lc_container_create_detached(lc_ctx *ctx, const lc_container_opts *opts, int lifeline_fd,
				 lc_container **ret_container, lc_error *err)
{
	if (lifeline_fd < 0)
		return lc_fail(err, EBADF, "no lifeline for a detached container");
	return create(ctx, opts, lifeline_fd, ret_container, err);
}

int lc_container_pidfd(const lc_container *c)
{
	return c->pidfd;
}

int lc_container_ns_flags(const lc_container *c)
{
	return ns_flags(c->flags);
}

LC_API lc_container *lc_container_free(lc_container *c)
{
	if (!c)
		return NULL;
	lc_closep(&c->control_fd);
	if (c->pid > 0 && !c->detached) {
		struct pollfd p = {.fd = c->pidfd, .events = POLLIN};

		if (c->pidfd < 0 || poll(&p, 1, 2000) <= 0)
			(void)kill(c->pid, SIGKILL);
		(void)lc_wait_child(c->pid, NULL);
	}
	lc_closep(&c->pidfd);
	lc_user_free(&c->user);
	lc_image_free(c->img);
	lc_seccomp_prog_free(c->seccomp);
	free(c);
	return NULL;
}

LC_API pid_t lc_container_pid(const lc_container *c)
{
	return c ? c->pid : -1;
}

LC_API const lc_image *lc_container_image(const lc_container *c)
{
	return c ? c->img : NULL;
}

LC_API int lc_container_env(const lc_container *c, const char *const *overrides, char ***ret_env,
			    lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	lc_strvec e;
	int r = lc_env_build(&c->user, c->img, overrides, &e, err ? err : &local);

	if (r < 0)
		return r;
	*ret_env = lc_strvec_steal(&e);
	return 0;
}

/* ---------------------------------------------------------------- processes */

typedef struct spawn_args {
	const lc_container *c;
	char *const *argv;
	char *const *env;
	const char *workdir;
	const int *fds; /* the child's fds 0..3, -1: as inherited; each source is >= 4 */
	int err_fd;
} spawn_args;

static _Noreturn void child_fail(const spawn_args *a, int code, const char *what, const char *arg,
				 int e)
{
	char msg[MSG_MAX];
	int n = e ? snprintf(msg, sizeof(msg), "%s%s: %s", what, arg, strerror(e))
		  : snprintf(msg, sizeof(msg), "%s%s", what, arg);

	(void)!write(a->err_fd, msg, n > 0 ? (size_t)n : 0);
	_exit(code);
}

/* execve @argv[0], searched in the container's PATH (execvpe would use the caller's). */
static int exec_in_path(char *const *argv, char *const *env)
{
	const char *path = NULL;
	char buf[PATH_MAX];
	int saved = ENOENT;

	if (strchr(argv[0], '/')) {
		execve(argv[0], argv, env);
		return -errno;
	}
	for (char *const *e = env; *e; e++)
		if (!strncmp(*e, "PATH=", 5))
			path = *e + 5;
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		const char *end = strchrnul(p, ':');
		int n = snprintf(buf, sizeof(buf), "%.*s/%s", (int)(end - p), p, argv[0]);

		if (n > 0 && (size_t)n < sizeof(buf) && end > p) {
			execve(buf, argv, env);
			if (errno != ENOENT && errno != ENOTDIR)
				saved = errno;
		}
		p = *end ? end + 1 : end;
	}
	return -saved;
}

static _Noreturn void child_main(const spawn_args *a)
{
	const lc_container *c = a->c;
	int r;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	for (int i = 0; a->fds && i < LC_SPAWN_FDS; i++)
		if (a->fds[i] >= 0 && dup2(a->fds[i], i) < 0)
			child_fail(a, 126, "cannot set up the process's file descriptors", "",
				   errno);
	if (a->fds) /* given fds only: nothing of the caller's leaks in */
		(void)close_range(LC_SPAWN_FDS, ~0u, CLOSE_RANGE_CLOEXEC);
	r = drop_to_user(&c->user);
	if (r < 0)
		child_fail(a, 126, "cannot become the user ", c->user.name, -r);
	if (setns(c->pidfd, ns_flags(c->flags)) < 0)
		child_fail(a, 126, "cannot join the container", "", errno);
	if (chdir(a->workdir) < 0)
		child_fail(a, 126, "couldn't chdir to ", a->workdir, errno);
	r = lc_seccomp_install(c->seccomp);
	if (r < 0)
		child_fail(a, 126, "cannot install the seccomp filter", "", -r);
	r = exec_in_path(a->argv, a->env);
	if (r == -ENOENT)
		child_fail(a, 127, a->argv[0], ": command not found", 0);
	child_fail(a, 126, "cannot execute ", a->argv[0], -r);
}

static int spawn_wait_exec(pid_t pid, int fd, lc_error *err)
{
	char msg[MSG_MAX];
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(msg) - 1 &&
	       ((n = read(fd, msg + got, sizeof(msg) - 1 - got)) > 0 || (n < 0 && errno == EINTR)))
		got += n > 0 ? (size_t)n : 0;
	if (!got)
		return 0; /* the exec closed the pipe */
	msg[got] = '\0';
	(void)lc_wait_child(pid, NULL);
	return lc_fail(err, strstr(msg, "command not found") ? ENOENT : EIO, "%s", msg);
}

int lc_container_spawn_fds(lc_container *c, char *const *argv, char *const *env,
			   const char *workdir, const int fds[LC_SPAWN_FDS], pid_t *ret_pid,
			   lc_error *err)
{
	spawn_args a = {c,   argv, env, workdir ? workdir : c->img->workdir ? c->img->workdir : "/",
			fds, -1};
	int pipefd[2], r;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return lc_fail(err, errno, "pipe: %m");
	a.err_fd = pipefd[1];
	pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		child_main(&a);
	}
	close(pipefd[1]);
	r = pid < 0 ? lc_fail(err, errno, "fork: %m") : spawn_wait_exec(pid, pipefd[0], err);
	close(pipefd[0]);
	if (r < 0)
		return r;
	*ret_pid = pid;
	return 0;
}

LC_API int lc_container_spawn(lc_container *c, const lc_process_opts *opts, pid_t *ret_pid,
			      lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	static const lc_process_opts defaults = LC_PROCESS_OPTS_INIT;
	char **argv = NULL, **env = NULL;
	int r;

	if (!err)
		err = &local;
	if (!opts)
		opts = &defaults;
	if (!c || !ret_pid || opts->version != LC_PROCESS_OPTS_VERSION ||
	    (opts->flags & ~(uint32_t)LC_PROCESS_ALL))
		return lc_fail(err, EINVAL, "lc_container_spawn: bad arguments");
	r = lc_command_build(c->img, opts->flags & LC_PROCESS_ENTRYPOINT, opts->argv, &argv, err);
	if (r >= 0 && opts->env) {
		lc_strvec e = {0};

		for (const char *const *p = opts->env; r >= 0 && *p; p++)
			r = lc_env_put(&e, *p) < 0
				? lc_fail(err, EINVAL, "bad environment entry '%s'", *p)
				: 0;
		env = lc_strvec_steal(&e);
	} else if (r >= 0) {
		r = lc_container_env(c, NULL, &env, err);
	}
	if (r >= 0)
		r = lc_container_spawn_fds(c, argv, env, opts->workdir, NULL, ret_pid, err);
	lc_strv_free(argv);
	lc_strv_free(env);
	return r;
}
