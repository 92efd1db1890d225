/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The image config's formats: the OCI config a registry serves (image-spec config.md), our own
 * JSON that a squashfs file carries on its root (the same shape plus where the image came
 * from), and what enroot's squashfs files hold instead (/etc/environment, /etc/rc).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "image.h"

/* ---------------------------------------------------------------- the OCI config */

/* A JSON array of strings as a NULL-terminated vector; absent/null -> NULL with r == 0. */
static int strv_from_json(json_t *a, const char *field, char ***ret, lc_error *err)
{
	char **v;
	json_t *s;
	size_t i;

	*ret = NULL;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return lc_fail(err, LC_EMANIFEST, "image config: %s is not an array", field);
	v = calloc(json_array_size(a) + 1, sizeof(*v));
	if (!v)
		return lc_fail(err, ENOMEM, "image config: out of memory");
	json_array_foreach(a, i, s)
	{
		if (!json_is_string(s)) {
			lc_strv_free(v);
			return lc_fail(err, LC_EMANIFEST, "image config: %s holds a non-string",
				       field);
		}
		v[i] = strndup(json_string_value(s), json_string_length(s));
		if (!v[i] || strlen(v[i]) != json_string_length(s)) {
			lc_strv_free(v);
			return lc_fail(err, v[i] ? LC_EMANIFEST : ENOMEM,
				       "image config: %s holds a string with a NUL byte", field);
		}
	}
	*ret = v;
	return 0;
}

static int str_from_json(json_t *j, char **ret, lc_error *err)
{
	const char *s = json_string_value(j);

	*ret = NULL;
	if (!s || !*s)
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : lc_fail(err, ENOMEM, "image config: out of memory");
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const lc_label *)a)->key, ((const lc_label *)b)->key);
}

static int labels_from_json(lc_image *img, json_t *o, lc_error *err)
{
	const char *key;
	json_t *v;

	if (!json_is_object(o))
		return 0;
	img->labels = calloc(json_object_size(o) + 1, sizeof(*img->labels));
	if (!img->labels)
		return lc_fail(err, ENOMEM, "image config: out of memory");
	json_object_foreach(o, key, v)
	{
		lc_label *l = &img->labels[img->n_labels];

		if (!json_is_string(v))
			continue;
		l->key = strdup(key);
		l->value = strdup(json_string_value(v));
		img->n_labels++;
		if (!l->key || !l->value)
			return lc_fail(err, ENOMEM, "image config: out of memory");
	}
	qsort(img->labels, img->n_labels, sizeof(*img->labels), label_cmp);
	return 0;
}

/* rootfs.diff_ids: every one a sha256 digest (absent: none; the import then refuses). */
static int diff_ids_from_json(lc_image *img, json_t *rootfs, lc_error *err)
{
	json_t *ids = json_object_get(rootfs, "diff_ids"), *id;
	size_t i;

	if (!ids || json_is_null(ids))
		return 0;
	if (!json_is_array(ids))
		return lc_fail(err, LC_EMANIFEST, "image config: rootfs.diff_ids is not an array");
	img->diff_ids = calloc(json_array_size(ids) + 1, sizeof(*img->diff_ids));
	if (!img->diff_ids)
		return lc_fail(err, ENOMEM, "image config: out of memory");
	json_array_foreach(ids, i, id)
	{
		const char *d = json_string_value(id);

		if (!d || !lc_digest_is_valid(d))
			return lc_fail(err, LC_EMANIFEST,
				       "image config: rootfs.diff_ids[%zu] is not a sha256 digest",
				       i);
		memcpy(img->diff_ids[i], d, strlen(d) + 1);
	}
	img->n_diff_ids = json_array_size(ids);
	return 0;
}

int lc_image_parse_config(lc_image *img, const char *body, size_t len, lc_error *err)
{
	_cleanup_(json_decrefp) json_t *root = NULL;
	json_error_t jerr;
	json_t *c;
	int r;

	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root))
		return lc_fail(err, LC_EMANIFEST, "image config: invalid JSON at line %d: %s",
			       jerr.line, root ? "not an object" : jerr.text);
	c = json_object_get(root, "config");
	if ((r = str_from_json(json_object_get(root, "os"), &img->os, err)) < 0 ||
	    (r = str_from_json(json_object_get(root, "architecture"), &img->architecture, err)) <
		0 ||
	    (r = str_from_json(json_object_get(root, "variant"), &img->variant, err)) < 0 ||
	    (r = diff_ids_from_json(img, json_object_get(root, "rootfs"), err)) < 0)
		return r;
	if (!json_is_object(c))
		return 0; /* a config without "config" is valid: nothing set */
	if ((r = strv_from_json(json_object_get(c, "Env"), "Env", &img->env, err)) < 0 ||
	    (r = strv_from_json(json_object_get(c, "Entrypoint"), "Entrypoint", &img->entrypoint,
				err)) < 0 ||
	    (r = strv_from_json(json_object_get(c, "Cmd"), "Cmd", &img->cmd, err)) < 0 ||
	    (r = str_from_json(json_object_get(c, "WorkingDir"), &img->workdir, err)) < 0 ||
	    (r = str_from_json(json_object_get(c, "User"), &img->user, err)) < 0)
		return r;
	return labels_from_json(img, json_object_get(c, "Labels"), err);
}

