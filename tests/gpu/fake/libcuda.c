/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A stand-in for NVIDIA's libcuda.so (this machine has no GPU): the three driver API calls
 * tests/gpu/cuda-probe.c makes, its device count that of the /dev/nvidiaN nodes it can open.
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
	return access("/dev/nvidiactl", R_OK | W_OK) == 0 ? 0 : 100; /* CUDA_ERROR_NO_DEVICE */
}

int cuDeviceGetCount(int *n)
{
	*n = fake_device_count();
	return 0;
}
