/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registry client: URLs, headers, authentication (bearer token flow of
 * https://distribution.github.io/distribution/spec/auth/token/ and basic auth), and what to do
 * with each answer (retry with exponential backoff on transport errors, 429 and 5xx; honour
 * Retry-After; re-authenticate on 401). Credentials never reach a log or an error message.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "registry.h"

#define TOKEN_MAX (64u << 10)
#define RETRY_MAX_DELAY_MS 30000
#define RETRY_AFTER_MAX_S 60
#define AUTH_TRIES 2

int lc_registry_init(lc_registry *reg, lc_ctx *ctx, lc_transport *t, const lc_registry_opts *o,
		     lc_error *err)
{
	memset(reg, 0, sizeof(*reg));
	reg->ctx = ctx;
	reg->transport = t;
	reg->allow_http = o->allow_http;
	reg->retries = o->retries;
	reg->retry_base_ms = o->retry_base_ms;
	reg->registry = strdup(o->registry);
	reg->repository = strdup(o->repository);
	if (o->cred && o->cred->login) {
		reg->cred.login = strdup(o->cred->login);
		reg->cred.password = strdup(o->cred->password ? o->cred->password : "");
	}
	if (!reg->registry || !reg->repository ||
	    asprintf(&reg->base_url, "%s://%s/v2/%s", o->allow_http ? "http" : "https", o->registry,
		     o->repository) < 0) {
		reg->base_url = NULL;
		lc_registry_clear(reg);
		return lc_fail(err, ENOMEM, "registry: out of memory");
	}
	return 0;
}

void lc_registry_clear(lc_registry *reg)
{
	free(reg->registry);
	free(reg->repository);
	free(reg->base_url);
	lc_credentials_clear(&reg->cred);
	if (reg->auth_header)
		explicit_bzero(reg->auth_header, strlen(reg->auth_header));
	free(reg->auth_header);
	lc_challenge_clear(&reg->challenge);
	memset(reg, 0, sizeof(*reg));
}

char **lc_registry_headers(lc_registry *reg, bool manifest)
{
	char **v = calloc(3, sizeof(*v));
	size_t n = 0;

	if (!v)
		return NULL;
	if (manifest && !(v[n++] = strdup(LC_ACCEPT_MANIFESTS)))
		goto oom;
	if (reg->auth_header && !(v[n++] = strdup(reg->auth_header)))
		goto oom;
	return v;
oom:
	lc_strv_free(v);
	return NULL;
}

static const char *who(const lc_registry *reg)
{
	return reg->cred.login ? reg->cred.login : "anonymous";
}

/* "CODE: message" of the first entry of a registry error body, sanitised. */
static void registry_error_text(const lc_buf *body, char *out, size_t out_size)
{
	_cleanup_(json_decrefp) json_t *root = NULL;
	json_t *e;
	char raw[256];

	out[0] = '\0';
	if (!body->len)
		return;
	root = json_loadb(body->data, body->len, 0, NULL);
	e = json_array_get(json_object_get(root, "errors"), 0);
	if (!e)
		return;
	(void)snprintf(raw, sizeof(raw), ": %s: %s",
		       json_string_value(json_object_get(e, "code")) ?: "?",
		       json_string_value(json_object_get(e, "message")) ?: "");
	lc_str_sanitize(out, out_size, raw);
}

static long backoff_ms(const lc_registry *reg, unsigned attempt)
{
	long d = reg->retry_base_ms;

	for (unsigned i = 0; i < attempt && d < RETRY_MAX_DELAY_MS; i++)
		d *= 2;
	return d < RETRY_MAX_DELAY_MS ? d : RETRY_MAX_DELAY_MS;
}

/* Retry-After is delay-seconds or an HTTP-date (RFC 9110 section 10.2.3). */
static long retry_after_ms(const char *v)
{
	struct tm tm = {0};
	char *end = NULL;
	long s;

	if (!v)
		return -1;
	s = strtol(v, &end, 10);
	if (end != v && *end == '\0' && s >= 0)
		return (s > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : s) * 1000;
	if (strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm)) {
		s = (long)(timegm(&tm) - time(NULL));
		return s < 0 ? 0 : (s > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : s) * 1000;
	}
	return -1;
}

