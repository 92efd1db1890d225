/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resolving a path inside a container's root filesystem, one component at a time.
 *
 * Symbolic links in the image are followed as the container would see them: an absolute target
 * restarts at the container's root, a relative one continues from its directory. A ".." above the
 * root is an error (EXDEV, as enroot reports it), never a silent clamp: a link that points out of
 * the root filesystem is hostile or broken, and a mount must not land somewhere unexpected.
 * Every component is opened with O_NOFOLLOW relative to the directory before it, so nothing is
 * ever looked up from the host's root.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"

#define MAX_SYMLINKS 40
#define MAX_DEPTH 256

typedef struct walk {
	int fds[MAX_DEPTH]; /* fds[0] is the root (not ours); the rest are opened here */
	size_t depth;
	char *rest; /* what remains to resolve: components separated by '/' */
	unsigned links;
} walk;

static void walk_pop_to(walk *w, size_t depth)
{
	while (w->depth > depth)
		close(w->fds[--w->depth]);
}

/* Prepend @prefix + "/" to the remaining path. */
static int walk_prepend(walk *w, const char *prefix)
{
	size_t a = strlen(prefix), b = w->rest ? strlen(w->rest) : 0;
	char *n = malloc(a + b + 2);

	if (!n)
		return -ENOMEM;
	memcpy(n, prefix, a);
	n[a] = '/';
	if (b)
		memcpy(n + a + 1, w->rest, b);
	n[a + 1 + b] = '\0';
	free(w->rest);
	w->rest = n;
	return 0;
}

/* Take the next component off the remaining path into @comp; false when none is left. */
static bool walk_next(walk *w, char comp[NAME_MAX + 1], bool *last, int *r)
{
	char *p = w->rest, *slash;
	size_t len;

	while (*p == '/')
		p++;
	if (!*p)
		return false;
	slash = strchr(p, '/');
	len = slash ? (size_t)(slash - p) : strlen(p);
	if (len > NAME_MAX) {
		*r = -ENAMETOOLONG;
		return false;
	}
	memcpy(comp, p, len);
	comp[len] = '\0';
	p += len;
	while (*p == '/')
		p++;
	*last = !*p;
	memmove(w->rest, p, strlen(p) + 1);
	return true;
}

