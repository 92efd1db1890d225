/* SPDX-License-Identifier: Apache-2.0 */
/* The image description: manifest facts plus the image config (image-spec config.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "registry.h"

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
	    (r = str_from_json(json_object_get(root, "variant"), &img->variant, err)) < 0)
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

LC_API lc_image *lc_image_free(lc_image *img)
{
	if (!img)
		return NULL;
	free(img->reference);
	free(img->config.media_type);
	lc_descriptors_free(img->layers, img->n_layers);
	for (size_t i = 0; img->layer_paths && i < img->n_layers; i++)
		free(img->layer_paths[i]);
	free(img->layer_paths);
	free(img->os);
	free(img->architecture);
	free(img->variant);
	lc_strv_free(img->env);
	lc_strv_free(img->entrypoint);
	lc_strv_free(img->cmd);
	free(img->workdir);
	free(img->user);
	for (size_t i = 0; i < img->n_labels; i++) {
		free(img->labels[i].key);
		free(img->labels[i].value);
	}
	free(img->labels);
	free(img);
	return NULL;
}

LC_API const char *lc_image_reference(const lc_image *img)
{
	return img ? img->reference : NULL;
}

LC_API const char *lc_image_digest(const lc_image *img)
{
	return img ? img->digest : NULL;
}

LC_API const char *lc_image_index_digest(const lc_image *img)
{
	return img && img->index_digest[0] ? img->index_digest : NULL;
}

LC_API const char *lc_image_config_digest(const lc_image *img)
{
	return img ? img->config.digest : NULL;
}

LC_API const char *lc_image_os(const lc_image *img)
{
	return img ? img->os : NULL;
}

LC_API const char *lc_image_architecture(const lc_image *img)
{
	return img ? img->architecture : NULL;
}

LC_API size_t lc_image_layer_count(const lc_image *img)
{
	return img ? img->n_layers : 0;
}

LC_API const char *lc_image_layer_digest(const lc_image *img, size_t index)
{
	return img && index < img->n_layers ? img->layers[index].digest : NULL;
}

LC_API const char *lc_image_layer_media_type(const lc_image *img, size_t index)
{
	return img && index < img->n_layers ? img->layers[index].media_type : NULL;
}

LC_API uint64_t lc_image_layer_size(const lc_image *img, size_t index)
{
	return img && index < img->n_layers ? img->layers[index].size : 0;
}

LC_API const char *lc_image_layer_path(const lc_image *img, size_t index)
{
	return img && img->layer_paths && index < img->n_layers ? img->layer_paths[index] : NULL;
}

LC_API const char *const *lc_image_env(const lc_image *img)
{
	return img ? (const char *const *)img->env : NULL;
}

LC_API const char *const *lc_image_entrypoint(const lc_image *img)
{
	return img ? (const char *const *)img->entrypoint : NULL;
}

LC_API const char *const *lc_image_cmd(const lc_image *img)
{
	return img ? (const char *const *)img->cmd : NULL;
}

LC_API const char *lc_image_workdir(const lc_image *img)
{
	return img ? img->workdir : NULL;
}

LC_API const char *lc_image_user(const lc_image *img)
{
	return img ? img->user : NULL;
}

LC_API const char *lc_image_label(const lc_image *img, const char *key)
{
	for (size_t i = 0; img && key && i < img->n_labels; i++)
		if (strcmp(img->labels[i].key, key) == 0)
			return img->labels[i].value;
	return NULL;
}

LC_API size_t lc_image_label_count(const lc_image *img)
{
	return img ? img->n_labels : 0;
}

LC_API const char *lc_image_label_key(const lc_image *img, size_t index)
{
	return img && index < img->n_labels ? img->labels[index].key : NULL;
}
