/* SPDX-License-Identifier: Apache-2.0 */
/* The stand-in driver's devices: the /dev/nvidiaN nodes this process can open (on the host,
 * which has none here, the test's nodes in $FAKE_NVIDIA_DEV). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *fake_dev_dir(void)
{
	const char *dir = getenv("FAKE_NVIDIA_DEV");

	return dir && *dir ? dir : "/dev";
}

static int fake_device_count(void)
{
	int n = 0;

	for (int i = 0; i < 64; i++) {
		char path[4096];
		int fd;

		snprintf(path, sizeof(path), "%s/nvidia%d", fake_dev_dir(), i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			n++;
		}
	}
	return n;
}
