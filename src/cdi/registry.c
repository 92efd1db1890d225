/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CDI specs of a node, from the spec directories in order, and the resolution of fully
 * qualified device names (vendor.com/class=name) into container edits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdi.h"

typedef struct loaded {
	lc_cdi_spec *spec;
	size_t dir; /* the directory's rank: a later one wins */
} loaded;

struct lc_cdi_registry_priv {
	lc_cdi_registry pub;
	size_t *ranks;
};

static bool spec_suffix(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && ((n > 5 && !strcmp(name + n - 5, ".json")) ||
				  (n > 5 && !strcmp(name + n - 5, ".yaml")) ||
				  (n > 4 && !strcmp(name + n - 4, ".yml")));
}

/* Root's, and writable by root alone. */
static bool roots_only(const struct stat *st)
{
	return st->st_uid == 0 && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

/* The spec @name of the directory @dir_fd, when it may be used; NULL (with a warning) when
 * not. */
static lc_cdi_spec *read_spec(lc_ctx *ctx, int dir_fd, const char *dir, const char *name,
			      bool root_only)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *text = NULL, *source = NULL;
	lc_error err = LC_ERROR_INIT;
	lc_cdi_spec *spec = NULL;
	struct stat st;
	size_t len = 0;

	if (asprintf(&source, "%s/%s", dir, name) < 0)
		return NULL;
	fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | (root_only ? O_NOFOLLOW : 0));
	if (fd < 0 || fstat(fd, &st) < 0) {
		lc_warn(ctx, "CDI spec %s: cannot open: %m; skipped", source);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		lc_warn(ctx, "CDI spec %s: not a regular file; skipped", source);
		return NULL;
	}
	if (root_only && !roots_only(&st)) {
		lc_warn(ctx, "CDI spec %s: not root's, or writable by others; ignored", source);
		return NULL;
	}
	if (lc_fd_read_all(fd, source, CDI_SPEC_MAX, &text, &len, &err) < 0 ||
	    lc_cdi_spec_parse(text, len, source, &spec, &err) < 0) {
		lc_warn(ctx, "%s; skipped", lc_error_message(&err));
		return NULL;
	}
	return spec;
}

static int add_spec(struct lc_cdi_registry_priv *p, size_t *cap, lc_cdi_spec *spec, size_t rank)
{
	size_t ncap = *cap;

	if (lc_array_reserve(&p->pub.specs, cap, p->pub.n_specs, sizeof(*p->pub.specs), 8) < 0 ||
	    lc_array_reserve(&p->ranks, &ncap, p->pub.n_specs, sizeof(*p->ranks), 8) < 0) {
		lc_cdi_spec_free(spec);
		return -ENOMEM;
	}
	p->pub.specs[p->pub.n_specs] = spec;
	p->ranks[p->pub.n_specs++] = rank;
	return 0;
}

static int load_dir(lc_ctx *ctx, struct lc_cdi_registry_priv *p, size_t *cap, const char *dir,
		    size_t rank, bool root_only)
{
	_cleanup_close_ int fd =
	    open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (root_only ? O_NOFOLLOW : 0));
	_cleanup_free_ struct dirent **names = NULL;
	struct stat st;
	int n, r = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		return 0; /* no such directory: no specs */
	if (root_only && !roots_only(&st)) {
		lc_warn(ctx, "CDI spec directory %s: not root's, or writable by others; ignored",
			dir);
		return 0;
	}
	n = scandirat(fd, ".", &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		lc_cdi_spec *spec = NULL;

		if (!r && spec_suffix(names[i]->d_name) &&
		    (spec = read_spec(ctx, fd, dir, names[i]->d_name, root_only)))
			r = add_spec(p, cap, spec, rank);
		free(names[i]);
	}
	return r;
}

