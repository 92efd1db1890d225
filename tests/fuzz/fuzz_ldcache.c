/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: an image's /etc/ld.so.cache (read when the driver's libraries are added to
 * it) and the ELF headers of a library must never crash, hang or leak: parsed, an entry added,
 * written back, the output parsed again; the same bytes read as a shared library. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/runtime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void elf(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz.so", MFD_CLOEXEC);
	char *soname = NULL;
	int32_t flags;

	if (fd < 0)
		return;
	if (write(fd, data, size) == (ssize_t)size && lc_elf_library(fd, &soname, &flags) == 0)
		free(soname);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lc_ldcache *c = NULL, *again = NULL;
	char *out = NULL;
	size_t len = 0;

	elf(data, size);
	if (lc_ldcache_parse((const char *)data, size, &c) < 0)
		return 0;
	if (lc_ldcache_add(c, 0x0303, "libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.1") ==
		0 &&
	    lc_ldcache_write(c, &out, &len) == 0) {
		if (lc_ldcache_parse(out, len, &again) != 0)
			abort(); /* what it writes, it reads */
		lc_ldcache_free(again);
		free(out);
	}
	lc_ldcache_free(c);
	return 0;
}
