/* SPDX-License-Identifier: Apache-2.0 */
/* Pulls against canned registry answers: auth flows, verification, retries, resume, cache. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lc-test.h"

#define BASE "https://reg.test/v2/app"
#define TOKEN_URL "https://auth.test/token?service=reg&scope=repository%3Aapp%3Apull"
#define BEARER_CHALLENGE \
	"WWW-Authenticate: Bearer realm=\"https://auth.test/token\",service=\"reg\"\n"
#define BASIC_TESTUSER "Authorization: Basic dGVzdHVzZXI6dGVzdHBhc3M=" /* testuser:testpass */
#define LAYER0_SIZE 300000
#define LAYER1_SIZE 50001

typedef struct fixture {
	char *cache;
	char *layer[2];
	size_t layer_len[2];
	char layer_digest[2][72];
	char *config;
	char config_digest[72];
	char *manifest;
	char manifest_digest[72];
	char *index;
	char index_digest[72];
	char url_layer[2][256];
	char url_config[256];
	char url_manifest_digest[256];
	char url_index_digest[256];
	mem_route routes[32];
	mem_server srv;
	lc_ctx *ctx;
	lc_buf log; /* everything logged at debug level */
} fixture;

static fixture F;

/* The library logs from its download threads too (see lc_log_fn): serialise. */
static void collect_log(void *u, enum lc_log_level level, const char *msg)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

	(void)level;
	pthread_mutex_lock(&lock);
	lc_buf_printf(u, "%s\n", msg);
	pthread_mutex_unlock(&lock);
}

static void make_blobs(void)
{
	for (int l = 0; l < 2; l++) {
		F.layer_len[l] = l ? LAYER1_SIZE : LAYER0_SIZE;
		F.layer[l] = malloc(F.layer_len[l]);
		for (size_t i = 0; i < F.layer_len[l]; i++)
			F.layer[l][i] = (char)((i * 7919 + l * 31) >> 3);
		lc_sha256_digest(F.layer[l], F.layer_len[l], F.layer_digest[l]);
		snprintf(F.url_layer[l], sizeof(F.url_layer[l]), BASE "/blobs/%s",
			 F.layer_digest[l]);
	}
	ck_assert_int_ge(asprintf(&F.config,
				  "{\"architecture\":\"amd64\",\"os\":\"linux\","
				  "\"config\":{\"Env\":[\"PATH=/bin\"],\"Cmd\":[\"sh\"]}}"),
			 0);
	lc_sha256_digest(F.config, strlen(F.config), F.config_digest);
	snprintf(F.url_config, sizeof(F.url_config), BASE "/blobs/%s", F.config_digest);
	ck_assert_int_ge(
	    asprintf(&F.manifest,
		     "{\"schemaVersion\":2,\"mediaType\":\"" LC_MT_OCI_MANIFEST "\","
		     "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
		     "\"digest\":\"%s\",\"size\":%zu},\"layers\":["
		     "{\"mediaType\":\"application/"
		     "vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\",\"size\":%zu},"
		     "{\"mediaType\":\"application/"
		     "vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\",\"size\":%zu}]}",
		     F.config_digest, strlen(F.config), F.layer_digest[0], F.layer_len[0],
		     F.layer_digest[1], F.layer_len[1]),
	    0);
	lc_sha256_digest(F.manifest, strlen(F.manifest), F.manifest_digest);
	snprintf(F.url_manifest_digest, sizeof(F.url_manifest_digest), BASE "/manifests/%s",
		 F.manifest_digest);
	ck_assert_int_ge(
	    asprintf(&F.index,
		     "{\"schemaVersion\":2,\"mediaType\":\"" LC_MT_OCI_INDEX "\",\"manifests\":["
		     "{\"mediaType\":\"" LC_MT_OCI_MANIFEST
		     "\",\"digest\":\"sha256:%064d\",\"size\":1,"
		     "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
		     "{\"mediaType\":\"" LC_MT_OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,"
		     "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}",
		     0, F.manifest_digest, strlen(F.manifest)),
	    0);
	lc_sha256_digest(F.index, strlen(F.index), F.index_digest);
	snprintf(F.url_index_digest, sizeof(F.url_index_digest), BASE "/manifests/%s",
		 F.index_digest);
}

