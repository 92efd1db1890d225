/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Blob downloads and the content-addressed cache.
 *
 * Layout: <cache>/blobs/sha256/<hex> (verified, complete), <cache>/blobs/sha256/.tmp-<hex> (being
 * written), <cache>/locks/sha256-<hex> (flock: one process on the node downloads a blob, the others
 * wait for it and then use the cached file). A blob reaches its final name only through
 * write → fsync → rename in the same directory → fsync of the directory, after its sha256 matched.
 *
 * Downloads run through the transport's queue: every job moves LOCKING → READY → RUNNING →
 * DONE/FAILED, back to READY for a retry (resuming with Range from what was already written).
 * Readers (lc_blob_set_read) follow a blob while it downloads: they pread what is written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry.h"

#define LOCK_POLL_MS 100
#define BLOB_AUTH_TRIES 2
#define WRITE_BUFFER (256u << 10) /* curl hands over 16 KiB at a time: write in bigger pieces */
#define MAX_THREADS 4

typedef enum { JOB_LOCKING, JOB_READY, JOB_RUNNING, JOB_DONE, JOB_FAILED } job_state;

typedef struct blob_job {
	lc_blob_set *set;
	size_t index; /* SIZE_MAX for a blob that is not a layer (the config) */
	char digest[72];
	uint64_t size;
	char *url;
	char tmp_name[80];
	int lock_fd;
	int data_fd; /* temp file while downloading, kept after the rename; -1 when cached */
	lc_sha256 *hash;
	char *buf; /* received, hashed, not yet written */
	size_t buf_len;
	job_state state;
	bool cached;
	bool waiting_logged;
	bool first_body;   /* no body byte seen yet in the current attempt */
	uint64_t written;  /* bytes in the file; guarded by set->mutex (readers) */
	uint64_t read_pos; /* reader's position */
	unsigned attempts;
	unsigned auth_tries;
	unsigned req_auth_gen;
	int64_t not_before_ms;
	lc_http_req req;
	lc_error err;
} blob_job;

/*
 * Threads: the queue runs on up to MAX_THREADS workers (each its own transport run), so that
 * hashing and writing use several cores. Locks, in this order when nested:
 *   sched    - job states, attempts, the registry's auth state: held by queue_next/queue_done;
 *   mutex    - what readers see (written, state, result, cancel, finished), with cond/done_cond;
 *   progress - serialises calls of the progress callback.
 */
struct lc_blob_set {
	lc_http_queue q; /* first: the queue callbacks cast back */
	lc_blob_set_opts o;
	char *dir; /* <cache>/blobs/sha256 */
	char *lock_dir;
	int dir_fd;
	blob_job *jobs;
	size_t n;
	pthread_mutex_t sched;
	pthread_mutex_t mutex;
	pthread_mutex_t progress;
	pthread_cond_t cond;      /* data for readers */
	pthread_cond_t done_cond; /* all workers ended */
	unsigned readers_waiting;
	pthread_t threads[MAX_THREADS];
	unsigned n_threads;
	unsigned running_threads;
	bool cancel;   /* guarded by mutex */
	bool finished; /* workers ended; guarded by mutex */
	int result;    /* first failure */
	lc_error err;
};

char *lc_blob_path(const char *cache_dir, const char *digest)
{
	char *p = NULL;

	if (asprintf(&p, "%s/blobs/sha256/%s", cache_dir, digest + 7) < 0)
		return NULL;
	return p;
}

static const char *hex_of(const blob_job *j)
{
	return j->digest + 7;
}

static void report(blob_job *j, uint64_t done, bool finished)
{
	lc_blob_set *s = j->set;
	lc_progress p = {j->index, j->digest, done, j->size, j->cached, finished};

	int stop;

	if (!s->o.progress)
		return;
	pthread_mutex_lock(&s->progress);
	stop = s->o.progress(s->o.progress_userdata, &p);
	pthread_mutex_unlock(&s->progress);
	if (stop) {
		pthread_mutex_lock(&s->mutex);
		s->cancel = true;
		pthread_mutex_unlock(&s->mutex);
	}
}

