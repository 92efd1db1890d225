/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One CDI spec, decoded from its JSON tree (a YAML spec is converted first, yaml.c) into what a
 * container's start needs, every field checked: a spec is a file a vendor's tool wrote, but a
 * file all the same.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdi.h"

static const char *const versions[] = {"0.3.0", "0.4.0", "0.5.0", "0.6.0", "0.7.0",
				       "0.8.0", "1.0.0", "1.1.0", NULL};

typedef struct decoder {
	const char *source;
	lc_error *err;
} decoder;

static int bad(decoder *d, const char *what, const char *field)
{
	return lc_fail(d->err, EINVAL, "CDI spec %s: %s: %s", d->source, field, what);
}

/* A string field: NULL when absent (-ENOENT), refused when not a string or holding a NUL. */
static int get_string(decoder *d, json_t *obj, const char *key, const char *field, char **ret)
{
	json_t *v = json_object_get(obj, key);

	*ret = NULL;
	if (!v || json_is_null(v))
		return -ENOENT;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return bad(d, "not a string", field);
	*ret = strdup(json_string_value(v));
	return *ret ? 0 : lc_fail(d->err, ENOMEM, "out of memory");
}

static int get_path(decoder *d, json_t *obj, const char *key, const char *field, bool required,
		    char **ret)
{
	int r = get_string(d, obj, key, field, ret);

	if (r == -ENOENT)
		return required ? bad(d, "missing", field) : 0;
	if (r >= 0 && (*ret)[0] != '/') {
		free(*ret);
		*ret = NULL;
		return bad(d, "not an absolute path", field);
	}
	return r;
}

static int get_int(decoder *d, json_t *obj, const char *key, const char *field, int64_t min,
		   int64_t max, int64_t *ret)
{
	json_t *v = json_object_get(obj, key);

	*ret = -1;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return bad(d, "not a number in range", field);
	*ret = json_integer_value(v);
	return 0;
}

/* An array of strings into @out; @env: each must be NAME=VALUE. */
static int get_strings(decoder *d, json_t *obj, const char *key, const char *field, bool env,
		       lc_strvec *out)
{
	json_t *a = json_object_get(obj, key), *v;
	size_t i;

	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return bad(d, "not a list", field);
	json_array_foreach(a, i, v)
	{
		const char *s = json_string_value(v);

		if (!s || strlen(s) != json_string_length(v))
			return bad(d, "not a list of strings", field);
		if (env && (!lc_env_name_len(s) || s[lc_env_name_len(s)] != '='))
			return bad(d, "not NAME=VALUE", field);
		if (lc_strvec_push(out, s) < 0)
			return lc_fail(d->err, ENOMEM, "out of memory");
	}
	return 0;
}

static int decode_node(decoder *d, json_t *o, lc_cdi_node *n)
{
	_cleanup_free_ char *type = NULL;
	int r;

	*n = (lc_cdi_node){.major = -1, .minor = -1, .file_mode = -1, .uid = -1, .gid = -1};
	if (!json_is_object(o))
		return bad(d, "not an object", "deviceNodes");
	r = get_path(d, o, "path", "deviceNodes.path", true, &n->path);
	if (r >= 0)
		r = get_path(d, o, "hostPath", "deviceNodes.hostPath", false, &n->host_path);
	if (r >= 0 && !n->host_path && !(n->host_path = strdup(n->path)))
		r = lc_fail(d->err, ENOMEM, "out of memory");
	if (r >= 0 && (r = get_string(d, o, "type", "deviceNodes.type", &type)) == -ENOENT)
		r = 0;
	if (r >= 0 && type && *type && (strlen(type) != 1 || !strchr("cbpu", *type)))
		r = bad(d, "not c, b, u or p", "deviceNodes.type");
	n->type = type && *type ? (*type == 'u' ? 'c' : *type) : 0;
	if (r >= 0)
		r = get_int(d, o, "major", "deviceNodes.major", 0, 0xfff, &n->major);
	if (r >= 0)
		r = get_int(d, o, "minor", "deviceNodes.minor", 0, 0xfffff, &n->minor);
	if (r >= 0)
		r = get_int(d, o, "fileMode", "deviceNodes.fileMode", 0, 07777, &n->file_mode);
	if (r >= 0)
		r = get_int(d, o, "uid", "deviceNodes.uid", 0, UINT32_MAX - 1, &n->uid);
	if (r >= 0)
		r = get_int(d, o, "gid", "deviceNodes.gid", 0, UINT32_MAX - 1, &n->gid);
	if (r >= 0 && (r = get_string(d, o, "permissions", "deviceNodes.permissions",
				      &n->permissions)) == -ENOENT)
		r = 0;
	if (r >= 0 && n->permissions && strspn(n->permissions, "rwm") != strlen(n->permissions))
		r = bad(d, "not a subset of rwm", "deviceNodes.permissions");
	return r;
}