/* ---------------------------------------------------------------- our form */

static json_t *strv_json(const char *const *v)
{
	json_t *a = json_array();

	for (; a && v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static void set_str(json_t *o, const char *key, const char *value)
{
	if (value)
		json_object_set_new(o, key, json_string(value));
}

/* The image config as JSON (LC_IMAGE_XATTR): the OCI config's shape ("config": Env,
 * Entrypoint, Cmd, WorkingDir, User, Labels) plus where the image came from. */
char *lc_image_config_json(const lc_image *img)
{
	json_t *o = json_object(), *c = json_object(), *labels = json_object();
	char *text;

	if (!o || !c || !labels) {
		json_decref(o);
		json_decref(c);
		json_decref(labels);
		return NULL;
	}
	set_str(o, "reference", lc_image_reference(img));
	set_str(o, "digest", lc_image_digest(img));
	set_str(o, "config_digest", lc_image_config_digest(img));
	set_str(o, "os", lc_image_os(img));
	set_str(o, "architecture", lc_image_architecture(img));
	if (lc_image_env(img))
		json_object_set_new(c, "Env", strv_json(lc_image_env(img)));
	if (lc_image_entrypoint(img))
		json_object_set_new(c, "Entrypoint", strv_json(lc_image_entrypoint(img)));
	if (lc_image_cmd(img))
		json_object_set_new(c, "Cmd", strv_json(lc_image_cmd(img)));
	set_str(c, "WorkingDir", lc_image_workdir(img));
	set_str(c, "User", lc_image_user(img));
	for (size_t i = 0; i < lc_image_label_count(img); i++)
		json_object_set_new(labels, lc_image_label_key(img, i),
				    json_string(lc_image_label(img, lc_image_label_key(img, i))));
	json_object_set_new(c, "Labels", labels);
	json_object_set_new(o, "config", c);
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return text;
}

int lc_image_from_config_json(lc_image *img, const char *json, lc_error *err)
{
	json_t *root = json_loads(json, 0, NULL);
	const char *ref = json_string_value(json_object_get(root, "reference"));
	const char *digest = json_string_value(json_object_get(root, "digest"));
	const char *cdigest = json_string_value(json_object_get(root, "config_digest"));
	int r = 0;

	if (!json_is_object(root))
		r = lc_fail(err, LC_EMANIFEST, "the image's config (%s) is not JSON",
			    LC_IMAGE_XATTR);
	if (r >= 0 && ref && !(img->reference = strdup(ref)))
		r = lc_fail(err, ENOMEM, "out of memory");
	if (r >= 0 && lc_digest_is_valid(digest))
		memcpy(img->digest, digest, 72);
	if (r >= 0 && lc_digest_is_valid(cdigest))
		memcpy(img->config.digest, cdigest, 72);
	json_decref(root);
	return r < 0 ? r : lc_image_parse_config(img, json, strlen(json), err);
}

/* enroot's images: /etc/environment holds Env (K=V lines); /etc/rc starts with
 * "# enroot-provenance: URI" and "# KEY VALUE" label lines, and is the entrypoint itself. */
int lc_image_from_enroot(lc_image *img, char *environment, char *rc, lc_error *err)
{
	size_t n = 0;
	char *save = NULL;

	img->env = calloc(strlen(environment ? environment : "") / 2 + 2, sizeof(char *));
	if (!img->env)
		return lc_fail(err, ENOMEM, "out of memory");
	for (char *l = environment ? strtok_r(environment, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save))
		if (*l != '#' && strchr(l, '=') && !(img->env[n++] = strdup(l)))
			return lc_fail(err, ENOMEM, "out of memory");
	if (!rc)
		return 0;
	if (lc_str_has_prefix(rc, "# enroot-provenance: ")) {
		size_t len = strcspn(rc + 21, "\n");
		img->reference = strndup(rc + 21, len);
	}
	img->entrypoint = calloc(2, sizeof(char *));
	if (!img->entrypoint || !(img->entrypoint[0] = strdup("/etc/rc")))
		return lc_fail(err, ENOMEM, "out of memory");
	return 0;
}
