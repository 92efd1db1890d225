/* SPDX-License-Identifier: Apache-2.0 */
/* A transport that answers from a route table in memory, one request at a time. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "lc-test.h"

typedef struct mem_transport {
	lc_transport base;
	mem_server *srv;
} mem_transport;

/* Pulls run the queue on several threads: one request is served at a time. */
static pthread_mutex_t serve_lock = PTHREAD_MUTEX_INITIALIZER;

static bool has_header(const lc_http_req *req, const char *h)
{
	for (char **p = req->headers; p && *p; p++)
		if (strcmp(*p, h) == 0)
			return true;
	return false;
}

static mem_route *route_for(mem_server *srv, const lc_http_req *req)
{
	for (size_t i = 0; i < srv->n_routes; i++) {
		mem_route *r = &srv->routes[i];

		if (strcmp(r->url, req->url) != 0)
			continue;
		if (r->require_header && !has_header(req, r->require_header))
			continue;
		if (r->times && r->hits >= r->times)
			continue;
		return r;
	}
	return NULL;
}

static void log_request(mem_server *srv, const lc_http_req *req)
{
	mem_log_entry *e;

	if (srv->n_log >= MEM_LOG_MAX)
		return;
	e = &srv->log[srv->n_log++];
	snprintf(e->url, sizeof(e->url), "%s", req->url);
	e->auth[0] = '\0';
	for (char **p = req->headers; p && *p; p++)
		if (strncmp(*p, "Authorization:", 14) == 0)
			snprintf(e->auth, sizeof(e->auth), "%s", *p);
	e->range_from = req->range_from;
}

static void send_lines(lc_http_req *req, const char *text)
{
	for (const char *p = text; p && *p;) {
		size_t n = strcspn(p, "\n");
		lc_http_req_header_line(req, p, n);
		p += n + (p[n] == '\n');
	}
}

static void send_headers(lc_http_req *req, int status, const char *headers, const char *extra)
{
	char line[64];

	snprintf(line, sizeof(line), "HTTP/1.1 %d X\r\n", status);
	lc_http_req_header_line(req, line, strlen(line));
	send_lines(req, headers);
	send_lines(req, extra);
}

static void serve(mem_server *srv, lc_http_req *req)
{
	mem_route *r = route_for(srv, req);
	char extra[128] = "";
	size_t len, from = 0, end;
	int status;

	log_request(srv, req);
	if (!r) {
		send_headers(req, 404, NULL, NULL);
		lc_http_req_body(
		    req, "{\"errors\":[{\"code\":\"NOT_IN_TEST\",\"message\":\"no route\"}]}", 55);
		return;
	}
	r->hits++;
	len = r->body_len ? r->body_len : (r->body ? strlen(r->body) : 0);
	status = r->status;
	if (r->honor_range && req->range_from > 0 && req->range_from < len && status == 200) {
		from = req->range_from;
		status = 206;
		snprintf(extra, sizeof(extra), "Content-Range: bytes %zu-%zu/%zu", from, len - 1,
			 len);
	}
	send_headers(req, status, r->headers, extra[0] ? extra : NULL);
	end = r->cut_after && from + r->cut_after < len ? from + r->cut_after : len;
	for (size_t off = from; off < end && !req->head;) {
		size_t n = end - off < 4096 ? end - off : 4096;
		if (lc_http_req_body(req, (const char *)r->body + off, n) < 0)
			return;
		off += n;
	}
	if (end < len) {
		req->transport_error = -EIO;
		snprintf(req->transport_msg, sizeof(req->transport_msg), "connection cut (test)");
	}
}

static void serve_locked(void *userdata, lc_http_req *req)
{
	pthread_mutex_lock(&serve_lock);
	serve(userdata, req);
	pthread_mutex_unlock(&serve_lock);
}

static int mem_run(lc_transport *t, lc_http_queue *q, unsigned max_parallel, lc_error *err)
{
	(void)max_parallel, (void)err;
	lc_http_queue_serve(q, serve_locked, ((mem_transport *)t)->srv);
	return 0;
}

static void mem_free(lc_transport *t)
{
	free(t);
}

lc_transport *mem_transport_new(mem_server *srv)
{
	mem_transport *t = calloc(1, sizeof(*t));

	ck_assert_ptr_nonnull(t);
	t->base.run = mem_run;
	t->base.free = mem_free;
	t->srv = srv;
	return &t->base;
}

size_t mem_count(const mem_server *srv, const char *suffix)
{
	size_t n = 0, sl = strlen(suffix);

	for (size_t i = 0; i < srv->n_log; i++) {
		size_t ul = strlen(srv->log[i].url);
		if (ul >= sl && strcmp(srv->log[i].url + ul - sl, suffix) == 0)
			n++;
	}
	return n;
}
