/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: a squashfs file a user hands over (the plugin opens it and reads its image
 * config as root in slurmstepd): the image config (our xattr, or enroot's /etc/environment and
 * /etc/rc) and a walk of every entry (names, links, xattrs) never crash, hang or leak, and
 * errors are one line. The input is the whole file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libcontainer/libcontainer.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count(void *u, const lc_squash_entry *e)
{
	if (!e->path || e->path[0] != '/')
		abort();
	return ++*(size_t *)u > 100000 ? -1 : 0; /* a bound, whatever the tables claim */
}

static void one_line(const lc_error *err)
{
	if (err->msg[0] == '\0' || strchr(err->msg, '\n'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char path[64];
	lc_error err = LC_ERROR_INIT;
	lc_image *img = NULL;
	size_t entries = 0;
	int r;

	if (fd < 0 && (fd = memfd_create("fuzz.sqsh", MFD_CLOEXEC)) < 0)
		abort();
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = lc_squash_image_config(path, &img, &err);
	if (r < 0)
		one_line(&err);
	lc_image_free(img);
	err = (lc_error)LC_ERROR_INIT;
	if (lc_squash_list(path, count, &entries, &err) < 0 && entries <= 100000)
		one_line(&err);
	return 0;
}
