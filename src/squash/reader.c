/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading squashfs files with libsquashfs: listing, and unpacking into a directory.
 * The image is untrusted: names are checked, and unpacking creates every entry relative to a
 * directory file descriptor opened with O_NOFOLLOW, each name exactly once (O_EXCL), so neither
 * a symlink nor a repeated name in the image can redirect a write outside the target.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
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

#include <jansson.h>

#include "squash.h"

#define COPY_CHUNK (1u << 20)

/* A name from the image is one path component: not empty, not "." or "..", no '/'. */
static bool name_is_sane(const char *n)
{
	return n[0] && strcmp(n, ".") && strcmp(n, "..") && !strchr(n, '/');
}

/* ---------------------------------------------------------------- listing */

typedef struct list_ctx {
	lc_squash_list_fn fn;
	void *userdata;
	lc_error *err;
	lc_buf path;
} list_ctx;

static int list_node(list_ctx *c, const sqfs_tree_node_t *n)
{
	const sqfs_inode_generic_t *in = n->inode;
	_cleanup_free_ char *target = lc_sqfs_link_target(in);
	size_t len = c->path.len;
	int r;

	lc_squash_entry e = {c->path.len ? c->path.data : "/",
			     in->base.mode,
			     n->uid,
			     n->gid,
			     lc_sqfs_inode_size(in),
			     in->base.mod_time,
			     lc_sqfs_inode_nlink(in),
			     in->base.inode_number,
			     target,
			     lc_sqfs_inode_rdev(in)};
	if (c->fn(c->userdata, &e) != 0)
		return lc_fail(c->err, LC_ECANCELED, "listing stopped");
	for (const sqfs_tree_node_t *ch = n->children; ch; ch = ch->next) {
		if (!name_is_sane((const char *)ch->name))
			return lc_fail(c->err, EPERM, "the image holds an invalid name under '%s'",
				       len ? c->path.data : "/");
		if (lc_buf_printf(&c->path, "/%s", (const char *)ch->name) < 0)
			return lc_fail(c->err, ENOMEM, "out of memory");
		r = list_node(c, ch);
		c->path.len = len;
		c->path.data[len] = '\0';
		if (r < 0)
			return r;
	}
	return 0;
}

LC_API int lc_squash_list(const char *image, lc_squash_list_fn fn, void *userdata, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	list_ctx c = {fn, userdata, err ? err : &local, LC_BUF_INIT};
	lc_sqfs_image im;
	int r;

	if (!image || !fn)
		return lc_fail(c.err, EINVAL, "lc_squash_list: NULL argument");
	r = lc_sqfs_image_open(image, &im, c.err);
	if (r < 0)
		return r;
	if (lc_buf_append(&c.path, "", 0) < 0)
		r = lc_fail(c.err, ENOMEM, "out of memory");
	else
		r = list_node(&c, im.root);
	lc_buf_free(&c.path);
	lc_sqfs_image_close(&im);
	return r;
}

/* ---------------------------------------------------------------- unpacking */

typedef struct hardlink_seen {
	uint32_t inode;
	char *path; /* relative to the target directory */
} hardlink_seen;

typedef struct load_ctx {
	lc_sqfs_image *im;
	lc_ctx *ctx;
	lc_error *err;
	int root_fd;
	bool privileged;
	char *buf;
	lc_buf path; /* relative path of the entry being created */
	hardlink_seen *links;
	size_t n_links, cap_links;
} load_ctx;

static int load_fail(load_ctx *c, const char *what)
{
	return lc_fail(c->err, errno, "%s '%s': %m", what, c->path.data);
}

typedef struct set_xattr_ctx {
	load_ctx *c;
	int fd;
} set_xattr_ctx;

static int set_one_xattr(void *u, const char *name, const void *value, size_t size)
{
	set_xattr_ctx *x = u;

	if (fsetxattr(x->fd, name, value, size, 0) < 0 &&
	    (x->c->privileged || lc_str_has_prefix(name, "user.")))
		lc_warn(x->c->ctx, "cannot set xattr '%s' on '%s': %m, ignoring", name,
			x->c->path.data);
	return 0;
}

static int apply_xattrs(load_ctx *c, int fd, const sqfs_inode_generic_t *in)
{
	set_xattr_ctx x = {c, fd};

	if (lc_sqfs_each_xattr(c->im, in, set_one_xattr, &x) < 0)
		return lc_fail(c->err, EIO, "xattrs of '%s': corrupt table", c->path.data);
	return 0;
}

