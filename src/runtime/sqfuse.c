/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A read-only FUSE server for squashfs images, on libsquashfs and libfuse's low-level API.
 *
 * It replaces squashfuse for container root filesystems: node ids are inode references, so
 * hardlinks share an inode number; xattrs are served as stored (squashfuse renames security.*);
 * nothing of the directory tree is read at start, so mounting costs the same for any image size.
 * The image is untrusted: every table access goes through libsquashfs's bounds-checked readers,
 * and nothing here recurses over the image.
 *
 * Owners: every inode is reported as owned by the container's user (as enroot runs squashfuse
 * with -o uid,gid), so that overlay copy-up and writes work in writable containers.
 * Single-threaded: the libsquashfs readers keep one cached block each.
 *
 * Data blocks are read here, not through libsquashfs's data reader, which allocates every block
 * afresh: in a new process each first touch of a page costs a fault (about 2.5 ms per MiB on
 * the machines measured), which made a 1 MiB block cost 5 ms where decompressing it costs 1.
 * The cache's buffers and the compressed block's are mapped once, populated in one call, and
 * reused; fragment blocks are cached once for all the files whose tails they hold; a read that
 * spans few blocks is answered from the cache without a copy.
 */
#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <sqfs/block.h>
#include <sqfs/compressor.h>
#include <sqfs/dir.h>
#include <sqfs/dir_reader.h>
#include <sqfs/frag_table.h>
#include <sqfs/inode.h>
#include <sqfs/meta_reader.h>
#include <sqfs/super.h>

#include "../squash/squash.h"
#include "runtime.h"

#define CACHE_TIMEOUT 86400.0 /* the image never changes */
#define NODE_BUCKETS 4096
#define BLOCK_SLOTS 16  /* decompressed data blocks kept: page faults jump between blocks */
#define FRAGMENT_NODE 0 /* the cache's node for fragment blocks (no FUSE node has id 0) */
#define READ_IOVS 8     /* a read of up to this many blocks is answered without a copy */

typedef struct cached_block {
	uint64_t node;  /* FUSE node id, or FRAGMENT_NODE */
	uint32_t index; /* block index in the file, or the fragment block's */
	bool valid;
	sqfs_u8 *data; /* block_size bytes, mapped on first use, kept for the server's life */
	size_t size;
	uint64_t stamp;
} cached_block;

typedef struct sq_node {
	uint64_t id; /* FUSE node id */
	sqfs_inode_generic_t *inode;
	uint64_t nlookup;
	struct sq_node *next;
} sq_node;

struct lc_sqfs_server {
	lc_sqfs_image im;
	sqfs_meta_reader_t *inode_meta;
	sqfs_meta_reader_t *dir_meta;
	struct fuse_session *se;
	sq_node *buckets[NODE_BUCKETS];
	sq_node root;
	uid_t uid;
	gid_t gid;
	pthread_t thread;
	bool thread_started;
	char *buf;
	cached_block blocks[BLOCK_SLOTS];
	uint64_t clock;
	sqfs_u8 *packed;          /* a block as stored, mapped on first use */
	sqfs_frag_table_t *frags; /* read on the first fragment */
};

typedef struct sq_dir {
	sqfs_readdir_state_t start, cur;
	off_t pos; /* entries consumed from cur, plus 2 for "." and ".." */
	sqfs_dir_entry_t *pending;
	sqfs_u32 pending_inum;
	sqfs_u64 pending_ref;
} sq_dir;

static void drop_blocks(lc_sqfs_server *s, uint64_t id);

/* ---------------------------------------------------------------- node ids */

/* Node ids are inode references + 2 (0 is invalid, 1 is FUSE's root id). */
static uint64_t ref_to_id(lc_sqfs_server *s, uint64_t ref)
{
	return ref == s->im.super.root_inode_ref ? FUSE_ROOT_ID : ref + 2;
}

static int read_inode(lc_sqfs_server *s, uint64_t ref, sqfs_inode_generic_t **ret)
{
	return sqfs_meta_reader_read_inode(s->inode_meta, &s->im.super, ref >> 16, ref & 0xffff,
					   ret)
		   ? -EIO
		   : 0;
}

