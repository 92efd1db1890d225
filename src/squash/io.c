/* SPDX-License-Identifier: Apache-2.0 */
/* libsquashfs file objects on file descriptors we opened ourselves (never by path), and the
 * translation of libsquashfs error codes. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <sqfs/error.h>

#include "squash.h"

static int fd_read_at(sqfs_file_t *f, sqfs_u64 off, void *buf, size_t size)
{
	lc_fd_file *ff = (lc_fd_file *)f;

	if (ff->budget) {
		if (*ff->budget < size)
			return *ff->budget = 0, SQFS_ERROR_OVERFLOW;
		*ff->budget -= size;
	}
	while (size > 0) {
		ssize_t n = pread(ff->fd, buf, size, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ff->error = n < 0 ? errno : 0;
			return n < 0 ? SQFS_ERROR_IO : SQFS_ERROR_OUT_OF_BOUNDS;
		}
		buf = (char *)buf + n;
		size -= (size_t)n;
		off += (sqfs_u64)n;
	}
	return 0;
}

static int fd_write_at(sqfs_file_t *f, sqfs_u64 off, const void *buf, size_t size)
{
	lc_fd_file *ff = (lc_fd_file *)f;
	uint64_t end = off + size;

	while (size > 0) {
		ssize_t n = pwrite(ff->fd, buf, size, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ff->error = n < 0 ? errno : EIO;
			return SQFS_ERROR_IO;
		}
		buf = (const char *)buf + n;
		size -= (size_t)n;
		off += (sqfs_u64)n;
	}
	if (end > ff->size)
		ff->size = end;
	return 0;
}

static sqfs_u64 fd_get_size(const sqfs_file_t *f)
{
	return ((const lc_fd_file *)f)->size;
}

static int fd_truncate(sqfs_file_t *f, sqfs_u64 size)
{
	lc_fd_file *ff = (lc_fd_file *)f;

	if (ftruncate(ff->fd, (off_t)size) < 0) {
		ff->error = errno;
		return SQFS_ERROR_IO;
	}
	ff->size = size;
	return 0;
}

static void fd_destroy(sqfs_object_t *o)
{
	(void)o; /* embedded in its owner, which also owns the fd */
}

void lc_fd_file_init(lc_fd_file *f, int fd, uint64_t size)
{
	*f = (lc_fd_file){{{fd_destroy, NULL}, fd_read_at, fd_write_at, fd_get_size, fd_truncate},
			  fd,
			  size,
			  NULL,
			  0};
}

int lc_sqfs_file_fail(const lc_fd_file *f, lc_error *err, int sqfs_code, const char *what)
{
	if (sqfs_code == SQFS_ERROR_IO && f->error)
		return lc_fail(err, f->error, "squashfs %s: %s", what, strerror(f->error));
	return lc_sqfs_fail(err, sqfs_code, what);
}

int lc_sqfs_fail(lc_error *err, int sqfs_code, const char *what)
{
	static const struct {
		int code;
		const char *text;
	} map[] = {
	    {SQFS_ERROR_ALLOC, "out of memory"},
	    {SQFS_ERROR_IO, "input/output error"},
	    {SQFS_ERROR_COMPRESSOR, "compressor failure"},
	    {SQFS_ERROR_OVERFLOW, "a number is too large for squashfs"},
	    {SQFS_ERROR_OUT_OF_BOUNDS, "read out of bounds"},
	    {SQFS_ERROR_ARG_INVALID, "invalid argument"},
	    {SQFS_ERROR_SEQUENCE, "wrong call sequence"},
	};
	const char *text = "libsquashfs error";

	for (size_t i = 0; i < LC_ELEMENTSOF(map); i++)
		if (map[i].code == sqfs_code)
			text = map[i].text;
	return lc_fail(err, sqfs_code == SQFS_ERROR_ALLOC ? ENOMEM : EIO, "squashfs %s: %s (%d)",
		       what, text, sqfs_code);
}
