/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Merging layers top-down (OCI image-spec layer.md, "Applying Changesets" and "Whiteouts").
 *
 * Layers are applied from the topmost down. Everything already in the tree comes from the same or
 * a higher layer, so an entry of layer k is hidden when, on its path, the tree holds a tombstone
 * (whiteout) or a non-directory of a higher layer, or a directory made opaque by a higher layer;
 * and it is shadowed when the tree already holds its path from a higher layer. Hidden and
 * shadowed entries are skipped, so their data is never written. A whiteout (".wh.NAME") or an
 * opaque marker (".wh..wh..opq") acts only on lower layers, never on its own layer.
 *
 * Tar hardlinks name an earlier entry of the same layer, or, as containerd and Docker apply
 * them, a file of a lower layer. If that entry was shadowed (a higher layer replaced or removed
 * the name) or is in a lower layer, its data is still needed for the link: such targets are
 * collected and written by a second pass over the layer, and over each lower layer until found
 * (lc_merge_resolve_pending); a lower layer's whiteout of the target between them means it was
 * gone when the link was made (lc_merge_pending_check names what stayed unfound).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <archive.h>
#include <archive_entry.h>

#include "squash.h"

#define WHITEOUT_PREFIX ".wh."
#define OPAQUE_MARKER ".wh..wh..opq"
#define DATA_CHUNK (256u << 10)

typedef struct pending_target {
	char *path;      /* normalised path of the target inside the layer */
	lc_node *holder; /* inode that the links share; filled by the second pass */
	bool filled;
	int layer;          /* the layer of the links */
	const char *digest; /* ... for messages */
	int removed_by;     /* a lower layer whose whiteout removed the target, else -1 */
} pending_target;

typedef struct pending_set {
	pending_target *items;
	size_t n, cap;
} pending_set;

typedef struct entry_ctx {
	lc_tree *tree;
	lc_sqfs_writer *w;
	const lc_merge_layer *layer;
	lc_ctx *ctx;
	struct archive *ar;
	struct archive_entry *e;
	const char *path; /* as in the archive, for messages */
	pending_set *pending;
	char *buf; /* data chunk */
	lc_error *err;
} entry_ctx;

enum { ENTRY_HIDDEN = 1 }; /* walk result: the entry is hidden by a higher layer */

/* "layer D: entry 'P': why", the entry's name made printable and shortened. */
static int layer_entry_fail(lc_error *err, int code, const char *digest, const char *path,
			    const char *why)
{
	char shown[300];

	lc_str_sanitize(shown, sizeof(shown), path);
	return lc_fail(err, code, "layer %s: entry '%s': %s", digest, shown, why);
}

static int entry_fail(entry_ctx *c, int code, const char *why)
{
	return layer_entry_fail(c->err, code, c->layer->digest, c->path, why);
}

/* ---------------------------------------------------------------- pending hardlink targets */

static lc_node *pending_holder(entry_ctx *c, const char *target)
{
	pending_set *p = c->pending;
	lc_node *holder;

	for (size_t i = 0; i < p->n; i++)
		if (p->items[i].layer == c->layer->index && strcmp(p->items[i].path, target) == 0)
			return p->items[i].holder;
	if (lc_array_reserve(&p->items, &p->cap, p->n, sizeof(*p->items), 8) < 0)
		return NULL;
	holder = lc_node_new("", S_IFREG | 0644, c->layer->index);
	if (!holder)
		return NULL;
	if (lc_node_list_push(&c->tree->extra, holder) < 0) {
		lc_node_free(holder);
		return NULL;
	}
	p->items[p->n++] =
	    (pending_target){strdup(target), holder, false, c->layer->index, c->layer->digest, -1};
	return p->items[p->n - 1].path ? holder : NULL;
}

bool lc_merge_has_pending(const void *pending)
{
	const pending_set *p = pending;

	for (size_t i = 0; p && i < p->n; i++)
		if (!p->items[i].filled && p->items[i].removed_by < 0)
			return true;
	return false;
}

