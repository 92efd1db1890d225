/* SPDX-License-Identifier: Apache-2.0 */
/* Private interface of the registry module. Internal functions take a non-NULL lc_error: the
 * public entry points substitute a local one when the caller passes NULL. */
#ifndef LC_REGISTRY_H
#define LC_REGISTRY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../image/image.h"

/* ================================================================ references (ref.c) */
struct lc_ref {
	char *user;       /* NULL unless USER@ given */
	char *registry;   /* host[:port], canonical */
	char *repository; /* lowercase path */
	char *tag;        /* NULL when only a digest was given */
	char *digest;     /* "sha256:…" or NULL */
	char *canonical;  /* registry/repository[:tag][@digest] */
};
#define LC_DOCKER_HUB "registry-1.docker.io"
#define LC_REF_MAX 4096
LC_DEFINE_CLEANUP(lc_ref *, lc_ref_free)
/* Registry host without the port ("[::1]:5000" -> "::1"); caller frees. */
char *lc_ref_host_without_port(const char *registry);

/* ================================================================ transport (transport.h contract)
 * A transport runs HTTP requests taken from a queue, as many at once as allowed. The queue decides
 * what runs and reacts to each result (retry, re-authenticate, fail); the transport only moves
 * bytes. The curl transport (http.c) uses the multi interface; tests serve canned answers from
 * memory (tests/unit/mem-transport.c). */
typedef struct lc_http_req lc_http_req;
struct lc_http_req {
	/* set by the caller before the request is handed out */
	const char *url;
	bool head;
	char **headers;      /* "Name: value" strings, NULL-terminated, may be NULL */
	uint64_t range_from; /* > 0: ask for bytes range_from- */
	bool allow_http;     /* plain http:// allowed (else https only, redirects included) */
	/* Body sink for 2xx answers (other bodies go to error_body). Return < 0 to abort the
	 * transfer; that value ends up in sink_error. */
	int (*on_body)(lc_http_req *req, const void *data, size_t len);
	void *userdata;
	/* filled by the transport; reset when the request is started */
	long status;             /* final HTTP status, 0 when no answer */
	int transport_error;     /* < 0: no complete answer (connection, timeout, cut, abort) */
	int sink_error;          /* < 0: on_body asked to stop */
	char transport_msg[256]; /* text for transport_error */
	char *www_authenticate;  /* response headers of the final answer, or NULL */
	char *content_type;
	char *retry_after;
	char *content_range;
	lc_buf error_body; /* first bytes of a non-2xx body */
};
void lc_http_req_reset(lc_http_req *req);   /* frees response fields, zeroes results */
void lc_http_req_release(lc_http_req *req); /* frees what the request owns */
/* Called by transports: header line of the answer ("Name: value\r\n" or a status line). */
void lc_http_req_header_line(lc_http_req *req, const char *line, size_t len);
/* Called by transports: body bytes (routes to on_body for 2xx, else error_body). */
int lc_http_req_body(lc_http_req *req, const void *data, size_t len);
#define LC_HTTP_ERROR_BODY_MAX 4096

typedef struct lc_http_queue lc_http_queue;
struct lc_http_queue {
	/* 1: *ret_req must start now. 0: nothing now; ask again within *ret_wait_ms ms, or -1 when
	 * nothing more will come (the run ends once running requests are done). */
	int (*next)(lc_http_queue *q, lc_http_req **ret_req, long *ret_wait_ms);
	/* A request finished (successfully or not); the queue reads its result fields. */
	void (*done)(lc_http_queue *q, lc_http_req *req);
	/* true: abort running requests (they finish with transport_error -ECANCELED) and stop */
	bool (*aborted)(lc_http_queue *q);
};

/* For transports that answer in the caller's thread (a file, memory): run @q to its end, one
 * request at a time, each answered by @serve (status line, headers, body). */
void lc_http_queue_serve(lc_http_queue *q, void (*serve)(void *userdata, lc_http_req *req),
			 void *userdata);