static sq_node **bucket_of(lc_sqfs_server *s, uint64_t id)
{
	return &s->buckets[(id * 0x9e3779b97f4a7c15ull) >> 52];
}

static sq_node *node_find(lc_sqfs_server *s, uint64_t id)
{
	if (id == FUSE_ROOT_ID)
		return &s->root;
	for (sq_node *n = *bucket_of(s, id); n; n = n->next)
		if (n->id == id)
			return n;
	return NULL;
}

/* The node for @ref, with one more lookup reference (read from the image when new). */
static int node_ref(lc_sqfs_server *s, uint64_t ref, sq_node **ret)
{
	uint64_t id = ref_to_id(s, ref);
	sq_node *n = node_find(s, id);
	int r;

	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n)
			return -ENOMEM;
		r = read_inode(s, ref, &n->inode);
		if (r < 0) {
			free(n);
			return r;
		}
		n->id = id;
		n->next = *bucket_of(s, id);
		*bucket_of(s, id) = n;
	}
	n->nlookup++;
	*ret = n;
	return 0;
}

static void node_forget(lc_sqfs_server *s, uint64_t id, uint64_t nlookup)
{
	sq_node **p, *n;

	if (id == FUSE_ROOT_ID)
		return;
	for (p = bucket_of(s, id); (n = *p) && n->id != id; p = &n->next)
		;
	if (!n)
		return;
	n->nlookup = nlookup >= n->nlookup ? 0 : n->nlookup - nlookup;
	if (n->nlookup)
		return;
	*p = n->next;
	drop_blocks(s, id);
	free(n->inode);
	free(n);
}

/* ---------------------------------------------------------------- attributes */

static void fill_stat(lc_sqfs_server *s, const sqfs_inode_generic_t *in, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = in->base.inode_number;
	st->st_mode = in->base.mode;
	st->st_nlink = lc_sqfs_inode_nlink(in);
	st->st_uid = s->uid;
	st->st_gid = s->gid;
	st->st_rdev = lc_sqfs_inode_rdev(in);
	st->st_blksize = 4096;
	st->st_mtime = st->st_atime = st->st_ctime = in->base.mod_time;
	switch (in->base.type) {
	case SQFS_INODE_FILE:
	case SQFS_INODE_EXT_FILE:
		st->st_size = (off_t)lc_sqfs_inode_size(in);
		break;
	case SQFS_INODE_SLINK:
		st->st_size = in->data.slink.target_size;
		break;
	case SQFS_INODE_EXT_SLINK:
		st->st_size = in->data.slink_ext.target_size;
		break;
	case SQFS_INODE_DIR:
		st->st_size = in->data.dir.size;
		break;
	case SQFS_INODE_EXT_DIR:
		st->st_size = in->data.dir_ext.size;
		break;
	default:
		break;
	}
	st->st_blocks = (st->st_size + 511) / 512;
}

static bool is_dir(const sqfs_inode_generic_t *in)
{
	return in->base.type == SQFS_INODE_DIR || in->base.type == SQFS_INODE_EXT_DIR;
}

static void reply_entry(fuse_req_t req, lc_sqfs_server *s, sq_node *n)
{
	struct fuse_entry_param e = {
	    .ino = n->id,
	    .generation = 1,
	    .attr_timeout = CACHE_TIMEOUT,
	    .entry_timeout = CACHE_TIMEOUT,
	};

	fill_stat(s, n->inode, &e.attr);
	if (fuse_reply_entry(req, &e) == -ENOENT) /* the lookup was interrupted */
		node_forget(s, n->id, 1);
}

/* ---------------------------------------------------------------- operations */