/* Readers look at the state under the mutex: every change goes through here (or holds it). */
static void job_set_state(blob_job *j, job_state state)
{
	pthread_mutex_lock(&j->set->mutex);
	j->state = state;
	pthread_mutex_unlock(&j->set->mutex);
}

static void release_lock(blob_job *j)
{
	lc_closep(&j->lock_fd);
	j->lock_fd = -1;
}

/* Called with no mutex held, from the worker (or the caller for a synchronous run). */
static void job_fail(blob_job *j, int code)
{
	lc_blob_set *s = j->set;

	if (j->state == JOB_READY || j->state == JOB_RUNNING)
		(void)unlinkat(s->dir_fd, j->tmp_name, 0);
	release_lock(j);
	pthread_mutex_lock(&s->mutex);
	j->state = JOB_FAILED;
	if (s->result == 0) {
		s->result = code < 0 ? code : -code;
		s->err = j->err;
	}
	s->cancel = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mutex);
}

static void job_done(blob_job *j, bool cached)
{
	lc_blob_set *s = j->set;

	pthread_mutex_lock(&s->mutex);
	j->state = JOB_DONE;
	j->cached = cached;
	j->written = j->size;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mutex);
	report(j, j->size, true);
}

/* The final file exists with the size the manifest declares. */
static bool is_cached(blob_job *j)
{
	struct stat st;

	return fstatat(j->set->dir_fd, hex_of(j), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode) && (uint64_t)st.st_size == j->size;
}