typedef struct lc_transport lc_transport;
struct lc_transport {
	/* Run the queue to its end. Fails only when the transport itself cannot work. */
	int (*run)(lc_transport *t, lc_http_queue *q, unsigned max_parallel, lc_error *err);
	void (*free)(lc_transport *t);
};
typedef struct lc_transport_opts {
	unsigned connect_timeout_s;
	unsigned low_speed_time_s;
} lc_transport_opts;
int lc_transport_curl_new(const lc_transport_opts *opts, lc_transport **ret, lc_error *err);
static inline void lc_transport_freep(lc_transport **t)
{
	if (*t)
		(*t)->free(*t);
}

/* ================================================================ credentials (auth.c) */
typedef struct lc_challenge {
	char *scheme; /* "Bearer" / "Basic" */
	char *realm;
	char *service;
	char *scope;
} lc_challenge;
/* Parse a WWW-Authenticate value (RFC 7235 auth-params, quoted strings with escapes). */
int lc_challenge_parse(const char *text, lc_challenge *ret, lc_error *err);
void lc_challenge_clear(lc_challenge *c);

typedef struct lc_credentials {
	char *login;
	char *password;
} lc_credentials;
void lc_credentials_clear(lc_credentials *c);
/* netrc form: machine HOST login USER password PASS ("default" matches any host). @user (may
 * be NULL) must equal the login when given. Looks up host:port first, then host. 0 and empty
 * result when nothing matches. */
int lc_netrc_lookup(const char *text, const char *registry, const char *user, lc_credentials *ret,
		    lc_error *err);
/* docker config.json "auths": keys as host[:port], scheme URLs, Docker Hub's legacy key. */
int lc_docker_config_lookup(const char *json, const char *registry, const char *user,
			    lc_credentials *ret, lc_error *err);

/* ================================================================ registry client (client.c) */
typedef struct lc_registry {
	lc_ctx *ctx;
	lc_transport *transport; /* borrowed */
	char *registry;          /* host[:port] */
	char *repository;
	char *base_url; /* scheme://registry/v2/repository */
	bool allow_http;
	lc_credentials cred; /* empty when anonymous */
	unsigned retries;
	unsigned retry_base_ms;
	/* auth state; used by one thread at a time (the caller, then the pull's worker) */
	char *auth_header;      /* "Authorization: …", or NULL */
	unsigned auth_gen;      /* bumped whenever auth_header changes */
	time_t auth_expires;    /* 0: no expiry known */
	lc_challenge challenge; /* last challenge seen */
} lc_registry;

typedef struct lc_registry_opts {
	const char *registry;
	const char *repository;
	bool allow_http;
	const lc_credentials *cred; /* may be NULL */
	unsigned retries;
	unsigned retry_base_ms;
} lc_registry_opts;
int lc_registry_init(lc_registry *reg, lc_ctx *ctx, lc_transport *t, const lc_registry_opts *o,
		     lc_error *err);
void lc_registry_clear(lc_registry *reg);

/* Headers for a request of kind "manifest" (Accept list) or "blob", with auth; caller frees. */
char **lc_registry_headers(lc_registry *reg, bool manifest);

/* What to do with a finished request. */
/* Values start at 1: 0 and negative numbers stay free for "go on" and errors. */
enum lc_verdict { LC_VERDICT_OK = 1, LC_VERDICT_RETRY, LC_VERDICT_REAUTH, LC_VERDICT_FAIL };
/* Classify @req after its attempt number @attempt (0-based); on RETRY *ret_delay_ms is set; on
 * FAIL err is filled (naming @what). */
enum lc_verdict lc_registry_verdict(lc_registry *reg, lc_http_req *req, unsigned attempt,
				    unsigned req_auth_gen, const char *what, long *ret_delay_ms,
				    lc_error *err);
/* Fail for a 401 that authentication could not cure. */
int lc_registry_unauthorized(lc_registry *reg, lc_http_req *req, const char *what, lc_error *err);
/* Authenticate from the challenge in @req (or renew the token); sync. */
int lc_registry_authenticate(lc_registry *reg, const char *www_authenticate, lc_error *err);
/* Renew an expiring token before a request (no-op when not needed). */
int lc_registry_auth_refresh(lc_registry *reg, lc_error *err);

/* GET (or HEAD) "<base_url>/<path>" into memory with retries and auth; at most @max bytes. */
typedef struct lc_registry_answer {
	lc_buf body;
	char *content_type;
} lc_registry_answer;
int lc_registry_fetch(lc_registry *reg, const char *path, bool manifest, size_t max,
		      lc_registry_answer *ret, lc_error *err);