int lc_cdi_registry_load(lc_ctx *ctx, const char *dirs, bool root_only, lc_cdi_registry **ret,
			 lc_error *err)
{
	struct lc_cdi_registry_priv *p = calloc(1, sizeof(*p));
	_cleanup_free_ char *copy = dirs ? strdup(dirs) : NULL;
	char *save = NULL;
	size_t cap = 0, rank = 0;
	int r = p && (copy || !dirs) ? 0 : -ENOMEM;

	*ret = NULL;
	for (char *d = copy && !r ? strtok_r(copy, ":", &save) : NULL; !r && d;
	     d = strtok_r(NULL, ":", &save))
		if (d[0] == '/')
			r = load_dir(ctx, p, &cap, d, rank++, root_only);
	if (r < 0) {
		lc_cdi_registry_free(p ? &p->pub : NULL);
		return lc_fail(err, -r, "loading the CDI specs: %s", strerror(-r));
	}
	lc_debug(ctx, "CDI: %zu specs from %s", p->pub.n_specs, dirs ? dirs : "nowhere");
	*ret = &p->pub;
	return 0;
}

lc_cdi_registry *lc_cdi_registry_free(lc_cdi_registry *reg)
{
	struct lc_cdi_registry_priv *p = (struct lc_cdi_registry_priv *)reg;

	if (!p)
		return NULL;
	for (size_t i = 0; i < p->pub.n_specs; i++)
		lc_cdi_spec_free(p->pub.specs[i]);
	free(p->pub.specs);
	free(p->ranks);
	free(p);
	return NULL;
}

bool lc_cdi_has_kind(const lc_cdi_registry *reg, const char *kind)
{
	for (size_t i = 0; reg && i < reg->n_specs; i++)
		if (!strcmp(reg->specs[i]->kind, kind))
			return true;
	return false;
}

/* ---------------------------------------------------------------- edits */

static int dup_str(char **to, const char *from)
{
	return !from || (*to = strdup(from)) ? 0 : -ENOMEM;
}

static int copy_strv(lc_strvec *to, const lc_strvec *from)
{
	int r = 0;

	for (size_t i = 0; !r && i < from->n; i++)
		r = lc_strvec_push(to, from->v[i]);
	return r;
}

/* Append @n items of @size bytes to *@items (count *@have); the new slots zeroed. */
static int grow(void *items_ptr, size_t *have, size_t n, size_t size)
{
	char **items = items_ptr;
	char *v;

	if (!n)
		return 0;
	v = realloc(*items, (*have + n) * size);
	if (!v)
		return -ENOMEM;
	memset(v + *have * size, 0, n * size);
	*items = v;
	return 0;
}

int lc_cdi_edits_add(lc_cdi_edits *to, const lc_cdi_edits *from)
{
	size_t n0 = to->n_nodes, m0 = to->n_mounts, h0 = to->n_hooks;
	int r = 0;

	/* env: a later value of a name wins (the device's over the spec's) */
	for (size_t i = 0; !r && i < from->env.n; i++)
		r = lc_env_put(&to->env, from->env.v[i]);
	if (!r && !(r = grow(&to->nodes, &to->n_nodes, from->n_nodes, sizeof(*to->nodes))))
		to->n_nodes += from->n_nodes;
	for (size_t i = 0; !r && i < from->n_nodes; i++) {
		lc_cdi_node *t = &to->nodes[n0 + i];
		const lc_cdi_node *f = &from->nodes[i];

		*t = *f;
		t->path = t->host_path = t->permissions = NULL;
		r = dup_str(&t->path, f->path) ?: dup_str(&t->host_path, f->host_path)
						 ?: dup_str(&t->permissions, f->permissions);
	}
	if (!r && !(r = grow(&to->mounts, &to->n_mounts, from->n_mounts, sizeof(*to->mounts))))
		to->n_mounts += from->n_mounts;
	for (size_t i = 0; !r && i < from->n_mounts; i++) {
		lc_cdi_mount *t = &to->mounts[m0 + i];
		const lc_cdi_mount *f = &from->mounts[i];

		r = dup_str(&t->host_path, f->host_path) ?: dup_str(&t->container_path, f->container_path)
		    ?: dup_str(&t->type, f->type) ?: copy_strv(&t->options, &f->options);
	}
	if (!r && !(r = grow(&to->hooks, &to->n_hooks, from->n_hooks, sizeof(*to->hooks))))
		to->n_hooks += from->n_hooks;
	for (size_t i = 0; !r && i < from->n_hooks; i++) {
		lc_cdi_hook *t = &to->hooks[h0 + i];
		const lc_cdi_hook *f = &from->hooks[i];

		r = dup_str(&t->hook_name, f->hook_name) ?: dup_str(&t->path, f->path)
		    ?: copy_strv(&t->args, &f->args) ?: copy_strv(&t->env, &f->env);
	}
	for (size_t i = 0; !r && i < from->n_gids; i++) {
		bool seen = false;

		for (size_t j = 0; j < to->n_gids; j++)
			seen = seen || to->gids[j] == from->gids[i];
		if (!seen && !(r = grow(&to->gids, &to->n_gids, 1, sizeof(gid_t))))
			to->gids[to->n_gids++] = from->gids[i];
	}
	return r;
}

