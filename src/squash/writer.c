/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The squashfs writer, on libsquashfs (squashfs-tools-ng). File data streams through the block
 * processor (compression on every core) as the layers are read; inodes and directories are
 * written at the end from the merged tree, children before their directory (a directory entry
 * needs its child's inode reference). Format: squashfs 4.0 (the kernel's
 * Documentation/filesystems/squashfs.rst).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <sqfs/block.h>
#include <sqfs/block_processor.h>
#include <sqfs/block_writer.h>
#include <sqfs/compressor.h>
#include <sqfs/dir_writer.h>
#include <sqfs/error.h>
#include <sqfs/frag_table.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/meta_writer.h>
#include <sqfs/super.h>
#include <sqfs/xattr_writer.h>

#include "squash.h"

#define NO_XATTR 0xFFFFFFFFu
#define BACKLOG_BYTES (48u << 20)

struct lc_sqfs_writer {
	lc_fd_file file;
	lc_sqfs_writer_opts o;
	sqfs_compressor_t *cmp;
	sqfs_super_t super;
	sqfs_block_writer_t *blkwr;
	sqfs_frag_table_t *frag;
	sqfs_block_processor_t *proc;
	sqfs_id_table_t *ids;
	sqfs_xattr_writer_t *xattrs;
	sqfs_meta_writer_t *im;
	sqfs_meta_writer_t *dm;
	sqfs_dir_writer_t *dirw;
	uint32_t inode_count;
	uint32_t file_flags;
	bool in_file;
	bool finished;
};

/* ---------------------------------------------------------------- errors */

/* ---------------------------------------------------------------- setup */

static int make_compressor(lc_sqfs_writer *w, lc_error *err)
{
	sqfs_compressor_config_t cfg;
	int r = sqfs_compressor_config_init(&cfg, SQFS_COMP_ZSTD, w->o.block_size, 0);

	if (r == 0) {
		cfg.level = w->o.compression_level ? (sqfs_u32)w->o.compression_level : 3;
		r = sqfs_compressor_create(&cfg, &w->cmp);
	}
	return r ? lc_sqfs_file_fail(&w->file, err, r, "compressor") : 0;
}

static int make_processor(lc_sqfs_writer *w, lc_error *err)
{
	sqfs_block_processor_desc_t desc;
	unsigned threads = w->o.threads;
	int r;

	if (!threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)n : 1;
	}
	memset(&desc, 0, sizeof(desc));
	desc.size = sizeof(desc);
	desc.max_block_size = w->o.block_size;
	desc.num_workers = threads;
	/* blocks in flight: enough that workers never wait for the reader (measured: 4 per worker
	 * left a core idle, 16 kept both busy), capped by memory so RSS stays bounded on big nodes
	 */
	desc.max_backlog = 16 * threads;
	if (desc.max_backlog > BACKLOG_BYTES / w->o.block_size)
		desc.max_backlog = BACKLOG_BYTES / w->o.block_size;
	desc.cmp = w->cmp;
	desc.wr = w->blkwr;
	desc.tbl = w->frag;
	r = sqfs_block_processor_create_ex(&desc, &w->proc);
	return r ? lc_sqfs_file_fail(&w->file, err, r, "block processor") : 0;
}

static int write_super_and_options(lc_sqfs_writer *w, lc_error *err)
{
	int r = sqfs_super_init(&w->super, w->o.block_size, 0, SQFS_COMP_ZSTD);

	if (!r)
		r = sqfs_super_write(&w->super, &w->file.base);
	if (r)
		return lc_sqfs_file_fail(&w->file, err, r, "superblock");
	r = w->cmp->write_options(w->cmp, &w->file.base);
	if (r < 0)
		return lc_sqfs_file_fail(&w->file, err, r, "compressor options");
	if (r > 0)
		w->super.flags |= SQFS_FLAG_COMPRESSOR_OPTIONS;
	if (w->o.uncompressed)
		w->super.flags |= SQFS_FLAG_UNCOMPRESSED_DATA | SQFS_FLAG_UNCOMPRESSED_FRAGMENTS;
	return 0;
}

