/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The holder's root filesystem, in its own mount namespace: a private tmpfs at LC_SCRATCH holds
 * the image (lower: the FUSE server's mount or the kernel's), the writable layer (upper, work;
 * a named container's persistent ones instead) and the overlay root; the mount plan's steps
 * are applied on it, every target resolved inside the root (resolve.c); then the root switch.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "container.h"

static int mount_image(lc_holder *h, lc_error *err)
{
	const lc_user *u = &h->c->user;
	lc_sqfs_server *server = NULL;
	char opts[160];
	int r;

	if (h->kernel_fd >= 0) {
		r = move_mount(h->kernel_fd, "", AT_FDCWD, LC_SCRATCH "/lower",
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
	if (mount(h->image_name, LC_SCRATCH "/lower", "fuse.lc-squashfs",
		  MS_RDONLY | MS_NOSUID | MS_NODEV, opts) < 0)
		return lc_fail(err, errno, "cannot mount the image over FUSE: %m");
	r = lc_sqfs_server_start(server, h->fuse_fd, err);
	h->fuse_fd = -1;
	return r; /* the server lives as long as the holder */
}

/* The overlay's layers: a named container's persistent ones, else on the tmpfs. */
static int overlay_options(lc_holder *h, char *buf, size_t size, lc_error *err)
{
	char layers[128 + NAME_MAX];
	int r = 0;

	if (h->named_fd >= 0 && h->named_upper)
		r = lc_named_overlay_layers(h->named_fd, h->named_instance, layers, sizeof(layers),
					    err);
	else
		snprintf(layers, sizeof(layers),
			 "upperdir=" LC_SCRATCH "/upper,workdir=" LC_SCRATCH "/work");
	if (r >= 0)
		snprintf(buf, size, "lowerdir=" LC_SCRATCH "/lower,%s,userxattr", layers);
	return r;
}

int lc_rootfs_mount(lc_holder *h, lc_error *err)
{
	char opts[256 + NAME_MAX];
	int r;

	snprintf(opts, sizeof(opts), "mode=0700,size=%s", h->tmpfs_size ? h->tmpfs_size : "50%");
	if (mount("tmpfs", LC_SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
		return lc_fail(err, errno, "cannot mount the container's tmpfs (size=%s): %m",
			       h->tmpfs_size ? h->tmpfs_size : "50%");
	for (const char *const *d =
		 (const char *const[]){LC_SCRATCH "/lower", LC_SCRATCH "/upper", LC_SCRATCH "/work",
				       LC_SCRATCH "/root", NULL};
	     *d; d++)
		if (mkdir(*d, 0755) < 0)
			return lc_fail(err, errno, "mkdir %s: %m", *d);
	r = mount_image(h, err);
	if (r >= 0)
		r = overlay_options(h, opts, sizeof(opts), err);
	if (r < 0)
		return r;
	if (mount("overlay", LC_SCRATCH "/root", "overlay", MS_NOSUID | MS_NODEV, opts) < 0)
		return lc_fail(err, errno, "cannot mount the overlay root: %m");
	h->root_fd = open(LC_SCRATCH "/root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (h->root_fd < 0)
		return lc_fail(err, errno, "open the root: %m");
	return 0;
}

/* ---------------------------------------------------------------- plan steps */

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

static int step_bind(lc_holder *h, size_t i)
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

static int step_new_fs(lc_holder *h, const lc_mount_step *s, const char *type)
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
static int resolve_parent(lc_holder *h, const char *path, int *ret_fd, const char **ret_name)
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

static int step_symlink(lc_holder *h, const lc_mount_step *s)
{
	_cleanup_close_ int dir = -1;
	const char *name;
	int r = resolve_parent(h, s->target, &dir, &name);

	if (r < 0)
		return r;
	return symlinkat(s->source, dir, name) < 0 && errno != EEXIST ? -errno : 0;
}

/* The image's /etc/passwd or /etc/group without lines for the user, then the user's line. */
static int step_userdb(lc_holder *h, const lc_mount_step *s)
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

static int step_umount(lc_holder *h, const lc_mount_step *s)
{
	_cleanup_close_ int target = -1;
	char path[64];
	int r = lc_resolve_in_root(h->root_fd, s->target, LC_RESOLVE_NONE, &target);

	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", target);
	return umount2(path, MNT_DETACH) < 0 ? -errno : 0;
}

static int apply_step(lc_holder *h, size_t i)
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

int lc_rootfs_apply_plan(lc_holder *h, lc_error *err)
{
	for (size_t i = 0; i < h->plan.n; i++) {
		int r = apply_step(h, i);

		/* optional steps may lack a source, never resolve outside the root */
		if (r < 0 && (!h->plan.steps[i].optional || r == -EXDEV))
			return step_fail(&h->plan.steps[i], r, err);
	}
	return 0;
}

int lc_rootfs_enter(lc_holder *h, lc_error *err)
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