/* The entry @name of directory @parent, with one more lookup reference; -errno. */
static int lookup_node(lc_sqfs_server *s, uint64_t parent, const char *name, sq_node **ret)
{
	sq_node *dir = node_find(s, parent);
	sqfs_readdir_state_t st;
	sqfs_dir_entry_t *ent;
	sqfs_u64 ref;
	int r;

	if (!dir)
		return -ESTALE;
	if (!is_dir(dir->inode))
		return -ENOTDIR;
	if (sqfs_readdir_state_init(&st, &s->im.super, dir->inode))
		return -EIO;
	while ((r = sqfs_meta_reader_readdir(s->dir_meta, &st, &ent, NULL, &ref)) == 0) {
		bool match = !strcmp((const char *)ent->name, name);

		free(ent);
		if (match)
			return node_ref(s, ref, ret);
	}
	return r > 0 ? -ENOENT : -EIO;
}

static void sq_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	lc_sqfs_server *s = fuse_req_userdata(req);
	sq_node *n;
	int r = lookup_node(s, parent, name, &n);

	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	reply_entry(req, s, n);
}

static void sq_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	node_forget(fuse_req_userdata(req), ino, nlookup);
	fuse_reply_none(req);
}

static void sq_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		node_forget(fuse_req_userdata(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void sq_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	lc_sqfs_server *s = fuse_req_userdata(req);
	sq_node *n = node_find(s, ino);
	struct stat st;

	(void)fi;
	if (!n)
		return (void)fuse_reply_err(req, ESTALE);
	fill_stat(s, n->inode, &st);
	fuse_reply_attr(req, &st, CACHE_TIMEOUT);
}

static void sq_readlink(fuse_req_t req, fuse_ino_t ino)
{
	lc_sqfs_server *s = fuse_req_userdata(req);
	sq_node *n = node_find(s, ino);
	_cleanup_free_ char *target = n ? lc_sqfs_link_target(n->inode) : NULL;

	if (!target)
		return (void)fuse_reply_err(req, n ? EINVAL : ESTALE);
	fuse_reply_readlink(req, target);
}

static void sq_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	lc_sqfs_server *s = fuse_req_userdata(req);
	sq_node *n = node_find(s, ino);

	if (!n)
		return (void)fuse_reply_err(req, ESTALE);
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return (void)fuse_reply_err(req, EROFS);
	if (is_dir(n->inode))
		return (void)fuse_reply_err(req, EISDIR);
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

/* @size bytes of memory, populated in one call (no fault per page), or NULL. */
static sqfs_u8 *map_populated(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* The block stored at @off as @word (size and flags) into @out (block_size bytes); the bytes it
 * holds, or -EIO. A sparse block is @sparse zero bytes. */
static ssize_t load_block(lc_sqfs_server *s, uint64_t off, sqfs_u32 word, size_t sparse,
			  sqfs_u8 *out)
{
	sqfs_file_t *f = &s->im.file.base;
	size_t bs = s->im.super.block_size, disk = SQFS_ON_DISK_BLOCK_SIZE(word);
	sqfs_s32 n;

	if (!disk) {
		memset(out, 0, sparse);
		return (ssize_t)sparse;
	}
	if (disk > bs || off > s->im.super.bytes_used || disk > s->im.super.bytes_used - off)
		return -EIO;
	if (!SQFS_IS_BLOCK_COMPRESSED(word))
		return f->read_at(f, off, out, disk) ? -EIO : (ssize_t)disk;
	if (!s->packed && !(s->packed = map_populated(bs)))
		return -EIO;
	if (f->read_at(f, off, s->packed, disk))
		return -EIO;
	n = s->im.cmp->do_block(s->im.cmp, s->packed, (sqfs_u32)disk, out, (sqfs_u32)bs);
	return n > 0 ? n : -EIO;
}

/* Block @index of @in's data, which must hold all of its expected bytes. */
static ssize_t load_data_block(lc_sqfs_server *s, const sqfs_inode_generic_t *in, uint32_t index,
			       sqfs_u8 *out)
{
	uint64_t bs = s->im.super.block_size, size = lc_sqfs_inode_size(in), off;
	size_t want;
	ssize_t n;

	if (index >= sqfs_inode_get_file_block_count(in) || size <= (uint64_t)index * bs ||
	    sqfs_inode_get_file_block_start(in, &off))
		return -EIO;
	for (uint32_t i = 0; i < index; i++)
		off += SQFS_ON_DISK_BLOCK_SIZE(in->extra[i]);
	want = size - (uint64_t)index * bs < bs ? (size_t)(size - (uint64_t)index * bs) : bs;
	n = load_block(s, off, in->extra[index], want, out);
	return n == (ssize_t)want ? n : -EIO;
}

/* Fragment block @index (shared by the files whose tails it holds). */
static ssize_t load_fragment_block(lc_sqfs_server *s, uint32_t index, sqfs_u8 *out)
{
	sqfs_fragment_t e;

	if (!s->frags) {
		s->frags = sqfs_frag_table_create(0);
		if (!s->frags ||
		    sqfs_frag_table_read(s->frags, &s->im.file.base, &s->im.super, s->im.cmp)) {
			sqfs_destroy(s->frags);
			s->frags = NULL;
			return -EIO;
		}
	}
	if (sqfs_frag_table_lookup(s->frags, index, &e) || !SQFS_ON_DISK_BLOCK_SIZE(e.size))
		return -EIO;
	return load_block(s, e.start_offset, e.size, 0, out);
}

/* Block @index of @node's data, or with FRAGMENT_NODE fragment block @index, decompressed,
 * through the block cache (@in: the node's inode). */
static int get_block(lc_sqfs_server *s, uint64_t node, const sqfs_inode_generic_t *in,
		     uint32_t index, cached_block **ret)
{
	cached_block *victim = &s->blocks[0];
	ssize_t n;

	for (size_t i = 0; i < BLOCK_SLOTS; i++) {
		cached_block *b = &s->blocks[i];

		if (b->valid && b->node == node && b->index == index) {
			b->stamp = ++s->clock;
			*ret = b;
			return 0;
		}
		if (b->stamp < victim->stamp)
			victim = b;
	}
	victim->valid = false;
	if (!victim->data && !(victim->data = map_populated(s->im.super.block_size)))
		return -EIO;
	n = node == FRAGMENT_NODE ? load_fragment_block(s, index, victim->data)
				  : load_data_block(s, in, index, victim->data);
	if (n < 0)
		return -EIO;
	*victim = (cached_block){node, index, true, victim->data, (size_t)n, ++s->clock};
	*ret = victim;
	return 0;
}

/* Where the bytes at @pos of @n are: their block, and their offset in it; -EIO, or 1 past the
 * file's data. */
static int locate(lc_sqfs_server *s, const sq_node *n, uint64_t pos, cached_block **ret_block,
		  size_t *ret_at)
{
	uint64_t bs = s->im.super.block_size, blocks = sqfs_inode_get_file_block_count(n->inode);
	uint64_t size = lc_sqfs_inode_size(n->inode);
	sqfs_u32 frag = 0xFFFFFFFFu, frag_off = 0;
	cached_block *b;

	if (pos / bs < blocks) {
		if (get_block(s, n->id, n->inode, (uint32_t)(pos / bs), &b) < 0)
			return -EIO;
		*ret_block = b;
		*ret_at = pos % bs;
		return pos % bs < b->size ? 0 : 1;
	}
	sqfs_inode_get_frag_location(n->inode, &frag, &frag_off);
	if (frag == 0xFFFFFFFFu || pos >= size)
		return 1;
	if (get_block(s, FRAGMENT_NODE, NULL, frag, &b) < 0 || frag_off > b->size ||
	    size - blocks * bs > b->size - frag_off) /* the tail lies in the block */
		return -EIO;
	*ret_block = b;
	*ret_at = frag_off + (pos - blocks * bs);
	return 0;
}

/* [@off, @off + @size) of @n (within the file) as up to READ_IOVS pieces of cached blocks in
 * @iov, else copied into s->buf (one piece); the number of pieces, or -EIO. */
static int read_range(lc_sqfs_server *s, const sq_node *n, uint64_t off, size_t size,
		      struct iovec iov[READ_IOVS])
{
	bool copying = false;
	size_t done = 0;
	int count = 0;

	while (done < size) {
		cached_block *b;
		size_t at, take;
		int r = locate(s, n, off + done, &b, &at);

		if (r < 0)
			return -EIO;
		if (r > 0)
			break;
		take = b->size - at < size - done ? b->size - at : size - done;
		if (!copying && count == READ_IOVS) { /* many small blocks: one copy of them all */
			size_t len = 0;

			for (int i = 0; i < count; i++) {
				memcpy(s->buf + len, iov[i].iov_base, iov[i].iov_len);
				len += iov[i].iov_len;
			}
			iov[0] = (struct iovec){s->buf, len};
			count = 1;
			copying = true;
		}
		if (copying) {
			memcpy(s->buf + iov[0].iov_len, b->data + at, take);
			iov[0].iov_len += take;
		} else {
			iov[count++] = (struct iovec){b->data + at, take};
		}
		done += take;
	}
	return count;
}

/* A read of @n as the kernel asks for it (clamped to the file and LC_SQFUSE_MAX_READ): pieces
 * in @iov, their number (0 past the end), or -errno. */
static int read_node(lc_sqfs_server *s, uint64_t ino, uint64_t off, size_t size,
		     struct iovec iov[READ_IOVS])
{
	sq_node *n = node_find(s, ino);
	uint64_t fsize;

	if (!n)
		return -ESTALE;
	if (is_dir(n->inode))
		return -EISDIR;
	fsize = lc_sqfs_inode_size(n->inode);
	if (off >= fsize)
		return 0;
	if (size > LC_SQFUSE_MAX_READ)
		size = LC_SQFUSE_MAX_READ;
	if (size > fsize - off)
		size = fsize - off;
	return read_range(s, n, off, size, iov);
}

static void sq_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct iovec iov[READ_IOVS];
	int count = off < 0 ? 0 : read_node(fuse_req_userdata(req), ino, (uint64_t)off, size, iov);

	(void)fi;
	if (count < 0)
		return (void)fuse_reply_err(req, -count);
	fuse_reply_iov(req, iov, count);
}

/* The kernel forgot @id: its cached blocks cannot be asked for again. */
static void drop_blocks(lc_sqfs_server *s, uint64_t id)
{
	for (size_t i = 0; i < BLOCK_SLOTS; i++)
		if (s->blocks[i].node == id)
			s->blocks[i].valid = false;
}

/* A listing of directory @ino; -errno. */
static int open_dir(lc_sqfs_server *s, uint64_t ino, sq_dir **ret)
{
	sq_node *n = node_find(s, ino);
	sq_dir *d;

	if (!n)
		return -ESTALE;
	if (!is_dir(n->inode))
		return -ENOTDIR;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	if (sqfs_readdir_state_init(&d->start, &s->im.super, n->inode)) {
		free(d);
		return -EIO;
	}
	d->cur = d->start;
	*ret = d;
	return 0;
}

static void close_dir(sq_dir *d)
{
	free(d->pending);
	free(d);
}

static void sq_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	sq_dir *d;
	int r = open_dir(fuse_req_userdata(req), ino, &d);

	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	fi->fh = (uintptr_t)d;
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

/* The next entry of @d without consuming it; 1 at the end, -EIO on corruption. */
static int dir_peek(lc_sqfs_server *s, sq_dir *d)
{
	int r;

	if (d->pending)
		return 0;
	r = sqfs_meta_reader_readdir(s->dir_meta, &d->cur, &d->pending, &d->pending_inum,
				     &d->pending_ref);
	return r < 0 ? -EIO : r;
}

static void dir_consume(sq_dir *d)
{
	free(d->pending);
	d->pending = NULL;
	d->pos++;
}

/* Position @d at entry @off (restarting from the beginning when going back). */
static int dir_seek(lc_sqfs_server *s, sq_dir *d, off_t off)
{
	int r;

	if (off < d->pos) {
		free(d->pending);
		d->pending = NULL;
		d->cur = d->start;
		d->pos = 0;
	}
	while (d->pos < off) {
		if (d->pos < 2) {
			d->pos++;
			continue;
		}
		r = dir_peek(s, d);
		if (r)
			return r;
		dir_consume(d);
	}
	return 0;
}

static const mode_t dirent_types[] = {
    [SQFS_INODE_DIR] = S_IFDIR,      [SQFS_INODE_FILE] = S_IFREG,
    [SQFS_INODE_SLINK] = S_IFLNK,    [SQFS_INODE_BDEV] = S_IFBLK,
    [SQFS_INODE_CDEV] = S_IFCHR,     [SQFS_INODE_FIFO] = S_IFIFO,
    [SQFS_INODE_SOCKET] = S_IFSOCK,  [SQFS_INODE_EXT_DIR] = S_IFDIR,
    [SQFS_INODE_EXT_FILE] = S_IFREG, [SQFS_INODE_EXT_SLINK] = S_IFLNK,
    [SQFS_INODE_EXT_BDEV] = S_IFBLK, [SQFS_INODE_EXT_CDEV] = S_IFCHR,
    [SQFS_INODE_EXT_FIFO] = S_IFIFO, [SQFS_INODE_EXT_SOCKET] = S_IFSOCK,
};

/* Entries of @d from @off on, as FUSE dirents into s->buf (at most @size bytes, clamped to
 * LC_SQFUSE_MAX_READ): their bytes, or -errno when not even one could be read. */
static ssize_t readdir_fill(lc_sqfs_server *s, uint64_t ino, sq_dir *d, size_t size, off_t off)
{
	size_t used = 0, want;
	struct stat st = {0};
	int r;

	if (size > LC_SQFUSE_MAX_READ)
		size = LC_SQFUSE_MAX_READ;
	r = dir_seek(s, d, off);
	while (r == 0) {
		const char *name = d->pos == 0 ? "." : "..";

		st.st_ino = 0;
		st.st_mode = S_IFDIR;
		if (d->pos >= 2) {
			r = dir_peek(s, d);
			if (r)
				break;
			name = (const char *)d->pending->name;
			st.st_ino = d->pending_inum;
			st.st_mode = d->pending->type < sizeof(dirent_types) / sizeof(*dirent_types)
					 ? dirent_types[d->pending->type]
					 : 0;
		}
		if (d->pos == 0)
			st.st_ino = ino == FUSE_ROOT_ID ? s->root.inode->base.inode_number : 0;
		/* libfuse only formats the entry: no request is needed */
		want = fuse_add_direntry(NULL, s->buf + used, size - used, name, &st, d->pos + 1);
		if (want > size - used)
			break;
		used += want;
		if (d->pos >= 2)
			dir_consume(d);
		else
			d->pos++;
	}
	return r < 0 && !used ? r : (ssize_t)used;
}

static void sq_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	lc_sqfs_server *s = fuse_req_userdata(req);
	ssize_t used = readdir_fill(s, ino, (sq_dir *)(uintptr_t)fi->fh, size, off);

	if (used < 0)
		return (void)fuse_reply_err(req, (int)-used);
	fuse_reply_buf(req, s->buf, (size_t)used);
}