void lc_merge_pending_free(void *pending)
{
	pending_set *p = pending;

	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->items[i].path);
	free(p->items);
	free(p);
}

/* ---------------------------------------------------------------- metadata */

static int copy_xattrs(entry_ctx *c, lc_node *n)
{
	const char *key;
	const void *value;
	size_t size;

	archive_entry_xattr_reset(c->e);
	while (archive_entry_xattr_next(c->e, &key, &value, &size) == ARCHIVE_OK) {
		if (!lc_xattr_is_storable(key)) {
			lc_debug(c->ctx,
				 "layer %s: entry '%s': xattr '%s' has no place in squashfs, "
				 "ignoring",
				 c->layer->digest, c->path, key);
			continue;
		}
		if (lc_node_add_xattr(n, key, value, size) < 0)
			return lc_fail(c->err, ENOMEM, "out of memory");
	}
	return 0;
}

static void copy_stat(entry_ctx *c, lc_node *n)
{
	n->mode = archive_entry_mode(c->e);
	n->uid = (uint32_t)archive_entry_uid(c->e);
	n->gid = (uint32_t)archive_entry_gid(c->e);
	n->mtime = archive_entry_mtime(c->e);
}

/* Write the entry's data into the image as @n's content. */
static int write_data(entry_ctx *c, lc_node *n)
{
	int r = lc_sqfs_writer_begin_file(c->w, n, c->err);

	while (r >= 0) {
		la_ssize_t got = archive_read_data(c->ar, c->buf, DATA_CHUNK);

		if (got < 0) {
			lc_layer_stream_error(c->layer->stream, c->err);
			return lc_error_prefix(c->err, -c->err->code, "layer %s: entry '%s'",
					       c->layer->digest, c->path);
		}
		if (got == 0)
			break;
		r = lc_sqfs_writer_append(c->w, c->buf, (size_t)got, c->err);
	}
	if (r >= 0)
		r = lc_sqfs_writer_end_file(c->w, c->err);
	return r;
}

/* ---------------------------------------------------------------- walking the tree */

static lc_node *implicit_dir(entry_ctx *c, lc_node *parent, const char *name)
{
	lc_node *d = lc_node_new(name, S_IFDIR | 0755, c->layer->index);

	if (!d || lc_node_add_child(parent, d) < 0) {
		lc_node_free(d);
		return NULL;
	}
	d->implicit = true;
	return d;
}

/* A same-layer tombstone on the way becomes a directory again: a whiteout only hides lower
 * layers, this layer may still put something there. */
static void revive(lc_node *n, int layer)
{
	n->whiteout = false;
	n->mode = S_IFDIR | 0755;
	n->implicit = true;
	n->opaque_layer = layer;
}

/* Descend to the parent directory of the entry's last component. 0 with *ret_dir, ENTRY_HIDDEN,
 * or < 0. */
static int walk_parents(entry_ctx *c, char **parts, size_t n, lc_node **ret_dir)
{
	int k = c->layer->index;
	lc_node *cur = c->tree->root;

	for (size_t i = 0; i + 1 < n; i++) {
		lc_node *child;

		if (cur->opaque_layer > k)
			return ENTRY_HIDDEN;
		child = lc_node_child(cur, parts[i]);
		if (!child) {
			child = implicit_dir(c, cur, parts[i]);
			if (!child)
				return lc_fail(c->err, ENOMEM, "out of memory");
		} else if (child->whiteout) {
			if (child->layer > k)
				return ENTRY_HIDDEN;
			revive(child, k);
		} else if (!S_ISDIR(child->mode)) {
			if (child->layer > k)
				return ENTRY_HIDDEN;
			return entry_fail(c, EPERM,
					  S_ISLNK(child->mode)
					      ? "reaches through a symbolic link of the same layer"
					      : "a parent in the same layer is not a directory");
		}
		cur = child;
	}
	if (cur->opaque_layer > k)
		return ENTRY_HIDDEN;
	*ret_dir = cur;
	return 0;
}