static void setup(void)
{
	memset(&F, 0, sizeof(F));
	F.cache = lc_test_tmpdir();
	make_blobs();
	F.srv.routes = F.routes;
	ck_assert_int_eq(lc_ctx_new(&F.ctx, NULL), 0);
	lc_ctx_set_log(F.ctx, collect_log, LC_LOG_DEBUG, &F.log);
}

static void teardown(void)
{
	lc_test_rmtree(F.cache);
	free(F.cache);
	free(F.layer[0]);
	free(F.layer[1]);
	free(F.config);
	free(F.manifest);
	free(F.index);
	lc_buf_free(&F.log);
	lc_ctx_free(F.ctx);
}

static mem_route *add(const char *url, int status, const void *body, size_t len)
{
	mem_route *r = &F.routes[F.srv.n_routes++];

	ck_assert_uint_le(F.srv.n_routes, LC_ELEMENTSOF(F.routes));
	r->url = url;
	r->status = status;
	r->body = body;
	r->body_len = len;
	return r;
}

/* The plain, anonymous registry: every route answers. */
static void add_image_routes(const char *require)
{
	mem_route *r = add(BASE "/manifests/latest", 200, F.manifest, 0);
	r->headers = "Content-Type: " LC_MT_OCI_MANIFEST "\n";
	r->require_header = require;
	r = add(F.url_config, 200, F.config, 0);
	r->require_header = require;
	for (int l = 0; l < 2; l++) {
		r = add(F.url_layer[l], 200, F.layer[l], F.layer_len[l]);
		r->require_header = require;
	}
}

static lc_pull_opts opts(void)
{
	lc_pull_opts o = LC_PULL_OPTS_INIT;

	o.cache_dir = F.cache;
	o.architecture = "amd64";
	o.retry_base_ms = 1;
	o.retries = 3;
	return o;
}

static int pull(const char *ref, const lc_pull_opts *o, lc_image **img, lc_error *err)
{
	lc_pull *p = NULL;
	int r = lc_pull_new_transport(F.ctx, ref, o, mem_transport_new(&F.srv), &p, err);

	if (r >= 0)
		r = lc_pull_start(p, err);
	if (r >= 0)
		r = lc_pull_wait(p, err);
	if (r >= 0 && img) {
		*img = lc_pull_take_image(p);
	}
	lc_pull_free(p);
	return r;
}

/* The cache holds exactly the complete blobs named, and no temp file. */
static void assert_cache_clean(void)
{
	char dir[512];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/blobs/sha256", F.cache);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		ck_assert_msg(strncmp(de->d_name, ".tmp", 4) != 0, "temp file left: %s",
			      de->d_name);
	}
	closedir(d);
}

static void assert_blob_cached(const char *digest, const void *content, size_t len)
{
	char *path = lc_blob_path(F.cache, digest);
	char *data = NULL;
	size_t n = 0;

	ck_assert_int_eq(lc_file_read_all(path, 1 << 24, &data, &n, NULL), 0);
	ck_assert_uint_eq(n, len);
	ck_assert(memcmp(data, content, len) == 0);
	free(data);
	free(path);
}

static bool blob_exists(const char *digest)
{
	char *path = lc_blob_path(F.cache, digest);
	bool ok = access(path, F_OK) == 0;

	free(path);
	return ok;
}

