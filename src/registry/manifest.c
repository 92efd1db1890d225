/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Manifests: OCI image index and manifest (https://github.com/opencontainers/image-spec,
 * image-index.md and manifest.md) and Docker schema 2 manifest list / manifest
 * (https://distribution.github.io/distribution/spec/manifest-v2-2/). Schema 1 is refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <jansson.h>

#include "registry.h"

void lc_platform_host(lc_platform *ret)
{
	static const struct {
		const char *machine, *arch, *variant;
	} map[] = {
	    {"x86_64", "amd64", NULL},    {"aarch64", "arm64", "v8"},
	    {"ppc64le", "ppc64le", NULL}, {"s390x", "s390x", NULL},
	    {"riscv64", "riscv64", NULL}, {"i686", "386", NULL},
	    {"i386", "386", NULL},        {"armv7l", "arm", "v7"},
	    {"armv6l", "arm", "v6"},      {"loongarch64", "loong64", NULL},
	};
	struct utsname u;

	ret->os = "linux";
	ret->architecture = "amd64";
	ret->variant = NULL;
	if (uname(&u) < 0)
		return;
	for (size_t i = 0; i < LC_ELEMENTSOF(map); i++) {
		if (strcmp(u.machine, map[i].machine) == 0) {
			ret->architecture = map[i].arch;
			ret->variant = map[i].variant;
			return;
		}
	}
}

static json_t *parse_json(const char *body, size_t len, const char *what, lc_error *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);

	if (!root) {
		lc_fail_domain(err, LC_DOMAIN_REGISTRY, LC_EMANIFEST,
			       "%s: invalid JSON at line %d: %s", what, jerr.line, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		lc_fail_domain(err, LC_DOMAIN_REGISTRY, LC_EMANIFEST, "%s: not a JSON object",
			       what);
		return NULL;
	}
	return root;
}

static int manifest_error(lc_error *err, const char *fmt, const char *arg)
{
	return lc_fail_domain(err, LC_DOMAIN_REGISTRY, LC_EMANIFEST, fmt, arg);
}

int lc_manifest_kind(const char *content_type, const char *body, size_t len,
		     enum lc_manifest_kind *ret, lc_error *err)
{
	_cleanup_(json_decrefp) json_t *root = NULL;
	const char *mt = NULL;
	json_int_t schema;

	if (content_type && lc_str_has_prefix(content_type, LC_MT_DOCKER_V1))
		return manifest_error(err, "%s",
				      "schema 1 manifests are not supported (push the image "
				      "again with a current client)");
	root = parse_json(body, len, "manifest", err);
	if (!root)
		return -LC_EMANIFEST;
	schema = json_integer_value(json_object_get(root, "schemaVersion"));
	if (schema == 1)
		return manifest_error(err, "%s",
				      "schema 1 manifests are not supported (push the image "
				      "again with a current client)");
	if (schema != 2)
		return manifest_error(err, "%s", "manifest: schemaVersion is not 2");
	mt = json_string_value(json_object_get(root, "mediaType"));
	if (!mt && content_type)
		mt = content_type;
	if (mt &&
	    (lc_str_has_prefix(mt, LC_MT_OCI_INDEX) || lc_str_has_prefix(mt, LC_MT_DOCKER_LIST))) {
		*ret = LC_MANIFEST_INDEX;
		return 0;
	}
	if (mt && (lc_str_has_prefix(mt, LC_MT_OCI_MANIFEST) ||
		   lc_str_has_prefix(mt, LC_MT_DOCKER_MANIFEST))) {
		*ret = LC_MANIFEST_IMAGE;
		return 0;
	}
	/* OCI allows mediaType to be absent: decide by shape */
	if (json_is_array(json_object_get(root, "manifests"))) {
		*ret = LC_MANIFEST_INDEX;
		return 0;
	}
	if (json_is_array(json_object_get(root, "layers"))) {
		*ret = LC_MANIFEST_IMAGE;
		return 0;
	}
	return manifest_error(err, "manifest: unsupported media type '%s'", mt ? mt : "(none)");
}

static int descriptor_parse(json_t *j, const char *what, lc_descriptor *ret, lc_error *err)
{
	const char *mt = json_string_value(json_object_get(j, "mediaType"));
	const char *digest = json_string_value(json_object_get(j, "digest"));
	json_t *size = json_object_get(j, "size");

	if (!json_is_object(j) || !digest || !json_is_integer(size))
		return manifest_error(err, "manifest: %s descriptor lacks digest or size", what);
	if (!lc_digest_is_valid(digest))
		return manifest_error(err, "manifest: %s digest is not a sha256 digest", what);
	if (json_integer_value(size) < 0)
		return manifest_error(err, "manifest: %s size is negative", what);
	memset(ret, 0, sizeof(*ret));
	ret->media_type = strdup(mt ? mt : "");
	if (!ret->media_type)
		return lc_fail(err, ENOMEM, "manifest: out of memory");
	memcpy(ret->digest, digest, 72);
	ret->size = (uint64_t)json_integer_value(size);
	return 0;
}

static bool str_eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* Score of an index entry for @want: < 0 no match, higher is better. */
static int platform_score(json_t *platform, const lc_platform *want)
{
	const char *os = json_string_value(json_object_get(platform, "os"));
	const char *arch = json_string_value(json_object_get(platform, "architecture"));
	const char *variant = json_string_value(json_object_get(platform, "variant"));

	if (!str_eq(os, want->os) || !str_eq(arch, want->architecture))
		return -1;
	if (!want->variant || !*want->variant)
		return variant ? 1 : 2;
	if (str_eq(variant, want->variant))
		return 3;
	/* arm64 images often omit the (only) variant v8 */
	if (!variant && str_eq(want->architecture, "arm64") && str_eq(want->variant, "v8"))
		return 2;
	return -1;
}

static void append_platform(lc_buf *b, json_t *platform)
{
	const char *os = json_string_value(json_object_get(platform, "os"));
	const char *arch = json_string_value(json_object_get(platform, "architecture"));
	const char *variant = json_string_value(json_object_get(platform, "variant"));

	if (b->len > 200)
		return;
	(void)lc_buf_printf(b, "%s%s/%s%s%s", b->len ? ", " : "", os ? os : "?", arch ? arch : "?",
			    variant ? "/" : "", variant ? variant : "");
}

int lc_index_select(const char *body, size_t len, const lc_platform *want, lc_descriptor *ret,
		    lc_error *err)
{
	_cleanup_(json_decrefp) json_t *root = parse_json(body, len, "index", err);
	json_t *manifests, *m, *best = NULL;
	lc_buf seen = LC_BUF_INIT;
	int best_score = -1;
	size_t i;

	if (!root)
		return -LC_EMANIFEST;
	manifests = json_object_get(root, "manifests");
	if (!json_is_array(manifests))
		return manifest_error(err, "%s", "index: no 'manifests' array");
	json_array_foreach(manifests, i, m)
	{
		int score = platform_score(json_object_get(m, "platform"), want);

		append_platform(&seen, json_object_get(m, "platform"));
		if (score > best_score) {
			best_score = score;
			best = m;
		}
	}
	if (!best) {
		int r = lc_fail_domain(err, LC_DOMAIN_REGISTRY, LC_EPLATFORM,
				       "no image for platform %s/%s%s%s (the index has: %s)",
				       want->os, want->architecture, want->variant ? "/" : "",
				       want->variant ? want->variant : "",
				       seen.len ? seen.data : "none");
		lc_buf_free(&seen);
		return r;
	}
	lc_buf_free(&seen);
	return descriptor_parse(best, "index entry", ret, err);
}

int lc_manifest_parse(const char *body, size_t len, lc_descriptor *ret_config,
		      lc_descriptor **ret_layers, size_t *ret_n, lc_error *err)
{
	_cleanup_(json_decrefp) json_t *root = parse_json(body, len, "manifest", err);
	lc_descriptor config, *layers;
	json_t *jl, *l;
	size_t i, n;
	int r;

	if (!root)
		return -LC_EMANIFEST;
	jl = json_object_get(root, "layers");
	if (!json_is_array(jl))
		return manifest_error(err, "%s", "manifest: no 'layers' array");
	n = json_array_size(jl);
	if (n > LC_LAYERS_MAX)
		return manifest_error(err, "%s", "manifest: more than 1024 layers");
	r = descriptor_parse(json_object_get(root, "config"), "config", &config, err);
	if (r < 0)
		return r;
	layers = calloc(n ? n : 1, sizeof(*layers));
	if (!layers) {
		free(config.media_type);
		return lc_fail(err, ENOMEM, "manifest: out of memory");
	}
	json_array_foreach(jl, i, l)
	{
		r = descriptor_parse(l, "layer", &layers[i], err);
		if (r < 0) {
			lc_descriptors_free(layers, i);
			free(config.media_type);
			return r;
		}
	}
	*ret_config = config;
	*ret_layers = layers;
	*ret_n = n;
	return 0;
}
