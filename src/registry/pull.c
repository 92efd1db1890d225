/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pulling an image: reference → (index → platform) manifest → config → layers.
 * Every document fetched by digest is verified against that digest.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "registry.h"

#define CREDENTIALS_MAX (1u << 20)
#define DEFAULT_CONNECTIONS 8
#define MAX_CONNECTIONS 64

struct lc_pull {
	lc_ctx *ctx;
	lc_pull_opts opts;
	lc_ref *ref;
	lc_transport *transport;
	lc_registry reg;
	bool reg_ready;
	lc_platform platform;
	char *cache_dir;
	lc_image *img;
	lc_blob_set *layers;
};

/* ---------------------------------------------------------------- settings */

static bool env_is_yes(const char *name)
{
	const char *v = secure_getenv(name);

	return v &&
	       (strcasecmp(v, "yes") == 0 || strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0);
}

static bool registry_in_list(const char *list, const char *registry)
{
	size_t n = strlen(registry);

	for (const char *p = list; p && *p;) {
		size_t len = strcspn(p, ",");
		if (len == n && strncmp(p, registry, n) == 0)
			return true;
		p += len;
		p += *p == ',';
	}
	return false;
}

static bool use_http(const lc_pull *p)
{
	if (p->opts.flags & LC_PULL_ALLOW_HTTP)
		return true;
	if ((p->opts.flags & LC_PULL_USE_ENV) && env_is_yes("ENROOT_ALLOW_HTTP"))
		return true;
	return registry_in_list(p->opts.http_registries, p->ref->registry);
}

int lc_pull_default_cache_dir(char **ret, lc_error *err)
{
	const char *xdg = secure_getenv("XDG_CACHE_HOME");
	const char *home = secure_getenv("HOME");
	int n;

	if (xdg && *xdg == '/')
		n = asprintf(ret, "%s/libcontainer", xdg);
	else if (home && *home == '/')
		n = asprintf(ret, "%s/.cache/libcontainer", home);
	else
		return lc_fail(err, EINVAL, "no cache directory: set one, or HOME");
	if (n < 0)
		return lc_fail(err, ENOMEM, "cache directory: out of memory");
	return 0;
}

/* Path from the option, else (with LC_PULL_USE_ENV) from $VAR/leaf or $HOME/home_leaf. */
static char *config_path(const lc_pull *p, const char *opt, const char *var, const char *leaf,
			 const char *home_leaf)
{
	const char *v, *home;
	char *path = NULL;

	if (opt)
		return strdup(opt);
	if (!(p->opts.flags & LC_PULL_USE_ENV))
		return NULL;
	v = secure_getenv(var);
	home = secure_getenv("HOME");
	if (v && *v) {
		if (asprintf(&path, "%s/%s", v, leaf) < 0)
			return NULL;
	} else if (home && *home) {
		if (asprintf(&path, "%s/%s", home, home_leaf) < 0)
			return NULL;
	}
	return path;
}

typedef int (*cred_lookup_fn)(const char *text, const char *registry, const char *user,
			      lc_credentials *ret, lc_error *err);

/* Look @p's registry up in one file; a missing default file is no error. */
static int credentials_from(lc_pull *p, const char *path, bool explicit_path, cred_lookup_fn fn,
			    lc_credentials *ret, lc_error *err)
{
	_cleanup_free_ char *text = NULL;
	int r;

	if (!path)
		return 0;
	if (!explicit_path && access(path, F_OK) < 0)
		return 0;
	r = lc_file_read_all(path, CREDENTIALS_MAX, &text, NULL, err);
	if (r < 0)
		return lc_error_prefix(err, r, "credentials");
	r = fn(text, p->ref->registry, p->ref->user, ret, err);
	explicit_bzero(text, strlen(text));
	if (r < 0)
		return lc_error_prefix(err, r, "credentials '%s'", path);
	if (ret->login)
		lc_debug(p->ctx, "using credentials of '%s' for '%s' from '%s'", ret->login,
			 p->ref->registry, path);
	return 0;
}