START_TEST(pull_anonymous_and_cache_hit)
{
	lc_pull_opts o = opts();
	lc_error err = LC_ERROR_INIT;
	lc_image *img = NULL;

	add_image_routes(NULL);
	ck_assert_msg(pull("reg.test/app", &o, &img, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(lc_image_digest(img), F.manifest_digest);
	ck_assert_ptr_null(lc_image_index_digest(img));
	ck_assert_uint_eq(lc_image_layer_count(img), 2);
	ck_assert_str_eq(lc_image_cmd(img)[0], "sh");
	for (int l = 0; l < 2; l++)
		assert_blob_cached(F.layer_digest[l], F.layer[l], F.layer_len[l]);
	assert_blob_cached(F.config_digest, F.config, strlen(F.config));
	ck_assert(lc_str_has_prefix(lc_image_layer_path(img, 0), F.cache));
	lc_image_free(img);
	assert_cache_clean();
	/* second pull: manifest only, no blob request */
	F.srv.n_log = 0;
	ck_assert_int_eq(pull("reg.test/app:latest", &o, NULL, &err), 0);
	ck_assert_uint_eq(F.srv.n_log, 1);
	ck_assert_uint_eq(mem_count(&F.srv, "/manifests/latest"), 1);
}
END_TEST

START_TEST(pull_index_chooses_platform)
{
	lc_pull_opts o = opts();
	lc_error err = LC_ERROR_INIT;
	lc_image *img = NULL;
	mem_route *r;

	add_image_routes(NULL);
	F.routes[0].body = F.index; /* the tag now names an index */
	r = add(F.url_manifest_digest, 200, F.manifest, 0);
	ck_assert_msg(pull("reg.test/app", &o, &img, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(lc_image_digest(img), F.manifest_digest);
	ck_assert_str_eq(lc_image_index_digest(img), F.index_digest);
	ck_assert_int_eq(r->hits, 1);
	lc_image_free(img);
	/* arm64 has no manifest behind it: 404 */
	o.architecture = "arm64";
	ck_assert_int_eq(pull("reg.test/app", &o, NULL, &err), -LC_ENOTFOUND);
	o.architecture = "riscv64";
	ck_assert_int_eq(pull("reg.test/app", &o, NULL, &err), -LC_EPLATFORM);
	ck_assert_ptr_nonnull(strstr(err.msg, "linux/riscv64"));
}
END_TEST

START_TEST(pull_pinned_digest_verified)
{
	lc_pull_opts o = opts();
	lc_error err = LC_ERROR_INIT;
	char ref[256], wrong[72];
	static char url[256];

	add_image_routes(NULL);
	add(F.url_manifest_digest, 200, F.manifest, 0);
	snprintf(ref, sizeof(ref), "reg.test/app@%s", F.manifest_digest);
	ck_assert_msg(pull(ref, &o, NULL, &err) == 0, "%s", err.msg);
	/* a registry that answers another document for a digest is caught */
	memcpy(wrong, F.manifest_digest, sizeof(wrong));
	wrong[8] = wrong[8] == 'a' ? 'b' : 'a';
	snprintf(url, sizeof(url), BASE "/manifests/%s", wrong);
	add(url, 200, F.manifest, 0);
	snprintf(ref, sizeof(ref), "reg.test/app@%s", wrong);
	ck_assert_int_eq(pull(ref, &o, NULL, &err), -LC_EDIGEST);
	ck_assert_ptr_nonnull(strstr(err.msg, "digest mismatch"));
	ck_assert_ptr_nonnull(strstr(err.msg, wrong));
}
END_TEST

START_TEST(pull_token_anonymous)
{
	lc_pull_opts o = opts();
	lc_error err = LC_ERROR_INIT;
	mem_route *r;

	add_image_routes("Authorization: Bearer tok1");
	r = add(BASE "/manifests/latest", 401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}", 0);
	r->headers = BEARER_CHALLENGE;
	r = add(TOKEN_URL, 200, "{\"token\":\"tok1\",\"expires_in\":300}", 0);
	ck_assert_msg(pull("reg.test/app", &o, NULL, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(mem_count(&F.srv, "scope=repository%3Aapp%3Apull"), 1);
	ck_assert_str_eq(F.srv.log[1].auth, ""); /* anonymous token request */
}
END_TEST

static void write_file(const char *dir, const char *name, const char *text, char *path, size_t n)
{
	FILE *f;

	snprintf(path, n, "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(pull_token_with_credentials)
{
	lc_pull_opts o = opts();
	lc_error err = LC_ERROR_INIT;
	char cred[512];
	mem_route *r;

	add_image_routes("Authorization: Bearer tok2");
	r = add(BASE "/manifests/latest", 401, NULL, 0);
	r->headers = BEARER_CHALLENGE;
	r = add(TOKEN_URL, 200, "{\"access_token\":\"tok2\"}", 0);
	r->require_header = BASIC_TESTUSER;
	add(TOKEN_URL, 401, "{\"details\":\"bad password\"}", 0);
	write_file(F.cache, "creds", "machine reg.test login testuser password testpass\n", cred,
		   sizeof(cred));
	o.credentials_file = cred;
	ck_assert_msg(pull("reg.test/app", &o, NULL, &err) == 0, "%s", err.msg);
	/* wrong password: clear error, and no secret anywhere */
	write_file(F.cache, "creds", "machine reg.test login testuser password s3cr3t-wrong\n",
		   cred, sizeof(cred));
	ck_assert_int_eq(pull("reg.test/app", &o, NULL, &err), -LC_EAUTH);
	ck_assert_ptr_nonnull(strstr(err.msg, "rejected the credentials"));
	ck_assert_ptr_nonnull(strstr(err.msg, "testuser"));
	ck_assert_ptr_null(strstr(err.msg, "s3cr3t"));
	ck_assert_ptr_null(strstr(F.log.data, "s3cr3t"));
	ck_assert_ptr_null(strstr(F.log.data, "testpass"));
	ck_assert_ptr_null(strstr(F.log.data, "dGVzdHVzZXI6dGVzdHBhc3M"));
	ck_assert_ptr_null(strstr(F.log.data, "tok2"));
	/* a USER@ without matching credentials */
	ck_assert_int_eq(pull("carol@reg.test#app", &o, NULL, &err), -LC_EAUTH);
	ck_assert_ptr_nonnull(strstr(err.msg, "no credentials for user 'carol'"));
}
END_TEST

START_TEST(pull_basic_auth)
{
	lc_pull_opts o = opts();
	lc_error err = LC_ERROR_INIT;
	char cfg[512];
	mem_route *r;

	add_image_routes(BASIC_TESTUSER);
	for (size_t i = 0; i < 4; i++) {
		r = add(F.routes[i].url, 401, NULL, 0);
		r->headers = "WWW-Authenticate: Basic realm=\"x\"\n";
	}
	ck_assert_int_eq(pull("reg.test/app", &o, NULL, &err), -LC_EAUTH);
	ck_assert_ptr_nonnull(strstr(err.msg, "requires a login"));
	write_file(F.cache, "config.json",
		   "{\"auths\":{\"reg.test\":{\"auth\":\"dGVzdHVzZXI6dGVzdHBhc3M=\"}}}", cfg,
		   sizeof(cfg));
	o.docker_config = cfg;
	ck_assert_msg(pull("reg.test/app", &o, NULL, &err) == 0, "%s", err.msg);
}
END_TEST

START_TEST(pull_token_renewed_on_401)
{
	lc_pull_opts o = opts();
	lc_error err = LC_ERROR_INIT;
	mem_route *r;

	/* manifest and config accept tok1; the layers want the renewed tok2 */
	add_image_routes("Authorization: Bearer tok1");
	F.routes[2].require_header = F.routes[3].require_header = "Authorization: Bearer tok2";
	for (size_t i = 0; i < 4; i++) {
		r = add(F.routes[i].url, 401, NULL, 0);
		r->headers = BEARER_CHALLENGE;
	}
	r = add(TOKEN_URL, 200, "{\"token\":\"tok1\",\"expires_in\":3600}", 0);
	r->times = 1;
	add(TOKEN_URL, 200, "{\"token\":\"tok2\",\"expires_in\":3600}", 0);
	ck_assert_msg(pull("reg.test/app", &o, NULL, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(mem_count(&F.srv, "%3Apull"), 2);
}
END_TEST

START_TEST(pull_token_renewed_before_expiry)
{
	lc_pull_opts o = opts();
	lc_error err = LC_ERROR_INIT;
	mem_route *r;

	add_image_routes("Authorization: Bearer tok1");
	r = add(BASE "/manifests/latest", 401, NULL, 0);
	r->headers = BEARER_CHALLENGE;
	/* a token that is about to expire is renewed before each further request */
	add(TOKEN_URL, 200, "{\"token\":\"tok1\",\"expires_in\":5}", 0);
	ck_assert_msg(pull("reg.test/app", &o, NULL, &err) == 0, "%s", err.msg);
	ck_assert_uint_ge(mem_count(&F.srv, "%3Apull"), 3);
}
END_TEST

START_TEST(pull_denied_is_clear)
{
	lc_pull_opts o = opts();
	lc_error err = LC_ERROR_INIT;
	mem_route *r;

	r = add(
	    BASE "/manifests/latest", 401,
	    "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}",
	    0);
	r->headers = BEARER_CHALLENGE;
	add(TOKEN_URL, 200, "{\"token\":\"useless\"}", 0);
	ck_assert_int_eq(pull("reg.test/app", &o, NULL, &err), -LC_EAUTH);
	ck_assert_str_eq(err.msg,
			 BASE "/manifests/latest: access to 'app' on 'reg.test' denied for "
			      "anonymous (HTTP 401: UNAUTHORIZED: authentication required)");
	add(BASE "/manifests/x", 403, NULL, 0);
	ck_assert_int_eq(pull("reg.test/app:x", &o, NULL, &err), -LC_EAUTH);
}
END_TEST

START_TEST(pull_blob_digest_mismatch)
{
	lc_pull_opts o = opts();
	lc_error err = LC_ERROR_INIT;
	char *evil = malloc(LAYER1_SIZE);

	memcpy(evil, F.layer[1], LAYER1_SIZE);
	evil[LAYER1_SIZE / 2] ^= 1;
	add(F.url_layer[1], 200, evil, LAYER1_SIZE);
	add_image_routes(NULL);
	ck_assert_int_eq(pull("reg.test/app", &o, NULL, &err), -LC_EDIGEST);
	ck_assert_ptr_nonnull(strstr(err.msg, F.layer_digest[1]));
	ck_assert_ptr_nonnull(strstr(err.msg, "digest mismatch"));
	ck_assert(!blob_exists(F.layer_digest[1]));
	assert_cache_clean();
	free(evil);
}
END_TEST

START_TEST(pull_blob_oversize)
{
	lc_pull_opts o = opts();
	lc_error err = LC_ERROR_INIT;
	char *big = calloc(1, LAYER1_SIZE + 10);

	memcpy(big, F.layer[1], LAYER1_SIZE);
	add(F.url_layer[1], 200, big, LAYER1_SIZE + 10);
	add_image_routes(NULL);
	ck_assert_int_eq(pull("reg.test/app", &o, NULL, &err), -LC_EDIGEST);
	ck_assert_ptr_nonnull(strstr(err.msg, "larger than the 50001 bytes"));
	ck_assert(!blob_exists(F.layer_digest[1]));
	assert_cache_clean();
	free(big);
}
END_TEST

START_TEST(pull_resumes_cut_transfer)
{
	lc_pull_opts o = opts();
	lc_error err = LC_ERROR_INIT;
	mem_route *r;

	r = add(F.url_layer[0], 200, F.layer[0], F.layer_len[0]);
	r->cut_after = 100000;
	r->times = 1;
	add_image_routes(NULL);
	F.routes[3].honor_range = true; /* the layer-0 route of add_image_routes */
	ck_assert_msg(pull("reg.test/app", &o, NULL, &err) == 0, "%s", err.msg);
	assert_blob_cached(F.layer_digest[0], F.layer[0], F.layer_len[0]);
	ck_assert_uint_eq(mem_count(&F.srv, F.layer_digest[0]), 2);
	for (size_t i = 0, seen = 0; i < F.srv.n_log; i++)
		if (strstr(F.srv.log[i].url, F.layer_digest[0]))
			ck_assert_uint_eq(F.srv.log[i].range_from, seen++ ? 100000 : 0);
}
END_TEST

START_TEST(pull_restarts_when_range_ignored)
{
	lc_pull_opts o = opts();
	lc_error err = LC_ERROR_INIT;
	mem_route *r;

	r = add(F.url_layer[0], 200, F.layer[0], F.layer_len[0]);
	r->cut_after = 70000;
	r->times = 2;
	add_image_routes(NULL); /* no honor_range: answers 200 with everything */
	ck_assert_msg(pull("reg.test/app", &o, NULL, &err) == 0, "%s", err.msg);
	assert_blob_cached(F.layer_digest[0], F.layer[0], F.layer_len[0]);
	ck_assert_uint_eq(mem_count(&F.srv, F.layer_digest[0]), 3);
}
END_TEST

START_TEST(pull_backoff_429_and_5xx)
{
	lc_pull_opts o = opts();
	lc_error err = LC_ERROR_INIT;
	mem_route *r;
	int64_t t0;

	r = add(BASE "/manifests/latest", 429, NULL, 0);
	r->headers = "Retry-After: 1\n";
	r->times = 1;
	r = add(F.url_layer[1], 503, NULL, 0);
	r->times = 2;
	add_image_routes(NULL);
	t0 = lc_now_ms();
	ck_assert_msg(pull("reg.test/app", &o, NULL, &err) == 0, "%s", err.msg);
	ck_assert_int_ge(lc_now_ms() - t0, 950); /* Retry-After: 1 was honoured */
	ck_assert_uint_eq(mem_count(&F.srv, "/manifests/latest"), 2);
	ck_assert_uint_eq(mem_count(&F.srv, F.layer_digest[1]), 3);
}
END_TEST

START_TEST(pull_retries_exhausted)
{
	lc_pull_opts o = opts();
	lc_error err = LC_ERROR_INIT;

	add(F.url_layer[1], 502, "{\"errors\":[{\"code\":\"BAD\",\"message\":\"gateway\"}]}", 0);
	add_image_routes(NULL);
	ck_assert_int_eq(pull("reg.test/app", &o, NULL, &err), -LC_EHTTP);
	ck_assert_ptr_nonnull(strstr(err.msg, "HTTP 502: BAD: gateway (after 4 attempts)"));
	ck_assert_uint_eq(mem_count(&F.srv, F.layer_digest[1]), 4);
	ck_assert(!blob_exists(F.layer_digest[1]));
	assert_cache_clean();
}
END_TEST

START_TEST(pull_streams_layers)
{
	lc_pull_opts o = opts();
	lc_error err = LC_ERROR_INIT;
	lc_pull *p = NULL;
	char buf[7000];

	add_image_routes(NULL);
	ck_assert_int_eq(
	    lc_pull_new_transport(F.ctx, "reg.test/app", &o, mem_transport_new(&F.srv), &p, &err),
	    0);
	ck_assert_int_eq(lc_pull_layer_read(p, 0, buf, sizeof(buf), &(size_t){0}, &err), -EINVAL);
	ck_assert_int_eq(lc_pull_start(p, &err), 0);
	for (int l = 0; l < 2; l++) {
		lc_buf got = LC_BUF_INIT;
		size_t n;
		do {
			ck_assert_int_eq(
			    lc_pull_layer_read(p, (size_t)l, buf, sizeof(buf), &n, &err), 0);
			lc_buf_append(&got, buf, n);
		} while (n > 0);
		ck_assert_uint_eq(got.len, F.layer_len[l]);
		ck_assert(memcmp(got.data, F.layer[l], got.len) == 0);
		lc_buf_free(&got);
	}
	ck_assert_int_eq(lc_pull_layer_read(p, 2, buf, sizeof(buf), &(size_t){0}, &err), -EINVAL);
	ck_assert_int_eq(lc_pull_wait(p, &err), 0);
	lc_pull_free(p);
}
END_TEST

START_TEST(pull_stream_sees_failure)
{
	lc_pull_opts o = opts();
	lc_error err = LC_ERROR_INIT;
	lc_pull *p = NULL;
	char buf[4096];
	size_t n;
	int r;

	add(F.url_layer[0], 200, F.layer[1], F.layer_len[1]); /* too short, wrong content */
	add_image_routes(NULL);
	ck_assert_int_eq(
	    lc_pull_new_transport(F.ctx, "reg.test/app", &o, mem_transport_new(&F.srv), &p, &err),
	    0);
	ck_assert_int_eq(lc_pull_start(p, &err), 0);
	do
		r = lc_pull_layer_read(p, 0, buf, sizeof(buf), &n, &err);
	while (r == 0 && n > 0);
	ck_assert_int_lt(r, 0); /* short, wrong content never reads as complete */
	ck_assert_int_lt(lc_pull_wait(p, &err), 0);
	lc_pull_free(p);
	assert_cache_clean();
}
END_TEST

static int cancel_after_first(void *u, const lc_progress *p)
{
	int *calls = u;

	(void)p;
	return ++*calls >= 2;
}

START_TEST(pull_cancel_from_progress)
{
	lc_pull_opts o = opts();
	lc_error err = LC_ERROR_INIT;
	int calls = 0;

	add_image_routes(NULL);
	o.progress = cancel_after_first;
	o.progress_userdata = &calls;
	ck_assert_int_eq(pull("reg.test/app", &o, NULL, &err), -LC_ECANCELED);
	assert_cache_clean();
	ck_assert(!blob_exists(F.layer_digest[1]));
}
END_TEST

typedef struct lock_holder {
	int fd;
} lock_holder;

static void *finish_other_download(void *u)
{
	lock_holder *h = u;
	char *path = lc_blob_path(F.cache, F.layer_digest[0]);
	FILE *f;

	lc_sleep_ms(300);
	f = fopen(path, "w");
	fwrite(F.layer[0], 1, F.layer_len[0], f);
	fclose(f);
	free(path);
	flock(h->fd, LOCK_UN);
	return NULL;
}

START_TEST(pull_waits_for_other_downloader)
{
	lc_pull_opts o = opts();
	lc_error err = LC_ERROR_INIT;
	char path[512];
	lock_holder h;
	pthread_t t;

	add_image_routes(NULL);
	snprintf(path, sizeof(path), "%s/locks", F.cache);
	ck_assert_int_eq(lc_mkdir_p(path, 0700, NULL), 0);
	ck_assert_int_lt(
	    snprintf(path, sizeof(path), "%s/locks/sha256-%s", F.cache, F.layer_digest[0] + 7),
	    (int)sizeof(path));
	h.fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_int_ge(h.fd, 0);
	/* flock locks belong to the open file description: another open one conflicts */
	ck_assert_int_eq(flock(h.fd, LOCK_EX), 0);
	pthread_create(&t, NULL, finish_other_download, &h);
	ck_assert_msg(pull("reg.test/app", &o, NULL, &err) == 0, "%s", err.msg);
	pthread_join(t, NULL);
	close(h.fd);
	ck_assert_uint_eq(mem_count(&F.srv, F.layer_digest[0]), 0);
	ck_assert_ptr_nonnull(strstr(F.log.data, "another process is downloading it"));
}
END_TEST

START_TEST(pull_rejects_bad_options)
{
	lc_pull_opts o = opts();
	lc_error err = LC_ERROR_INIT;
	lc_pull *p = NULL;

	o.flags = 1u << 30;
	ck_assert_int_eq(
	    lc_pull_new_transport(F.ctx, "reg.test/app", &o, mem_transport_new(&F.srv), &p, &err),
	    -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "unknown flags"));
	o = opts();
	o.version = 99;
	ck_assert_int_eq(lc_pull_new(F.ctx, "reg.test/app", &o, &p, &err), -EINVAL);
	ck_assert_int_eq(lc_pull_new(F.ctx, "Bad/Ref", NULL, &p, NULL), -LC_EREF);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(lc_image_pull(NULL, "x", NULL, NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(pull_manifest_too_large)
{
	lc_pull_opts o = opts();
	lc_error err = LC_ERROR_INIT;
	size_t big = LC_MANIFEST_MAX + 1;
	char *body = malloc(big);

	memset(body, ' ', big);
	add(BASE "/manifests/latest", 200, body, big);
	ck_assert_int_eq(pull("reg.test/app", &o, NULL, &err), -LC_EMANIFEST);
	ck_assert_ptr_nonnull(strstr(err.msg, "larger than"));
	free(body);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pull");
	TCase *tc = tcase_create("pull");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, pull_anonymous_and_cache_hit);
	tcase_add_test(tc, pull_index_chooses_platform);
	tcase_add_test(tc, pull_pinned_digest_verified);
	tcase_add_test(tc, pull_token_anonymous);
	tcase_add_test(tc, pull_token_with_credentials);
	tcase_add_test(tc, pull_basic_auth);
	tcase_add_test(tc, pull_token_renewed_on_401);
	tcase_add_test(tc, pull_token_renewed_before_expiry);
	tcase_add_test(tc, pull_denied_is_clear);
	tcase_add_test(tc, pull_blob_digest_mismatch);
	tcase_add_test(tc, pull_blob_oversize);
	tcase_add_test(tc, pull_resumes_cut_transfer);
	tcase_add_test(tc, pull_restarts_when_range_ignored);
	tcase_add_test(tc, pull_backoff_429_and_5xx);
	tcase_add_test(tc, pull_retries_exhausted);
	tcase_add_test(tc, pull_streams_layers);
	tcase_add_test(tc, pull_stream_sees_failure);
	tcase_add_test(tc, pull_cancel_from_progress);
	tcase_add_test(tc, pull_waits_for_other_downloader);
	tcase_add_test(tc, pull_rejects_bad_options);
	tcase_add_test(tc, pull_manifest_too_large);
	suite_add_tcase(s, tc);
	return lc_test_run(s);
}