static void sq_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	close_dir((sq_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void sq_statfs(fuse_req_t req, fuse_ino_t ino)
{
	lc_sqfs_server *s = fuse_req_userdata(req);
	struct statvfs sv = {
	    .f_bsize = s->im.super.block_size,
	    .f_frsize = s->im.super.block_size,
	    .f_blocks =
		(s->im.super.bytes_used + s->im.super.block_size - 1) / s->im.super.block_size,
	    .f_files = s->im.super.inode_count,
	    .f_namemax = 256,
	};

	(void)ino;
	fuse_reply_statfs(req, &sv);
}

/* Stored xattrs that this server does not show: ours, and those overlayfs would obey. */
static bool xattr_hidden(const char *name)
{
	return lc_str_has_prefix(name, "trusted.") || lc_str_has_prefix(name, "user.overlay.") ||
	       lc_str_has_prefix(name, "user.lc.");
}

typedef struct xattr_query {
	const char *name; /* getxattr: the one wanted; listxattr: NULL */
	lc_buf out;
	bool found;
} xattr_query;

static int collect_xattr(void *u, const char *name, const void *value, size_t size)
{
	xattr_query *q = u;

	if (xattr_hidden(name))
		return 0;
	if (!q->name)
		return lc_buf_append(&q->out, name, strlen(name) + 1) < 0 ? 1 : 0;
	if (strcmp(name, q->name))
		return 0;
	q->found = lc_buf_append(&q->out, value, size) >= 0;
	return 1;
}

static void reply_xattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	lc_sqfs_server *s = fuse_req_userdata(req);
	sq_node *n = node_find(s, ino);
	xattr_query q = {name, LC_BUF_INIT, false};

	if (!n)
		return (void)fuse_reply_err(req, ESTALE);
	if (lc_sqfs_each_xattr(&s->im, n->inode, collect_xattr, &q) < 0)
		fuse_reply_err(req, EIO);
	else if (name && !q.found)
		fuse_reply_err(req, ENODATA);
	else if (!size)
		fuse_reply_xattr(req, q.out.len);
	else if (q.out.len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, q.out.data, q.out.len);
	lc_buf_free(&q.out);
}

static void sq_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	reply_xattr(req, ino, name, size);
}

