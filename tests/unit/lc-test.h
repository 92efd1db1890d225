/* SPDX-License-Identifier: Apache-2.0 */
/* Shared helpers of the Check unit tests. */
#ifndef LC_TEST_H
#define LC_TEST_H

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "registry/registry.h"

/* A fresh temporary directory (removed by lc_test_rmtree); the path is the caller's. */
char *lc_test_tmpdir(void);
void lc_test_rmtree(const char *path);
/* Run a suite with CK_ENV verbosity; returns the process exit status. */
int lc_test_run(Suite *s);

/* ---- memory transport: canned answers, a log of requests */
typedef struct mem_route {
	const char *url; /* exact URL */
	int status;
	const char *headers; /* "Name: value\n" lines, may be NULL */
	const void *body;
	size_t body_len;            /* 0 with body: strlen(body) */
	size_t cut_after;           /* > 0: send this many body bytes, then fail the transfer */
	bool honor_range;           /* answer Range requests with 206 */
	const char *require_header; /* only for requests carrying this exact header */
	int times;                  /* answer this many times, then let later routes answer */
	int hits;                   /* requests answered (set by the transport) */
} mem_route;

#define MEM_LOG_MAX 256
typedef struct mem_log_entry {
	char url[512];
	char auth[256];
	unsigned long long range_from;
} mem_log_entry;

typedef struct mem_server {
	mem_route *routes;
	size_t n_routes;
	mem_log_entry log[MEM_LOG_MAX];
	size_t n_log;
} mem_server;

/* A transport serving @srv (which must outlive it). */
lc_transport *mem_transport_new(mem_server *srv);
/* Number of logged requests whose URL ends with @suffix. */
size_t mem_count(const mem_server *srv, const char *suffix);

#endif