static int find_credentials(lc_pull *p, lc_credentials *ret, lc_error *err)
{
	_cleanup_free_ char *netrc = config_path(p, p->opts.credentials_file, "ENROOT_CONFIG_PATH",
						 ".credentials", ".config/enroot/.credentials");
	_cleanup_free_ char *docker = config_path(p, p->opts.docker_config, "DOCKER_CONFIG",
						  "config.json", ".docker/config.json");
	int r;

	memset(ret, 0, sizeof(*ret));
	r = credentials_from(p, netrc, p->opts.credentials_file != NULL, lc_netrc_lookup, ret, err);
	if (r >= 0 && !ret->login)
		r = credentials_from(p, docker, p->opts.docker_config != NULL,
				     lc_docker_config_lookup, ret, err);
	if (r >= 0 && !ret->login && p->ref->user)
		r = lc_fail(err, LC_EAUTH, "no credentials for user '%s' on '%s'", p->ref->user,
			    p->ref->registry);
	return r;
}

static unsigned max_connections(const lc_pull *p)
{
	unsigned n = p->opts.max_connections;
	const char *v;

	if (!n && (p->opts.flags & LC_PULL_USE_ENV) &&
	    (v = secure_getenv("ENROOT_MAX_CONNECTIONS"))) {
		char *end = NULL;
		unsigned long x = strtoul(v, &end, 10);
		if (end != v && *end == '\0')
			n = (unsigned)(x > MAX_CONNECTIONS ? MAX_CONNECTIONS : x);
	}
	if (!n)
		n = DEFAULT_CONNECTIONS;
	return n > MAX_CONNECTIONS ? MAX_CONNECTIONS : n;
}

static int setup(lc_pull *p, lc_error *err)
{
	lc_transport_opts t = {p->opts.connect_timeout_s ? p->opts.connect_timeout_s : 30,
			       p->opts.low_speed_time_s ? p->opts.low_speed_time_s : 60};
	lc_credentials cred = {0};
	lc_registry_opts ro;
	int r;

	lc_platform_host(&p->platform);
	if (p->opts.os)
		p->platform.os = p->opts.os;
	if (p->opts.architecture) {
		p->platform.architecture = p->opts.architecture;
		p->platform.variant = p->opts.variant;
	} else if (p->opts.variant) {
		p->platform.variant = p->opts.variant;
	}
	r = p->opts.cache_dir ? ((p->cache_dir = strdup(p->opts.cache_dir))
				     ? 0
				     : lc_fail(err, ENOMEM, "out of memory"))
			      : lc_pull_default_cache_dir(&p->cache_dir, err);
	if (r >= 0 && !p->transport)
		r = lc_transport_curl_new(&t, &p->transport, err);
	if (r >= 0)
		r = find_credentials(p, &cred, err);
	if (r < 0) {
		lc_credentials_clear(&cred);
		return r;
	}
	ro = (lc_registry_opts){p->ref->registry,
				p->ref->repository,
				use_http(p),
				&cred,
				p->opts.retries ? p->opts.retries : 5,
				p->opts.retry_base_ms ? p->opts.retry_base_ms : 500};
	r = lc_registry_init(&p->reg, p->ctx, p->transport, &ro, err);
	lc_credentials_clear(&cred);
	p->reg_ready = r >= 0;
	return r;
}

/* ---------------------------------------------------------------- manifests */

static int fetch_manifest(lc_pull *p, const char *tag_or_digest, lc_registry_answer *ret,
			  enum lc_manifest_kind *ret_kind, lc_error *err)
{
	_cleanup_free_ char *path = NULL;
	char got[72];
	int r;

	if (asprintf(&path, "manifests/%s", tag_or_digest) < 0)
		return lc_fail(err, ENOMEM, "manifest: out of memory");
	r = lc_registry_fetch(&p->reg, path, true, LC_MANIFEST_MAX, ret, err);
	if (r < 0)
		return r;
	lc_sha256_digest(ret->body.data ?: "", ret->body.len, got);
	if (lc_str_has_prefix(tag_or_digest, "sha256:") && strcmp(got, tag_or_digest) != 0) {
		lc_registry_answer_clear(ret);
		return lc_fail_domain(err, LC_DOMAIN_REGISTRY, LC_EDIGEST,
				      "manifest %s: digest mismatch (received %s), rejected",
				      tag_or_digest, got);
	}
	r = lc_manifest_kind(ret->content_type, ret->body.data ?: "", ret->body.len, ret_kind, err);
	if (r < 0) {
		lc_registry_answer_clear(ret);
		return r;
	}
	memcpy(p->img->digest, got, sizeof(got));
	return 0;
}