static enum lc_verdict verdict_retry(lc_registry *reg, lc_http_req *req, unsigned attempt,
				     const char *what, long *ret_delay, lc_error *err)
{
	char detail[256];

	if (attempt < reg->retries) {
		long ra = req->status == 429 || req->status == 503
			      ? retry_after_ms(req->retry_after)
			      : -1;
		*ret_delay = ra >= 0 ? ra : backoff_ms(reg, attempt);
		lc_debug(reg->ctx, "%s: %s%s, retrying in %ld ms", what,
			 req->transport_error ? "transfer failed: " : "HTTP error",
			 req->transport_error ? req->transport_msg : "", *ret_delay);
		return LC_VERDICT_RETRY;
	}
	if (req->transport_error)
		lc_fail_domain(err, LC_DOMAIN_HTTP, LC_EHTTP, "%s: %s (after %u attempts)", what,
			       req->transport_msg[0] ? req->transport_msg : "transfer failed",
			       attempt + 1);
	else {
		registry_error_text(&req->error_body, detail, sizeof(detail));
		lc_fail_domain(err, LC_DOMAIN_HTTP, LC_EHTTP, "%s: HTTP %ld%s (after %u attempts)",
			       what, req->status, detail, attempt + 1);
	}
	return LC_VERDICT_FAIL;
}

enum lc_verdict lc_registry_verdict(lc_registry *reg, lc_http_req *req, unsigned attempt,
				    unsigned req_auth_gen, const char *what, long *ret_delay_ms,
				    lc_error *err)
{
	char detail[256];

	*ret_delay_ms = 0;
	if (req->transport_error == -ECANCELED) {
		lc_fail(err, LC_ECANCELED, "%s: cancelled", what);
		return LC_VERDICT_FAIL;
	}
	if (req->transport_error == -EPROTO) {
		lc_fail_domain(err, LC_DOMAIN_HTTP, LC_EHTTP, "%s: %s%s", what, req->transport_msg,
			       lc_str_has_prefix(req->url, "https:")
				   ? " (a plain-HTTP registry needs HTTP allowed for it)"
				   : "");
		return LC_VERDICT_FAIL;
	}
	if (req->transport_error || req->status == 429 || req->status >= 500)
		return verdict_retry(reg, req, attempt, what, ret_delay_ms, err);
	if (req->status >= 200 && req->status < 300)
		return LC_VERDICT_OK;
	if (req->status == 401)
		return req_auth_gen != reg->auth_gen ? LC_VERDICT_RETRY : LC_VERDICT_REAUTH;
	registry_error_text(&req->error_body, detail, sizeof(detail));
	if (req->status == 403)
		lc_fail_domain(err, LC_DOMAIN_REGISTRY, LC_EAUTH,
			       "%s: access to '%s' on '%s' denied for %s (HTTP 403%s)", what,
			       reg->repository, reg->registry, who(reg), detail);
	else if (req->status == 404)
		lc_fail_domain(err, LC_DOMAIN_REGISTRY, LC_ENOTFOUND, "%s: not found (HTTP 404%s)",
			       what, detail);
	else
		lc_fail_domain(err, LC_DOMAIN_HTTP, LC_EHTTP, "%s: HTTP %ld%s", what, req->status,
			       detail);
	return LC_VERDICT_FAIL;
}

int lc_registry_unauthorized(lc_registry *reg, lc_http_req *req, const char *what, lc_error *err)
{
	char detail[256];

	registry_error_text(&req->error_body, detail, sizeof(detail));
	return lc_fail_domain(err, LC_DOMAIN_REGISTRY, LC_EAUTH,
			      "%s: access to '%s' on '%s' denied for %s (HTTP 401%s)", what,
			      reg->repository, reg->registry, who(reg), detail);
}

/* ---------------------------------------------------------------- authentication */

static int url_escape(lc_buf *b, const char *s)
{
	for (; *s; s++) {
		int r = isalnum((unsigned char)*s) || strchr("-._~", *s)
			    ? lc_buf_append(b, s, 1)
			    : lc_buf_printf(b, "%%%02X", (unsigned char)*s);
		if (r < 0)
			return r;
	}
	return 0;
}

static char *basic_header(const lc_credentials *cred)
{
	_cleanup_free_ char *pair = NULL;
	_cleanup_free_ char *b64 = NULL;
	char *h = NULL;

	if (asprintf(&pair, "%s:%s", cred->login, cred->password) < 0)
		return NULL;
	b64 = lc_base64_encode(pair, strlen(pair));
	explicit_bzero(pair, strlen(pair));
	if (!b64 || asprintf(&h, "Authorization: Basic %s", b64) < 0)
		h = NULL;
	if (b64)
		explicit_bzero(b64, strlen(b64));
	return h;
}

static void set_auth_header(lc_registry *reg, char *header, time_t expires)
{
	if (reg->auth_header)
		explicit_bzero(reg->auth_header, strlen(reg->auth_header));
	free(reg->auth_header);
	reg->auth_header = header;
	reg->auth_expires = expires;
	reg->auth_gen++;
}

