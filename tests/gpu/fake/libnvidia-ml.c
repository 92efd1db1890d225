/* SPDX-License-Identifier: Apache-2.0 */
/* A stand-in for NVIDIA's libnvidia-ml.so (this machine has no GPU): what fake nvidia-smi uses. */
#include <string.h>

#include "devices.h"

int nvmlInit_v2(void)
{
	return 0;
}

int nvmlDeviceGetCount_v2(unsigned *n)
{
	*n = (unsigned)fake_device_count();
	return 0;
}

int nvmlSystemGetDriverVersion(char *v, unsigned len)
{
	snprintf(v, len, "%s", FAKE_DRIVER_VERSION);
	return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned i, void **dev)
{
	*dev = (void *)(unsigned long)(i + 1);
	return i < (unsigned)fake_device_count() ? 0 : 2; /* NVML_ERROR_INVALID_ARGUMENT */
}

/* NVML_BRAND_TESLA */
int nvmlDeviceGetBrand(void *dev, int *brand)
{
	(void)dev;
	*brand = 2;
	return 0;
}

int nvmlShutdown(void)
{
	return 0;
}
