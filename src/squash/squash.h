/* SPDX-License-Identifier: Apache-2.0 */
/* Private interface of the squash module: layer streams, the merge tree, the squashfs writer. */
#ifndef LC_SQUASH_H
#define LC_SQUASH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../image/image.h"

struct archive;
struct archive_entry;
struct sqfs_inode_generic_t;

/* ================================================================ layer streams (layer.c) */
enum lc_layer_compression { LC_LAYER_NONE, LC_LAYER_GZIP, LC_LAYER_ZSTD };
int lc_layer_compression_of(const char *media_type, enum lc_layer_compression *ret, lc_error *err);

/* Where compressed bytes come from: *ret_n == 0 at the end. */
typedef struct lc_layer_source {
	int (*read)(void *userdata, void *buf, size_t len, size_t *ret_n, lc_error *err);
	void *userdata;
} lc_layer_source;
lc_layer_source lc_layer_source_fd(int fd);

typedef struct lc_layer_stream lc_layer_stream;
/* @prefer_zlib: inflate gzip with zlib instead of ISA-L (for comparison and as a fallback);
 * @hash: hash the uncompressed stream on a thread of its own (lc_layer_stream_finish). */
int lc_layer_stream_open(const lc_layer_source *src, enum lc_layer_compression comp,
			 bool prefer_zlib, bool hash, lc_layer_stream **ret, lc_error *err);
/* Once libarchive read the tar's end: read what follows it (padding; at most 16 MiB), hash
 * it too, stop the threads and give the uncompressed stream's "sha256:<hex>" (the layer's
 * diff_id). Only with @hash. */
int lc_layer_stream_finish(lc_layer_stream *s, char ret_digest[72], lc_error *err);
struct archive *lc_layer_stream_archive(lc_layer_stream *s);
int lc_layer_stream_error(lc_layer_stream *s, lc_error *err);
/* Stop and join the inflate thread (idempotent): needed before reading the source directly
 * again, and before the byte counters below are read. */
void lc_layer_stream_stop(lc_layer_stream *s);
uint64_t lc_layer_stream_bytes_in(const lc_layer_stream *s);
uint64_t lc_layer_stream_bytes_out(const lc_layer_stream *s);
lc_layer_stream *lc_layer_stream_free(lc_layer_stream *s);

/* ================================================================ the merge tree (tree.c) */
typedef struct lc_xattr {
	char *key;
	void *value;
	size_t size;
} lc_xattr;

typedef struct lc_node lc_node;
struct lc_node {
	lc_node *parent;
	char *name;
	uint32_t mode; /* type and permission bits */
	uint32_t uid, gid;
	int64_t mtime;
	int layer;          /* index of the layer that defined this node */
	int opaque_layer;   /* lower layers than this one contribute no children; -1: none */
	bool whiteout;      /* a tombstone: hides lower layers, never emitted */
	bool implicit;      /* a parent dir no entry described (yet) */
	lc_node **children; /* sorted by name (byte order, as squashfs wants) */
	size_t n_children, cap_children;
	char *symlink;     /* link target */
	uint64_t rdev;     /* devices */
	uint64_t size;     /* regular files: bytes */
	lc_node *hardlink; /* set: this entry is another name of that node's inode */
	struct sqfs_inode_generic_t *inode; /* regular files: filled by the block processor */
	lc_xattr *xattrs;
	size_t n_xattrs;
	/* serialisation */
	uint32_t nlink;
	uint32_t inode_num;
	uint64_t inode_ref;
	uint32_t xattr_idx;
	bool emitted;
	bool written;
};

typedef struct lc_node_list {
	lc_node **items;
	size_t n, cap;
} lc_node_list;

typedef struct lc_tree {
	lc_node *root;
	lc_node_list extra; /* inodes no directory holds directly (shadowed hardlink targets) */
	lc_node_list dead;  /* replaced nodes: the block processor may still point into them */
} lc_tree;
int lc_node_list_push(lc_node_list *l, lc_node *n);
/* Take @n out of its directory and keep it until lc_tree_free. */
int lc_tree_bury(lc_tree *t, lc_node *n);
/* The namespaces squashfs stores xattrs of: user., trusted., security. */
bool lc_xattr_is_storable(const char *key);
/* Append a copy of one xattr to @n; 0 or -ENOMEM (@n unchanged). */
int lc_node_add_xattr(lc_node *n, const char *key, const void *value, size_t size);
/* Follow hardlink aliases to the node that owns the inode. */
lc_node *lc_node_inode_owner(lc_node *n);