static int create_missing(int dir_fd, const char *name, enum lc_resolve_create create, bool last)
{
	int fd;

	if (create == LC_RESOLVE_NONE)
		return -ENOENT;
	if (last && create == LC_RESOLVE_FILE) {
		fd = openat(dir_fd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
			    0644);
		if (fd < 0)
			return errno == EEXIST ? 0 : -errno;
		close(fd);
		return 0;
	}
	if (mkdirat(dir_fd, name, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Follow the symlink @fd (component @name) by splicing its target into the path. */
static int walk_symlink(walk *w, int fd)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);
	int r;

	if (n < 0)
		return -errno;
	target[n] = '\0';
	if (++w->links > MAX_SYMLINKS)
		return -ELOOP;
	if (target[0] == '/')
		walk_pop_to(w, 1);
	r = walk_prepend(w, target);
	return r;
}

static int walk_step(walk *w, const char *comp, bool last, enum lc_resolve_create create)
{
	int dir = w->fds[w->depth - 1], fd, r;
	struct stat st;

	if (!strcmp(comp, "."))
		return 0;
	if (!strcmp(comp, "..")) {
		if (w->depth == 1)
			return -EXDEV;
		walk_pop_to(w, w->depth - 1);
		return 0;
	}
	fd = openat(dir, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		r = create_missing(dir, comp, create, last);
		if (r < 0)
			return r;
		fd = openat(dir, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (S_ISLNK(st.st_mode)) {
		r = walk_symlink(w, fd);
		close(fd);
		return r;
	}
	if (!last && !S_ISDIR(st.st_mode)) {
		close(fd);
		return -ENOTDIR;
	}
	if (w->depth == MAX_DEPTH) {
		close(fd);
		return -ENAMETOOLONG;
	}
	w->fds[w->depth++] = fd;
	return 0;
}

int lc_resolve_in_root(int root_fd, const char *path, enum lc_resolve_create create, int *ret_fd)
{
	walk w = {.fds = {root_fd}, .depth = 1};
	char comp[NAME_MAX + 1];
	bool last = false;
	int r = 0;

	w.rest = strdup(path);
	if (!w.rest)
		return -ENOMEM;
	while (r == 0 && walk_next(&w, comp, &last, &r))
		r = walk_step(&w, comp, last, create);
	free(w.rest);
	if (r < 0) {
		walk_pop_to(&w, 1);
		return r;
	}
	if (w.depth == 1) {
		*ret_fd = openat(root_fd, ".", O_PATH | O_CLOEXEC);
		return *ret_fd < 0 ? -errno : 0;
	}
	*ret_fd = w.fds[--w.depth];
	walk_pop_to(&w, 1);
	return 0;
}

char *lc_root_read_file(int root_fd, const char *dir, const char *name, size_t max)
{
	_cleanup_close_ int d = -1;
	char *text = NULL;

	if (lc_resolve_in_root(root_fd, dir, LC_RESOLVE_NONE, &d) < 0 ||
	    lc_file_read_at(d, name, max, &text, NULL, NULL) < 0)
		return strdup("");
	return text;
}

/* ---------------------------------------------------------------- entries on a layer */

/* The overlay shows the layer's entry where it has one, else the image's. */
typedef struct layer_walk {
	walk w;               /* w.fds: the layer's directories (w.fds[0]: its root) */
	int image[MAX_DEPTH]; /* the image's directories at the same depth, -1 where none */
} layer_walk;

static void layer_pop_to(layer_walk *l, size_t depth)
{
	for (size_t i = depth; i < l->w.depth; i++)
		if (l->image[i] >= 0)
			close(l->image[i]);
	walk_pop_to(&l->w, depth);
}

/* A directory of the image, repeated on the layer with its mode and time (the overlay shows
 * the upper one's). */
static int mirror_dir(int layer_dir, int image_dir, const char *name)
{
	struct stat st;
	struct timespec ts[2];

	if (fstatat(image_dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (mkdirat(layer_dir, name, st.st_mode & 07777) < 0)
		return -errno;
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	return utimensat(layer_dir, name, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int make_entry(int dir, const char *name, enum lc_layer_kind kind, const char *link)
{
	int fd;

	if (kind == LC_LAYER_SYMLINK) {
		if (symlinkat(link, dir, name) < 0)
			return -errno;
	} else if (kind == LC_LAYER_FILE) {
		fd = openat(dir, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		close(fd);
	} else if (mkdirat(dir, name, 0755) < 0) {
		return -errno;
	}
	return lc_mark_at(dir, name, LC_INJECTED_NSEC);
}

/* One component: the layer's entry, else the image's (a directory mirrored on the layer),
 * else a new one. 1 when the walk ends here (the entry made or already shown). */
static int layer_component(layer_walk *l, const char *comp, bool last, enum lc_layer_kind kind,
			   const char *link, bool shadow)
{
	size_t d = l->w.depth;
	int dir = l->w.fds[d - 1], img = l->image[d - 1], fd, ifd = -1, r;
	bool follow = !last || (kind != LC_LAYER_SYMLINK && !shadow);
	struct stat st, ist;

	if (!strcmp(comp, "."))
		return 0;
	if (!strcmp(comp, "..")) {
		if (d == 1)
			return -EXDEV;
		layer_pop_to(l, d - 1);
		return 0;
	}
	if (last && shadow) {
		if (unlinkat(dir, comp, 0) < 0 && errno != ENOENT)
			return -errno;
		r = make_entry(dir, comp, kind, link);
		return r < 0 ? r : 1;
	}
	fd = openat(dir, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && img >= 0)
		ifd = openat(img, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && ifd < 0) {
		r = make_entry(dir, comp, last ? kind : LC_LAYER_DIR, link);
		if (r < 0 || last)
			return r < 0 ? r : 1;
		fd = openat(dir, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
	}
	if (fstat(fd >= 0 ? fd : ifd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (S_ISLNK(st.st_mode) && follow) {
		r = walk_symlink(&l->w, fd >= 0 ? fd : ifd);
		for (size_t i = l->w.depth; i < d; i++) /* an absolute link went back to the root */
			if (l->image[i] >= 0 && i > 0)
				close(l->image[i]), l->image[i] = -1;
		goto out;
	}
	if (last) {
		r = 1; /* shown already: nothing to make */
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		r = -ENOTDIR;
		goto out;
	}
	if (fd < 0) {
		r = mirror_dir(dir, img, comp);
		if (r < 0)
			goto out;
		fd = openat(dir, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			goto out;
		}
	} else if (ifd < 0 && img >= 0) {
		ifd = openat(img, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (ifd >= 0 && (fstat(ifd, &ist) < 0 || !S_ISDIR(ist.st_mode))) {
			close(ifd);
			ifd = -1;
		}
	}
	if (d == MAX_DEPTH) {
		r = -ENAMETOOLONG;
		goto out;
	}
	l->w.fds[d] = fd;
	l->image[d] = ifd;
	l->w.depth++;
	return 0;
out:
	if (fd >= 0)
		close(fd);
	if (ifd >= 0)
		close(ifd);
	return r;
}

/* layer_component(), the layer's directory keeping its times (its mark, or the image's): what
 * is made in it changes them. */
static int layer_step(layer_walk *l, const char *comp, bool last, enum lc_layer_kind kind,
		      const char *link, bool shadow)
{
	_cleanup_close_ int dir = fcntl(l->w.fds[l->w.depth - 1], F_DUPFD_CLOEXEC, 0);
	struct stat before, after;
	char self[64];
	int r;

	if (dir < 0 || fstat(dir, &before) < 0)
		return -errno;
	r = layer_component(l, comp, last, kind, link, shadow);
	snprintf(self, sizeof(self), "/proc/self/fd/%d", dir);
	if (r >= 0 && fstat(dir, &after) == 0 &&
	    (after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
	     after.st_mtim.tv_nsec != before.st_mtim.tv_nsec) &&
	    utimensat(AT_FDCWD, self, (const struct timespec[]){before.st_atim, before.st_mtim},
		      0) < 0)
		r = -errno;
	return r;
}

int lc_layer_add(int image_fd, int layer_fd, const char *path, enum lc_layer_kind kind,
		 const char *link, bool shadow, int *ret_dir_fd)
{
	layer_walk l = {.w = {.fds = {layer_fd}, .depth = 1}, .image = {image_fd}};
	char comp[NAME_MAX + 1];
	bool last = false;
	int r = 0;

	if (ret_dir_fd)
		*ret_dir_fd = -1;
	l.w.rest = strdup(path);
	if (!l.w.rest)
		return -ENOMEM;
	while (r == 0 && walk_next(&l.w, comp, &last, &r)) {
		r = layer_step(&l, comp, last, kind, link, shadow);
		/* a link followed at the end goes on with its target */
		if (r == 0 && last && !*l.w.rest)
			r = 1;
	}
	free(l.w.rest);
	if (r == 1 && ret_dir_fd)
		*ret_dir_fd = fcntl(l.w.fds[l.w.depth - 1], F_DUPFD_CLOEXEC, 0);
	layer_pop_to(&l, 1);
	return r < 0 ? r : 0;
}