static void sq_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	reply_xattr(req, ino, NULL, size);
}

static void sq_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	conn->want |= conn->capable & (FUSE_CAP_CACHE_SYMLINKS | FUSE_CAP_ASYNC_READ);
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS;
}

static const struct fuse_lowlevel_ops sq_ops = {
    .init = sq_init,
    .lookup = sq_lookup,
    .forget = sq_forget,
    .forget_multi = sq_forget_multi,
    .getattr = sq_getattr,
    .readlink = sq_readlink,
    .open = sq_open,
    .read = sq_read,
    .opendir = sq_opendir,
    .readdir = sq_readdir,
    .releasedir = sq_releasedir,
    .statfs = sq_statfs,
    .getxattr = sq_getxattr,
    .listxattr = sq_listxattr,
};

/* ---------------------------------------------------------------- without a session */

int lc_sqfs_server_lookup(lc_sqfs_server *s, uint64_t parent, const char *name, uint64_t *ret_node,
			  struct stat *ret_st)
{
	sq_node *n;
	int r = lookup_node(s, parent, name, &n);

	if (r < 0)
		return r;
	*ret_node = n->id;
	fill_stat(s, n->inode, ret_st);
	return 0;
}

void lc_sqfs_server_forget(lc_sqfs_server *s, uint64_t node, uint64_t nlookup)
{
	node_forget(s, node, nlookup);
}

