/* SPDX-License-Identifier: Apache-2.0 */
/* Opening squashfs files with libsquashfs, and reading their inodes (reader.c, the FUSE server). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <sqfs/compressor.h>
#include <sqfs/data_reader.h>
#include <sqfs/dir_reader.h>
#include <sqfs/error.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/super.h>
#include <sqfs/xattr.h>
#include <sqfs/xattr_reader.h>

#include "squash.h"

void lc_sqfs_image_close(lc_sqfs_image *im)
{
	sqfs_dir_tree_destroy(im->root);
	sqfs_destroy(im->xattrs);
	sqfs_destroy(im->data);
	sqfs_destroy(im->dirs);
	sqfs_destroy(im->ids);
	sqfs_destroy(im->counted);
	sqfs_destroy(im->cmp);
	lc_closep(&im->fd);
}

/* A compressor that charges what it decompresses to the image's budget, then lets the real one
 * do the work. */
typedef struct counted_cmp {
	sqfs_compressor_t base;
	sqfs_compressor_t *inner;
	uint64_t *budget;
} counted_cmp;

static sqfs_s32 counted_do_block(sqfs_compressor_t *c, const sqfs_u8 *in, sqfs_u32 size,
				 sqfs_u8 *out, sqfs_u32 outsize)
{
	counted_cmp *cc = (counted_cmp *)c;
	sqfs_s32 n;

	if (*cc->budget == 0)
		return SQFS_ERROR_OVERFLOW;
	n = cc->inner->do_block(cc->inner, in, size, out, outsize);
	if (n > 0)
		*cc->budget -= (uint64_t)n < *cc->budget ? (uint64_t)n : *cc->budget;
	return n;
}

static void counted_destroy(sqfs_object_t *o)
{
	free(o);
}

static void counted_get_configuration(const sqfs_compressor_t *c, sqfs_compressor_config_t *cfg)
{
	const counted_cmp *cc = (const counted_cmp *)c;

	cc->inner->get_configuration(cc->inner, cfg);
}

/* im->counted, over im->cmp: what the readers use when there is a budget. */
static int count_decompression(lc_sqfs_image *im, lc_error *err)
{
	counted_cmp *cc = calloc(1, sizeof(*cc));

	if (!cc)
		return lc_fail(err, ENOMEM, "out of memory");
	cc->base = *im->cmp;
	cc->base.base = (sqfs_object_t){counted_destroy, NULL};
	cc->base.get_configuration = counted_get_configuration;
	cc->base.do_block = counted_do_block;
	cc->inner = im->cmp;
	cc->budget = &im->budget_left;
	im->counted = &cc->base;
	return 0;
}

bool lc_sqfs_image_budget_spent(const lc_sqfs_image *im)
{
	return im->counted && im->budget_left == 0;
}

static int image_tables(lc_sqfs_image *im, bool full_tree, lc_error *err)
{
	sqfs_compressor_config_t cfg;
	sqfs_compressor_t *cmp;
	int r = sqfs_compressor_config_init(&cfg, im->super.compression_id, im->super.block_size,
					    SQFS_COMP_FLAG_UNCOMPRESS);

	if (!r)
		r = sqfs_compressor_create(&cfg, &im->cmp);
	if (r)
		return lc_sqfs_fail(err, r, "compressor");
	if (im->file.budget && (r = count_decompression(im, err)) < 0)
		return r;
	cmp = im->counted ? im->counted : im->cmp;
	im->ids = sqfs_id_table_create(0);
	im->dirs = sqfs_dir_reader_create(&im->super, cmp, &im->file.base, 0);
	im->data = sqfs_data_reader_create(&im->file.base, im->super.block_size, cmp, 0);
	im->xattrs = sqfs_xattr_reader_create(0);
	if (!im->ids || !im->dirs || !im->data || !im->xattrs)
		return lc_fail(err, ENOMEM, "out of memory");
	r = sqfs_id_table_read(im->ids, &im->file.base, &im->super, cmp);
	if (!r)
		r = sqfs_data_reader_load_fragment_table(im->data, &im->super);
	/* without a table libsquashfs's reader stays empty, and using it faults: remember */
	im->has_xattrs = !(im->super.flags & SQFS_FLAG_NO_XATTRS) &&
			 im->super.xattr_id_table_start != 0xFFFFFFFFFFFFFFFFull;
	if (!r && im->has_xattrs)
		r = sqfs_xattr_reader_load(im->xattrs, &im->super, &im->file.base, cmp);
	if (!r && full_tree)
		r = sqfs_dir_reader_get_full_hierarchy(im->dirs, im->ids, NULL, 0, &im->root);
	return r ? lc_sqfs_fail(err, r, "reading tables") : 0;
}

