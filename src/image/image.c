/* SPDX-License-Identifier: Apache-2.0 */
/* The image description: what a manifest says of an image plus its config (image-spec). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

int lc_image_new(lc_image **ret, lc_error *err)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : lc_fail(err, ENOMEM, "out of memory");
}

void lc_descriptors_free(lc_descriptor *d, size_t n)
{
	for (size_t i = 0; d && i < n; i++)
		free(d[i].media_type);
	free(d);
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
	free(img->diff_ids);
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
