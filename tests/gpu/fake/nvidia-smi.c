/* SPDX-License-Identifier: Apache-2.0 */
/* A stand-in for nvidia-smi (this machine has no GPU): "-L" lists the devices that
 * libnvidia-ml.so.1 reports; without arguments, the driver's version. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	void *nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW);
	int (*init)(void);
	int (*count)(unsigned *);
	int (*version)(char *, unsigned);
	char v[80];
	unsigned n = 0;

	if (!nvml) {
		fprintf(stderr,
			"NVIDIA-SMI couldn't find libnvidia-ml.so library in your system.\n");
		return 12;
	}
	init = (int (*)(void))dlsym(nvml, "nvmlInit_v2");
	count = (int (*)(unsigned *))dlsym(nvml, "nvmlDeviceGetCount_v2");
	version = (int (*)(char *, unsigned))dlsym(nvml, "nvmlSystemGetDriverVersion");
	if (!init || !count || !version || init() || count(&n) || version(v, sizeof(v)))
		return 9;
	if (argc > 1 && !strcmp(argv[1], "-L")) {
		for (unsigned i = 0; i < n; i++)
			printf(
			    "GPU %u: NVIDIA Fake GPU (UUID: GPU-6b0ad3c4-0000-4000-8000-%012u)\n",
			    i, i);
		return 0;
	}
	printf("NVIDIA-SMI %s  Driver Version: %s  GPUs: %u\n", v, v, n);
	return 0;
}