static int resolve_manifest(lc_pull *p, lc_registry_answer *ret, lc_error *err)
{
	const char *want = p->ref->digest ? p->ref->digest : p->ref->tag;
	enum lc_manifest_kind kind;
	lc_descriptor d;
	int r;

	r = fetch_manifest(p, want, ret, &kind, err);
	if (r < 0 || kind == LC_MANIFEST_IMAGE)
		return r;
	memcpy(p->img->index_digest, p->img->digest, sizeof(p->img->index_digest));
	r = lc_index_select(ret->body.data, ret->body.len, &p->platform, &d, err);
	lc_registry_answer_clear(ret);
	if (r < 0)
		return r;
	free(d.media_type);
	lc_debug(p->ctx, "index %s: chose %s for %s/%s", p->img->index_digest, d.digest,
		 p->platform.os, p->platform.architecture);
	r = fetch_manifest(p, d.digest, ret, &kind, err);
	if (r >= 0 && kind != LC_MANIFEST_IMAGE) {
		lc_registry_answer_clear(ret);
		r = lc_fail(err, LC_EMANIFEST, "index entry %s is not an image manifest", d.digest);
	}
	return r;
}

static int fill_layer_paths(lc_pull *p, lc_error *err)
{
	lc_image *img = p->img;

	img->layer_paths = calloc(img->n_layers + 1, sizeof(char *));
	if (!img->layer_paths)
		return lc_fail(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < img->n_layers; i++)
		if (!(img->layer_paths[i] = lc_blob_path(p->cache_dir, img->layers[i].digest)))
			return lc_fail(err, ENOMEM, "out of memory");
	return 0;
}

static lc_blob_set_opts blob_opts(lc_pull *p, bool config)
{
	return (lc_blob_set_opts){p->ctx,
				  &p->reg,
				  p->cache_dir,
				  max_connections(p),
				  p->opts.progress,
				  p->opts.progress_userdata,
				  config};
}

static int check_platform(lc_pull *p, lc_error *err)
{
	const lc_image *img = p->img;

	if (p->opts.flags & LC_PULL_ANY_PLATFORM)
		return 0;
	if ((img->os && strcmp(img->os, p->platform.os) != 0) ||
	    (img->architecture && strcmp(img->architecture, p->platform.architecture) != 0))
		return lc_fail_domain(err, LC_DOMAIN_REGISTRY, LC_EPLATFORM,
				      "image '%s' is for %s/%s, not %s/%s", img->reference,
				      img->os ? img->os : "?",
				      img->architecture ? img->architecture : "?", p->platform.os,
				      p->platform.architecture);
	return 0;
}

static int fetch_config(lc_pull *p, lc_error *err)
{
	lc_blob_set_opts o = blob_opts(p, true);
	lc_blob_set *set = NULL;
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ char *body = NULL;
	size_t len = 0;
	int r;

	if (p->img->config.size > LC_CONFIG_MAX)
		return lc_fail(err, LC_EMANIFEST, "image config %s is larger than %u bytes",
			       p->img->config.digest, LC_CONFIG_MAX);
	r = lc_blob_set_new(&o, &p->img->config, 1, &set, err);
	if (r >= 0)
		r = lc_blob_set_run(set, err);
	lc_blob_set_free(set);
	if (r < 0)
		return r;
	path = lc_blob_path(p->cache_dir, p->img->config.digest);
	if (!path)
		return lc_fail(err, ENOMEM, "out of memory");
	r = lc_file_read_all(path, LC_CONFIG_MAX, &body, &len, err);
	if (r >= 0)
		r = lc_image_parse_config(p->img, body, len, err);
	if (r >= 0)
		r = check_platform(p, err);
	return r;
}

static int resolve(lc_pull *p, lc_error *err)
{
	lc_registry_answer m = {0};
	int r;

	p->img = calloc(1, sizeof(*p->img));
	if (!p->img || !(p->img->reference = strdup(p->ref->canonical)))
		return lc_fail(err, ENOMEM, "out of memory");
	r = resolve_manifest(p, &m, err);
	if (r >= 0)
		r = lc_manifest_parse(m.body.data, m.body.len, &p->img->config, &p->img->layers,
				      &p->img->n_layers, err);
	lc_registry_answer_clear(&m);
	if (r >= 0)
		r = fill_layer_paths(p, err);
	if (r >= 0)
		r = fetch_config(p, err);
	if (r < 0)
		return r;
	lc_info(p->ctx, "resolved '%s' to %s (%zu layers)", p->img->reference, p->img->digest,
		p->img->n_layers);
	return 0;
}

/* ---------------------------------------------------------------- public */

