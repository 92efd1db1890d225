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
		snprintf(buf, size, "lowerdir=%s" LC_SCRATCH "/lower,%s,userxattr",
			 h->injected ? LC_SCRATCH "/inject:" : "", layers);
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
	if (r >= 0 && lc_inject_wanted(h))
		r = lc_inject_build(h, err);
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

/* A new filesystem instance (tmpfs, devpts, cgroup2) with "k=v,flag" options; @source, its
 * name in mountinfo, may be NULL. */
static int new_fs(const char *type, const char *source, const char *data)
{
	_cleanup_close_ int fs = fsopen(type, FSOPEN_CLOEXEC);
	_cleanup_free_ char *copy = data ? strdup(data) : NULL;
	char *save = NULL;
	int r;

	if (fs < 0)
		return -errno;
	if (data && !copy)
		return -ENOMEM;
	if (source && fsconfig(fs, FSCONFIG_SET_STRING, "source", source, 0) < 0)
		return -errno;
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
	mnt = new_fs(type, NULL, s->data);
	return mnt < 0 ? mnt : attach(s, mnt, target);
}

/* Split @path into its parent, resolved (created) inside the root, and its last name. */
static int resolve_parent(lc_holder *h, const char *path, int *ret_fd, const char **ret_name)
{
	const char *slash = strrchr(path, '/');
	_cleanup_free_ char *dir = slash ? strndup(path, (size_t)(slash - path)) : NULL;

	if (!slash || !slash[1])
		return -EINVAL;
	if (!dir)
		return -ENOMEM;
	*ret_name = slash + 1;
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

/* A file of the step's text (on the scratch tmpfs), bound read-only on its target. */
static int step_file(lc_holder *h, size_t i)
{
	const lc_mount_step *s = &h->plan.steps[i];
	_cleanup_close_ int scratch = open(LC_SCRATCH, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int target = -1;
	_cleanup_close_ int tree = -1;
	char name[32];
	int r;

	snprintf(name, sizeof(name), "file-%zu", i);
	if (scratch < 0)
		return -errno;
	r = lc_file_replace_at(scratch, name, s->data, strlen(s->data), 0444);
	if (r < 0)
		return r;
	tree = open_tree(scratch, name, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0)
		return -errno;
	r = lc_resolve_in_root(h->root_fd, s->target, LC_RESOLVE_NONE, &target);
	return r < 0 ? r : attach(s, tree, target);
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

/* ---------------------------------------------------------------- site fstab entries */

static enum lc_resolve_create fstab_create(const lc_fstab_entry *e, int source_fd)
{
	struct stat st;

	switch (e->create) {
	case LC_FSTAB_CREATE_DIR:
		return LC_RESOLVE_DIR;
	case LC_FSTAB_CREATE_FILE:
		return LC_RESOLVE_FILE;
	case LC_FSTAB_CREATE_AUTO:
		if (!(e->flags & MS_BIND) || source_fd < 0 || fstat(source_fd, &st) < 0)
			return LC_RESOLVE_DIR;
		return S_ISDIR(st.st_mode) ? LC_RESOLVE_DIR : LC_RESOLVE_FILE;
	case LC_FSTAB_CREATE_NONE:
		break;
	}
	return LC_RESOLVE_NONE;
}

static int set_attrs(int fd, unsigned long flags, unsigned long propagation)
{
	struct mount_attr attr = {.attr_set = mount_attrs(flags)};
	unsigned rec = flags & MS_REC ? AT_RECURSIVE : 0;

	if (attr.attr_set && mount_setattr(fd, "", AT_EMPTY_PATH | rec, &attr, sizeof(attr)) < 0)
		return -errno;
	attr = (struct mount_attr){.propagation = propagation & ~MS_REC};
	if (propagation &&
	    mount_setattr(fd, "", AT_EMPTY_PATH | (propagation & MS_REC ? AT_RECURSIVE : 0), &attr,
			  sizeof(attr)) < 0)
		return -errno;
	return 0;
}

/* x-move: the mount at the entry's source, inside the root, moves to its target. */
static int fstab_move(int root_fd, const lc_fstab_entry *e, int target_fd)
{
	_cleanup_close_ int from = -1;
	_cleanup_close_ int mnt = -1;
	int r = lc_resolve_in_root(root_fd, e->source, LC_RESOLVE_NONE, &from);

	if (r < 0)
		return r;
	mnt = open_tree(from, "", AT_EMPTY_PATH | OPEN_TREE_CLOEXEC);
	if (mnt < 0)
		return -errno;
	if (move_mount(mnt, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
	    0)
		return -errno;
	return 0;
}

/*
 * One entry as enroot-mount does it, on a target resolved inside the root: x-detach unmounts;
 * x-move moves; remount changes flags; a bind attaches its source (@source_fd, opened as the
 * user: -1 when a nofail source is missing); another type mounts a new instance; the
 * propagation comes last.
 */
int lc_rootfs_fstab_entry(int root_fd, const lc_fstab_entry *e, int source_fd)
{
	_cleanup_close_ int target = -1;
	_cleanup_close_ int mnt = -1;
	lc_mount_step attach_as = {
	    .flags = e->flags, .recursive = e->flags & MS_REC, .propagation = e->propagation};
	char path[64];
	int r;

	if ((e->flags & MS_BIND) && !(e->flags & MS_REMOUNT) && !e->move && source_fd < 0)
		return -ENOENT;
	r = lc_resolve_in_root(root_fd, e->target,
			       e->detach ? LC_RESOLVE_NONE : fstab_create(e, source_fd), &target);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", target);
	if (e->detach)
		return umount2(path, MNT_DETACH) < 0 ? -errno : 0;
	if (e->move)
		return fstab_move(root_fd, e, target);
	if (e->flags & MS_REMOUNT) {
		mnt = open_tree(target, "", AT_EMPTY_PATH | OPEN_TREE_CLOEXEC);
		return mnt < 0 ? -errno : set_attrs(mnt, e->flags, e->propagation);
	}
	if (e->flags & MS_BIND)
		return attach(&attach_as, source_fd, target);
	if (strcmp(e->type, "none")) {
		mnt = new_fs(e->type, e->source, e->data);
		return mnt < 0 ? mnt : attach(&attach_as, mnt, target);
	}
	mnt = open_tree(target, "", AT_EMPTY_PATH | OPEN_TREE_CLOEXEC);
	return mnt < 0 ? -errno : set_attrs(mnt, 0, e->propagation);
}

int lc_rootfs_fstab_source(int host_tmp_fd, const lc_fstab_entry *e, int *ret_fd)
{
	bool in_tmp = host_tmp_fd >= 0 && lc_str_has_prefix(e->source, LC_SCRATCH "/");

	*ret_fd = -1;
	if (!(e->flags & MS_BIND) || (e->flags & MS_REMOUNT) || e->move || e->detach)
		return 0;
	*ret_fd =
	    open_tree(in_tmp ? host_tmp_fd : AT_FDCWD,
		      in_tmp ? e->source + strlen(LC_SCRATCH "/") : e->source,
		      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (e->flags & MS_REC ? AT_RECURSIVE : 0));
	return *ret_fd < 0 ? -errno : 0;
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
		return lc_shadow_userdb(h, s->target);
	case LC_STEP_MKDIR:
		return lc_resolve_in_root(h->root_fd, s->target, LC_RESOLVE_DIR, &fd);
	case LC_STEP_UMOUNT:
		return step_umount(h, s);
	case LC_STEP_FILE:
		return step_file(h, i);
	case LC_STEP_FSTAB:
		return lc_rootfs_fstab_entry(h->root_fd, s->fstab, h->source_fds[i]);
	case LC_STEP_HOOKS:
	case LC_STEP_IMAGE_FSTAB:
	case LC_STEP_NVIDIA_CLI:
		return 0; /* lc_rootfs_apply_plan() runs them */
	}
	return -EINVAL;
}

static int step_fail(const lc_mount_step *s, int r, lc_error *err)
{
	const char *why =
	    r == -EXDEV ? "it resolves outside the container's root filesystem" : strerror(-r);

	if (s->user && s->source)
		return lc_fail(err, -r, "cannot mount '%s' on '%s': %s", s->source, s->target, why);
	if (s->kind == LC_STEP_FSTAB)
		return lc_fail(err, -r, "cannot %s '%s' (site mount of '%s'): %s",
			       s->fstab->detach ? "unmount" : "mount on", s->target, s->source,
			       why);
	if (s->user && s->kind == LC_STEP_UMOUNT)
		return lc_fail(err, -r, "cannot unmount '%s': %s", s->target, why);
	return lc_fail(err, -r, "cannot set up '%s' in the container: %s", s->target, why);
}

int lc_rootfs_apply_plan(lc_holder *h, lc_error *err)
{
	for (size_t i = 0; i < h->plan.n; i++) {
		const lc_mount_step *s = &h->plan.steps[i];
		bool own_error = s->kind == LC_STEP_HOOKS || s->kind == LC_STEP_IMAGE_FSTAB ||
				 s->kind == LC_STEP_NVIDIA_CLI;
		int r = s->kind == LC_STEP_HOOKS ? lc_hooks_run(h, err)
			: s->kind == LC_STEP_IMAGE_FSTAB
			    ? lc_image_fstab_apply(h, atoi(s->data), err)
			: s->kind == LC_STEP_NVIDIA_CLI ? lc_hooks_run_nvidia_cli(h, s->source, err)
							: apply_step(h, i);

		if (r < 0 && own_error)
			return r;
		/* a nofail entry may fail, never resolve outside the root */
		if (r < 0 && s->kind == LC_STEP_FSTAB && s->fstab->nofail && r != -EXDEV)
			continue;
		/* optional steps may lack a source, never resolve outside the root */
		if (r < 0 && (!s->optional || r == -EXDEV))
			return step_fail(s, r, err);
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
