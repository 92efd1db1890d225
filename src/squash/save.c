/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Save: a directory tree → one squashfs file (a container's rootfs, an unpacked image).
 * The tree is walked with directory file descriptors: entries are looked at with
 * fstatat(AT_SYMLINK_NOFOLLOW) and opened with O_NOFOLLOW, so symbolic links are stored and never
 * followed. Hardlinks (same device and inode) share one inode in the image.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "squash.h"

#define READ_CHUNK (1u << 20)
#define XATTR_LIST_MAX_BYTES 65536

typedef struct inode_seen {
	dev_t dev;
	ino_t ino;
	lc_node *node;
} inode_seen;

typedef struct save_ctx {
	lc_ctx *ctx;
	lc_sqfs_writer *w;
	lc_error *err;
	dev_t root_dev;
	char *buf;
	lc_buf path;
	inode_seen *seen;
	size_t n_seen, cap_seen;
	const char *cache; /* what replaces a library cache the runtime rebuilt; NULL: none */
	size_t cache_len;
} save_ctx;

static int save_fail(save_ctx *c, const char *what)
{
	return lc_fail(c->err, errno, "%s '%s': %m", what, c->path.len ? c->path.data : ".");
}

static void copy_stat(lc_node *n, const struct stat *st)
{
	n->mode = st->st_mode;
	n->uid = st->st_uid;
	n->gid = st->st_gid;
	n->mtime = st->st_mtim.tv_sec;
	n->rdev = st->st_rdev;
	n->size = (uint64_t)st->st_size;
}

static int read_xattrs(save_ctx *c, int fd, lc_node *n)
{
	char names[XATTR_LIST_MAX_BYTES];
	ssize_t len = flistxattr(fd, names, sizeof(names));

	if (len < 0)
		return errno == ENOTSUP ? 0 : save_fail(c, "list xattrs of");
	for (char *k = names; k < names + len; k += strlen(k) + 1) {
		ssize_t vlen;

		if (!lc_xattr_is_storable(k))
			continue;
		vlen = fgetxattr(fd, k, c->buf, READ_CHUNK);
		if (vlen < 0)
			continue; /* vanished, or not readable as this user */
		if (lc_node_add_xattr(n, k, c->buf, (size_t)vlen) < 0)
			return lc_fail(c->err, ENOMEM, "out of memory");
	}
	return 0;
}

static int save_file_data(save_ctx *c, int fd, lc_node *n)
{
	int r = lc_sqfs_writer_begin_file(c->w, n, c->err);

	while (r >= 0) {
		ssize_t got = read(fd, c->buf, READ_CHUNK);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return save_fail(c, "read");
		if (got == 0)
			break;
		r = lc_sqfs_writer_append(c->w, c->buf, (size_t)got, c->err);
	}
	return r < 0 ? r : lc_sqfs_writer_end_file(c->w, c->err);
}

/* A file whose content is @data, not what the tree has. */
static int save_data(save_ctx *c, lc_node *n, const char *data, size_t len)
{
	int r;

	n->size = len;
	r = lc_sqfs_writer_begin_file(c->w, n, c->err);
	if (r >= 0 && len)
		r = lc_sqfs_writer_append(c->w, data, len, c->err);
	return r < 0 ? r : lc_sqfs_writer_end_file(c->w, c->err);
}

static lc_node *find_seen(save_ctx *c, const struct stat *st)
{
	for (size_t i = 0; i < c->n_seen; i++)
		if (c->seen[i].dev == st->st_dev && c->seen[i].ino == st->st_ino)
			return c->seen[i].node;
	return NULL;
}

static int remember(save_ctx *c, const struct stat *st, lc_node *n)
{
	if (lc_array_reserve(&c->seen, &c->cap_seen, c->n_seen, sizeof(*c->seen), 64) < 0)
		return lc_fail(c->err, ENOMEM, "out of memory");
	c->seen[c->n_seen++] = (inode_seen){st->st_dev, st->st_ino, n};
	return 0;
}

static int save_regular(save_ctx *c, int dir_fd, const char *name, const struct stat *st,
			lc_node *n)
{
	lc_node *first = st->st_nlink > 1 ? find_seen(c, st) : NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (first) {
		n->hardlink = first;
		return 0;
	}
	fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return save_fail(c, "open");
	r = read_xattrs(c, fd, n);
	if (r >= 0)
		r = save_file_data(c, fd, n);
	if (r >= 0 && st->st_nlink > 1)
		r = remember(c, st, n);
	return r;
}

static int save_dir(save_ctx *c, int dir_fd, lc_node *dir);

static int save_entry(save_ctx *c, int dir_fd, const char *name, lc_node *parent)
{
	struct stat st;
	lc_node *n;
	char target[4096];
	ssize_t len;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return save_fail(c, "stat");
	if (lc_injected(&st) || (lc_rebuilt(&st) && !c->cache))
		return 0; /* the runtime's, for the host's devices: not the container's */
	n = lc_node_new(name, st.st_mode, 0);
	if (!n || lc_node_add_child(parent, n) < 0) {
		lc_node_free(n);
		return lc_fail(c->err, ENOMEM, "out of memory");
	}
	copy_stat(n, &st);
	switch (st.st_mode & S_IFMT) {
	case S_IFDIR: {
		_cleanup_close_ int fd =
		    openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int r;
		if (fd < 0)
			return save_fail(c, "open directory");
		r = read_xattrs(c, fd, n);
		/* another filesystem mounted here: keep the directory, not its content */
		return r < 0 || st.st_dev != c->root_dev ? r : save_dir(c, fd, n);
	}
	case S_IFREG:
		if (lc_rebuilt(&st))
			return save_data(c, n, c->cache, c->cache_len);
		return save_regular(c, dir_fd, name, &st, n);
	case S_IFLNK:
		len = readlinkat(dir_fd, name, target, sizeof(target) - 1);
		if (len < 0)
			return save_fail(c, "read link");
		target[len] = '\0';
		n->symlink = strdup(target);
		return n->symlink ? 0 : lc_fail(c->err, ENOMEM, "out of memory");
	default:
		return 0; /* devices, FIFOs, sockets: metadata only */
	}
}

static int save_dir(save_ctx *c, int dir_fd, lc_node *dir)
{
	DIR *d = fdopendir(openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	size_t len = c->path.len;
	struct dirent *de;
	int r = 0;

	if (!d)
		return save_fail(c, "read directory");
	while (r >= 0 && (errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (lc_buf_printf(&c->path, "%s%s", len ? "/" : "", de->d_name) < 0) {
			r = lc_fail(c->err, ENOMEM, "out of memory");
			break;
		}
		r = save_entry(c, dirfd(d), de->d_name, dir);
		c->path.len = len;
		c->path.data[len] = '\0';
	}
	if (r >= 0 && errno)
		r = save_fail(c, "read directory");
	closedir(d);
	return r;
}

/* @json replaces the image config the root directory may carry. */
static int set_config(save_ctx *c, lc_node *root, const char *json)
{
	size_t k = 0;

	for (size_t i = 0; i < root->n_xattrs; i++) {
		if (strcmp(root->xattrs[i].key, LC_IMAGE_XATTR)) {
			root->xattrs[k++] = root->xattrs[i];
			continue;
		}
		free(root->xattrs[i].key);
		free(root->xattrs[i].value);
	}
	root->n_xattrs = k;
	if (lc_node_add_xattr(root, LC_IMAGE_XATTR, json, strlen(json)) < 0)
		return lc_fail(c->err, ENOMEM, "out of memory");
	return 0;
}

static int save_tree(save_ctx *c, int root_fd, int out_fd, const lc_sqfs_writer_opts *wo,
		     const char *config_json, lc_tree *t)
{
	struct stat st;
	int r;

	if (fstat(root_fd, &st) < 0)
		return save_fail(c, "stat");
	c->root_dev = st.st_dev;
	r = lc_tree_init(t, c->err);
	if (r < 0)
		return r;
	copy_stat(t->root, &st);
	t->root->implicit = false;
	r = lc_sqfs_writer_new(out_fd, wo, &c->w, c->err);
	if (r >= 0)
		r = read_xattrs(c, root_fd, t->root);
	if (r >= 0 && config_json)
		r = set_config(c, t->root, config_json);
	if (r >= 0)
		r = save_dir(c, root_fd, t->root);
	if (r >= 0)
		r = lc_sqfs_writer_finish(c->w, t, c->err);
	c->w = lc_sqfs_writer_free(c->w);
	return r;
}

int lc_squash_save_at(lc_ctx *ctx, int root_fd, int dir_fd, const char *name,
		      const lc_import_opts *opts, const char *config_json, const char *cache,
		      size_t cache_len, lc_error *err)
{
	static const lc_import_opts defaults = LC_IMPORT_OPTS_INIT;
	save_ctx c = {ctx, NULL, err, 0, NULL, LC_BUF_INIT, NULL, 0, 0, cache, cache_len};
	lc_sqfs_writer_opts wo;
	_cleanup_close_ int out_fd = -1;
	_cleanup_free_ char *tmp = NULL;
	lc_tree t = {0};
	int r = lc_sqfs_writer_opts_parse(opts ? opts : &defaults, &wo, err);

	if (r < 0)
		return r;
	c.buf = malloc(READ_CHUNK);
	if (!c.buf || lc_buf_append(&c.path, "", 0) < 0)
		r = lc_fail(err, ENOMEM, "out of memory");
	if (r >= 0)
		r = lc_output_open_temp_at(dir_fd, name, &tmp, &out_fd, err);
	if (r >= 0)
		r = save_tree(&c, root_fd, out_fd, &wo, config_json, &t);
	if (r >= 0)
		r = lc_output_publish_at(out_fd, dir_fd, tmp, name,
					 opts && (opts->flags & LC_IMPORT_FORCE), err);
	if (r < 0 && tmp)
		(void)unlinkat(dir_fd, tmp, 0);
	lc_tree_free(&t);
	free(c.seen);
	free(c.buf);
	lc_buf_free(&c.path);
	return r;
}

LC_API int lc_squash_save(lc_ctx *ctx, const char *dir, const char *output,
			  const lc_import_opts *opts, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	_cleanup_close_ int root_fd = -1;
	int r;

	if (!err)
		err = &local;
	if (!dir || !output)
		return lc_fail(err, EINVAL, "lc_squash_save: NULL argument");
	if (opts && (r = lc_opts_check(opts, opts->version, LC_IMPORT_OPTS_VERSION, opts->flags,
				       LC_IMPORT_ALL, "lc_import_opts", err)) < 0)
		return r;
	root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return lc_fail(err, errno, "open '%s': %m", dir);
	r = lc_squash_save_at(ctx, root_fd, AT_FDCWD, output, opts, NULL, NULL, 0, err);
	return r < 0 ? lc_error_prefix(err, r, "save '%s'", dir) : 0;
}