static int check_opts(const lc_pull_opts *o, lc_error *err)
{
	return lc_opts_check(o, o->version, LC_PULL_OPTS_VERSION, o->flags, LC_PULL_ALL,
			     "lc_pull_opts", err);
}

int lc_pull_new_transport(lc_ctx *ctx, const char *ref, const lc_pull_opts *opts,
			  lc_transport *transport, lc_pull **ret_pull, lc_error *err)
{
	static const lc_pull_opts defaults = LC_PULL_OPTS_INIT;
	lc_error local = LC_ERROR_INIT;
	lc_pull *p;
	int r;

	if (!err)
		err = &local;
	if (!ctx || !ref || !ret_pull)
		r = lc_fail(err, EINVAL, "lc_pull_new: NULL argument");
	else
		r = check_opts(opts ? opts : &defaults, err);
	p = r < 0 ? NULL : calloc(1, sizeof(*p));
	if (!p) {
		if (transport)
			transport->free(transport);
		return r < 0 ? r : lc_fail(err, ENOMEM, "out of memory");
	}
	p->transport = transport;
	p->ctx = ctx;
	p->opts = opts ? *opts : defaults;
	r = lc_ref_parse(ref, &p->ref, err);
	if (r >= 0)
		r = setup(p, err);
	if (r >= 0)
		r = resolve(p, err);
	if (r < 0) {
		lc_pull_free(p);
		return r;
	}
	*ret_pull = p;
	return 0;
}

LC_API int lc_pull_new(lc_ctx *ctx, const char *ref, const lc_pull_opts *opts, lc_pull **ret_pull,
		       lc_error *err)
{
	return lc_pull_new_transport(ctx, ref, opts, NULL, ret_pull, err);
}

LC_API const lc_image *lc_pull_image(const lc_pull *pull)
{
	return pull ? pull->img : NULL;
}

LC_API int lc_pull_start(lc_pull *p, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	lc_blob_set_opts o;
	int r;

	if (!err)
		err = &local;
	if (!p)
		return lc_fail(err, EINVAL, "lc_pull_start: NULL pull");
	if (p->layers)
		return lc_fail(err, EALREADY, "pull already started");
	o = blob_opts(p, false);
	r = lc_blob_set_new(&o, p->img->layers, p->img->n_layers, &p->layers, err);
	if (r < 0)
		return r;
	return lc_blob_set_start(p->layers, err);
}

LC_API int lc_pull_layer_read(lc_pull *p, size_t index, void *buf, size_t len, size_t *ret_n,
			      lc_error *err)
{
	lc_error local = LC_ERROR_INIT;

	if (!err)
		err = &local;
	if (!p || !buf || !ret_n || !p->layers)
		return lc_fail(err, EINVAL,
			       "lc_pull_layer_read: pull not started or NULL argument");
	return lc_blob_set_read(p->layers, index, buf, len, ret_n, err);
}

LC_API int lc_pull_wait(lc_pull *p, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;

	if (!err)
		err = &local;
	if (!p || !p->layers)
		return lc_fail(err, EINVAL, "lc_pull_wait: pull not started");
	return lc_blob_set_wait(p->layers, err);
}

bool lc_pull_is_started(const lc_pull *p)
{
	return p->layers != NULL;
}

lc_ctx *lc_pull_ctx(const lc_pull *p)
{
	return p->ctx;
}

lc_image *lc_pull_take_image(lc_pull *p)
{
	return TAKE_PTR(p->img);
}

LC_API lc_pull *lc_pull_free(lc_pull *p)
{
	if (!p)
		return NULL;
	lc_blob_set_free(p->layers);
	lc_image_free(p->img);
	if (p->reg_ready)
		lc_registry_clear(&p->reg);
	if (p->transport)
		p->transport->free(p->transport);
	lc_ref_free(p->ref);
	free(p->cache_dir);
	free(p);
	return NULL;
}

LC_API int lc_image_pull(lc_ctx *ctx, const char *ref, const lc_pull_opts *opts,
			 lc_image **ret_image, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	lc_pull *p = NULL;
	int r;

	if (!err)
		err = &local;
	if (!ret_image)
		return lc_fail(err, EINVAL, "lc_image_pull: ret_image is NULL");
	r = lc_pull_new(ctx, ref, opts, &p, err);
	if (r >= 0)
		r = lc_pull_start(p, err);
	if (r >= 0)
		r = lc_pull_wait(p, err);
	if (r >= 0)
		*ret_image = lc_pull_take_image(p);
	lc_pull_free(p);
	return r;
}