/* ---------------------------------------------------------------- entry kinds */

static int apply_whiteout(entry_ctx *c, lc_node *dir, const char *name)
{
	int k = c->layer->index;
	lc_node *x;

	if (strcmp(name, OPAQUE_MARKER) == 0) {
		if (dir->opaque_layer < k)
			dir->opaque_layer = k;
		return 0;
	}
	name += strlen(WHITEOUT_PREFIX);
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return entry_fail(c, EPERM, "whiteout of an invalid name");
	x = lc_node_child(dir, name);
	if (x) {
		/* a higher layer already decided; the same layer keeps its entry */
		if (x->layer == k && S_ISDIR(x->mode) && !x->whiteout)
			x->opaque_layer = k;
		return 0;
	}
	x = lc_node_new(name, 0, k);
	if (!x || lc_node_add_child(dir, x) < 0) {
		lc_node_free(x);
		return lc_fail(c->err, ENOMEM, "out of memory");
	}
	x->whiteout = true;
	return 0;
}

/* Find a node by path without creating anything. */
static lc_node *lookup(lc_node *root, char **parts, size_t n)
{
	lc_node *cur = root;

	for (size_t i = 0; cur && i < n; i++)
		cur = S_ISDIR(cur->mode) ? lc_node_child(cur, parts[i]) : NULL;
	return cur;
}

static int join_path(char **parts, size_t n, char **ret)
{
	lc_buf b = LC_BUF_INIT;

	for (size_t i = 0; i < n; i++)
		if (lc_buf_printf(&b, "%s%s", i ? "/" : "", parts[i]) < 0) {
			lc_buf_free(&b);
			return -ENOMEM;
		}
	*ret = lc_buf_steal(&b);
	return *ret ? 0 : -ENOMEM;
}

/* Split a path from the archive into checked components; *ret_copy holds them (caller frees
 * both). Refuses absolute names and ".." with a message naming the entry. */
static int split_checked(entry_ctx *c, const char *path, char **ret_copy, char ***ret_parts,
			 size_t *ret_n)
{
	lc_error why = LC_ERROR_INIT;
	char *copy = strdup(path);

	if (!copy)
		return lc_fail(c->err, ENOMEM, "out of memory");
	if (lc_path_split(copy, ret_parts, ret_n, &why) < 0) {
		free(copy);
		return entry_fail(c, EPERM, why.msg);
	}
	*ret_copy = copy;
	return 0;
}

/* A normalised copy of a path from the archive ("./a//b" -> "a/b"). */
static int normalise(entry_ctx *c, const char *path, char **ret)
{
	_cleanup_free_ char *copy = NULL;
	_cleanup_free_ char **parts = NULL;
	size_t n;
	int r = split_checked(c, path, &copy, &parts, &n);

	if (r >= 0 && join_path(parts, n, ret) < 0)
		r = lc_fail(c->err, ENOMEM, "out of memory");
	return r;
}

static int link_to(entry_ctx *c, lc_node *n, const char *target_raw)
{
	_cleanup_free_ char *copy = NULL;
	_cleanup_free_ char **parts = NULL;
	_cleanup_free_ char *target = NULL;
	lc_node *t;
	size_t count;
	int r = split_checked(c, target_raw, &copy, &parts, &count);

	if (r < 0)
		return r;
	if (count == 0)
		return entry_fail(c, EPERM, "hardlink to the root directory");
	t = lookup(c->tree->root, parts, count);
	if (t && t->layer == c->layer->index && !t->whiteout) {
		if (S_ISDIR(t->mode))
			return entry_fail(c, EPERM, "hardlink to a directory");
		n->hardlink = lc_node_inode_owner(t);
		return 0;
	}
	/* shadowed by a higher layer, hidden, or missing: the second pass decides */
	if (join_path(parts, count, &target) < 0)
		return lc_fail(c->err, ENOMEM, "out of memory");
	n->hardlink = pending_holder(c, target);
	return n->hardlink ? 0 : lc_fail(c->err, ENOMEM, "out of memory");
}

