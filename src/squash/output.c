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

/* ".BASE.HEX" beside @name (which may have a directory part): a fresh random name. */
static char *temp_name(const char *name, int attempt)
{
	const char *slash = strrchr(name, '/');
	int dir_len = slash ? (int)(slash - name + 1) : 0;
	uint64_t rnd = 0;
	char *tmp = NULL;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint64_t)lc_now_ms() * 2654435761u + (uint64_t)attempt;
	if (asprintf(&tmp, "%.*s.%s.%06llx", dir_len, name, name + dir_len,
		     (unsigned long long)(rnd & 0xffffff)) < 0)
		return NULL;
	return tmp;
}

/* A temporary name beside @name made to hold a file: created (@fd < 0, mode @mode, its fd in
 * *@ret_fd) or @fd linked there. */
static int take_temp_name(int dir_fd, const char *name, int fd, mode_t mode, char **ret_tmp,
			  int *ret_fd, lc_error *err)
{
	char self[64];

	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	for (int attempt = 0; attempt < 100; attempt++) {
		char *tmp = temp_name(name, attempt);
		int made;

		if (!tmp)
			return lc_fail(err, ENOMEM, "out of memory");
		made = fd < 0 ? openat(dir_fd, tmp,
				       O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
			      : linkat(AT_FDCWD, self, dir_fd, tmp, AT_SYMLINK_FOLLOW);
		if (made >= 0) {
			if (ret_fd)
				*ret_fd = made;
			*ret_tmp = tmp;
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
		return lc_fail(err, -fd, "create a temporary file beside '%s': %s", name,
			       strerror(-fd));
	return take_temp_name(dir_fd, name, -1, 0644 & ~mask, ret_tmp, ret_fd, err);
}

int lc_output_publish_at(int fd, int dir_fd, const char *tmp, const char *name, bool force,
			 lc_error *err)
{
	_cleanup_free_ char *linked = NULL;
	char self[64];
	int r;

	if (fsync(fd) < 0)
		return lc_fail(err, errno, "fsync '%s': %m", tmp ? tmp : name);
	/* an unnamed file: linked in, or over an existing one through a temporary name, which
	 * only a kill between link and rename could leave */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	if (!tmp && !force) {
		if (linkat(AT_FDCWD, self, dir_fd, name, AT_SYMLINK_FOLLOW) == 0)
			return 0;
		return lc_fail(err, errno,
			       errno == EEXIST ? "'%s' already exists" : "link to '%s': %m", name);
	}
	if (!tmp && (r = take_temp_name(dir_fd, name, fd, 0, &linked, NULL, err)) < 0)
		return r;
	if (renameat2(dir_fd, linked ? linked : tmp, dir_fd, name, force ? 0 : RENAME_NOREPLACE) ==
	    0)
		return 0;
	r = errno;
	if (linked)
		(void)unlinkat(dir_fd, linked, 0);
	if (r == EEXIST || r == EISDIR)
		return lc_fail(err, r,
			       r == EEXIST ? "'%s' already exists" : "'%s': target is a directory",
			       name);
	return lc_fail(err, r, "rename to '%s': %s", name, strerror(r));
}