int lc_sqfs_writer_new(int fd, const lc_sqfs_writer_opts *o, lc_sqfs_writer **ret, lc_error *err)
{
	lc_sqfs_writer *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return lc_fail(err, ENOMEM, "out of memory");
	w->o = *o;
	if (!w->o.block_size)
		w->o.block_size = 1u << 20;
	lc_fd_file_init(&w->file, fd, 0);
	w->file_flags = o->uncompressed ? SQFS_BLK_DONT_COMPRESS : 0;
	r = make_compressor(w, err);
	if (r >= 0)
		r = write_super_and_options(w, err);
	if (r >= 0) {
		w->blkwr = sqfs_block_writer_create(&w->file.base, SQFS_DEVBLK_SIZE, 0);
		w->frag = sqfs_frag_table_create(0);
		w->ids = sqfs_id_table_create(0);
		w->xattrs = sqfs_xattr_writer_create(0);
		w->im = sqfs_meta_writer_create(&w->file.base, w->cmp, 0);
		w->dm =
		    sqfs_meta_writer_create(&w->file.base, w->cmp, SQFS_META_WRITER_KEEP_IN_MEMORY);
		w->dirw = w->dm ? sqfs_dir_writer_create(w->dm, 0) : NULL;
		if (!w->blkwr || !w->frag || !w->ids || !w->xattrs || !w->im || !w->dirw)
			r = lc_fail(err, ENOMEM, "squashfs writer: out of memory");
	}
	if (r >= 0)
		r = make_processor(w, err);
	if (r < 0) {
		lc_sqfs_writer_free(w);
		return r;
	}
	*ret = w;
	return 0;
}

uint64_t lc_sqfs_writer_max_file_size(const lc_sqfs_writer *w)
{
	return w->o.max_file_size ? w->o.max_file_size : LC_IMPORT_MAX_FILE_SIZE;
}

lc_sqfs_writer *lc_sqfs_writer_free(lc_sqfs_writer *w)
{
	if (!w)
		return NULL;
	/* an abandoned import: libsquashfs 1.2 frees the pending fragment block only when the
	 * processor finishes, so finish it (into the temp file that the caller removes) */
	if (w->proc && w->in_file)
		(void)sqfs_block_processor_end_file(w->proc);
	if (w->proc && !w->finished)
		(void)sqfs_block_processor_finish(w->proc);
	/* the processor first: its workers use the compressor and the block writer */
	sqfs_destroy(w->proc);
	sqfs_destroy(w->dirw);
	sqfs_destroy(w->dm);
	sqfs_destroy(w->im);
	sqfs_destroy(w->xattrs);
	sqfs_destroy(w->ids);
	sqfs_destroy(w->frag);
	sqfs_destroy(w->blkwr);
	sqfs_destroy(w->cmp);
	free(w);
	return NULL;
}

/* ---------------------------------------------------------------- file data */

int lc_sqfs_writer_begin_file(lc_sqfs_writer *w, lc_node *node, lc_error *err)
{
	int r = sqfs_block_processor_begin_file(w->proc, &node->inode, NULL, w->file_flags);

	w->in_file = r == 0;
	return r ? lc_sqfs_file_fail(&w->file, err, r, "begin file") : 0;
}

int lc_sqfs_writer_append(lc_sqfs_writer *w, const void *data, size_t len, lc_error *err)
{
	int r = sqfs_block_processor_append(w->proc, data, len);

	return r ? lc_sqfs_file_fail(&w->file, err, r, "file data") : 0;
}

int lc_sqfs_writer_end_file(lc_sqfs_writer *w, lc_error *err)
{
	int r = sqfs_block_processor_end_file(w->proc);

	w->in_file = false;
	return r ? lc_sqfs_file_fail(&w->file, err, r, "end file") : 0;
}

/* ---------------------------------------------------------------- tree serialisation */

/* Which nodes appear: no tombstones, no implicit directory that ended up empty. */
static bool mark_emitted(lc_node *n, bool is_root)
{
	bool any = false;

	if (n->whiteout)
		return n->emitted = false;
	for (size_t i = 0; i < n->n_children; i++)
		any |= mark_emitted(n->children[i], false);
	if (S_ISDIR(n->mode))
		return n->emitted = is_root || any || !n->implicit;
	return n->emitted = true;
}

/* Inode numbers in the order inodes are written (children, then their directory). */
static void number_inodes(lc_sqfs_writer *w, lc_node *n)
{
	lc_node *owner;

	if (S_ISDIR(n->mode)) {
		n->nlink = 2;
		for (size_t i = 0; i < n->n_children; i++) {
			lc_node *c = n->children[i];
			if (!c->emitted)
				continue;
			number_inodes(w, c);
			if (S_ISDIR(c->mode))
				n->nlink++;
		}
		n->inode_num = ++w->inode_count;
		return;
	}
	owner = lc_node_inode_owner(n);
	if (!owner->inode_num)
		owner->inode_num = ++w->inode_count;
	owner->nlink++;
}