/* A file larger than the import takes: refused before its data is read. */
static int too_large(entry_ctx *c, uint64_t size)
{
	char why[160];

	snprintf(why, sizeof(why),
		 "a file of %llu bytes, more than this import takes (%llu: "
		 "lc_import_opts.max_file_size, ctr-import --max-file-size)",
		 (unsigned long long)size, (unsigned long long)lc_sqfs_writer_max_file_size(c->w));
	return entry_fail(c, EFBIG, why);
}

static int fill_node(entry_ctx *c, lc_node *n)
{
	const char *hl = archive_entry_hardlink(c->e);
	int r;

	lc_node_clear_content(n);
	copy_stat(c, n);
	if (hl)
		return link_to(c, n, hl);
	r = copy_xattrs(c, n);
	if (r < 0)
		return r;
	switch (n->mode & S_IFMT) {
	case S_IFREG:
		n->size = (uint64_t)archive_entry_size(c->e);
		if (n->size > lc_sqfs_writer_max_file_size(c->w))
			return too_large(c, n->size);
		return write_data(c, n);
	case S_IFLNK:
		if (!archive_entry_symlink(c->e))
			return entry_fail(c, EINVAL, "symbolic link without a target");
		n->symlink = strdup(archive_entry_symlink(c->e));
		return n->symlink ? 0 : lc_fail(c->err, ENOMEM, "out of memory");
	case S_IFCHR:
	case S_IFBLK:
		n->rdev = archive_entry_rdev(c->e);
		return 0;
	case S_IFDIR:
	case S_IFIFO:
	case S_IFSOCK:
		return 0;
	default:
		return entry_fail(c, EINVAL, "unknown file type");
	}
}

/* Place the entry named @name in @dir, unless a higher layer has it. */
static int apply_entry(entry_ctx *c, lc_node *dir, const char *name)
{
	int k = c->layer->index;
	bool is_dir = archive_entry_filetype(c->e) == AE_IFDIR && !archive_entry_hardlink(c->e);
	lc_node *x = lc_node_child(dir, name);
	bool hides_lower;

	if (x && x->layer > k) {
		/* shadowed; a directory still gives an implicit one its metadata */
		if (is_dir && S_ISDIR(x->mode) && !x->whiteout && x->implicit) {
			copy_stat(c, x);
			x->implicit = false;
			return copy_xattrs(c, x);
		}
		/* a higher layer's entries (or whiteouts) below this path, which no higher layer
		 * made a directory: applied in order they went through this link, which must not
		 * become a directory quietly (a file there does: see merge_whiteouts_and_links) */
		if (archive_entry_filetype(c->e) == AE_IFLNK && S_ISDIR(x->mode) && !x->whiteout &&
		    x->implicit)
			return entry_fail(
			    c, ENOTDIR,
			    "a symbolic link that a higher layer's entries go through: "
			    "refused (not followed)");
		return 0;
	}
	if (x && is_dir && S_ISDIR(x->mode) && !x->whiteout) {
		/* this layer's directory again (or made implicit by an earlier child): metadata */
		lc_node_clear_content(x);
		copy_stat(c, x);
		x->implicit = false;
		return copy_xattrs(c, x);
	}
	/* the later entry of the same layer wins; a same-layer whiteout hid the lower layers */
	hides_lower = x && (x->whiteout || x->opaque_layer == k);
	if (x && lc_tree_bury(c->tree, x) < 0)
		return lc_fail(c->err, ENOMEM, "out of memory");
	x = lc_node_new(name, S_IFREG, k);
	if (!x || lc_node_add_child(dir, x) < 0) {
		lc_node_free(x);
		return lc_fail(c->err, ENOMEM, "out of memory");
	}
	if (hides_lower && is_dir)
		x->opaque_layer = k;
	return fill_node(c, x);
}