int lc_tree_init(lc_tree *t, lc_error *err);
void lc_tree_free(lc_tree *t);
/* Split and check a tar path: no "..", not absolute, no empty result unless root. Components
 * are returned in place (modifies @path); *ret_n is their number. */
int lc_path_split(char *path, char ***ret_parts, size_t *ret_n, lc_error *err);
lc_node *lc_node_child(const lc_node *dir, const char *name);
int lc_node_add_child(lc_node *dir, lc_node *child);
void lc_node_remove_child(lc_node *dir, lc_node *child);
lc_node *lc_node_new(const char *name, uint32_t mode, int layer);
void lc_node_free(lc_node *n);
void lc_node_clear_content(lc_node *n);

/* ================================================================ files and errors (io.c) */
#include <sqfs/io.h>
typedef struct lc_fd_file {
	sqfs_file_t base;
	int fd;
	uint64_t size;
	uint64_t *budget; /* bytes it may still read (NULL: no bound); shared with the image's */
	int error;        /* errno of the last failed read, write or truncate */
} lc_fd_file;
void lc_fd_file_init(lc_fd_file *f, int fd, uint64_t size);
/* Fill @err from a libsquashfs error code; returns -errno. */
int lc_sqfs_fail(lc_error *err, int sqfs_code, const char *what);
/* The same, naming the system's error behind an I/O failure on @f ("No space left on
 * device"). */
int lc_sqfs_file_fail(const lc_fd_file *f, lc_error *err, int sqfs_code, const char *what);

/* ================================================================ squashfs images (image.c) */
#include <sqfs/super.h>
#include <sqfs/predef.h>
/* An open image: its tables, and (when asked) the whole directory tree. Untrusted input. */
typedef struct lc_sqfs_image {
	int fd;
	lc_fd_file file;
	sqfs_super_t super;
	sqfs_compressor_t *cmp;
	sqfs_id_table_t *ids;
	sqfs_dir_reader_t *dirs;
	sqfs_data_reader_t *data;
	sqfs_xattr_reader_t *xattrs;
	sqfs_tree_node_t *root; /* NULL unless opened with @full_tree */
	bool has_xattrs;        /* an xattr table was read (lc_sqfs_each_xattr needs one) */
	/* with a budget: what may still be read and decompressed, and the compressor that counts */
	uint64_t budget_left;
	sqfs_compressor_t *counted;
} lc_sqfs_image;
/* Takes @fd (closed on failure too); @name is for messages. @budget (0: none) bounds the bytes
 * read from the file and decompressed, together, over the image's life: what a hostile image's
 * tables can make the caller allocate and touch (a file inode that claims a block list of
 * gigabytes, a metadata block that decompresses 400-fold, read over and over). */
int lc_sqfs_image_open_fd(int fd, const char *name, bool full_tree, uint64_t budget,
			  lc_sqfs_image *im, lc_error *err);
/* Whether a budget was given and is spent (a failure then says so). */
bool lc_sqfs_image_budget_spent(const lc_sqfs_image *im);
/* Opens @path with the full tree. */
int lc_sqfs_image_open(const char *path, lc_sqfs_image *im, lc_error *err);
void lc_sqfs_image_close(lc_sqfs_image *im);
/* lc_squash_image_config() on an open file (takes @fd); reads no more than it needs. */
int lc_squash_image_config_fd(int fd, const char *name, lc_image **ret, lc_error *err);
uint64_t lc_sqfs_inode_size(const sqfs_inode_generic_t *in);
uint32_t lc_sqfs_inode_nlink(const sqfs_inode_generic_t *in);
uint64_t lc_sqfs_inode_rdev(const sqfs_inode_generic_t *in); /* makedev() form */
char *lc_sqfs_link_target(const sqfs_inode_generic_t *in);   /* NULL unless a symlink */
/* Called for each xattr of an inode with its full name; return 0 to go on, 1 to stop. */
typedef int (*lc_sqfs_xattr_fn)(void *userdata, const char *name, const void *value, size_t size);
/* Walk the xattrs of @in; -EIO when the table is corrupt. */
int lc_sqfs_each_xattr(lc_sqfs_image *im, const sqfs_inode_generic_t *in, lc_sqfs_xattr_fn fn,
		       void *userdata);