ssize_t lc_sqfs_server_read(lc_sqfs_server *s, uint64_t node, uint64_t off, void *buf, size_t size)
{
	struct iovec iov[READ_IOVS];
	int count = read_node(s, node, off, size, iov);
	size_t done = 0;

	for (int i = 0; i < count; i++) {
		memcpy((char *)buf + done, iov[i].iov_base, iov[i].iov_len);
		done += iov[i].iov_len;
	}
	return count < 0 ? count : (ssize_t)done;
}

/* A FUSE dirent (include/uapi/linux/fuse.h): what readdir_fill wrote. */
typedef struct fuse_dirent_head {
	uint64_t ino, off;
	uint32_t namelen, type;
} fuse_dirent_head;

int lc_sqfs_server_list(lc_sqfs_server *s, uint64_t dir, size_t chunk,
			int (*cb)(void *u, const char *name, unsigned type), void *u)
{
	sq_dir *d;
	off_t off = 0;
	int r = open_dir(s, dir, &d);

	while (r == 0) {
		ssize_t used = readdir_fill(s, dir, d, chunk, off);
		size_t at = 0;
		char name[256 + 1];

		if (used <= 0) {
			r = (int)used;
			break;
		}
		while (r == 0 && at + sizeof(fuse_dirent_head) <= (size_t)used) {
			fuse_dirent_head h;

			memcpy(&h, s->buf + at, sizeof(h));
			if (h.namelen >= sizeof(name))
				return close_dir(d), -EIO;
			memcpy(name, s->buf + at + sizeof(h), h.namelen);
			name[h.namelen] = '\0';
			r = cb(u, name, h.type);
			off = (off_t)h.off;
			at += (sizeof(h) + h.namelen + 7) & ~(size_t)7;
		}
	}
	close_dir(d);
	return r;
}