static int apply_one(entry_ctx *c)
{
	_cleanup_free_ char *copy = NULL;
	_cleanup_free_ char **parts = NULL;
	lc_node *dir = NULL;
	size_t n;
	int r;

	c->path = archive_entry_pathname(c->e);
	if (!c->path)
		return entry_fail(c, EINVAL, "entry without a name");
	r = split_checked(c, c->path, &copy, &parts, &n);
	if (r < 0)
		return r;
	if (n == 0) { /* "./": the root directory's own metadata */
		if (c->tree->root->implicit && archive_entry_filetype(c->e) == AE_IFDIR) {
			copy_stat(c, c->tree->root);
			c->tree->root->implicit = false;
		}
		return 0;
	}
	/* below a whiteout (a ".wh." directory with children): the whiteout is all it says; no
	 * ".wh." name is ever stored */
	for (size_t i = 0; i + 1 < n; i++)
		if (lc_str_has_prefix(parts[i], WHITEOUT_PREFIX))
			return 0;
	r = walk_parents(c, parts, n, &dir);
	if (r != 0)
		return r == ENTRY_HIDDEN ? 0 : r;
	if (lc_str_has_prefix(parts[n - 1], WHITEOUT_PREFIX))
		return apply_whiteout(c, dir, parts[n - 1]);
	return apply_entry(c, dir, parts[n - 1]);
}

/* libarchive's warnings about a header it could not read whole and went on without (a pax
 * record whose length lies): the entry is not what the layer says. Its other warnings (a name
 * it could not convert) are not about the archive's structure. */
static bool malformed_header(struct archive *ar)
{
	const char *why = archive_error_string(ar);

	return why && (strstr(why, "malformed") || strstr(why, "Malformed") ||
		       strstr(why, "Damaged") || strstr(why, "damaged"));
}

static int next_entry(entry_ctx *c)
{
	int r = archive_read_next_header(c->ar, &c->e);

	if (r == ARCHIVE_EOF)
		return 0;
	if (r == ARCHIVE_WARN && malformed_header(c->ar)) {
		char why[200];

		c->path = archive_entry_pathname(c->e) ? archive_entry_pathname(c->e) : "?";
		snprintf(why, sizeof(why), "malformed header: %s", archive_error_string(c->ar));
		return entry_fail(c, EBADMSG, why);
	}
	if (r == ARCHIVE_OK || r == ARCHIVE_WARN)
		return 1;
	lc_layer_stream_error(c->layer->stream, c->err);
	return lc_error_prefix(c->err, -c->err->code, "layer %s", c->layer->digest);
}

int lc_merge_layer_apply(lc_tree *t, lc_sqfs_writer *w, const lc_merge_layer *l, lc_ctx *ctx,
			 void **pending, lc_error *err)
{
	entry_ctx c = {t,    w,    l,    ctx,  lc_layer_stream_archive(l->stream),
		       NULL, NULL, NULL, NULL, err};
	int r;

	c.pending = *pending ? *pending : calloc(1, sizeof(*c.pending));
	*pending = c.pending;
	c.buf = malloc(DATA_CHUNK);
	if (!c.pending || !c.buf) {
		free(c.buf);
		return lc_fail(err, ENOMEM, "out of memory");
	}
	while ((r = next_entry(&c)) > 0) {
		r = apply_one(&c);
		if (r < 0)
			break;
	}
	free(c.buf);
	return r < 0 ? r : 0;
}

/* ---------------------------------------------------------------- second pass */

/* An unfilled target at @path that layer @k may fill: its own layer's, or one of a higher
 * layer that no layer between removed (one removed by @k itself: @k may also hold it). */
static pending_target *find_pending(pending_set *p, const char *path, int k)
{
	for (size_t i = 0; i < p->n; i++) {
		pending_target *pt = &p->items[i];

		if (!pt->filled && (pt->removed_by < 0 || pt->removed_by == k) &&
		    strcmp(pt->path, path) == 0)
			return pt;
	}
	return NULL;
}

