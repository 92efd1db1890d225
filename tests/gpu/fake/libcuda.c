/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A stand-in for NVIDIA's libcuda.so (this machine has no GPU): the driver API calls
 * tests/gpu/cuda-probe.c and the runtime's requirement check make, its device count that of
 * the /dev/nvidiaN nodes it can open.
 */
#include <stdlib.h>

#include "devices.h"

int cuDriverGetVersion(int *v)
{
	/* a driver that hangs (the runtime's probe must not wait for it forever) */
	while (getenv("FAKE_CUDA_HANG"))
		pause();
	*v = FAKE_CUDA_VERSION;
	return 0;
}

int cuInit(unsigned flags)
{
	(void)flags;
	char ctl[4096];

	snprintf(ctl, sizeof(ctl), "%s/nvidiactl", fake_dev_dir());
	return access(ctl, R_OK | W_OK) == 0 ? 0 : 100; /* CUDA_ERROR_NO_DEVICE */
}

int cuDeviceGetCount(int *n)
{
	*n = fake_device_count();
	return 0;
}

int cuDeviceGet(int *dev, int ordinal)
{
	*dev = ordinal;
	return ordinal < fake_device_count() ? 0 : 101; /* CUDA_ERROR_INVALID_DEVICE */
}

/* the compute capability of a Hopper GPU: 9.0 */
int cuDeviceGetAttribute(int *v, int attr, int dev)
{
	(void)dev;
	*v = attr == 75 ? 9 : 0;
	return attr == 75 || attr == 76 ? 0 : 1;
}
