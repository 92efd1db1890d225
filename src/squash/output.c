/* SPDX-License-Identifier: Apache-2.0 */
/* Output files appear only when complete: an unnamed file in the target's directory (a named
 * temporary one beside it where the filesystem has none), fsync, link or rename. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "squash.h"

/* An unnamed file (O_TMPFILE) in @name's directory: a killed writer leaves nothing. -errno,
 * -EOPNOTSUPP where the filesystem has no unnamed files (NFS, ...). */
static int open_unnamed(int dir_fd, const char *name, mode_t mode)
{
	const char *slash = strrchr(name, '/');
	_cleanup_free_ char *dir = slash ? strndup(name, (size_t)(slash - name + 1)) : NULL;
	int fd;

	if (slash && !dir)
		return -ENOMEM;
	fd = openat(dir_fd, dir ? dir : ".", O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
	if (fd >= 0)
		return fd;
	return errno == EISDIR || errno == EINVAL ? -EOPNOTSUPP : -errno;
}

/* A named temporary file ".BASE.HEX" beside @name (which may have a directory part). */
static int open_named(int dir_fd, const char *name, mode_t mode, char **ret_tmp, int *ret_fd,
		      lc_error *err)
{
	const char *slash = strrchr(name, '/');
	int dir_len = slash ? (int)(slash - name + 1) : 0;

	for (int attempt = 0; attempt < 100; attempt++) {
		uint64_t rnd = 0;
		char *tmp = NULL;
		int fd;

		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint64_t)lc_now_ms() * 2654435761u + (uint64_t)attempt;
		if (asprintf(&tmp, "%.*s.%s.%06llx", dir_len, name, name + dir_len,
			     (unsigned long long)(rnd & 0xffffff)) < 0)
			return lc_fail(err, ENOMEM, "out of memory");
		fd = openat(dir_fd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd >= 0) {
			*ret_tmp = tmp;
			*ret_fd = fd;
			return 0;
		}
		free(tmp);
		if (errno != EEXIST)
			return lc_fail(err, errno, "create a temporary file beside '%s': %m", name);
	}
	return lc_fail(err, EEXIST, "create a temporary file beside '%s': too many tries", name);
}

int lc_output_open_temp_at(int dir_fd, const char *name, char **ret_tmp, int *ret_fd, lc_error *err)
{
	mode_t mask = umask(0);
	int fd;

	umask(mask);
	*ret_tmp = NULL;
	fd = open_unnamed(dir_fd, name, 0644 & ~mask);
	if (fd >= 0) {
		*ret_fd = fd;
		return 0;
	}
	if (fd != -EOPNOTSUPP)
		return lc_fail(err, -fd, "create a file beside '%s': %s", name, strerror(-fd));
	return open_named(dir_fd, name, 0644 & ~mask, ret_tmp, ret_fd, err);
}

/* The unnamed file @fd linked in at @name; replacing one (@force) goes through a named
 * temporary file, which only a kill between link and rename could leave. */
static int link_unnamed(int fd, int dir_fd, const char *name, bool force, lc_error *err)
{
	_cleanup_free_ char *tmp = NULL;
	char self[64];
	int r;

	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	if (!force) {
		if (linkat(AT_FDCWD, self, dir_fd, name, AT_SYMLINK_FOLLOW) == 0)
			return 0;
		return lc_fail(err, errno,
			       errno == EEXIST ? "'%s' already exists" : "link to '%s': %m", name);
	}
	for (int attempt = 0; attempt < 100; attempt++) {
		_cleanup_close_ int probe = -1;

		free(tmp);
		tmp = NULL;
		r = open_named(dir_fd, name, 0600, &tmp, &probe, err);
		if (r < 0)
			return r;
		(void)unlinkat(dir_fd, tmp, 0); /* a free name, taken at once by the link */
		if (linkat(AT_FDCWD, self, dir_fd, tmp, AT_SYMLINK_FOLLOW) == 0)
			break;
		if (errno != EEXIST)
			return lc_fail(err, errno, "link beside '%s': %m", name);
	}
	if (renameat(dir_fd, tmp, dir_fd, name) == 0)
		return 0;
	r = errno;
	(void)unlinkat(dir_fd, tmp, 0);
	if (r == EISDIR)
		return lc_fail(err, r, "'%s': target is a directory", name);
	return lc_fail(err, r, "rename to '%s': %s", name, strerror(r));
}

int lc_output_publish_at(int fd, int dir_fd, const char *tmp, const char *name, bool force,
			 lc_error *err)
{
	if (fsync(fd) < 0)
		return lc_fail(err, errno, "fsync '%s': %m", tmp ? tmp : name);
	if (!tmp)
		return link_unnamed(fd, dir_fd, name, force, err);
	if (renameat2(dir_fd, tmp, dir_fd, name, force ? 0 : RENAME_NOREPLACE) < 0)
		return lc_fail(err, errno,
			       errno == EEXIST   ? "'%s' already exists"
			       : errno == EISDIR ? "'%s': target is a directory"
						 : "rename to '%s': %m",
			       name);
	return 0;
}
