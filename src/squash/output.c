/* SPDX-License-Identifier: Apache-2.0 */
/* Output files appear only when complete: temp file beside the target, fsync, rename. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "squash.h"

int lc_output_open_temp(const char *output, char **ret_path, int *ret_fd, lc_error *err)
{
	_cleanup_free_ char *dcopy = strdup(output);
	_cleanup_free_ char *bcopy = strdup(output);
	char *path = NULL;
	mode_t mask;
	int fd;

	if (!dcopy || !bcopy ||
	    asprintf(&path, "%s/.%s.XXXXXX", dirname(dcopy), basename(bcopy)) < 0)
		return lc_fail(err, ENOMEM, "out of memory");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		int r = lc_fail(err, errno, "create a temporary file beside '%s': %m", output);
		free(path);
		return r;
	}
	mask = umask(0);
	umask(mask);
	(void)fchmod(fd, 0644 & ~mask);
	*ret_path = path;
	*ret_fd = fd;
	return 0;
}

int lc_output_publish(int fd, const char *tmp, const char *output, bool force, lc_error *err)
{
	if (fsync(fd) < 0)
		return lc_fail(err, errno, "fsync '%s': %m", tmp);
	if (force ? rename(tmp, output) < 0
		  : renameat2(AT_FDCWD, tmp, AT_FDCWD, output, RENAME_NOREPLACE) < 0)
		return lc_fail(err, errno,
			       errno == EEXIST ? "'%s' already exists" : "rename to '%s': %m",
			       output);
	return 0;
}