static char *token_url(const lc_registry *reg, const lc_challenge *c)
{
	lc_buf b = LC_BUF_INIT;
	_cleanup_free_ char *scope = NULL;

	if (!c->scope && asprintf(&scope, "repository:%s:pull", reg->repository) < 0)
		return NULL;
	if (lc_buf_printf(&b, "%s%c", c->realm, strchr(c->realm, '?') ? '&' : '?') < 0 ||
	    (c->service && (lc_buf_printf(&b, "service=") < 0 || url_escape(&b, c->service) < 0 ||
			    lc_buf_printf(&b, "&") < 0)) ||
	    lc_buf_printf(&b, "scope=") < 0 || url_escape(&b, c->scope ? c->scope : scope) < 0) {
		lc_buf_free(&b);
		return NULL;
	}
	return lc_buf_steal(&b);
}

static int collect_body(lc_http_req *req, const void *data, size_t len)
{
	lc_buf *b = req->userdata;

	if (b->len + len > TOKEN_MAX)
		return -EFBIG;
	return lc_buf_append(b, data, len);
}

/* Token from the token server's JSON ("token" or "access_token"), checked for header safety. */
static int token_from_json(lc_registry *reg, const lc_buf *body, const char *realm, lc_error *err)
{
	_cleanup_(json_decrefp) json_t *root = json_loadb(body->data ?: "", body->len, 0, NULL);
	const char *token = json_string_value(json_object_get(root, "token"));
	json_int_t expires_in = json_integer_value(json_object_get(root, "expires_in"));
	char *header = NULL;

	if (!token || !*token)
		token = json_string_value(json_object_get(root, "access_token"));
	if (!token || !*token)
		return lc_fail(err, LC_EAUTH, "token server '%s' answered without a token", realm);
	for (const char *p = token; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return lc_fail(err, LC_EAUTH, "token server '%s' sent a malformed token",
				       realm);
	if (asprintf(&header, "Authorization: Bearer %s", token) < 0)
		return lc_fail(err, ENOMEM, "token: out of memory");
	/* the spec's default lifetime is 60 s */
	set_auth_header(reg, header, time(NULL) + (expires_in > 0 ? (time_t)expires_in : 60));
	return 0;
}

static bool realm_is_allowed(const lc_registry *reg, const char *realm)
{
	return lc_str_has_prefix_ci(realm, "https://") ||
	       (reg->allow_http && lc_str_has_prefix_ci(realm, "http://"));
}

static int bearer_request(lc_registry *reg, const lc_challenge *c, lc_http_req *req, lc_buf *body,
			  lc_error *err)
{
	_cleanup_free_ char *url = token_url(reg, c);
	int r;

	if (!url)
		return lc_fail(err, ENOMEM, "token: out of memory");
	req->url = url;
	req->allow_http = reg->allow_http;
	req->on_body = collect_body;
	req->userdata = body;
	req->headers = calloc(2, sizeof(char *));
	if (!req->headers || (reg->cred.login && !(req->headers[0] = basic_header(&reg->cred))))
		return lc_fail(err, ENOMEM, "token: out of memory");
	r = lc_transport_run_one(reg->transport, req, err);
	req->url = NULL;
	return r;
}

static int bearer_auth(lc_registry *reg, const lc_challenge *c, lc_error *err)
{
	for (unsigned attempt = 0;; attempt++) {
		lc_http_req req = {0};
		lc_buf body = LC_BUF_INIT;
		long delay;
		int r = bearer_request(reg, c, &req, &body, err);

		if (r >= 0 && req.status == 401)
			r = lc_fail_domain(err, LC_DOMAIN_REGISTRY, LC_EAUTH,
					   "authentication to '%s' failed for %s: the token "
					   "server rejected the credentials (HTTP 401)",
					   reg->registry, who(reg));
		if (r >= 0) {
			enum lc_verdict v = lc_registry_verdict(reg, &req, attempt, reg->auth_gen,
								"token request", &delay, err);
			r = v == LC_VERDICT_OK     ? token_from_json(reg, &body, c->realm, err)
			    : v == LC_VERDICT_FAIL ? -err->code
						   : 1;
			if (r == 1)
				lc_sleep_ms(delay);
		}
		lc_http_req_release(&req);
		lc_buf_free(&body);
		if (r <= 0)
			return r;
	}
}

int lc_registry_authenticate(lc_registry *reg, const char *www_authenticate, lc_error *err)
{
	lc_challenge c = {0};
	int r;

	if (!www_authenticate)
		return lc_fail(err, LC_EAUTH,
			       "'%s' answered 401 without a WWW-Authenticate challenge",
			       reg->registry);
	r = lc_challenge_parse(www_authenticate, &c, err);
	if (r < 0)
		return lc_error_prefix(err, r, "registry '%s'", reg->registry);
	if (strcasecmp(c.scheme, "basic") == 0) {
		lc_challenge_clear(&c);
		if (!reg->cred.login)
			return lc_fail_domain(err, LC_DOMAIN_REGISTRY, LC_EAUTH,
					      "registry '%s' requires a login and no credentials "
					      "were found for it",
					      reg->registry);
		char *h = basic_header(&reg->cred);
		if (!h)
			return lc_fail(err, ENOMEM, "auth: out of memory");
		set_auth_header(reg, h, 0);
		return 0;
	}
	if (strcasecmp(c.scheme, "bearer") != 0 || !c.realm || !realm_is_allowed(reg, c.realm)) {
		r = lc_fail_domain(
		    err, LC_DOMAIN_REGISTRY, LC_EAUTH,
		    "registry '%s': unsupported authentication challenge '%s'%s", reg->registry,
		    c.scheme,
		    c.realm && !realm_is_allowed(reg, c.realm) ? " (plain-HTTP realm)" : "");
		lc_challenge_clear(&c);
		return r;
	}
	lc_debug(reg->ctx, "requesting a token for '%s' from '%s' as %s", reg->repository, c.realm,
		 who(reg));
	r = bearer_auth(reg, &c, err);
	lc_challenge_clear(&reg->challenge);
	reg->challenge = c;
	return r;
}

int lc_registry_auth_refresh(lc_registry *reg, lc_error *err)
{
	/* renew 10 s before the token expires: a long pull keeps working */
	if (!reg->auth_expires || time(NULL) + 10 < reg->auth_expires || !reg->challenge.realm)
		return 0;
	lc_debug(reg->ctx, "token for '%s' expires, renewing", reg->registry);
	return bearer_auth(reg, &reg->challenge, err);
}

/* ---------------------------------------------------------------- fetch into memory */

typedef struct fetch_sink {
	lc_buf *body;
	size_t max;
} fetch_sink;

static int fetch_body(lc_http_req *req, const void *data, size_t len)
{
	fetch_sink *s = req->userdata;

	if (s->body->len + len > s->max)
		return -EFBIG;
	return lc_buf_append(s->body, data, len);
}

void lc_registry_answer_clear(lc_registry_answer *a)
{
	lc_buf_free(&a->body);
	free(a->content_type);
	a->content_type = NULL;
}

/* One attempt; returns the verdict, or < 0 on a local error. */
static int fetch_attempt(lc_registry *reg, lc_http_req *req, const char *url, bool manifest,
			 fetch_sink *sink, unsigned attempt, long *delay, lc_error *err)
{
	unsigned gen = reg->auth_gen;
	int r;

	sink->body->len = 0;
	req->url = url;
	req->allow_http = reg->allow_http;
	req->on_body = fetch_body;
	req->userdata = sink;
	req->headers = lc_registry_headers(reg, manifest);
	if (!req->headers)
		return lc_fail(err, ENOMEM, "fetch: out of memory");
	r = lc_transport_run_one(reg->transport, req, err);
	if (r < 0)
		return r;
	if (req->sink_error == -EFBIG)
		return lc_fail(err, LC_EMANIFEST, "'%s' is larger than %zu bytes", url, sink->max);
	return (int)lc_registry_verdict(reg, req, attempt, gen, url, delay, err);
}

int lc_registry_fetch(lc_registry *reg, const char *path, bool manifest, size_t max,
		      lc_registry_answer *ret, lc_error *err)
{
	_cleanup_free_ char *url = NULL;
	fetch_sink sink = {&ret->body, max};
	unsigned auth_tries = 0;

	memset(ret, 0, sizeof(*ret));
	if (asprintf(&url, "%s/%s", reg->base_url, path) < 0)
		return lc_fail(err, ENOMEM, "fetch: out of memory");
	for (unsigned attempt = 0;; attempt++) {
		lc_http_req req = {0};
		long delay = 0;
		int r = lc_registry_auth_refresh(reg, err);

		if (r >= 0)
			r = fetch_attempt(reg, &req, url, manifest, &sink, attempt, &delay, err);
		if (r == LC_VERDICT_REAUTH)
			r = ++auth_tries > AUTH_TRIES
				? lc_registry_unauthorized(reg, &req, url, err)
				: lc_registry_authenticate(reg, req.www_authenticate, err);
		else if (r == LC_VERDICT_OK)
			ret->content_type = req.content_type ? strdup(req.content_type) : NULL;
		else if (r == LC_VERDICT_FAIL)
			r = -err->code;
		lc_http_req_release(&req);
		if (r < 0)
			lc_registry_answer_clear(ret);
		if (r < 0 || r == LC_VERDICT_OK)
			return r < 0 ? r : 0;
		lc_sleep_ms(delay); /* RETRY, or 0 after a successful authentication */
	}
}