/* Owner, mode, xattrs and times on an open entry (regular files and directories), in this
 * order: chown clears setuid/setgid and drops security.capability, so both come after it. */
static int apply_meta(load_ctx *c, int fd, const sqfs_tree_node_t *n)
{
	const sqfs_inode_generic_t *in = n->inode;
	struct timespec ts[2] = {{in->base.mod_time, 0}, {in->base.mod_time, 0}};
	int r;

	if (c->privileged && fchown(fd, n->uid, n->gid) < 0)
		return load_fail(c, "chown");
	if (fchmod(fd, in->base.mode & 07777) < 0)
		return load_fail(c, "chmod");
	r = apply_xattrs(c, fd, in);
	if (r < 0)
		return r;
	if (futimens(fd, ts) < 0)
		return load_fail(c, "set times of");
	return 0;
}

static int copy_data(load_ctx *c, int fd, const sqfs_inode_generic_t *in)
{
	uint64_t size = lc_sqfs_inode_size(in);

	for (uint64_t off = 0; off < size;) {
		sqfs_u32 want = size - off < COPY_CHUNK ? (sqfs_u32)(size - off) : COPY_CHUNK;
		sqfs_s32 got = sqfs_data_reader_read(c->im->data, in, off, c->buf, want);

		if (got <= 0)
			return lc_sqfs_fail(c->err, got < 0 ? got : SQFS_ERROR_CORRUPTED,
					    "file data");
		if (lc_write_all(fd, c->buf, (size_t)got) < 0)
			return load_fail(c, "write");
		off += (uint64_t)got;
	}
	return 0;
}

static const char *seen_link(load_ctx *c, uint32_t inode)
{
	for (size_t i = 0; i < c->n_links; i++)
		if (c->links[i].inode == inode)
			return c->links[i].path;
	return NULL;
}

static int remember_link(load_ctx *c, uint32_t inode)
{
	if (lc_array_reserve(&c->links, &c->cap_links, c->n_links, sizeof(*c->links), 16) < 0)
		return lc_fail(c->err, ENOMEM, "out of memory");
	c->links[c->n_links].inode = inode;
	c->links[c->n_links].path = strdup(c->path.data);
	return c->links[c->n_links++].path ? 0 : lc_fail(c->err, ENOMEM, "out of memory");
}

/* Another name of an inode already unpacked: link to it, resolved beneath the target only. */
static int load_hardlink(load_ctx *c, int dir_fd, const char *name, const char *first)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS};
	_cleanup_close_ int fd = (int)syscall(SYS_openat2, c->root_fd, first, &how, sizeof(how));
	char proc[64];

	if (fd < 0)
		return load_fail(c, "open the first name of");
	(void)snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, dir_fd, name, AT_SYMLINK_FOLLOW) < 0)
		return load_fail(c, "link");
	return 0;
}

static int load_file(load_ctx *c, int dir_fd, const sqfs_tree_node_t *n, const char *name)
{
	const sqfs_inode_generic_t *in = n->inode;
	const char *first =
	    lc_sqfs_inode_nlink(in) > 1 ? seen_link(c, in->base.inode_number) : NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (first)
		return load_hardlink(c, dir_fd, name, first);
	fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return load_fail(c, "create");
	r = copy_data(c, fd, in);
	if (r >= 0)
		r = apply_meta(c, fd, n);
	if (r >= 0 && lc_sqfs_inode_nlink(in) > 1)
		r = remember_link(c, in->base.inode_number);
	return r;
}