int lc_sqfs_image_open_fd(int fd, const char *name, bool full_tree, uint64_t budget,
			  lc_sqfs_image *im, lc_error *err)
{
	struct stat st;
	int r;

	memset(im, 0, sizeof(*im));
	im->fd = fd;
	if (fstat(im->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		lc_sqfs_image_close(im);
		return lc_fail(err, EINVAL, "'%s' is not a regular file", name);
	}
	lc_fd_file_init(&im->file, im->fd, (uint64_t)st.st_size);
	if (budget) {
		im->budget_left = budget;
		im->file.budget = &im->budget_left;
	}
	r = sqfs_super_read(&im->super, &im->file.base);
	if (r) {
		lc_sqfs_image_close(im);
		return lc_fail(err, LC_EMANIFEST, "'%s' is not a squashfs image (%d)", name, r);
	}
	r = image_tables(im, full_tree, err);
	if (r < 0 && lc_sqfs_image_budget_spent(im))
		r = lc_fail(err, EFBIG, "its tables ask for more than %" PRIu64 " bytes to be read",
			    budget);
	if (r < 0) {
		lc_sqfs_image_close(im);
		return lc_error_prefix(err, r, "'%s'", name);
	}
	return 0;
}

int lc_sqfs_image_open(const char *path, lc_sqfs_image *im, lc_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		memset(im, 0, sizeof(*im));
		return lc_fail(err, errno, "open '%s': %m", path);
	}
	return lc_sqfs_image_open_fd(fd, path, true, 0, im, err);
}

uint64_t lc_sqfs_inode_size(const sqfs_inode_generic_t *in)
{
	sqfs_u64 size = 0;

	if (in->base.type == SQFS_INODE_FILE || in->base.type == SQFS_INODE_EXT_FILE)
		sqfs_inode_get_file_size(in, &size);
	return size;
}

uint32_t lc_sqfs_inode_nlink(const sqfs_inode_generic_t *in)
{
	switch (in->base.type) {
	case SQFS_INODE_DIR:
		return in->data.dir.nlink;
	case SQFS_INODE_EXT_DIR:
		return in->data.dir_ext.nlink;
	case SQFS_INODE_EXT_FILE:
		return in->data.file_ext.nlink;
	case SQFS_INODE_SLINK:
		return in->data.slink.nlink;
	case SQFS_INODE_EXT_SLINK:
		return in->data.slink_ext.nlink;
	case SQFS_INODE_CDEV:
	case SQFS_INODE_BDEV:
		return in->data.dev.nlink;
	case SQFS_INODE_EXT_CDEV:
	case SQFS_INODE_EXT_BDEV:
		return in->data.dev_ext.nlink;
	case SQFS_INODE_FIFO:
	case SQFS_INODE_SOCKET:
		return in->data.ipc.nlink;
	case SQFS_INODE_EXT_FIFO:
	case SQFS_INODE_EXT_SOCKET:
		return in->data.ipc_ext.nlink;
	default:
		return 1;
	}
}

uint64_t lc_sqfs_inode_rdev(const sqfs_inode_generic_t *in)
{
	uint32_t d;

	if (in->base.type == SQFS_INODE_CDEV || in->base.type == SQFS_INODE_BDEV)
		d = in->data.dev.devno;
	else if (in->base.type == SQFS_INODE_EXT_CDEV || in->base.type == SQFS_INODE_EXT_BDEV)
		d = in->data.dev_ext.devno;
	else
		return 0;
	/* the kernel's new_decode_dev() */
	return makedev((d & 0xfff00) >> 8, (d & 0xff) | ((d >> 12) & 0xfff00));
}

char *lc_sqfs_link_target(const sqfs_inode_generic_t *in)
{
	size_t n = in->base.type == SQFS_INODE_SLINK       ? in->data.slink.target_size
		   : in->base.type == SQFS_INODE_EXT_SLINK ? in->data.slink_ext.target_size
							   : 0;

	if (in->base.type != SQFS_INODE_SLINK && in->base.type != SQFS_INODE_EXT_SLINK)
		return NULL;
	return strndup((const char *)in->extra, n);
}

/* Called for each xattr of an inode with its full name (libsquashfs gives the namespace
 * prefix too); return 0 to go on, 1 to stop. */

/* Walk the xattrs of @in; -EIO when the table is corrupt. */
int lc_sqfs_each_xattr(lc_sqfs_image *im, const sqfs_inode_generic_t *in, lc_sqfs_xattr_fn fn,
		       void *userdata)
{
	sqfs_u32 idx = 0xFFFFFFFFu;
	sqfs_xattr_id_t desc;
	int stop = 0;

	if (sqfs_inode_get_xattr_index(in, &idx) || idx == 0xFFFFFFFFu)
		return 0;
	if (!im->has_xattrs)
		return -EIO; /* an inode names xattrs of a table the image does not have */
	if (sqfs_xattr_reader_get_desc(im->xattrs, idx, &desc) ||
	    sqfs_xattr_reader_seek_kv(im->xattrs, &desc))
		return -EIO;
	for (sqfs_u32 i = 0; i < desc.count && !stop; i++) {
		sqfs_xattr_entry_t *key = NULL;
		sqfs_xattr_value_t *val = NULL;

		if (sqfs_xattr_reader_read_key(im->xattrs, &key) ||
		    sqfs_xattr_reader_read_value(im->xattrs, key, &val)) {
			free(key);
			return -EIO;
		}
		stop = fn(userdata, (const char *)key->key, val->value, val->size);
		free(key);
		free(val);
	}
	return 0;
}