static int xattr_index(lc_sqfs_writer *w, const lc_node *n, uint32_t *ret, lc_error *err)
{
	int r;

	*ret = NO_XATTR;
	if (n->n_xattrs == 0)
		return 0;
	r = sqfs_xattr_writer_begin(w->xattrs, 0);
	for (size_t i = 0; !r && i < n->n_xattrs; i++)
		r = sqfs_xattr_writer_add(w->xattrs, n->xattrs[i].key, n->xattrs[i].value,
					  n->xattrs[i].size);
	if (!r)
		r = sqfs_xattr_writer_end(w->xattrs, ret);
	return r ? lc_sqfs_file_fail(&w->file, err, r, "xattrs") : 0;
}

/* Linux's new_encode_dev(), the device number layout squashfs stores. */
static uint32_t encode_dev(uint64_t rdev)
{
	unsigned maj = major(rdev), min = minor(rdev);

	return (min & 0xff) | (maj << 8) | ((min & ~0xffu) << 12);
}

static sqfs_inode_generic_t *special_inode(const lc_node *n)
{
	size_t extra = S_ISLNK(n->mode) ? strlen(n->symlink) : 0;
	sqfs_inode_generic_t *in = calloc(1, sizeof(*in) + extra);

	if (!in)
		return NULL;
	switch (n->mode & S_IFMT) {
	case S_IFLNK:
		in->base.type = SQFS_INODE_SLINK;
		in->data.slink.nlink = n->nlink;
		in->data.slink.target_size = (sqfs_u32)extra;
		in->payload_bytes_available = in->payload_bytes_used = (sqfs_u32)extra;
		memcpy(in->extra, n->symlink, extra);
		break;
	case S_IFCHR:
	case S_IFBLK:
		in->base.type = S_ISCHR(n->mode) ? SQFS_INODE_CDEV : SQFS_INODE_BDEV;
		in->data.dev.nlink = n->nlink;
		in->data.dev.devno = encode_dev(n->rdev);
		break;
	default:
		in->base.type = S_ISFIFO(n->mode) ? SQFS_INODE_FIFO : SQFS_INODE_SOCKET;
		in->data.ipc.nlink = n->nlink;
		break;
	}
	return in;
}

static int file_inode(lc_node *n, sqfs_inode_generic_t **ret, lc_error *err)
{
	sqfs_inode_generic_t *in = n->inode;

	if (!in)
		return lc_fail(err, EIO, "squashfs: file without data inode");
	if (n->nlink > 1 && in->base.type == SQFS_INODE_FILE && sqfs_inode_make_extended(in))
		return lc_fail(err, EIO, "squashfs: cannot extend inode");
	if (in->base.type == SQFS_INODE_EXT_FILE)
		in->data.file_ext.nlink = n->nlink;
	n->inode = NULL; /* written below, then freed */
	*ret = in;
	return 0;
}

