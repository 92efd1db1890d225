/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel's squashfs driver, for trusted images only. The kernel's parser is not hardened
 * against crafted images and a mounted file must not change under the mount, so an image goes
 * to the kernel only when root is the caller and the file, and every directory above it, are
 * root's and writable by root only, on a filesystem that is not FUSE (where a user could fake
 * owners): an admin-controlled place. Anything else is served by our FUSE server.
 *
 * The mount: a loop device (read-only, cleared with its last user) over the image, a detached
 * read-only mount made with the new mount API, idmapped so that the image's root is the
 * container's user (as the FUSE server reports owners). The holder attaches it in its own
 * namespaces; when they go, the mount and the loop device go.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "runtime.h"

#define FUSE_SUPER_MAGIC 0x65735546
#define LOOP_TRIES 16

static bool root_only(const struct stat *st)
{
	return st->st_uid == 0 && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

/* Walk @path from "/" without following links: every directory root's, the end @img. */
static int walk_trusted(const char *path, const struct stat *img, lc_error *err)
{
	_cleanup_free_ char *copy = strdup(path);
	_cleanup_close_ int dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	char *save = NULL, *name, *next;
	struct stat st = {0};

	if (!copy || dir < 0)
		return lc_fail(err, errno ? errno : ENOMEM, "cannot walk %s: %m", path);
	for (name = strtok_r(copy, "/", &save); name; name = next) {
		int fd;

		next = strtok_r(NULL, "/", &save);
		if (fstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || !root_only(&st))
			return lc_fail(err, EPERM, "a directory above it is not root's alone");
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			return lc_fail(err, EPERM, "its path has '.' or '..'");
		fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return lc_fail(err, errno, "cannot walk %s: %m", path);
		lc_closep(&dir);
		dir = fd;
		if (fstat(dir, &st) < 0 || S_ISLNK(st.st_mode))
			return lc_fail(err, EPERM, "its path has a symbolic link");
	}
	if (st.st_dev != img->st_dev || st.st_ino != img->st_ino)
		return lc_fail(err, EPERM, "its path no longer names the opened file");
	return 0;
}

int lc_image_trust_check(int image_fd, const char *path, lc_error *err)
{
	struct statfs fs;
	struct stat img;

	if (geteuid() != 0)
		return lc_fail(err, EPERM, "only root may use the kernel's squashfs driver");
	if (!path || path[0] != '/')
		return lc_fail(err, EPERM, "not an absolute path");
	if (fstat(image_fd, &img) < 0 || fstatfs(image_fd, &fs) < 0)
		return lc_fail(err, errno, "fstat: %m");
	if (fs.f_type == FUSE_SUPER_MAGIC)
		return lc_fail(err, EPERM, "it is on a FUSE filesystem");
	if (!S_ISREG(img.st_mode) || !root_only(&img))
		return lc_fail(err, EPERM, "it is not root's alone");
	return walk_trusted(path, &img, err);
}

/* A user namespace whose root is @uid/@gid outside: the idmapping of the mount. */
static int idmap_userns(uid_t uid, gid_t gid, int *ret_fd, lc_error *err)
{
	char path[64], map[64], byte;
	int sync[2], r = 0, fd, n;
	pid_t pid;

	if (pipe2(sync, O_CLOEXEC) < 0)
		return lc_fail(err, errno, "pipe: %m");
	pid = fork();
	if (pid == 0) {
		if (unshare(CLONE_NEWUSER) < 0)
			_exit(1);
		(void)!write(sync[1], "u", 1);
		for (;;)
			pause();
	}
	close(sync[1]);
	if (pid < 0 || read(sync[0], &byte, 1) != 1)
		r = lc_fail(err, pid < 0 ? errno : ECHILD, "cannot make the image's id mapping");
	close(sync[0]);
	for (int i = 0; r >= 0 && i < 2; i++) {
		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, i ? "gid_map" : "uid_map");
		n = snprintf(map, sizeof(map), "0 %u 1\n", i ? (unsigned)gid : (unsigned)uid);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, map, (size_t)n) != n)
			r = lc_fail(err, errno, "cannot write %s: %m", path);
		if (fd >= 0)
			close(fd);
	}
	if (r >= 0) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		*ret_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (*ret_fd < 0)
			r = lc_fail(err, errno, "cannot open %s: %m", path);
	}
	if (pid > 0) {
		kill(pid, SIGKILL);
		(void)lc_wait_child(pid, NULL);
	}
	return r;
}

/* A free loop device over @image_fd, read-only and cleared when its last user goes. */
static int loop_attach(int image_fd, int *ret_fd, char *dev, size_t size, lc_error *err)
{
	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	struct loop_config cfg = {.fd = (uint32_t)image_fd,
				  .info = {.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR}};

	if (ctl < 0)
		return lc_fail(err, errno, "/dev/loop-control: %m");
	for (int i = 0; i < LOOP_TRIES; i++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE), fd, e;

		if (n < 0)
			return lc_fail(err, errno, "no free loop device: %m");
		snprintf(dev, size, "/dev/loop%d", n);
		fd = open(dev, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return lc_fail(err, errno, "%s: %m", dev);
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0) {
			*ret_fd = fd;
			return 0;
		}
		e = errno;
		close(fd);
		if (e != EBUSY) /* else another process took it first */
			return lc_fail(err, e, "%s: LOOP_CONFIGURE: %s", dev, strerror(e));
	}
	return lc_fail(err, EBUSY, "no loop device stayed free");
}

static int mount_detached(const char *dev, int *ret_fd, lc_error *err)
{
	_cleanup_close_ int fs = fsopen("squashfs", FSOPEN_CLOEXEC);

	if (fs < 0)
		return lc_fail(err, errno, "fsopen squashfs: %m");
	if (fsconfig(fs, FSCONFIG_SET_STRING, "source", dev, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return lc_fail(err, errno, "cannot mount %s: %m", dev);
	*ret_fd =
	    fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	return *ret_fd < 0 ? lc_fail(err, errno, "fsmount: %m") : 0;
}

int lc_kernel_squashfs_mount(int image_fd, uid_t uid, gid_t gid, int *ret_fd, lc_error *err)
{
	_cleanup_close_ int loop = -1, mnt = -1, userns = -1;
	char dev[32];
	int r = loop_attach(image_fd, &loop, dev, sizeof(dev), err);

	if (r >= 0)
		r = mount_detached(dev, &mnt, err);
	if (r >= 0)
		r = idmap_userns(uid, gid, &userns, err);
	if (r >= 0) {
		struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP,
					  .userns_fd = (uint64_t)userns};

		if (mount_setattr(mnt, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
			r = lc_fail(err, errno, "cannot idmap the image's mount: %m");
	}
	if (r < 0)
		return r;
	*ret_fd = TAKE_FD(mnt);
	return 0; /* closing the loop fd leaves the device to the mount */
}
