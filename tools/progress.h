/* SPDX-License-Identifier: Apache-2.0 */
/* ctr-import's progress: a status line on a terminal, or lines for a caller on a pipe. */
#ifndef LC_TOOLS_PROGRESS_H
#define LC_TOOLS_PROGRESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <libcontainer/libcontainer.h>

#define PROGRESS_LAYERS_MAX 1024

typedef struct progress_state {
	pthread_mutex_t lock;
	bool tty;        /* the status line on stderr */
	int fd;          /* lines (the Slurm plugin's progress pipe); -1: none */
	double every;    /* seconds between lines */
	const char *ref; /* the image, as given */
	size_t layers;
	uint64_t done[PROGRESS_LAYERS_MAX], total[PROGRESS_LAYERS_MAX];
	const char *phase;
	size_t layer;
	uint64_t tar_bytes;
	struct timespec start;
	double last_draw, last_line; /* seconds since start */
	char holder[64];             /* the import waited for, as last told */
} progress_state;

#define PROGRESS_STATE_INIT                                              \
	{                                                                \
		.lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1, .every = 10 \
	}

double seconds_since(const struct timespec *t0);
/* lc_pull_opts and lc_import_opts callbacks, on a progress_state. */
int pull_progress(void *u, const lc_progress *p);
void import_progress(void *u, const lc_import_progress *p);

#endif
