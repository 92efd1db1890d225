/* SPDX-License-Identifier: Apache-2.0 */
/* Output files appear only when complete: temp file beside the target, fsync, rename. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "squash.h"

/* @name may have a directory part: the temporary file goes beside it, ".BASE.HEX". */
int lc_output_open_temp_at(int dir_fd, const char *name, char **ret_tmp, int *ret_fd, lc_error *err)
{
	const char *slash = strrchr(name, '/');
	int dir_len = slash ? (int)(slash - name + 1) : 0;
	mode_t mask = umask(0);

	umask(mask);
	for (int attempt = 0; attempt < 100; attempt++) {
		uint64_t rnd = 0;
		char *tmp = NULL;
		int fd;

		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint64_t)lc_now_ms() * 2654435761u + (uint64_t)attempt;
		if (asprintf(&tmp, "%.*s.%s.%06llx", dir_len, name, name + dir_len,
			     (unsigned long long)(rnd & 0xffffff)) < 0)
			return lc_fail(err, ENOMEM, "out of memory");
		fd = openat(dir_fd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0644 & ~mask);
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

int lc_output_publish_at(int fd, int dir_fd, const char *tmp, const char *name, bool force,
			 lc_error *err)
{
	if (fsync(fd) < 0)
		return lc_fail(err, errno, "fsync '%s': %m", tmp);
	if (renameat2(dir_fd, tmp, dir_fd, name, force ? 0 : RENAME_NOREPLACE) < 0)
		return lc_fail(err, errno,
			       errno == EEXIST   ? "'%s' already exists"
			       : errno == EISDIR ? "'%s': target is a directory"
						 : "rename to '%s': %m",
			       name);
	return 0;
}