/* ---------------------------------------------------------------- names */

/* The device "kind=name" asks for: the spec of the highest directory rank that has it; two
 * specs of that rank with it are a conflict. */
static int find_device(const struct lc_cdi_registry_priv *p, const char *qualified,
		       size_t *ret_spec, const lc_cdi_device **ret_dev, lc_error *err)
{
	const char *eq = strchr(qualified, '=');
	size_t klen = eq ? (size_t)(eq - qualified) : 0, found = (size_t)-1;
	const lc_cdi_device *dev = NULL;
	char shown[200];

	lc_str_sanitize(shown, sizeof(shown), qualified);
	if (!eq || !klen || !strchr(qualified, '/') || strchr(qualified, '/') > eq ||
	    !lc_cdi_device_name_ok(eq + 1))
		return lc_fail(err, EINVAL, "'%s' is not a CDI device name (vendor.com/class=name)",
			       shown);
	for (size_t i = 0; i < p->pub.n_specs; i++) {
		const lc_cdi_spec *s = p->pub.specs[i];

		if (strlen(s->kind) != klen || strncmp(s->kind, qualified, klen))
			continue;
		for (size_t j = 0; j < s->n_devices; j++) {
			if (strcmp(s->devices[j].name, eq + 1))
				continue;
			if (dev && p->ranks[i] == p->ranks[found])
				return lc_fail(err, EINVAL,
					       "CDI device %s is defined twice: in %s and in %s",
					       shown, p->pub.specs[found]->source, s->source);
			if (!dev || p->ranks[i] > p->ranks[found]) {
				dev = &s->devices[j];
				found = i;
			}
		}
	}
	if (!dev)
		return lc_fail(err, ENOENT, "CDI device %s: no spec defines it", shown);
	*ret_spec = found;
	*ret_dev = dev;
	return 0;
}

int lc_cdi_resolve(const lc_cdi_registry *reg, const char *const *names, lc_cdi_edits *ret,
		   lc_error *err)
{
	const struct lc_cdi_registry_priv *p = (const struct lc_cdi_registry_priv *)reg;
	bool *used = calloc(reg->n_specs + 1, sizeof(bool));
	lc_cdi_edits e = {0};
	int r = used ? 0 : lc_fail(err, ENOMEM, "out of memory");

	for (const char *const *n = names; r >= 0 && n && *n; n++) {
		const lc_cdi_device *dev = NULL;
		size_t spec = 0;

		r = find_device(p, *n, &spec, &dev, err);
		if (r >= 0 && !used[spec]) {
			used[spec] = true;
			r = lc_cdi_edits_add(&e, &reg->specs[spec]->edits);
		}
		if (r >= 0)
			r = lc_cdi_edits_add(&e, &dev->edits);
		if (r == -ENOMEM)
			r = lc_fail(err, ENOMEM, "out of memory");
	}
	free(used);
	if (r < 0) {
		lc_cdi_edits_clear(&e);
		return r;
	}
	*ret = e;
	return 0;
}

int lc_cdi_resolve_spec_of(const lc_cdi_registry *reg, const char *name, lc_cdi_edits *edits,
			   lc_error *err)
{
	const struct lc_cdi_registry_priv *p = (const struct lc_cdi_registry_priv *)reg;
	const lc_cdi_device *dev = NULL;
	size_t spec = 0;
	int r = find_device(p, name, &spec, &dev, err);

	if (r >= 0 && lc_cdi_edits_add(edits, &reg->specs[spec]->edits) < 0)
		r = lc_fail(err, ENOMEM, "out of memory");
	return r;
}
