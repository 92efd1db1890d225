/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A CUDA program as small as can be: dlopen libcuda.so.1 as the CUDA runtime does, and print
 * the driver's CUDA version and the number of devices it can use. Used in the container, with
 * the test's stand-in driver (tests/gpu/fake) or a real one (tests/gpu/check.sh).
 */
#include <dlfcn.h>
#include <stdio.h>

typedef int (*init_fn)(unsigned);
typedef int (*count_fn)(int *);
typedef int (*version_fn)(int *);

int main(void)
{
	void *cuda = dlopen("libcuda.so.1", RTLD_NOW);
	init_fn init;
	count_fn count;
	version_fn version;
	int n = 0, v = 0, r;

	if (!cuda) {
		printf("no libcuda.so.1: %s\n", dlerror());
		return 1;
	}
	init = (init_fn)dlsym(cuda, "cuInit");
	count = (count_fn)dlsym(cuda, "cuDeviceGetCount");
	version = (version_fn)dlsym(cuda, "cuDriverGetVersion");
	if (!init || !count || !version) {
		printf("libcuda.so.1 lacks cuInit, cuDeviceGetCount or cuDriverGetVersion\n");
		return 1;
	}
	if (version(&v) != 0 || (r = init(0)) != 0) {
		printf("cuInit failed: %d\n", r);
		return 1;
	}
	if (count(&n) != 0) {
		printf("cuDeviceGetCount failed\n");
		return 1;
	}
	printf("cuda %d.%d devices %d\n", v / 1000, v % 1000 / 10, n);
	return 0;
}
