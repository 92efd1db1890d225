/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctr-import's progress: the download (from the pull's worker threads) and the conversion
 * (from the main thread), under a lock. On a terminal, one status line redrawn; on a progress
 * fd (the Slurm plugin's, which prints each line in the job's log), a line every few seconds
 * of a long import, and, while another import of the same image is waited for, who it is and
 * how far it got.
 */
#include <stdio.h>
#include <string.h>

#include "progress.h"

double seconds_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Bytes downloaded and expected, and layers finished, so far (with the lock held). */
static size_t downloaded(const progress_state *s, uint64_t *done, uint64_t *total)
{
	size_t finished = 0;

	*done = *total = 0;
	for (size_t i = 0; i < s->layers && i < PROGRESS_LAYERS_MAX; i++) {
		*done += s->done[i];
		*total += s->total[i];
		finished += s->done[i] == s->total[i] && s->total[i];
	}
	return finished;
}

/* With the lock held; at most ten times a second unless @force. */
static void draw(progress_state *s, bool force)
{
	uint64_t done, total;
	size_t finished = downloaded(s, &done, &total);
	double t = seconds_since(&s->start);

	if (!s->tty || (!force && t - s->last_draw < 0.1))
		return;
	s->last_draw = t;
	fprintf(stderr, "\rdownload %zu/%zu layers %.1f/%.1f MB %.1f MB/s | ", finished, s->layers,
		(double)done / 1e6, (double)total / 1e6, t > 0 ? (double)done / 1e6 / t : 0);
	if (s->phase && !strcmp(s->phase, "converting"))
		fprintf(stderr, "converting layer %zu of %zu, %.1f MB   ", s->layers - s->layer,
			s->layers, (double)s->tar_bytes / 1e6);
	else
		fprintf(stderr, "%s   ", s->phase ? s->phase : "waiting");
}

/* A line of this import's progress, every s->every seconds (with the lock held). */
static void line(progress_state *s)
{
	uint64_t done, total;
	double t = seconds_since(&s->start);

	if (s->fd < 0 || t - s->last_line < s->every)
		return;
	s->last_line = t;
	downloaded(s, &done, &total);
	if (s->phase && !strcmp(s->phase, "converting"))
		dprintf(s->fd,
			"importing %s: downloaded %.1f of %.1f MB, merging layer %zu of %zu, "
			"%.1f MB unpacked (%.0f s)\n",
			s->ref, (double)done / 1e6, (double)total / 1e6, s->layers - s->layer,
			s->layers, (double)s->tar_bytes / 1e6, t);
	else
		dprintf(s->fd, "importing %s: downloaded %.1f of %.1f MB, %s (%.0f s)\n", s->ref,
			(double)done / 1e6, (double)total / 1e6, s->phase ? s->phase : "starting",
			t);
}

/* Another import of the image is waited for: who, at once; how far it got, every s->every. */
static void waiting_line(progress_state *s, const lc_import_progress *p)
{
	const char *who = p->holder && p->holder[0] ? p->holder : "another node";
	double t = (double)p->waited_ms / 1e3;

	if (s->fd < 0)
		return;
	if (strncmp(s->holder, who, sizeof(s->holder) - 1)) {
		snprintf(s->holder, sizeof(s->holder), "%s", who);
		s->last_line = seconds_since(&s->start);
		dprintf(s->fd, "waiting for %s to import %s\n", who, s->ref);
		return;
	}
	if (seconds_since(&s->start) - s->last_line < s->every)
		return;
	s->last_line = seconds_since(&s->start);
	if (p->layer_count)
		dprintf(s->fd,
			"waiting for %s to import %s: merging layer %zu of %zu, %.1f MB unpacked "
			"(%.0f s)\n",
			who, s->ref, p->layer_count - p->layer, p->layer_count,
			(double)p->tar_bytes / 1e6, t);
	else
		dprintf(s->fd, "waiting for %s to import %s (%.0f s)\n", who, s->ref, t);
}

int pull_progress(void *u, const lc_progress *p)
{
	progress_state *s = u;

	if (p->index >= PROGRESS_LAYERS_MAX)
		return 0;
	pthread_mutex_lock(&s->lock);
	s->done[p->index] = p->done;
	s->total[p->index] = p->total;
	draw(s, p->finished);
	line(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void import_progress(void *u, const lc_import_progress *p)
{
	static const char *const phases[] = {"converting", "finishing", "done"};
	progress_state *s = u;

	pthread_mutex_lock(&s->lock);
	if (p->phase == LC_IMPORT_WAITING) {
		waiting_line(s, p);
	} else if ((size_t)p->phase < sizeof(phases) / sizeof(*phases)) {
		s->phase = phases[p->phase];
		s->layer = p->layer;
		s->layers = p->layer_count;
		s->tar_bytes = p->tar_bytes;
		draw(s, true);
		line(s);
	}
	pthread_mutex_unlock(&s->lock);
}
