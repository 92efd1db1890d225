/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP transport on libcurl's multi interface (https://curl.se/libcurl/c/libcurl-multi.html):
 * one loop runs up to max_parallel transfers, taking work from an lc_http_queue. Retries, auth
 * and resumption are the queue's business; this file only moves bytes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "lc-config.h"
#include "registry.h"

#define USER_AGENT "libcontainer/" LC_VERSION_STRING
#define LOW_SPEED_LIMIT 1024

/* ---------------------------------------------------------------- request helpers */

void lc_http_req_reset(lc_http_req *req)
{
	free(req->www_authenticate);
	free(req->content_type);
	free(req->retry_after);
	free(req->content_range);
	req->www_authenticate = req->content_type = req->retry_after = req->content_range = NULL;
	lc_buf_free(&req->error_body);
	req->status = 0;
	req->transport_error = 0;
	req->sink_error = 0;
	req->transport_msg[0] = '\0';
}

void lc_http_req_release(lc_http_req *req)
{
	lc_http_req_reset(req);
	lc_strv_free(req->headers);
	req->headers = NULL;
}

static void set_header(char **slot, const char *value, size_t len)
{
	free(*slot);
	*slot = strndup(value, len);
}

void lc_http_req_header_line(lc_http_req *req, const char *line, size_t len)
{
	static const struct {
		const char *name;
		size_t off;
	} wanted[] = {
	    {"www-authenticate:", offsetof(lc_http_req, www_authenticate)},
	    {"content-type:", offsetof(lc_http_req, content_type)},
	    {"retry-after:", offsetof(lc_http_req, retry_after)},
	    {"content-range:", offsetof(lc_http_req, content_range)},
	};

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len > 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* a new answer (after a redirect or 100-continue): forget the previous one */
		const char *sp = memchr(line, ' ', len);
		lc_http_req_reset(req);
		req->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		return;
	}
	for (size_t i = 0; i < LC_ELEMENTSOF(wanted); i++) {
		size_t n = strlen(wanted[i].name);

		if (len >= n && strncasecmp(line, wanted[i].name, n) == 0) {
			const char *v = line + n;
			while (v < line + len && (*v == ' ' || *v == '\t'))
				v++;
			set_header((char **)((char *)req + wanted[i].off), v,
				   (size_t)(line + len - v));
			return;
		}
	}
}

int lc_http_req_body(lc_http_req *req, const void *data, size_t len)
{
	if (req->status >= 200 && req->status < 300) {
		int r = req->on_body ? req->on_body(req, data, len) : 0;
		if (r < 0)
			req->sink_error = r;
		return r;
	}
	if (req->error_body.len < LC_HTTP_ERROR_BODY_MAX) {
		size_t room = LC_HTTP_ERROR_BODY_MAX - req->error_body.len;
		(void)lc_buf_append(&req->error_body, data, len < room ? len : room);
	}
	return 0;
}

void lc_http_queue_serve(lc_http_queue *q, void (*serve)(void *userdata, lc_http_req *req),
			 void *userdata)
{
	while (!q->aborted(q)) {
		lc_http_req *req = NULL;
		long wait = -1;

		if (q->next(q, &req, &wait) != 1) {
			if (wait < 0)
				break;
			lc_sleep_ms(wait);
			continue;
		}
		lc_http_req_reset(req);
		serve(userdata, req);
		q->done(q, req);
	}
}

/* ---------------------------------------------------------------- curl transport */

typedef struct curl_transport {
	lc_transport base;
	lc_transport_opts opts;
	CURLSH *share;
	pthread_mutex_t share_lock;
} curl_transport;

typedef struct transfer {
	struct transfer *next; /* list of running transfers */
	CURL *easy;
	struct curl_slist *headers;
	lc_http_req *req;
	char range[32];
} transfer;

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *u)
{
	(void)h, (void)data, (void)access;
	pthread_mutex_lock(&((curl_transport *)u)->share_lock);
}