static int load_special(load_ctx *c, int dir_fd, const sqfs_tree_node_t *n, const char *name)
{
	const sqfs_inode_generic_t *in = n->inode;
	struct timespec ts[2] = {{in->base.mod_time, 0}, {in->base.mod_time, 0}};
	mode_t type = in->base.mode & S_IFMT;

	if (S_ISLNK(type)) {
		_cleanup_free_ char *target = lc_sqfs_link_target(in);
		if (!target || symlinkat(target, dir_fd, name) < 0)
			return load_fail(c, "create symlink");
	} else if ((S_ISCHR(type) || S_ISBLK(type)) && !c->privileged) {
		lc_warn(c->ctx, "'%s' is a device node; unprivileged, skipping it", c->path.data);
		return 0;
	} else if (mknodat(dir_fd, name, in->base.mode & (S_IFMT | 07777), lc_sqfs_inode_rdev(in)) <
		   0) {
		return load_fail(c, "create");
	}
	if (c->privileged && fchownat(dir_fd, name, n->uid, n->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return load_fail(c, "chown");
	if (!S_ISLNK(type) && fchmodat(dir_fd, name, in->base.mode & 07777, 0) < 0)
		return load_fail(c, "chmod");
	if (utimensat(dir_fd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return load_fail(c, "set times of");
	return 0;
}

static int load_children(load_ctx *c, int dir_fd, const sqfs_tree_node_t *dir);

static int load_dir(load_ctx *c, int dir_fd, const sqfs_tree_node_t *n, const char *name)
{
	_cleanup_close_ int fd = -1;
	int r;

	if (mkdirat(dir_fd, name, 0700) < 0)
		return load_fail(c, "create directory");
	fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return load_fail(c, "open directory");
	r = load_children(c, fd, n);
	/* metadata after the children: a read-only directory is filled first */
	return r < 0 ? r : apply_meta(c, fd, n);
}

static int load_children(load_ctx *c, int dir_fd, const sqfs_tree_node_t *dir)
{
	size_t len = c->path.len;

	for (const sqfs_tree_node_t *n = dir->children; n; n = n->next) {
		const char *name = (const char *)n->name;
		mode_t type = n->inode->base.mode & S_IFMT;
		int r;

		if (!name_is_sane(name))
			return lc_fail(c->err, EPERM, "the image holds an invalid name in '%s'",
				       len ? c->path.data : ".");
		if (lc_buf_printf(&c->path, "%s%s", len ? "/" : "", name) < 0)
			return lc_fail(c->err, ENOMEM, "out of memory");
		r = S_ISDIR(type)   ? load_dir(c, dir_fd, n, name)
		    : S_ISREG(type) ? load_file(c, dir_fd, n, name)
				    : load_special(c, dir_fd, n, name);
		c->path.len = len;
		c->path.data[len] = '\0';
		if (r < 0)
			return r;
	}
	return 0;
}

/* The target: created (mode 0700 until the end), or an existing empty directory. */
static int open_target(const char *dir, int *ret_fd, bool *ret_created, lc_error *err)
{
	int fd;
	bool created = mkdir(dir, 0700) == 0;

	*ret_created = created;
	if (!created && errno != EEXIST)
		return lc_fail(err, errno, "create '%s': %m", dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return lc_fail(err, errno, "open '%s': %m", dir);
	if (!created) {
		DIR *d = fdopendir(openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
		struct dirent *de;
		bool empty = true;

		while (d && (de = readdir(d)))
			empty &= !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
		if (d)
			closedir(d);
		if (!d || !empty) {
			close(fd);
			return lc_fail(err, ENOTEMPTY, "'%s' exists and is not empty", dir);
		}
	}
	*ret_fd = fd;
	return 0;
}

LC_API int lc_squash_load(lc_ctx *ctx, const char *image, const char *dir, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	load_ctx c = {0};
	bool created = false;
	lc_sqfs_image im;
	int r;

	if (!err)
		err = &local;
	if (!image || !dir)
		return lc_fail(err, EINVAL, "lc_squash_load: NULL argument");
	r = lc_sqfs_image_open(image, &im, err);
	if (r < 0)
		return r;
	c = (load_ctx){&im,         ctx,  err, -1, geteuid() == 0, malloc(COPY_CHUNK),
		       LC_BUF_INIT, NULL, 0,   0};
	r = c.buf && lc_buf_append(&c.path, "", 0) >= 0
		? open_target(dir, &c.root_fd, &created, err)
		: lc_fail(err, ENOMEM, "out of memory");
	if (r >= 0)
		r = load_children(&c, c.root_fd, im.root);
	if (r >= 0)
		r = apply_meta(&c, c.root_fd, im.root);
	/* a failed unpack changes nothing: what it made goes again */
	if (r < 0 && c.root_fd >= 0) {
		(void)lc_rm_rf_children(c.root_fd, NULL);
		if (created)
			(void)rmdir(dir);
	}
	for (size_t i = 0; i < c.n_links; i++)
		free(c.links[i].path);
	free(c.links);
	free(c.buf);
	lc_buf_free(&c.path);
	lc_closep(&c.root_fd);
	lc_sqfs_image_close(&im);
	return r < 0 ? lc_error_prefix(err, r, "unpack '%s' into '%s'", image, dir) : 0;
}

/* ---------------------------------------------------------------- the image config */

#define CONFIG_FILE_MAX (1u << 20)

/* A regular file of the image (never through a symlink), at most CONFIG_FILE_MAX bytes. */
static int read_image_file(lc_sqfs_image *im, const sqfs_inode_generic_t *root, const char *path,
			   char **ret, lc_error *err)
{
	_cleanup_free_ sqfs_inode_generic_t *in = NULL;
	uint64_t size;
	char *buf;

	*ret = NULL;
	if (sqfs_dir_reader_find_by_path(im->dirs, root, path, &in) || !S_ISREG(in->base.mode))
		return 0;
	size = lc_sqfs_inode_size(in);
	if (size > CONFIG_FILE_MAX)
		return lc_fail(err, EFBIG, "/%s is larger than %u bytes", path, CONFIG_FILE_MAX);
	buf = malloc(size + 1);
	if (!buf)
		return lc_fail(err, ENOMEM, "out of memory");
	if (size && sqfs_data_reader_read(im->data, in, 0, buf, (sqfs_u32)size) != (sqfs_s32)size) {
		free(buf);
		return lc_fail(err, EIO, "read /%s: corrupt image", path);
	}
	buf[size] = '\0';
	*ret = buf;
	return 0;
}

static int find_image_xattr(void *u, const char *name, const void *value, size_t size)
{
	char **ret = u;

	if (strcmp(name, LC_IMAGE_XATTR))
		return 0;
	*ret = strndup(value, size);
	return 1;
}

/* The root directory's LC_IMAGE_XATTR, or NULL. */
static int read_image_xattr(lc_sqfs_image *im, const sqfs_inode_generic_t *root, char **ret,
			    lc_error *err)
{
	*ret = NULL;
	if (lc_sqfs_each_xattr(im, root, find_image_xattr, ret) < 0)
		return lc_fail(err, EIO, "corrupt xattr table");
	return 0;
}

/* What reading an image's configuration may read and decompress: the root inode, the xattr
 * table, two small files. It runs in the caller (slurmstepd, as root): a hostile image's tables
 * must not make it allocate and touch gigabytes. */
#define CONFIG_READ_BUDGET (64u << 20)

int lc_squash_image_config_fd(int fd, const char *name, lc_image **ret, lc_error *err)
{
	_cleanup_free_ char *json = NULL;
	_cleanup_free_ char *environment = NULL;
	_cleanup_free_ char *rc = NULL;
	_cleanup_free_ sqfs_inode_generic_t *root = NULL;
	lc_image *img;
	lc_sqfs_image im;
	int r;

	r = lc_sqfs_image_open_fd(fd, name, false, CONFIG_READ_BUDGET, &im, err);
	if (r < 0)
		return r;
	img = calloc(1, sizeof(*img));
	if (!img)
		r = lc_fail(err, ENOMEM, "out of memory");
	else if (sqfs_dir_reader_get_root_inode(im.dirs, &root))
		r = lc_fail(err, EIO, "unreadable root directory");
	else
		r = read_image_xattr(&im, root, &json, err);
	if (r >= 0 && json)
		r = lc_image_from_config_json(img, json, err);
	else if (r >= 0 &&
		 (r = read_image_file(&im, root, "etc/environment", &environment, err)) >= 0 &&
		 (r = read_image_file(&im, root, "etc/rc", &rc, err)) >= 0 && (environment || rc))
		r = lc_image_from_enroot(img, environment, rc, err);
	if (r < 0 && lc_sqfs_image_budget_spent(&im))
		r = lc_fail(err, EFBIG,
			    "its tables ask for more than %u MiB to be read for its configuration",
			    CONFIG_READ_BUDGET >> 20);
	lc_sqfs_image_close(&im);
	if (r < 0) {
		lc_image_free(img);
		return lc_error_prefix(err, r, "'%s'", name);
	}
	*ret = img;
	return 0;
}

LC_API int lc_squash_image_config(const char *image, lc_image **ret, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	int fd;

	if (!err)
		err = &local;
	if (!image || !ret)
		return lc_fail(err, EINVAL, "lc_squash_image_config: NULL argument");
	fd = open(image, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return lc_fail(err, errno, "open '%s': %m", image);
	return lc_squash_image_config_fd(fd, image, ret, err);
}
