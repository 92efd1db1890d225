/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Import: registry layers → one squashfs file, in one stream (DESIGN.md decisions 2 and 3).
 * Layers are read topmost first while they download, merged into the tree, file data goes
 * straight to the block processor; the output appears under its name only when complete.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../registry/registry.h"
#include "../squash/squash.h"

/* The image config on the root directory. */
static int image_xattr(lc_tree *t, const lc_image *img, lc_error *err)
{
	char *text = lc_image_config_json(img);
	int r = text ? lc_node_add_xattr(t->root, LC_IMAGE_XATTR, text, strlen(text)) : -ENOMEM;

	free(text);
	return r < 0 ? lc_fail(err, ENOMEM, "out of memory") : 0;
}

/* ---------------------------------------------------------------- layers */

typedef struct pull_source {
	lc_pull *pull;
	size_t index;
} pull_source;

static int pull_read(void *u, void *buf, size_t len, size_t *ret_n, lc_error *err)
{
	pull_source *s = u;

	return lc_pull_layer_read(s->pull, s->index, buf, len, ret_n, err);
}

typedef struct import_job {
	lc_pull *pull;
	const lc_image *img;
	lc_ctx *ctx;
	lc_tree tree;
	lc_sqfs_writer *w;
	bool prefer_zlib;
	lc_import_stats *stats;
	const lc_import_opts *opts;
	uint64_t tar_bytes;
	void *pending; /* hardlink targets still to fill (merge.c) */
} import_job;

static void report(import_job *j, enum lc_import_phase phase, size_t layer)
{
	lc_import_progress p = {phase, layer, lc_image_layer_count(j->img), j->tar_bytes};

	if (j->opts->progress)
		j->opts->progress(j->opts->progress_userdata, &p);
}

static int open_layer(import_job *j, size_t i, const lc_layer_source *src, bool hash,
		      lc_layer_stream **ret, lc_error *err)
{
	enum lc_layer_compression comp;
	int r = lc_layer_compression_of(lc_image_layer_media_type(j->img, i), &comp, err);

	if (r >= 0)
		r = lc_layer_stream_open(src, comp, j->prefer_zlib, hash, ret, err);
	return r < 0 ? lc_error_prefix(err, r, "layer %s", lc_image_layer_digest(j->img, i)) : r;
}

/* Second pass over a finished layer, from the cache, for hardlink targets: its own shadowed
 * ones, and higher layers' links to its files. */
static int resolve_pending(import_job *j, size_t i, void *pending, lc_error *err)
{
	_cleanup_close_ int fd = open(lc_image_layer_path(j->img, i), O_RDONLY | O_CLOEXEC);
	lc_layer_source src = lc_layer_source_fd(fd);
	lc_merge_layer l = {(int)i, lc_image_layer_digest(j->img, i), NULL};
	int r;

	if (fd < 0)
		return lc_fail(err, errno, "open '%s': %m", lc_image_layer_path(j->img, i));
	r = open_layer(j, i, &src, false, &l.stream, err);
	if (r >= 0)
		r = lc_merge_resolve_pending(&j->tree, j->w, &l, pending, err);
	lc_layer_stream_free(l.stream);
	return r;
}

static int diff_id_mismatch(import_job *j, size_t i, const char *got, lc_error *err)
{
	return lc_fail(err, LC_EMANIFEST,
		       "layer %s: its content is not what the image config says "
		       "(rootfs.diff_ids[%zu] is %s, the layer's is %s)",
		       lc_image_layer_digest(j->img, i), i, j->img->diff_ids[i], got);
}

/* The layer's uncompressed stream (hashed on its own thread while it was merged) is the one
 * the image config names (rootfs.diff_ids), as containerd checks. */
static int check_diff_id(import_job *j, size_t i, lc_layer_stream *stream, lc_error *err)
{
	char got[72];
	int r = lc_layer_stream_finish(stream, got, err);

	if (r < 0)
		return lc_error_prefix(err, r, "layer %s", lc_image_layer_digest(j->img, i));
	return strcmp(got, j->img->diff_ids[i]) ? diff_id_mismatch(j, i, got, err) : 0;
}

/* A plain tar layer is its own uncompressed stream: its diff_id is its digest, which the pull
 * verifies as it reads the blob, so the two are compared, not hashed again (docker save's and
 * podman's layers). */
static bool layer_is_plain(import_job *j, size_t i)
{
	enum lc_layer_compression comp;
	lc_error ignored = LC_ERROR_INIT;

	return lc_layer_compression_of(lc_image_layer_media_type(j->img, i), &comp, &ignored) >=
		   0 &&
	       comp == LC_LAYER_NONE;
}

/* One diff_id per layer, as containerd requires. */
static int check_diff_ids(const lc_image *img, lc_error *err)
{
	if (img->n_diff_ids != img->n_layers)
		return lc_fail(err, LC_EMANIFEST,
			       "image config: rootfs.diff_ids names %zu layers, the manifest %zu",
			       img->n_diff_ids, img->n_layers);
	return 0;
}