static void share_unlock(CURL *h, curl_lock_data data, void *u)
{
	(void)h, (void)data;
	pthread_mutex_unlock(&((curl_transport *)u)->share_lock);
}

static size_t on_header(char *data, size_t size, size_t n, void *u)
{
	lc_http_req_header_line(((transfer *)u)->req, data, size * n);
	return size * n;
}

static size_t on_write(char *data, size_t size, size_t n, void *u)
{
	return lc_http_req_body(((transfer *)u)->req, data, size * n) < 0 ? 0 : size * n;
}

static void transfer_free(transfer *x)
{
	if (!x)
		return;
	if (x->easy)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	free(x);
}

static int transfer_headers(transfer *x)
{
	for (char **h = x->req->headers; h && *h; h++) {
		struct curl_slist *l = curl_slist_append(x->headers, *h);
		if (!l)
			return -ENOMEM;
		x->headers = l;
	}
	return 0;
}

static transfer *transfer_new(curl_transport *t, lc_http_req *req)
{
	const char *protocols = req->allow_http ? "http,https" : "https";
	transfer *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->req = req;
	x->easy = curl_easy_init();
	if (!x->easy || transfer_headers(x) < 0) {
		transfer_free(x);
		return NULL;
	}
	CURL *e = x->easy;
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, protocols);
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, req->transport_msg);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)t->opts.connect_timeout_s);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, (long)LOW_SPEED_LIMIT);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)t->opts.low_speed_time_s);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L * 1024);
	curl_easy_setopt(e, CURLOPT_SHARE, t->share);
	if (req->head)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	if (req->range_from > 0) {
		(void)snprintf(x->range, sizeof(x->range), "%llu-",
			       (unsigned long long)req->range_from);
		curl_easy_setopt(e, CURLOPT_RANGE, x->range);
	}
	return x;
}

/* -EPROTO for failures that a retry cannot cure (TLS, protocol, URL); -EIO/-ETIMEDOUT else. */
static int transport_error_of(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_USE_SSL_FAILED:
		return -EPROTO;
	default:
		return -EIO;
	}
}

static void transfer_finish(transfer *x, CURLcode rc)
{
	lc_http_req *req = x->req;
	long status = 0;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	req->status = status;
	if (rc == CURLE_OK || req->sink_error)
		return;
	req->transport_error = transport_error_of(rc);
	if (!req->transport_msg[0])
		(void)snprintf(req->transport_msg, sizeof(req->transport_msg), "%s",
			       curl_easy_strerror(rc));
}

typedef struct run_state {
	CURLM *multi;
	transfer *list;
	unsigned running;
	bool no_more;
	long wait_ms;
} run_state;

/* Start what the queue has ready, up to @max transfers. */
static int fill_slots(curl_transport *t, lc_http_queue *q, run_state *s, unsigned max,
		      lc_error *err)
{
	s->wait_ms = 1000;
	while (s->running < max) {
		lc_http_req *req = NULL;
		long wait = -1;
		transfer *x;

		if (q->next(q, &req, &wait) != 1) {
			s->no_more = wait < 0;
			if (wait >= 0 && wait < s->wait_ms)
				s->wait_ms = wait;
			return 0;
		}
		lc_http_req_reset(req);
		x = transfer_new(t, req);
		if (!x || curl_multi_add_handle(s->multi, x->easy) != CURLM_OK) {
			transfer_free(x);
			return lc_fail(err, ENOMEM, "http: cannot start a transfer");
		}
		x->next = s->list;
		s->list = x;
		s->running++;
	}
	return 0;
}

static void finish_one(run_state *s, lc_http_queue *q, CURL *easy, CURLcode rc, bool aborted)
{
	transfer *x = NULL;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
	curl_multi_remove_handle(s->multi, easy);
	for (transfer **p = &s->list; *p; p = &(*p)->next) {
		if (*p == x) {
			*p = x->next;
			break;
		}
	}
	transfer_finish(x, rc);
	if (aborted) {
		x->req->transport_error = -ECANCELED;
		(void)snprintf(x->req->transport_msg, sizeof(x->req->transport_msg), "cancelled");
	}
	s->running--;
	q->done(q, x->req);
	transfer_free(x);
}

