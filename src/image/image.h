/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private interface of the image module: the image description (what a manifest says of it
 * and its config: env, entrypoint, cmd, workdir, user, labels) and the config's formats. It
 * sits below registry, squash and runtime: the registry fills it from a manifest and the OCI
 * config, the squashfs file carries it (our JSON on the root's xattr, or enroot's files), the
 * runtime reads it through the public getters.
 */
#ifndef LC_IMAGE_H
#define LC_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "../util/util.h"

/* The root directory's xattr that carries the image config in a squashfs file. */
#define LC_IMAGE_XATTR "user.lc.image"

/* A content descriptor (image-spec descriptor.md): what a manifest names. */
typedef struct lc_descriptor {
	char *media_type;
	char digest[72];
	uint64_t size;
} lc_descriptor;
void lc_descriptors_free(lc_descriptor *d, size_t n);

typedef struct lc_label {
	char *key;
	char *value;
} lc_label;

struct lc_image {
	char *reference;
	char digest[72];
	char index_digest[72]; /* "" when not from an index */
	lc_descriptor config;
	lc_descriptor *layers;
	size_t n_layers;
	char **layer_paths; /* in the blob cache, once pulled */
	char *os;
	char *architecture;
	char *variant;
	char **env;
	char **entrypoint;
	char **cmd;
	char *workdir;
	char *user;
	lc_label *labels; /* sorted by key */
	size_t n_labels;
	/* the config's rootfs.diff_ids: each layer's uncompressed digest, bottom first (the
	 * import checks them); NULL when the config has none */
	char (*diff_ids)[72];
	size_t n_diff_ids;
};

/* An empty image (nothing set). */
int lc_image_new(lc_image **ret, lc_error *err);

/* ---- formats (config.c) */
/* Fill the config part of @img from an OCI image config JSON (image-spec config.md). */
int lc_image_parse_config(lc_image *img, const char *body, size_t len, lc_error *err);
/* Our form, as the squashfs file carries it: the OCI config's shape ("config": Env,
 * Entrypoint, Cmd, WorkingDir, User, Labels) plus where the image came from (reference,
 * digest, config_digest, os, architecture). NULL when out of memory. */
char *lc_image_config_json(const lc_image *img);
/* Fill @img from lc_image_config_json()'s text. */
int lc_image_from_config_json(lc_image *img, const char *json, lc_error *err);
/* enroot's images: @environment holds Env (K=V lines, may be NULL); @rc (may be NULL) starts
 * with "# enroot-provenance: URI" and is the entrypoint itself (it applies the rest). Both are
 * modified. */
int lc_image_from_enroot(lc_image *img, char *environment, char *rc, lc_error *err);

#endif