static uint32_t clamp_time(int64_t t)
{
	return t < 0 ? 0 : t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

/* Fill the common fields and append the inode to the inode table; records its reference. */
static int emit_inode(lc_sqfs_writer *w, lc_node *n, sqfs_inode_generic_t *in, lc_error *err)
{
	uint32_t xidx;
	sqfs_u64 block;
	sqfs_u32 offset;
	int r = xattr_index(w, n, &xidx, err);

	if (r < 0)
		return r;
	in->base.mode = (sqfs_u16)n->mode;
	in->base.mod_time = clamp_time(n->mtime);
	in->base.inode_number = n->inode_num;
	r = sqfs_inode_set_xattr_index(in, xidx);
	if (!r)
		r = sqfs_id_table_id_to_index(w->ids, w->o.all_root ? 0 : n->uid,
					      &in->base.uid_idx);
	if (!r)
		r = sqfs_id_table_id_to_index(w->ids, w->o.all_root ? 0 : n->gid,
					      &in->base.gid_idx);
	if (r)
		return lc_sqfs_file_fail(&w->file, err, r, "inode");
	sqfs_meta_writer_get_position(w->im, &block, &offset);
	n->inode_ref = (block << 16) | offset;
	r = sqfs_meta_writer_write_inode(w->im, in);
	return r ? lc_sqfs_file_fail(&w->file, err, r, "inode table") : 0;
}

static int write_leaf(lc_sqfs_writer *w, lc_node *n, lc_error *err)
{
	sqfs_inode_generic_t *in = NULL;
	int r;

	if (n->written)
		return 0;
	n->written = true;
	if (S_ISREG(n->mode)) {
		r = file_inode(n, &in, err);
		if (r < 0)
			return r;
	} else if (!(in = special_inode(n))) {
		return lc_fail(err, ENOMEM, "out of memory");
	}
	r = emit_inode(w, n, in, err);
	free(in);
	return r;
}

static int write_dir(lc_sqfs_writer *w, lc_node *n, uint32_t parent_ino, lc_error *err);

static int write_children(lc_sqfs_writer *w, lc_node *n, lc_error *err)
{
	for (size_t i = 0; i < n->n_children; i++) {
		lc_node *c = n->children[i];
		int r;

		if (!c->emitted)
			continue;
		r = S_ISDIR(c->mode) ? write_dir(w, c, n->inode_num, err)
				     : write_leaf(w, lc_node_inode_owner(c), err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int write_dir(lc_sqfs_writer *w, lc_node *n, uint32_t parent_ino, lc_error *err)
{
	sqfs_inode_generic_t *in;
	uint32_t xidx;
	int r = write_children(w, n, err);

	if (r < 0)
		return r;
	r = sqfs_dir_writer_begin(w->dirw, 0);
	for (size_t i = 0; !r && i < n->n_children; i++) {
		lc_node *c = n->children[i];
		lc_node *o = S_ISDIR(c->mode) ? c : lc_node_inode_owner(c);

		if (c->emitted)
			r = sqfs_dir_writer_add_entry(w->dirw, c->name, o->inode_num, o->inode_ref,
						      (sqfs_u16)o->mode);
	}
	if (!r)
		r = sqfs_dir_writer_end(w->dirw);
	if (r)
		return lc_sqfs_file_fail(&w->file, err, r, "directory table");
	r = xattr_index(w, n, &xidx, err);
	if (r < 0)
		return r;
	/* the "hlinks" argument is not the link count: set nlink on the inode itself */
	in = sqfs_dir_writer_create_inode(w->dirw, 0, xidx, parent_ino);
	if (!in)
		return lc_fail(err, ENOMEM, "out of memory");
	if (in->base.type == SQFS_INODE_DIR)
		in->data.dir.nlink = n->nlink;
	else
		in->data.dir_ext.nlink = n->nlink;
	r = emit_inode(w, n, in, err);
	free(in);
	return r;
}

static int write_tables(lc_sqfs_writer *w, lc_error *err)
{
	int r = sqfs_frag_table_write(w->frag, &w->file.base, &w->super, w->cmp);

	if (!r)
		r = sqfs_id_table_write(w->ids, &w->file.base, &w->super, w->cmp);
	if (!r)
		r = sqfs_xattr_writer_flush(w->xattrs, &w->file.base, &w->super, w->cmp);
	if (r)
		return lc_sqfs_file_fail(&w->file, err, r, "tables");
	w->super.bytes_used = w->file.size;
	r = sqfs_super_write(&w->super, &w->file.base);
	if (r)
		return lc_sqfs_file_fail(&w->file, err, r, "superblock");
	/* pad to the device block size, as mksquashfs does (loop devices want it) */
	if (w->file.size % SQFS_DEVBLK_SIZE) {
		char zero[SQFS_DEVBLK_SIZE] = {0};
		r = w->file.base.write_at(&w->file.base, w->file.size, zero,
					  SQFS_DEVBLK_SIZE - w->file.size % SQFS_DEVBLK_SIZE);
		if (r)
			return lc_sqfs_file_fail(&w->file, err, r, "padding");
	}
	return 0;
}

int lc_sqfs_writer_finish(lc_sqfs_writer *w, lc_tree *tree, lc_error *err)
{
	int r = sqfs_block_processor_finish(w->proc);

	w->finished = true;
	if (r)
		return lc_sqfs_file_fail(&w->file, err, r, "data blocks");
	mark_emitted(tree->root, true);
	number_inodes(w, tree->root);
	w->super.inode_count = w->inode_count;
	w->super.inode_table_start = w->file.size;
	r = write_dir(w, tree->root, w->inode_count + 1, err);
	if (r < 0)
		return r;
	r = sqfs_meta_writer_flush(w->im);
	if (!r)
		r = sqfs_meta_writer_flush(w->dm);
	if (r)
		return lc_sqfs_file_fail(&w->file, err, r, "metadata");
	w->super.root_inode_ref = tree->root->inode_ref;
	w->super.directory_table_start = w->file.size;
	r = sqfs_meta_write_write_to_file(w->dm);
	if (r)
		return lc_sqfs_file_fail(&w->file, err, r, "directory table");
	return write_tables(w, err);
}