static int decode_mount(decoder *d, json_t *o, lc_cdi_mount *m)
{
	int r;

	*m = (lc_cdi_mount){0};
	if (!json_is_object(o))
		return bad(d, "not an object", "mounts");
	r = get_path(d, o, "hostPath", "mounts.hostPath", true, &m->host_path);
	if (r >= 0)
		r = get_path(d, o, "containerPath", "mounts.containerPath", true,
			     &m->container_path);
	if (r >= 0 && (r = get_string(d, o, "type", "mounts.type", &m->type)) == -ENOENT)
		r = 0;
	if (r >= 0)
		r = get_strings(d, o, "options", "mounts.options", false, &m->options);
	return r;
}

static int decode_hook(decoder *d, json_t *o, lc_cdi_hook *h)
{
	int r;

	*h = (lc_cdi_hook){0};
	if (!json_is_object(o))
		return bad(d, "not an object", "hooks");
	r = get_string(d, o, "hookName", "hooks.hookName", &h->hook_name);
	if (r == -ENOENT)
		r = bad(d, "missing", "hooks.hookName");
	if (r >= 0)
		r = get_path(d, o, "path", "hooks.path", true, &h->path);
	if (r >= 0)
		r = get_strings(d, o, "args", "hooks.args", false, &h->args);
	if (r >= 0)
		r = get_strings(d, o, "env", "hooks.env", true, &h->env);
	return r;
}

/* Each element of the array @key of @obj decoded into a new slot of *@items (@size bytes). */
static int decode_list(decoder *d, json_t *obj, const char *key, void *items_ptr, size_t *n,
		       size_t size, int (*one)(decoder *, json_t *, void *))
{
	json_t *a = json_object_get(obj, key), *v;
	size_t cap = 0, i;

	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return bad(d, "not a list", key);
	json_array_foreach(a, i, v)
	{
		char **items = items_ptr;
		int r;

		if (lc_array_reserve(items_ptr, &cap, *n, size, 8) < 0)
			return lc_fail(d->err, ENOMEM, "out of memory");
		r = one(d, v, *items + *n * size);
		(*n)++; /* decoded in part: cleared with the rest */
		if (r < 0)
			return r;
	}
	return 0;
}

static int one_node(decoder *d, json_t *v, void *slot)
{
	return decode_node(d, v, slot);
}
static int one_mount(decoder *d, json_t *v, void *slot)
{
	return decode_mount(d, v, slot);
}
static int one_hook(decoder *d, json_t *v, void *slot)
{
	return decode_hook(d, v, slot);
}

static int decode_gids(decoder *d, json_t *o, lc_cdi_edits *e)
{
	json_t *a = json_object_get(o, "additionalGids"), *v;
	size_t i;

	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return bad(d, "not a list", "additionalGids");
	e->gids = calloc(json_array_size(a) + 1, sizeof(gid_t));
	if (!e->gids)
		return lc_fail(d->err, ENOMEM, "out of memory");
	json_array_foreach(a, i, v)
	{
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) >= UINT32_MAX)
			return bad(d, "not a list of group ids", "additionalGids");
		e->gids[e->n_gids++] = (gid_t)json_integer_value(v);
	}
	return 0;
}

static int decode_edits(decoder *d, json_t *o, lc_cdi_edits *e)
{
	int r;

	if (!o || json_is_null(o))
		return 0;
	if (!json_is_object(o))
		return bad(d, "not an object", "containerEdits");
	r = get_strings(d, o, "env", "containerEdits.env", true, &e->env);
	if (r >= 0)
		r = decode_list(d, o, "deviceNodes", &e->nodes, &e->n_nodes, sizeof(*e->nodes),
				one_node);
	if (r >= 0)
		r = decode_list(d, o, "mounts", &e->mounts, &e->n_mounts, sizeof(*e->mounts),
				one_mount);
	if (r >= 0)
		r = decode_list(d, o, "hooks", &e->hooks, &e->n_hooks, sizeof(*e->hooks), one_hook);
	if (r >= 0)
		r = decode_gids(d, o, e);
	return r;
}

/* CDI's rules: vendor "a-z0-9.-" between alphanumerics, class alphanumeric then "_.-". */
static bool kind_ok(const char *kind)
{
	const char *slash = strchr(kind, '/');
	size_t vlen = slash ? (size_t)(slash - kind) : 0;
	const char *alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

	if (!vlen || !slash[1] || strchr(slash + 1, '/'))
		return false;
	for (size_t i = 0; i < vlen; i++)
		if (!strchr(alnum, kind[i]) && !((i && i + 1 < vlen) && strchr(".-", kind[i])))
			return false;
	if (!strchr(alnum, slash[1]))
		return false;
	for (const char *c = slash + 2; *c; c++)
		if (!strchr(alnum, *c) && !strchr("_.-", *c))
			return false;
	return true;
}

bool lc_cdi_device_name_ok(const char *name)
{
	const char *alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

	if (!name[0] || !strchr(alnum, name[0]))
		return false;
	for (const char *c = name + 1; *c; c++)
		if (!strchr(alnum, *c) && !strchr("_.:-", *c))
			return false;
	return true;
}