/* Collect finished transfers; returns how many finished. */
static unsigned reap(run_state *s, lc_http_queue *q)
{
	unsigned finished = 0;
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(s->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		finish_one(s, q, m->easy_handle, m->data.result, false);
		finished++;
	}
	return finished;
}

static void abort_all(run_state *s, lc_http_queue *q)
{
	while (s->list)
		finish_one(s, q, s->list->easy, CURLE_ABORTED_BY_CALLBACK, true);
}

static int curl_run(lc_transport *base, lc_http_queue *q, unsigned max_parallel, lc_error *err)
{
	curl_transport *t = (curl_transport *)base;
	run_state s = {.multi = curl_multi_init()};
	int r = 0, still;

	if (!s.multi)
		return lc_fail(err, ENOMEM, "http: cannot create a curl multi handle");
	for (;;) {
		if (q->aborted(q)) {
			abort_all(&s, q);
			break;
		}
		r = fill_slots(t, q, &s, max_parallel ? max_parallel : 1, err);
		if (r < 0)
			break;
		if (s.running == 0) {
			if (s.no_more)
				break;
			lc_sleep_ms(s.wait_ms);
			continue;
		}
		curl_multi_perform(s.multi, &still);
		if (reap(&s, q) == 0)
			curl_multi_poll(s.multi, NULL, 0, (int)(s.wait_ms < 200 ? s.wait_ms : 200),
					NULL);
	}
	if (r < 0)
		abort_all(&s, q);
	curl_multi_cleanup(s.multi);
	return r;
}

static void curl_transport_free(lc_transport *base)
{
	curl_transport *t = (curl_transport *)base;

	curl_share_cleanup(t->share);
	pthread_mutex_destroy(&t->share_lock);
	free(t);
}

int lc_transport_curl_new(const lc_transport_opts *opts, lc_transport **ret, lc_error *err)
{
	curl_transport *t;

	/* curl_global_init is not thread-safe before 7.84; it is since (curl_version_info
	 * CURL_VERSION_THREADSAFE), and Debian 12 ships 7.88 */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return lc_fail(err, EIO, "http: curl_global_init failed");
	t = calloc(1, sizeof(*t));
	if (!t)
		return lc_fail(err, ENOMEM, "http: out of memory");
	t->base.run = curl_run;
	t->base.free = curl_transport_free;
	t->opts = *opts;
	pthread_mutex_init(&t->share_lock, NULL);
	t->share = curl_share_init();
	if (!t->share) {
		curl_transport_free(&t->base);
		return lc_fail(err, ENOMEM, "http: cannot create a curl share handle");
	}
	curl_share_setopt(t->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(t->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(t->share, CURLSHOPT_USERDATA, t);
	curl_share_setopt(t->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(t->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	*ret = &t->base;
	return 0;
}

/* ---------------------------------------------------------------- one request, synchronously */

typedef struct one_queue {
	lc_http_queue q;
	lc_http_req *req;
	bool handed_out;
} one_queue;

static int one_next(lc_http_queue *q, lc_http_req **ret, long *wait)
{
	one_queue *o = (one_queue *)q;

	*wait = -1;
	if (o->handed_out)
		return 0;
	o->handed_out = true;
	*ret = o->req;
	return 1;
}

static void one_done(lc_http_queue *q, lc_http_req *req)
{
	(void)q, (void)req;
}

static bool one_aborted(lc_http_queue *q)
{
	(void)q;
	return false;
}

int lc_transport_run_one(lc_transport *t, lc_http_req *req, lc_error *err)
{
	one_queue o = {{one_next, one_done, one_aborted}, req, false};

	return t->run(t, &o.q, 1, err);
}
