/* SPDX-License-Identifier: Apache-2.0 */
/* The stand-in driver's devices: the /dev/nvidiaN nodes this process can open. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static int fake_device_count(void)
{
	int n = 0;

	for (int i = 0; i < 64; i++) {
		char path[32];
		int fd;

		snprintf(path, sizeof(path), "/dev/nvidia%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			n++;
		}
	}
	return n;
}