static int merge_layer(import_job *j, size_t i, lc_error *err)
{
	pull_source ps = {j->pull, i};
	lc_layer_source src = {pull_read, &ps};
	lc_merge_layer l = {(int)i, lc_image_layer_digest(j->img, i), NULL};
	char drain[4096];
	size_t n;
	bool check = !(j->opts->flags & LC_IMPORT_NO_DIFF_IDS), plain = layer_is_plain(j, i);
	bool hash = check && !plain;
	int r = 0;

	if (check && plain && strcmp(lc_image_layer_digest(j->img, i), j->img->diff_ids[i]))
		r = diff_id_mismatch(j, i, lc_image_layer_digest(j->img, i), err);
	if (r >= 0)
		r = open_layer(j, i, &src, hash, &l.stream, err);
	if (r >= 0)
		r = lc_merge_layer_apply(&j->tree, j->w, &l, j->ctx, &j->pending, err);
	if (r >= 0 && hash)
		r = check_diff_id(j, i, l.stream, err);
	if (l.stream)
		lc_layer_stream_stop(l.stream);
	/* the tar may end before the blob does (padding): read to the end, which verifies it */
	while (r >= 0 && (r = lc_pull_layer_read(j->pull, i, drain, sizeof(drain), &n, err)) >= 0 &&
	       n > 0)
		;
	if (r >= 0 && l.stream) {
		j->tar_bytes += lc_layer_stream_bytes_out(l.stream);
		if (j->stats) {
			j->stats->layer_bytes += lc_layer_stream_bytes_in(l.stream);
			j->stats->tar_bytes += lc_layer_stream_bytes_out(l.stream);
		}
	}
	lc_layer_stream_free(l.stream);
	if (r >= 0 && lc_merge_has_pending(j->pending))
		r = resolve_pending(j, i, j->pending, err);
	return r;
}

static int convert(import_job *j, int fd, const lc_sqfs_writer_opts *wo, lc_error *err)
{
	int64_t t0 = lc_now_ms(), t1;
	size_t n = lc_image_layer_count(j->img);
	int r = lc_tree_init(&j->tree, err);

	if (r >= 0)
		r = lc_sqfs_writer_new(fd, wo, &j->w, err);
	for (size_t i = n; r >= 0 && i-- > 0;) {
		lc_debug(j->ctx, "merging layer %zu %s", i, lc_image_layer_digest(j->img, i));
		report(j, LC_IMPORT_CONVERTING, i);
		r = merge_layer(j, i, err);
	}
	if (r >= 0)
		r = lc_merge_pending_check(j->pending, err);
	lc_merge_pending_free(j->pending);
	j->pending = NULL;
	if (r >= 0)
		r = image_xattr(&j->tree, j->img, err);
	t1 = lc_now_ms();
	if (r >= 0)
		report(j, LC_IMPORT_FINISHING, 0);
	if (r >= 0)
		r = lc_sqfs_writer_finish(j->w, &j->tree, err);
	if (j->stats) {
		j->stats->convert_ms = (uint64_t)(t1 - t0);
		j->stats->finish_ms = (uint64_t)(lc_now_ms() - t1);
	}
	j->w = lc_sqfs_writer_free(j->w);
	lc_tree_free(&j->tree);
	return r;
}

static int check_import_opts(const lc_import_opts *o, lc_error *err)
{
	return lc_opts_check(o, o->version, LC_IMPORT_OPTS_VERSION, o->flags, LC_IMPORT_ALL,
			     "lc_import_opts", err);
}

LC_API int lc_import(lc_pull *pull, const char *output, const lc_import_opts *opts,
		     lc_import_stats *stats, lc_error *err)
{
	static const lc_import_opts defaults = LC_IMPORT_OPTS_INIT;
	lc_error local = LC_ERROR_INIT;
	lc_sqfs_writer_opts wo;
	import_job j = {0};
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	if (!err)
		err = &local;
	if (!pull || !output)
		return lc_fail(err, EINVAL, "lc_import: NULL argument");
	if (!opts)
		opts = &defaults;
	r = check_import_opts(opts, err);
	if (r >= 0)
		r = lc_sqfs_writer_opts_parse(opts, &wo, err);
	if (r < 0)
		return r;
	if (!(opts->flags & LC_IMPORT_FORCE) && lstat(output, &st) == 0)
		return lc_fail(err, EEXIST, "'%s' already exists", output);
	if (stats)
		memset(stats, 0, sizeof(*stats));
	j = (import_job){pull,
			 lc_pull_image(pull),
			 lc_pull_ctx(pull),
			 {0},
			 NULL,
			 (opts->flags & LC_IMPORT_ZLIB) != 0,
			 stats,
			 opts,
			 0};
	if ((!(opts->flags & LC_IMPORT_NO_DIFF_IDS) && (r = check_diff_ids(j.img, err)) < 0) ||
	    (!lc_pull_is_started(pull) && (r = lc_pull_start(pull, err)) < 0))
		return r;
	r = lc_output_open_temp_at(AT_FDCWD, output, &tmp, &fd, err);
	if (r < 0)
		return r;
	r = convert(&j, fd, &wo, err);
	if (r >= 0)
		r = lc_pull_wait(pull, err);
	if (r >= 0 && stats && fstat(fd, &st) == 0)
		stats->image_bytes = (uint64_t)st.st_size;
	if (r >= 0)
		r = lc_output_publish_at(fd, AT_FDCWD, tmp, output, opts->flags & LC_IMPORT_FORCE,
					 err);
	if (r >= 0)
		report(&j, LC_IMPORT_DONE, 0);
	if (r < 0 && tmp)
		(void)unlink(tmp);
	return r;
}