/* ================================================================ output files (output.c) */
/* The file being written for @name (which may have a directory part) in @dir_fd (AT_FDCWD:
 * the current directory), mode 0644 & ~umask: an unnamed one in its directory (O_TMPFILE:
 * *@ret_tmp NULL; a killed writer leaves nothing), else a temporary ".NAME.HEX" beside it
 * (*@ret_tmp its name, as @name is given; the caller unlinks it on failure). */
int lc_output_open_temp_at(int dir_fd, const char *name, char **ret_tmp, int *ret_fd,
			   lc_error *err);
/* fsync, then link it in (or rename @tmp) at @name: over it (@force), or only if it does not
 * exist. */
int lc_output_publish_at(int fd, int dir_fd, const char *tmp, const char *name, bool force,
			 lc_error *err);

/* ================================================================ squashfs writer (writer.c) */
typedef struct lc_sqfs_writer lc_sqfs_writer;
/* mksquashfs's (and so enroot's): a container's start touches a few blocks of many files, and
 * decompresses each whole (measured: debian starts 5 ms sooner than with 1 MiB blocks, for an
 * image 11% larger). */
#define LC_SQFS_DEFAULT_BLOCK_SIZE (128u << 10)
typedef struct lc_sqfs_writer_opts {
	int compression_level; /* zstd level; 0 means "no compression" only with uncompressed */
	bool uncompressed;
	uint32_t block_size;
	unsigned threads;
	bool all_root;          /* map every owner to 0:0 */
	uint64_t max_file_size; /* a larger file is refused (lc_import_opts.max_file_size) */
} lc_sqfs_writer_opts;
int lc_sqfs_writer_new(int fd, const lc_sqfs_writer_opts *o, lc_sqfs_writer **ret, lc_error *err);
/* The largest file it takes (its options' max_file_size). */
uint64_t lc_sqfs_writer_max_file_size(const lc_sqfs_writer *w);
/* File data: begin (node->inode gets filled), append, end. */
int lc_sqfs_writer_begin_file(lc_sqfs_writer *w, lc_node *node, lc_error *err);
int lc_sqfs_writer_append(lc_sqfs_writer *w, const void *data, size_t len, lc_error *err);
int lc_sqfs_writer_end_file(lc_sqfs_writer *w, lc_error *err);
/* Write tables and superblock for @tree; @root_xattrs go on the root directory as well. */
int lc_sqfs_writer_finish(lc_sqfs_writer *w, lc_tree *tree, lc_error *err);
lc_sqfs_writer *lc_sqfs_writer_free(lc_sqfs_writer *w);

/* lc_squash_save() of the tree at @root_fd into @name in @dir_fd, with @config_json (may be NULL)
 * as the image config on its root (save.c). Entries the runtime injected (lc_injected) are
 * left out; a library cache it rebuilt (lc_rebuilt) is replaced by @cache (@cache_len bytes),
 * or left out when @cache is NULL. */
int lc_squash_save_at(lc_ctx *ctx, int root_fd, int dir_fd, const char *name,
		      const lc_import_opts *opts, const char *config_json, const char *cache,
		      size_t cache_len, lc_error *err);

/* Writer options from the public import options (ENROOT_SQUASH_OPTIONS and so on) (options.c). */
int lc_sqfs_writer_opts_parse(const lc_import_opts *io, lc_sqfs_writer_opts *o, lc_error *err);

/* ================================================================ merge (merge.c) */
typedef struct lc_merge lc_merge;
typedef struct lc_merge_layer {
	int index;          /* 0 = bottom */
	const char *digest; /* for messages */
	lc_layer_stream *stream;
} lc_merge_layer;
/* Apply one layer, top-down order (highest index first). *@pending (NULL at the first layer,
 * then kept for the import) collects the hardlink targets still to fill. */
int lc_merge_layer_apply(lc_tree *t, lc_sqfs_writer *w, const lc_merge_layer *l, lc_ctx *ctx,
			 void **pending, lc_error *err);
/* Write the data of hardlink targets that are in layer @l: its own shadowed ones and those of
 * higher layers' links (a second pass over the layer, while lc_merge_has_pending). */
int lc_merge_resolve_pending(lc_tree *t, lc_sqfs_writer *w, const lc_merge_layer *l, void *pending,
			     lc_error *err);
bool lc_merge_has_pending(const void *pending);
/* After the bottom layer: a target never found fails, naming the linking layer and the path. */
int lc_merge_pending_check(void *pending, lc_error *err);
void lc_merge_pending_free(void *pending);

#endif