static int open_temp(blob_job *j)
{
	j->data_fd = openat(j->set->dir_fd, j->tmp_name,
			    O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (j->data_fd < 0)
		return lc_fail(&j->err, errno, "create '%s/%s': %m", j->set->dir, j->tmp_name);
	j->hash = lc_sha256_new();
	j->buf = malloc(WRITE_BUFFER);
	if (!j->hash || !j->buf)
		return lc_fail(&j->err, ENOMEM, "blob %s: out of memory", j->digest);
	j->buf_len = 0;
	return 0;
}

/* LOCKING: take the per-digest lock without blocking; decide cached vs download. */
static int job_try_lock(blob_job *j)
{
	_cleanup_free_ char *path = NULL;

	if (j->lock_fd < 0) {
		if (asprintf(&path, "%s/sha256-%s", j->set->lock_dir, hex_of(j)) < 0)
			return lc_fail(&j->err, ENOMEM, "blob lock: out of memory");
		j->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (j->lock_fd < 0)
			return lc_fail(&j->err, errno, "open lock '%s': %m", path);
	}
	if (flock(j->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			return lc_fail(&j->err, errno, "lock blob %s: %m", j->digest);
		if (!j->waiting_logged)
			lc_debug(j->set->o.ctx,
				 "blob %s: another process is downloading it, waiting", j->digest);
		j->waiting_logged = true;
		return 0;
	}
	if (is_cached(j)) { /* another process finished it meanwhile */
		release_lock(j);
		job_done(j, true);
		return 0;
	}
	if (open_temp(j) < 0)
		return -j->err.code;
	job_set_state(j, JOB_READY);
	return 0;
}

static int restart_from_zero(blob_job *j)
{
	lc_sha256 *fresh = lc_sha256_new();

	if (!fresh)
		return -ENOMEM;
	lc_sha256_free(j->hash);
	j->hash = fresh;
	j->buf_len = 0;
	if (ftruncate(j->data_fd, 0) < 0)
		return -errno;
	pthread_mutex_lock(&j->set->mutex);
	j->written = 0;
	pthread_mutex_unlock(&j->set->mutex);
	return 0;
}

/* The answer to a Range request must continue where we stopped; else start over. */
static int check_resume(blob_job *j, lc_http_req *req)
{
	char want[48];

	if (j->written == 0)
		return 0;
	if (req->status == 206) {
		(void)snprintf(want, sizeof(want), "bytes %llu-", (unsigned long long)j->written);
		if (req->content_range && lc_str_has_prefix(req->content_range, want))
			return 0;
		(void)restart_from_zero(j);
		return -EPROTO; /* retried from zero */
	}
	lc_debug(j->set->o.ctx, "blob %s: server ignored the range, downloading from the start",
		 j->digest);
	return restart_from_zero(j);
}

/* Write the buffer to the file and let readers see it. */
static int job_flush(blob_job *j)
{
	lc_blob_set *s = j->set;
	size_t off = 0;
	bool cancel;

	while (off < j->buf_len) {
		ssize_t n =
		    pwrite(j->data_fd, j->buf + off, j->buf_len - off, (off_t)(j->written + off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += (size_t)n;
	}
	pthread_mutex_lock(&s->mutex);
	j->written += j->buf_len;
	if (s->readers_waiting)
		pthread_cond_broadcast(&s->cond);
	cancel = s->cancel;
	pthread_mutex_unlock(&s->mutex);
	j->buf_len = 0;
	return cancel ? -ECANCELED : 0;
}

static int job_body(lc_http_req *req, const void *data, size_t len)
{
	blob_job *j = req->userdata;
	int r;

	if (j->first_body) {
		j->first_body = false;
		r = check_resume(j, req);
		if (r < 0)
			return r;
	}
	if (len > j->size - j->written - j->buf_len)
		return -EFBIG;
	lc_sha256_update(j->hash, data, len);
	while (len > 0) {
		size_t n = WRITE_BUFFER - j->buf_len < len ? WRITE_BUFFER - j->buf_len : len;

		memcpy(j->buf + j->buf_len, data, n);
		j->buf_len += n;
		data = (const char *)data + n;
		len -= n;
		if (j->buf_len == WRITE_BUFFER && (r = job_flush(j)) < 0)
			return r;
	}
	report(j, j->written + j->buf_len, false);
	return 0;
}

/* Verified and complete: make it visible under its final name. */
static int job_commit(blob_job *j)
{
	lc_blob_set *s = j->set;
	char got[72];

	lc_sha256_final_digest(j->hash, got);
	if (strcmp(got, j->digest) != 0)
		return lc_fail_domain(&j->err, LC_DOMAIN_REGISTRY, LC_EDIGEST,
				      "blob %s: digest mismatch (received %s), rejected", j->digest,
				      got);
	if (fsync(j->data_fd) < 0)
		return lc_fail(&j->err, errno, "fsync '%s/%s': %m", s->dir, j->tmp_name);
	if (renameat(s->dir_fd, j->tmp_name, s->dir_fd, hex_of(j)) < 0)
		return lc_fail(&j->err, errno, "rename '%s/%s': %m", s->dir, j->tmp_name);
	(void)fsync(s->dir_fd);
	release_lock(j);
	lc_debug(s->o.ctx, "blob %s: stored (%llu bytes)", j->digest, (unsigned long long)j->size);
	return 0;
}

static lc_http_req *job_request(blob_job *j)
{
	lc_registry *reg = j->set->o.reg;

	if (lc_registry_auth_refresh(reg, &j->err) < 0)
		return NULL;
	lc_http_req_release(&j->req);
	j->req.url = j->url;
	j->req.allow_http = reg->allow_http;
	j->req.headers = lc_registry_headers(reg, false);
	j->req.range_from = j->written;
	j->req.on_body = job_body;
	j->req.userdata = j;
	j->first_body = true;
	j->req_auth_gen = reg->auth_gen;
	if (!j->req.headers) {
		lc_fail(&j->err, ENOMEM, "blob request: out of memory");
		return NULL;
	}
	job_set_state(j, JOB_RUNNING);
	return &j->req;
}

/* Pick the next request; topmost layer first: the import merges layers top-down. */
static bool set_failed(lc_blob_set *s)
{
	bool failed;

	pthread_mutex_lock(&s->mutex);
	failed = s->result != 0;
	pthread_mutex_unlock(&s->mutex);
	return failed;
}

static int next_locked(lc_blob_set *s, lc_http_req **ret, long *ret_wait)
{
	int64_t now = lc_now_ms();
	long wait = -1;

	for (size_t k = 0; k < s->n && !set_failed(s); k++) {
		blob_job *j = &s->jobs[s->n - 1 - k];

		if (j->state == JOB_LOCKING && job_try_lock(j) < 0) {
			job_fail(j, -j->err.code);
			break;
		}
		if (j->state == JOB_LOCKING)
			wait = wait < 0 || wait > LOCK_POLL_MS ? LOCK_POLL_MS : wait;
		if (j->state != JOB_READY)
			continue;
		if (j->not_before_ms > now) {
			long w = (long)(j->not_before_ms - now);
			wait = wait < 0 || wait > w ? w : wait;
			continue;
		}
		*ret = job_request(j);
		if (*ret)
			return 1;
		job_fail(j, -j->err.code);
	}
	*ret_wait = wait;
	return 0;
}

static int queue_next(lc_http_queue *q, lc_http_req **ret, long *ret_wait)
{
	lc_blob_set *s = (lc_blob_set *)q;
	int r;

	pthread_mutex_lock(&s->sched);
	r = next_locked(s, ret, ret_wait);
	pthread_mutex_unlock(&s->sched);
	return r;
}

static void job_retry(blob_job *j, long delay)
{
	j->attempts++;
	j->not_before_ms = lc_now_ms() + delay;
	job_set_state(j, JOB_READY);
}

static int sink_failure(blob_job *j, int sink_error)
{
	if (sink_error == -EFBIG)
		return lc_fail_domain(&j->err, LC_DOMAIN_REGISTRY, LC_EDIGEST,
				      "blob %s: larger than the %llu bytes its manifest declares, "
				      "rejected",
				      j->digest, (unsigned long long)j->size);
	if (sink_error == -ECANCELED)
		return lc_fail(&j->err, LC_ECANCELED, "blob %s: cancelled", j->digest);
	return lc_fail(&j->err, -sink_error, "write '%s/%s': %s", j->set->dir, j->tmp_name,
		       strerror(-sink_error));
}

static void job_finished(lc_blob_set *s, blob_job *j, lc_http_req *req)
{
	char what[96];
	long delay = 0;
	int r = 0;

	(void)snprintf(what, sizeof(what), "blob %s", j->digest);
	/* bytes received before a failure are good: keep them for the resumed request */
	if (j->buf_len && !req->sink_error && (r = job_flush(j)) < 0)
		req->sink_error = r;
	if (req->sink_error == -EPROTO) {
		job_retry(j, 0);
		return;
	}
	if (req->sink_error) {
		job_fail(j, sink_failure(j, req->sink_error));
		return;
	}
	switch (lc_registry_verdict(s->o.reg, req, j->attempts, j->req_auth_gen, what, &delay,
				    &j->err)) {
	case LC_VERDICT_OK:
		if (j->written < j->size) { /* short answer: resume what is missing */
			req->transport_error = -EIO;
			(void)snprintf(req->transport_msg, sizeof(req->transport_msg),
				       "answer ended after %llu of %llu bytes",
				       (unsigned long long)j->written, (unsigned long long)j->size);
			if (lc_registry_verdict(s->o.reg, req, j->attempts, j->req_auth_gen, what,
						&delay, &j->err) == LC_VERDICT_RETRY) {
				job_retry(j, delay);
				return;
			}
			r = -j->err.code;
		} else {
			r = job_commit(j);
		}
		if (r < 0) {
			job_fail(j, r);
			return;
		}
		job_done(j, false);
		return;
	case LC_VERDICT_RETRY:
		job_retry(j, delay);
		return;
	case LC_VERDICT_REAUTH:
		if (++j->auth_tries > BLOB_AUTH_TRIES)
			r = lc_registry_unauthorized(s->o.reg, req, what, &j->err);
		else
			r = lc_registry_authenticate(s->o.reg, req->www_authenticate, &j->err);
		if (r < 0)
			job_fail(j, r);
		else
			job_retry(j, 0);
		return;
	case LC_VERDICT_FAIL:
		job_fail(j, -j->err.code);
		return;
	}
}

static void queue_done(lc_http_queue *q, lc_http_req *req)
{
	lc_blob_set *s = (lc_blob_set *)q;

	pthread_mutex_lock(&s->sched);
	job_finished(s, req->userdata, req);
	pthread_mutex_unlock(&s->sched);
}

static bool queue_aborted(lc_http_queue *q)
{
	lc_blob_set *s = (lc_blob_set *)q;
	bool cancel;

	pthread_mutex_lock(&s->mutex);
	cancel = s->cancel;
	pthread_mutex_unlock(&s->mutex);
	return cancel;
}

/* ---------------------------------------------------------------- set */

static int set_dirs(lc_blob_set *s, lc_error *err)
{
	const char *cache = s->o.cache_dir;

	if (asprintf(&s->dir, "%s/blobs/sha256", cache) < 0 ||
	    asprintf(&s->lock_dir, "%s/locks", cache) < 0)
		return lc_fail(err, ENOMEM, "blob cache: out of memory");
	if (lc_mkdir_p(s->dir, 0700, err) < 0 || lc_mkdir_p(s->lock_dir, 0700, err) < 0)
		return lc_error_prefix(err, -err->code, "blob cache '%s'", cache);
	s->dir_fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dir_fd < 0)
		return lc_fail(err, errno, "open '%s': %m", s->dir);
	return 0;
}

static int job_init(lc_blob_set *s, blob_job *j, const lc_descriptor *d, size_t index,
		    lc_error *err)
{
	j->set = s;
	j->index = index;
	j->lock_fd = j->data_fd = -1;
	memcpy(j->digest, d->digest, sizeof(j->digest));
	j->size = d->size;
	(void)snprintf(j->tmp_name, sizeof(j->tmp_name), ".tmp-%s", hex_of(j));
	if (asprintf(&j->url, "%s/blobs/%s", s->o.reg->base_url, j->digest) < 0) {
		j->url = NULL;
		return lc_fail(err, ENOMEM, "blob: out of memory");
	}
	if (is_cached(j)) {
		j->state = JOB_DONE;
		j->cached = true;
		j->written = j->size;
	}
	return 0;
}

int lc_blob_set_new(const lc_blob_set_opts *o, const lc_descriptor *blobs, size_t n,
		    lc_blob_set **ret, lc_error *err)
{
	lc_blob_set *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return lc_fail(err, ENOMEM, "blob set: out of memory");
	s->q = (lc_http_queue){queue_next, queue_done, queue_aborted};
	s->o = *o;
	s->dir_fd = -1;
	pthread_mutex_init(&s->sched, NULL);
	pthread_mutex_init(&s->mutex, NULL);
	pthread_mutex_init(&s->progress, NULL);
	pthread_cond_init(&s->cond, NULL);
	pthread_cond_init(&s->done_cond, NULL);
	s->jobs = calloc(n ? n : 1, sizeof(*s->jobs));
	s->n = n;
	if (!s->jobs) {
		lc_blob_set_free(s);
		return lc_fail(err, ENOMEM, "blob set: out of memory");
	}
	for (size_t i = 0; i < n; i++)
		s->jobs[i].lock_fd = s->jobs[i].data_fd = -1;
	r = set_dirs(s, err);
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = job_init(s, &s->jobs[i], &blobs[i], o->config_blob ? SIZE_MAX : i, err);
	if (r < 0) {
		lc_blob_set_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

static void report_cached(lc_blob_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->jobs[i].state == JOB_DONE && s->jobs[i].cached)
			report(&s->jobs[i], s->jobs[i].size, true);
}

static int set_result(lc_blob_set *s, lc_error *err)
{
	int r;

	pthread_mutex_lock(&s->mutex);
	r = s->result;
	if (r < 0)
		*err = s->err;
	else if (s->cancel)
		r = lc_fail(err, LC_ECANCELED, "download cancelled");
	pthread_mutex_unlock(&s->mutex);
	return r;
}

/* With the mutex held, when the last worker ended: every job must be done or the set failed. */
static void settle(lc_blob_set *s)
{
	for (size_t i = 0; i < s->n && s->result == 0; i++) {
		if (s->jobs[i].state != JOB_DONE)
			s->result =
			    lc_fail(&s->err, s->cancel ? LC_ECANCELED : EIO, "blob %s: download %s",
				    s->jobs[i].digest, s->cancel ? "cancelled" : "did not finish");
	}
	s->finished = true;
	pthread_cond_broadcast(&s->cond);
	pthread_cond_broadcast(&s->done_cond);
}

static void run_queue(lc_blob_set *s, unsigned slots)
{
	lc_transport *t = s->o.reg->transport;
	lc_error terr = LC_ERROR_INIT;
	int r = t->run(t, &s->q, slots, &terr);

	pthread_mutex_lock(&s->mutex);
	if (r < 0 && s->result == 0) {
		s->result = r;
		s->err = terr;
		s->cancel = true;
	}
	if (--s->running_threads == 0)
		settle(s);
	pthread_mutex_unlock(&s->mutex);
}

int lc_blob_set_run(lc_blob_set *s, lc_error *err)
{
	report_cached(s);
	s->running_threads = 1;
	run_queue(s, s->o.max_parallel);
	return set_result(s, err);
}

static void *worker(void *u)
{
	lc_blob_set *s = u;

	run_queue(s, (s->o.max_parallel + s->n_threads - 1) / s->n_threads);
	return NULL;
}

/* One worker per core (at most MAX_THREADS, at most one per connection or blob to fetch). */
static unsigned worker_count(const lc_blob_set *s)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = cores > 0 ? (unsigned)cores : 1;

	if (n > MAX_THREADS)
		n = MAX_THREADS;
	if (n > s->o.max_parallel)
		n = s->o.max_parallel ? s->o.max_parallel : 1;
	if (n > s->n)
		n = s->n ? (unsigned)s->n : 1;
	return n;
}

int lc_blob_set_start(lc_blob_set *s, lc_error *err)
{
	unsigned want = worker_count(s);

	if (s->n_threads)
		return lc_fail(err, EALREADY, "downloads already started");
	report_cached(s);
	pthread_mutex_lock(&s->mutex);
	s->running_threads = want;
	s->n_threads = want;
	pthread_mutex_unlock(&s->mutex);
	for (unsigned i = 0; i < want; i++) {
		int r = pthread_create(&s->threads[i], NULL, worker, s);
		if (r == 0)
			continue;
		/* the workers already running finish the queue; account for the missing ones */
		pthread_mutex_lock(&s->mutex);
		s->n_threads = i;
		s->running_threads -= want - i;
		if (i == 0)
			settle(s);
		pthread_mutex_unlock(&s->mutex);
		if (i == 0)
			return lc_fail(err, r, "start download thread: %s", strerror(r));
		break;
	}
	return 0;
}

static void join_workers(lc_blob_set *s)
{
	for (unsigned i = 0; i < s->n_threads; i++)
		pthread_join(s->threads[i], NULL);
	s->n_threads = 0;
}

int lc_blob_set_wait(lc_blob_set *s, lc_error *err)
{
	if (!s->n_threads && !s->finished)
		return lc_fail(err, EINVAL, "downloads were not started");
	pthread_mutex_lock(&s->mutex);
	while (!s->finished)
		pthread_cond_wait(&s->done_cond, &s->mutex);
	pthread_mutex_unlock(&s->mutex);
	join_workers(s);
	return set_result(s, err);
}

/* With the mutex held: wait until job @j has bytes past the reader's position or ended. */
static int wait_for_data(lc_blob_set *s, blob_job *j, lc_error *err)
{
	for (;;) {
		if (j->state == JOB_FAILED) {
			*err = j->err;
			return -j->err.code;
		}
		if (j->state == JOB_DONE || j->read_pos < j->written)
			return 0;
		if (s->result < 0 || s->finished) {
			*err = s->err;
			return s->result < 0
				   ? s->result
				   : lc_fail(err, EIO, "blob %s: download ended", j->digest);
		}
		s->readers_waiting++;
		pthread_cond_wait(&s->cond, &s->mutex);
		s->readers_waiting--;
	}
}

static int open_cached(lc_blob_set *s, blob_job *j, lc_error *err)
{
	if (j->data_fd >= 0)
		return 0;
	j->data_fd = openat(s->dir_fd, hex_of(j), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (j->data_fd < 0)
		return lc_fail(err, errno, "open '%s/%s': %m", s->dir, hex_of(j));
	return 0;
}

int lc_blob_set_read(lc_blob_set *s, size_t index, void *buf, size_t len, size_t *ret_n,
		     lc_error *err)
{
	blob_job *j;
	uint64_t avail;
	ssize_t n;
	int r;

	if (index >= s->n)
		return lc_fail(err, EINVAL, "no layer %zu", index);
	j = &s->jobs[index];
	for (;;) {
		pthread_mutex_lock(&s->mutex);
		r = wait_for_data(s, j, err);
		avail = j->written > j->read_pos ? j->written - j->read_pos : 0;
		bool done = j->state == JOB_DONE;
		if (r >= 0 && done)
			r = open_cached(s, j, err);
		pthread_mutex_unlock(&s->mutex);
		if (r < 0)
			return r;
		if (avail == 0 && done) {
			*ret_n = 0;
			return 0;
		}
		n = pread(j->data_fd, buf, len < avail ? len : (size_t)avail, (off_t)j->read_pos);
		if (n < 0 && errno != EINTR)
			return lc_fail(err, errno, "read blob %s: %m", j->digest);
		if (n > 0) {
			j->read_pos += (uint64_t)n;
			*ret_n = (size_t)n;
			return 0;
		}
		/* n == 0: the file was truncated for a restart; wait for the bytes again */
	}
}

lc_blob_set *lc_blob_set_free(lc_blob_set *s)
{
	if (!s)
		return NULL;
	pthread_mutex_lock(&s->mutex);
	s->cancel = true;
	pthread_mutex_unlock(&s->mutex);
	join_workers(s);
	for (size_t i = 0; s->jobs && i < s->n; i++) {
		blob_job *j = &s->jobs[i];

		if ((j->state == JOB_READY || j->state == JOB_RUNNING) && s->dir_fd >= 0)
			(void)unlinkat(s->dir_fd, j->tmp_name, 0);
		release_lock(j);
		lc_closep(&j->data_fd);
		lc_sha256_free(j->hash);
		free(j->buf);
		lc_http_req_release(&j->req);
		free(j->url);
	}
	free(s->jobs);
	lc_closep(&s->dir_fd);
	free(s->dir);
	free(s->lock_dir);
	pthread_mutex_destroy(&s->sched);
	pthread_mutex_destroy(&s->mutex);
	pthread_mutex_destroy(&s->progress);
	pthread_cond_destroy(&s->cond);
	pthread_cond_destroy(&s->done_cond);
	free(s);
	return NULL;
}
