/* SPDX-License-Identifier: Apache-2.0 */
/* Small file helpers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int lc_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int lc_fd_read_all(int fd, const char *name, size_t max, char **ret_data, size_t *ret_len,
		   lc_error *err)
{
	lc_buf b = LC_BUF_INIT;
	struct stat st;
	char chunk[16384];

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return lc_fail(err, EINVAL, "'%s' is not a regular file", name);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = lc_fail(err, errno, "read '%s': %m", name);
			lc_buf_free(&b);
			return r;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > max) {
			lc_buf_free(&b);
			return lc_fail(err, EFBIG, "'%s' is larger than %zu bytes", name, max);
		}
		if (lc_buf_append(&b, chunk, (size_t)n) < 0) {
			lc_buf_free(&b);
			return lc_fail(err, ENOMEM, "read '%s': out of memory", name);
		}
	}
	if (ret_len)
		*ret_len = b.len;
	*ret_data = lc_buf_steal(&b);
	return *ret_data ? 0 : lc_fail(err, ENOMEM, "read '%s': out of memory", name);
}

int lc_file_read_all(const char *path, size_t max, char **ret_data, size_t *ret_len, lc_error *err)
{
	/* O_NONBLOCK: a FIFO in the file's place is refused, never waited on */
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return lc_fail(err, errno, "open '%s': %m", path);
	return lc_fd_read_all(fd, path, max, ret_data, ret_len, err);
}

int lc_file_read_at(int dir_fd, const char *name, size_t max, char **ret_data, size_t *ret_len,
		    lc_error *err)
{
	_cleanup_close_ int fd =
	    openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return lc_fail(err, errno, "open '%s': %m", name);
	return lc_fd_read_all(fd, name, max, ret_data, ret_len, err);
}

int lc_file_replace_at(int dir_fd, const char *name, const void *data, size_t len, unsigned mode)
{
	_cleanup_close_ int fd = -1;

	(void)unlinkat(dir_fd, name, 0);
	fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	return fd < 0 ? -errno : lc_write_all(fd, data, len);
}

int lc_mkdir_p(const char *path, unsigned mode, lc_error *err)
{
	_cleanup_free_ char *copy = strdup(path);

	if (!copy)
		return lc_fail(err, ENOMEM, "mkdir: out of memory");
	for (char *p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST)
			return lc_fail(err, errno, "mkdir '%s': %m", copy);
		*p = saved;
		if (saved == '\0')
			break;
	}
	return 0;
}

/* A directory its owner may not read: made readable through an O_PATH descriptor (never
 * following a link), then opened. */
static int open_after_chmod(int dir_fd, const char *name, mode_t mode)
{
	char path[64];
	int pfd = openat(dir_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), e;

	if (pfd < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", pfd);
	e = chmod(path, mode) < 0 ? errno : 0;
	close(pfd);
	if (e) {
		errno = e;
		return -1;
	}
	return openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int lc_rm_rf_at(int dir_fd, const char *name)
{
	struct stat st;
	int r = 0, fd;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dir_fd, name, 0) < 0 ? -errno : 0;
	fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == EACCES) /* e.g. overlayfs's work/work (mode 0) for its owner */
		fd = open_after_chmod(dir_fd, name, (st.st_mode & 07777) | S_IRWXU);
	if (fd < 0)
		return -errno;
	(void)fchmod(fd, (st.st_mode & 07777) | S_IRWXU);
	r = lc_rm_rf_children(fd, NULL);
	close(fd);
	if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && r == 0)
		r = -errno;
	return r;
}

DIR *lc_opendir_at(int dir_fd, const char *name)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d && fd >= 0) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return d;
}

int lc_rm_rf_children(int dir_fd, const char *keep)
{
	DIR *d = lc_opendir_at(dir_fd, ".");
	struct dirent *de;
	int r = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		int q;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    (keep && !strcmp(de->d_name, keep)))
			continue;
		q = lc_rm_rf_at(dirfd(d), de->d_name);
		if (q < 0 && r == 0)
			r = q;
	}
	closedir(d);
	return r;
}

bool lc_fd_is_at(int fd, int dir_fd, const char *name)
{
	struct stat held, now;

	return fstat(fd, &held) == 0 && fstatat(dir_fd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
	       held.st_dev == now.st_dev && held.st_ino == now.st_ino;
}

bool lc_fsids_become(uid_t uid, gid_t gid)
{
	if (geteuid() != 0 || uid == 0)
		return false;
	setfsgid(gid);
	setfsuid(uid);
	return true;
}

void lc_fsids_restore(bool switched)
{
	if (!switched)
		return;
	setfsuid(0);
	setfsgid(0);
}
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

bool lc_injected(const struct stat *st)
{
	return st->st_mtim.tv_sec == 0 && st->st_mtim.tv_nsec == LC_INJECTED_NSEC;
}

bool lc_rebuilt(const struct stat *st)
{
	return st->st_mtim.tv_sec == 0 && st->st_mtim.tv_nsec == LC_REBUILT_NSEC;
}

int lc_mark_at(int dir_fd, const char *name, long nsec)
{
	const struct timespec ts[2] = {{0, nsec}, {0, nsec}};

	return utimensat(dir_fd, name, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

int lc_fd_reopen(int fd, int flags)
{
	char self[64];
	int r;

	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	r = open(self, flags | O_CLOEXEC);
	return r < 0 ? -errno : r;
}