void lc_registry_answer_clear(lc_registry_answer *a);

/* Run a queue with one request synchronously (helper for token and manifest requests). */
int lc_transport_run_one(lc_transport *t, lc_http_req *req, lc_error *err);

/* ================================================================ manifests (manifest.c) */
#define LC_MANIFEST_MAX (4u << 20)
#define LC_CONFIG_MAX (16u << 20)
#define LC_LAYERS_MAX 1024

#define LC_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define LC_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define LC_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define LC_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define LC_MT_DOCKER_V1 "application/vnd.docker.distribution.manifest.v1"
#define LC_ACCEPT_MANIFESTS                                                       \
	"Accept: " LC_MT_OCI_INDEX ", " LC_MT_DOCKER_LIST ", " LC_MT_OCI_MANIFEST \
	", " LC_MT_DOCKER_MANIFEST

typedef struct lc_platform {
	const char *os;
	const char *architecture;
	const char *variant; /* may be NULL */
} lc_platform;
/* The host's platform in OCI terms (amd64, arm64/v8, ...). */
void lc_platform_host(lc_platform *ret);

enum lc_manifest_kind { LC_MANIFEST_IMAGE, LC_MANIFEST_INDEX };
/* Kind of a manifest document, from Content-Type and mediaType; refuses schema 1 and unknown. */
int lc_manifest_kind(const char *content_type, const char *body, size_t len,
		     enum lc_manifest_kind *ret, lc_error *err);
/* Choose the descriptor for @want in an index (never "the first entry"). */
int lc_index_select(const char *body, size_t len, const lc_platform *want, lc_descriptor *ret,
		    lc_error *err);
/* Parse an image manifest: config descriptor and layers. */
int lc_manifest_parse(const char *body, size_t len, lc_descriptor *ret_config,
		      lc_descriptor **ret_layers, size_t *ret_n, lc_error *err);

/* ================================================================ pull (pull.c) */
/* lc_pull_new with a given transport (owned by the pull, also on failure): tests use memory. */
int lc_pull_new_transport(lc_ctx *ctx, const char *ref, const lc_pull_opts *opts,
			  lc_transport *transport, lc_pull **ret_pull, lc_error *err);
/* The blob cache a pull without lc_pull_opts.cache_dir uses: $XDG_CACHE_HOME/libcontainer or
 * $HOME/.cache/libcontainer. */
int lc_pull_default_cache_dir(char **ret, lc_error *err);

bool lc_pull_is_started(const lc_pull *p);
lc_ctx *lc_pull_ctx(const lc_pull *p);
/* The image, now the caller's (NULL after the first call). */
lc_image *lc_pull_take_image(lc_pull *p);

/* ================================================================ blob cache + downloads (blob.c)
 */
typedef struct lc_blob_set lc_blob_set;
typedef struct lc_blob_set_opts {
	lc_ctx *ctx;
	lc_registry *reg;
	const char *cache_dir; /* <cache_dir>/blobs/sha256 and <cache_dir>/locks */
	unsigned max_parallel;
	lc_progress_fn progress;
	void *progress_userdata;
	bool config_blob; /* progress reports index SIZE_MAX */
} lc_blob_set_opts;
int lc_blob_set_new(const lc_blob_set_opts *o, const lc_descriptor *blobs, size_t n,
		    lc_blob_set **ret, lc_error *err);
/* Download everything missing, on the calling thread. */
int lc_blob_set_run(lc_blob_set *s, lc_error *err);
/* Same, on a worker thread. */
int lc_blob_set_start(lc_blob_set *s, lc_error *err);
int lc_blob_set_wait(lc_blob_set *s, lc_error *err);
int lc_blob_set_read(lc_blob_set *s, size_t index, void *buf, size_t len, size_t *ret_n,
		     lc_error *err);
/* Cancel and join the worker, remove partial files, release locks. */
lc_blob_set *lc_blob_set_free(lc_blob_set *s);
/* "<cache_dir>/blobs/sha256/<hex>" */
char *lc_blob_path(const char *cache_dir, const char *digest);

#endif