static int decode_device(decoder *d, json_t *o, lc_cdi_device *dev)
{
	int r;

	*dev = (lc_cdi_device){0};
	if (!json_is_object(o))
		return bad(d, "not an object", "devices");
	r = get_string(d, o, "name", "devices.name", &dev->name);
	if (r == -ENOENT)
		return bad(d, "missing", "devices.name");
	if (r >= 0 && !lc_cdi_device_name_ok(dev->name))
		return bad(d, "not a valid device name", "devices.name");
	if (r >= 0 && !json_object_get(o, "containerEdits"))
		return bad(d, "missing", "devices.containerEdits");
	return r < 0 ? r : decode_edits(d, json_object_get(o, "containerEdits"), &dev->edits);
}

static int one_device(decoder *d, json_t *v, void *slot)
{
	return decode_device(d, v, slot);
}

static int decode_spec(decoder *d, json_t *root, lc_cdi_spec *s)
{
	int r;

	if (!json_is_object(root))
		return bad(d, "not an object", "the spec");
	r = get_string(d, root, "cdiVersion", "cdiVersion", &s->version);
	if (r == -ENOENT)
		return bad(d, "missing", "cdiVersion");
	for (size_t i = 0; r >= 0; i++) {
		if (!versions[i])
			return bad(d, "not a version this reader knows (0.3.0 to 1.1.0)",
				   "cdiVersion");
		if (!strcmp(versions[i], s->version))
			break;
	}
	if (r >= 0 && (r = get_string(d, root, "kind", "kind", &s->kind)) == -ENOENT)
		return bad(d, "missing", "kind");
	if (r >= 0 && !kind_ok(s->kind))
		return bad(d, "not vendor/class", "kind");
	if (r >= 0)
		r = decode_list(d, root, "devices", &s->devices, &s->n_devices, sizeof(*s->devices),
				one_device);
	if (r >= 0 && !s->n_devices)
		return bad(d, "no device", "devices");
	for (size_t i = 0; r >= 0 && i < s->n_devices; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(s->devices[i].name, s->devices[j].name))
				return bad(d, "a device named twice", s->devices[i].name);
	return r < 0 ? r : decode_edits(d, json_object_get(root, "containerEdits"), &s->edits);
}

int lc_cdi_spec_parse(const char *text, size_t len, const char *source, lc_cdi_spec **ret,
		      lc_error *err)
{
	decoder d = {source, err};
	json_error_t jerr;
	json_t *root = NULL;
	lc_cdi_spec *s;
	char why[160] = "";
	int r;

	*ret = NULL;
	if (len > CDI_SPEC_MAX)
		return lc_fail(err, EFBIG, "CDI spec %s: larger than %u bytes", source,
			       CDI_SPEC_MAX);
	if (len && text[strspn(text, " \t\r\n")] == '{') {
		root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
		if (!root)
			return lc_fail(err, EINVAL, "CDI spec %s: line %d: %s", source, jerr.line,
				       jerr.text);
	} else if ((r = lc_yaml_to_json(text, len, &root, why, sizeof(why))) < 0) {
		return lc_fail(err, -r, "CDI spec %s: %s", source, *why ? why : strerror(-r));
	}
	s = calloc(1, sizeof(*s));
	r = s && (s->source = strdup(source)) ? decode_spec(&d, root, s)
					      : lc_fail(err, ENOMEM, "out of memory");
	json_decref(root);
	if (r < 0) {
		lc_cdi_spec_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

void lc_cdi_edits_clear(lc_cdi_edits *e)
{
	lc_strvec_free(&e->env);
	for (size_t i = 0; i < e->n_nodes; i++) {
		free(e->nodes[i].path);
		free(e->nodes[i].host_path);
		free(e->nodes[i].permissions);
	}
	for (size_t i = 0; i < e->n_mounts; i++) {
		free(e->mounts[i].host_path);
		free(e->mounts[i].container_path);
		free(e->mounts[i].type);
		lc_strvec_free(&e->mounts[i].options);
	}
	for (size_t i = 0; i < e->n_hooks; i++) {
		free(e->hooks[i].hook_name);
		free(e->hooks[i].path);
		lc_strvec_free(&e->hooks[i].args);
		lc_strvec_free(&e->hooks[i].env);
	}
	free(e->nodes);
	free(e->mounts);
	free(e->hooks);
	free(e->gids);
	*e = (lc_cdi_edits){0};
}

lc_cdi_spec *lc_cdi_spec_free(lc_cdi_spec *spec)
{
	if (!spec)
		return NULL;
	for (size_t i = 0; i < spec->n_devices; i++) {
		free(spec->devices[i].name);
		lc_cdi_edits_clear(&spec->devices[i].edits);
	}
	free(spec->devices);
	lc_cdi_edits_clear(&spec->edits);
	free(spec->source);
	free(spec->version);
	free(spec->kind);
	free(spec);
	return NULL;
}