/* ---------------------------------------------------------------- life cycle */

int lc_sqfs_server_new(int image_fd, const char *name, uid_t uid, gid_t gid, lc_sqfs_server **ret,
		       lc_error *err)
{
	lc_sqfs_server *s = calloc(1, sizeof(*s));
	int r = 0;

	if (!s) {
		close(image_fd);
		return lc_fail(err, ENOMEM, "out of memory");
	}
	r = lc_sqfs_image_open_fd(image_fd, name, false, 0, &s->im, err);
	if (r < 0) {
		free(s);
		return r;
	}
	s->uid = uid;
	s->gid = gid;
	s->root.id = FUSE_ROOT_ID;
	s->buf = malloc(LC_SQFUSE_MAX_READ);
	s->inode_meta =
	    sqfs_meta_reader_create(&s->im.file.base, s->im.cmp, s->im.super.inode_table_start,
				    s->im.super.directory_table_start);
	s->dir_meta = sqfs_meta_reader_create(
	    &s->im.file.base, s->im.cmp, s->im.super.directory_table_start, s->im.super.bytes_used);
	if (!s->buf || !s->inode_meta || !s->dir_meta)
		r = lc_fail(err, ENOMEM, "out of memory");
	else if (read_inode(s, s->im.super.root_inode_ref, &s->root.inode) < 0 ||
		 !is_dir(s->root.inode))
		r = lc_fail(err, EIO, "'%s': the root inode is unreadable or not a directory",
			    name);
	if (r < 0) {
		lc_sqfs_server_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

static void *serve(void *se)
{
	fuse_session_loop(se);
	return NULL;
}

int lc_sqfs_server_start(lc_sqfs_server *s, int fuse_fd, lc_error *err)
{
	char *argv[] = {"lc-sqfs", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	char mnt[32];
	int r;

	s->se = fuse_session_new(&args, &sq_ops, sizeof(sq_ops), s);
	if (!s->se)
		return lc_fail(err, ENOMEM, "cannot create the FUSE session");
	/* libfuse takes an fd that is already open as "/dev/fd/N" and mounts nothing itself */
	snprintf(mnt, sizeof(mnt), "/dev/fd/%d", fuse_fd);
	if (fuse_session_mount(s->se, mnt) != 0)
		return lc_fail(err, EINVAL, "FUSE session on fd %d failed", fuse_fd);
	r = pthread_create(&s->thread, NULL, serve, s->se);
	if (r)
		return lc_fail(err, r, "cannot start the FUSE server thread: %s", strerror(r));
	s->thread_started = true;
	return 0;
}

lc_sqfs_server *lc_sqfs_server_free(lc_sqfs_server *s)
{
	if (!s)
		return NULL;
	if (s->thread_started) {
		fuse_session_exit(s->se);
		pthread_cancel(s->thread);
		pthread_join(s->thread, NULL);
	}
	if (s->se)
		fuse_session_destroy(s->se);
	for (size_t i = 0; i < NODE_BUCKETS; i++)
		while (s->buckets[i]) {
			sq_node *n = s->buckets[i];

			s->buckets[i] = n->next;
			free(n->inode);
			free(n);
		}
	for (size_t i = 0; i < BLOCK_SLOTS; i++)
		if (s->blocks[i].data)
			(void)munmap(s->blocks[i].data, s->im.super.block_size);
	if (s->packed)
		(void)munmap(s->packed, s->im.super.block_size);
	sqfs_destroy(s->frags);
	free(s->root.inode);
	sqfs_destroy(s->inode_meta);
	sqfs_destroy(s->dir_meta);
	lc_sqfs_image_close(&s->im);
	free(s->buf);
	free(s);
	return NULL;
}