/* @path of layer @k removes what is below it for the higher layers' links: a whiteout
 * (".wh.NAME": NAME and below), an opaque marker (the directory's content), a non-directory
 * (below it). */
static void mark_removed(pending_set *p, const char *path, bool is_dir, int k)
{
	const char *base = strrchr(path, '/');
	size_t dir_len = base ? (size_t)(base - path + 1) : 0;
	char removed[PATH_MAX];
	bool whole;

	base = base ? base + 1 : path;
	if (!strcmp(base, OPAQUE_MARKER)) {
		snprintf(removed, sizeof(removed), "%.*s", (int)dir_len, path);
		whole = false;
	} else if (lc_str_has_prefix(base, WHITEOUT_PREFIX)) {
		snprintf(removed, sizeof(removed), "%.*s%s", (int)dir_len, path,
			 base + strlen(WHITEOUT_PREFIX));
		whole = true;
	} else if (!is_dir) {
		snprintf(removed, sizeof(removed), "%s/", path);
		whole = false;
	} else {
		return;
	}
	for (size_t i = 0; i < p->n; i++) {
		pending_target *pt = &p->items[i];
		size_t n = strlen(removed);

		if (pt->filled || pt->layer <= k || pt->removed_by >= 0)
			continue;
		if (whole ? (!strcmp(pt->path, removed) ||
			     (!strncmp(pt->path, removed, n) && pt->path[n] == '/'))
			  : !strncmp(pt->path, removed, n))
			pt->removed_by = k;
	}
}

static int fill_pending(entry_ctx *c, pending_target *pt)
{
	const char *hl = archive_entry_hardlink(c->e);
	lc_node *holder = pt->holder;

	if (hl) {
		/* the target is itself a link: its own target must be in the tree */
		_cleanup_free_ char *copy = NULL;
		_cleanup_free_ char **parts = NULL;
		lc_node *t;
		size_t n;
		int r = split_checked(c, hl, &copy, &parts, &n);

		if (r < 0)
			return r;
		t = lookup(c->tree->root, parts, n);
		if (!t || t->layer != c->layer->index || t->whiteout || S_ISDIR(t->mode))
			return entry_fail(c, EPERM, "hardlink chain to a file that was replaced");
		holder->hardlink = lc_node_inode_owner(t);
		pt->filled = true;
		return 0;
	}
	if (archive_entry_filetype(c->e) == AE_IFDIR)
		return entry_fail(c, EPERM, "hardlink to a directory");
	pt->filled = true;
	return fill_node(c, holder);
}

int lc_merge_pending_check(void *pending, lc_error *err)
{
	pending_set *p = pending;

	for (size_t i = 0; p && i < p->n; i++)
		if (!p->items[i].filled)
			return layer_entry_fail(err, EPERM, p->items[i].digest, p->items[i].path,
						"is the target of a hardlink but not in the layer "
						"or a layer below it");
	return 0;
}

int lc_merge_resolve_pending(lc_tree *t, lc_sqfs_writer *w, const lc_merge_layer *l, void *pending,
			     lc_error *err)
{
	entry_ctx c = {t,    w,    l,       NULL, lc_layer_stream_archive(l->stream),
		       NULL, NULL, pending, NULL, err};
	int r;

	c.buf = malloc(DATA_CHUNK);
	if (!c.buf)
		return lc_fail(err, ENOMEM, "out of memory");
	while ((r = next_entry(&c)) > 0) {
		_cleanup_free_ char *path = NULL;
		pending_target *pt;

		c.path = archive_entry_pathname(c.e);
		if (!c.path || normalise(&c, c.path, &path) < 0)
			continue;
		mark_removed(c.pending, path, archive_entry_filetype(c.e) == AE_IFDIR, l->index);
		pt = find_pending(c.pending, path, l->index);
		if (pt && (r = fill_pending(&c, pt)) < 0)
			break;
	}
	free(c.buf);
	return r < 0 ? r : 0;
}
