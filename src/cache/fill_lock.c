/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fill lock of a cache entry: one import of an entry at a time, on this node or (a shared
 * directory) on any. Its holder writes in the lock file what it is doing (host, pid, layer,
 * bytes merged), one fixed-size line rewritten in place at most once a second; a caller that
 * waits for the lock hears it once a second (LC_IMPORT_WAITING) while a thread waits.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <unistd.h>

#include "../util/util.h"
#include "cache.h"

#define RECORD_SIZE 128
#define RECORD_MAGIC "lc-fill"
#define REPORT_EVERY_MS 1000

/* The holder's line, padded with spaces to RECORD_SIZE so that a rewrite covers the last. */
static void record_write(int fd, size_t layer, size_t count, uint64_t tar_bytes)
{
	char host[64] = "", line[RECORD_SIZE + 1];
	int n;

	if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
		strcpy(host, "-");
	n = snprintf(line, sizeof(line), RECORD_MAGIC " %s %d %zu %zu %" PRIu64, host,
		     (int)getpid(), layer, count, tar_bytes);
	if (n < 0 || n >= RECORD_SIZE)
		return;
	memset(line + n, ' ', RECORD_SIZE - 1 - (size_t)n);
	line[RECORD_SIZE - 1] = '\n';
	(void)!pwrite(fd, line, RECORD_SIZE, 0);
}

static bool host_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

/* What the holder last wrote, into @p (a line that is not one leaves the holder ""). */
static void record_read(int fd, char host[64], lc_import_progress *p)
{
	char line[RECORD_SIZE + 1];
	ssize_t n = pread(fd, line, RECORD_SIZE, 0);
	size_t layer, count;
	uint64_t bytes;
	int pid;

	host[0] = '\0';
	if (n <= 0)
		return;
	line[n] = '\0';
	if (sscanf(line, RECORD_MAGIC " %63s %d %zu %zu %" SCNu64, host, &pid, &layer, &count,
		   &bytes) != 5 ||
	    count > 1u << 20 || layer > count) {
		host[0] = '\0';
		return;
	}
	for (char *c = host; *c; c++)
		if (!host_char_ok(*c))
			*c = '?';
	p->layer = layer;
	p->layer_count = count;
	p->tar_bytes = bytes;
}

static bool reports_waiting(const lc_import_opts *io)
{
	return io && io->version >= 3 && io->progress;
}

typedef struct lock_wait {
	int fd, done, r;
} lock_wait;

static void *lock_wait_thread(void *arg)
{
	lock_wait *w = arg;

	while ((w->r = flock(w->fd, LOCK_EX)) < 0 && errno == EINTR)
		;
	if (w->r < 0)
		w->r = -errno;
	(void)eventfd_write(w->done, 1);
	return NULL;
}

static void report_waiting(int fd, const lc_import_opts *io, int64_t since)
{
	char host[64];
	lc_import_progress p = {.phase = LC_IMPORT_WAITING, .holder = host};

	record_read(fd, host, &p);
	p.waited_ms = (uint64_t)(lc_now_ms() - since);
	io->progress(io->progress_userdata, &p);
}

/* Wait for @fd's lock in a thread, telling @io what its holder does once a second. */
static int wait_reporting(int fd, const lc_import_opts *io)
{
	lock_wait w = {.fd = fd, .done = eventfd(0, EFD_CLOEXEC)};
	int64_t since = lc_now_ms();
	pthread_t t;

	if (w.done < 0 || pthread_create(&t, NULL, lock_wait_thread, &w) != 0) {
		if (w.done >= 0)
			close(w.done);
		return lc_cache_lock_fd(fd, LOCK_EX);
	}
	for (;;) {
		struct pollfd p = {.fd = w.done, .events = POLLIN};

		report_waiting(fd, io, since);
		if (poll(&p, 1, REPORT_EVERY_MS) > 0)
			break;
	}
	pthread_join(t, NULL);
	close(w.done);
	return w.r;
}

int lc_fill_lock_take(int dir, const char *name, const lc_import_opts *io, int *ret_fd)
{
	_cleanup_close_ int fd = openat(dir, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	int r;

	if (fd < 0)
		return -errno;
	r = lc_cache_lock_fd(fd, LOCK_EX | LOCK_NB);
	if (r == -EWOULDBLOCK)
		r = reports_waiting(io) ? wait_reporting(fd, io) : lc_cache_lock_fd(fd, LOCK_EX);
	if (r < 0)
		return r;
	record_write(fd, 0, 0, 0);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

void lc_fill_lock_release(int *fd)
{
	if (*fd >= 0)
		(void)!ftruncate(*fd, 0); /* the next holder, or nobody, says what it does */
	lc_closep(fd);
}

/* The import's progress: into the record (at most once a second), then to the caller's. */
static void said_progress(void *u, const lc_import_progress *p)
{
	lc_fill_said *s = u;
	int64_t now = lc_now_ms();

	if (p->phase != LC_IMPORT_CONVERTING || now - s->written_ms >= REPORT_EVERY_MS) {
		record_write(s->fd, p->layer, p->layer_count, p->tar_bytes);
		s->written_ms = now;
	}
	if (s->caller && s->caller->progress)
		s->caller->progress(s->caller->progress_userdata, p);
}

void lc_fill_lock_opts(int fd, const lc_import_opts *io, lc_fill_said *s, lc_import_opts *ret)
{
	*ret = (lc_import_opts)LC_IMPORT_OPTS_INIT;
	if (io) { /* field by field: a caller of an older version has a shorter struct */
		ret->version = io->version;
		ret->flags = io->flags;
		ret->compression = io->compression;
		ret->squash_options = io->squash_options;
		ret->block_size = io->block_size;
		ret->threads = io->threads;
		ret->max_file_size = io->version >= 2 ? io->max_file_size : 0;
	}
	*s = (lc_fill_said){.fd = fd, .caller = io};
	ret->progress = said_progress;
	ret->progress_userdata = s;
}
