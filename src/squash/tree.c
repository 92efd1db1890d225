/* SPDX-License-Identifier: Apache-2.0 */
/* The in-memory tree that layers are merged into: metadata only, file data goes straight to the
 * squashfs writer. Children are kept sorted by name, the order squashfs directories need. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "squash.h"

lc_node *lc_node_new(const char *name, uint32_t mode, int layer)
{
	lc_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->name = strdup(name);
	if (!n->name) {
		free(n);
		return NULL;
	}
	n->mode = mode;
	n->layer = layer;
	n->opaque_layer = -1;
	return n;
}

void lc_node_clear_content(lc_node *n)
{
	free(n->symlink);
	n->symlink = NULL;
	for (size_t i = 0; i < n->n_xattrs; i++) {
		free(n->xattrs[i].key);
		free(n->xattrs[i].value);
	}
	free(n->xattrs);
	n->xattrs = NULL;
	n->n_xattrs = 0;
	free(n->inode);
	n->inode = NULL;
	n->hardlink = NULL;
	n->size = 0;
	n->rdev = 0;
}

void lc_node_free(lc_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n_children; i++)
		lc_node_free(n->children[i]);
	free(n->children);
	lc_node_clear_content(n);
	free(n->name);
	free(n);
}

/* Index of @name in @dir's children, or where it would go (*found false). */
static size_t child_slot(const lc_node *dir, const char *name, bool *found)
{
	size_t lo = 0, hi = dir->n_children;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(dir->children[mid]->name, name);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

lc_node *lc_node_child(const lc_node *dir, const char *name)
{
	bool found;
	size_t i = child_slot(dir, name, &found);

	return found ? dir->children[i] : NULL;
}

int lc_node_add_child(lc_node *dir, lc_node *child)
{
	bool found;
	size_t i = child_slot(dir, child->name, &found);

	if (found)
		return -EEXIST;
	if (lc_array_reserve(&dir->children, &dir->cap_children, dir->n_children,
			     sizeof(*dir->children), 4) < 0)
		return -ENOMEM;
	memmove(dir->children + i + 1, dir->children + i,
		(dir->n_children - i) * sizeof(lc_node *));
	dir->children[i] = child;
	dir->n_children++;
	child->parent = dir;
	return 0;
}

void lc_node_remove_child(lc_node *dir, lc_node *child)
{
	bool found;
	size_t i = child_slot(dir, child->name, &found);

	if (!found || dir->children[i] != child)
		return;
	memmove(dir->children + i, dir->children + i + 1,
		(dir->n_children - i - 1) * sizeof(lc_node *));
	dir->n_children--;
	child->parent = NULL;
}

int lc_tree_init(lc_tree *t, lc_error *err)
{
	memset(t, 0, sizeof(*t));
	t->root = lc_node_new("", S_IFDIR | 0755, -1);
	if (!t->root)
		return lc_fail(err, ENOMEM, "tree: out of memory");
	t->root->implicit = true;
	return 0;
}

int lc_node_list_push(lc_node_list *l, lc_node *n)
{
	if (lc_array_reserve(&l->items, &l->cap, l->n, sizeof(*l->items), 8) < 0)
		return -ENOMEM;
	l->items[l->n++] = n;
	return 0;
}

static void node_list_free(lc_node_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		lc_node_free(l->items[i]);
	free(l->items);
}

int lc_tree_bury(lc_tree *t, lc_node *n)
{
	if (n->parent)
		lc_node_remove_child(n->parent, n);
	return lc_node_list_push(&t->dead, n);
}

bool lc_xattr_is_storable(const char *key)
{
	return lc_str_has_prefix(key, "user.") || lc_str_has_prefix(key, "trusted.") ||
	       lc_str_has_prefix(key, "security.");
}

int lc_node_add_xattr(lc_node *n, const char *key, const void *value, size_t size)
{
	lc_xattr *x = realloc(n->xattrs, (n->n_xattrs + 1) * sizeof(*x));
	char *k, *v;

	if (!x)
		return -ENOMEM;
	n->xattrs = x;
	k = strdup(key);
	v = malloc(size ? size : 1);
	if (!k || !v) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	memcpy(v, value, size);
	x[n->n_xattrs++] = (lc_xattr){k, v, size};
	return 0;
}

lc_node *lc_node_inode_owner(lc_node *n)
{
	while (n->hardlink)
		n = n->hardlink;
	return n;
}

void lc_tree_free(lc_tree *t)
{
	lc_node_free(t->root);
	node_list_free(&t->extra);
	node_list_free(&t->dead);
	memset(t, 0, sizeof(*t));
}

int lc_path_split(char *path, char ***ret_parts, size_t *ret_n, lc_error *err)
{
	size_t n = 0, cap = 0;
	char **parts = NULL, *save = NULL; /* stays NULL for a path of no components */

	if (path[0] == '/')
		return lc_fail(err, EPERM, "absolute name");
	for (char *c = strtok_r(path, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0) {
			free(parts);
			return lc_fail(err, EPERM, "'..' in the name");
		}
		/* squashfs and every reader stop at NAME_MAX: the image would be unreadable */
		if (strlen(c) > NAME_MAX) {
			free(parts);
			return lc_fail(err, ENAMETOOLONG, "a name longer than %d bytes", NAME_MAX);
		}
		if (lc_array_reserve(&parts, &cap, n, sizeof(*parts), 8) < 0) {
			free(parts);
			return lc_fail(err, ENOMEM, "out of memory");
		}
		parts[n++] = c;
	}
	*ret_parts = parts;
	*ret_n = n;
	return 0;
}
