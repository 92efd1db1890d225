/* SPDX-License-Identifier: Apache-2.0 */
/* A growable NULL-terminated vector of "K=V" strings: an environment being built. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "util.h"

static size_t key_len(const char *kv)
{
	const char *eq = strchr(kv, '=');

	return eq ? (size_t)(eq - kv) : strlen(kv);
}

static ssize_t env_find(const lc_strvec *e, const char *key, size_t len)
{
	for (size_t i = 0; i < e->n; i++)
		if (!strncmp(e->v[i], key, len) && e->v[i][len] == '=')
			return (ssize_t)i;
	return -1;
}

/* Append @copy, which becomes the vector's (freed on failure). */
static int push_owned(lc_strvec *e, char *copy)
{
	if (lc_array_reserve(&e->v, &e->cap, e->n + 1, sizeof(char *), 16) < 0) {
		free(copy);
		return -ENOMEM;
	}
	e->v[e->n++] = copy;
	e->v[e->n] = NULL;
	return 0;
}

int lc_env_put(lc_strvec *e, const char *kv)
{
	size_t len = key_len(kv);
	ssize_t i;
	char *copy;

	if (!len || !kv[len])
		return -EINVAL;
	copy = strdup(kv);
	if (!copy)
		return -ENOMEM;
	i = env_find(e, kv, len);
	if (i >= 0) {
		free(e->v[i]);
		e->v[i] = copy;
		return 0;
	}
	return push_owned(e, copy);
}

int lc_strvec_push(lc_strvec *e, const char *s)
{
	char *copy = strdup(s);

	return copy ? push_owned(e, copy) : -ENOMEM;
}

int lc_env_set(lc_strvec *e, const char *key, const char *value)
{
	_cleanup_free_ char *kv = NULL;

	if (asprintf(&kv, "%s=%s", key, value) < 0)
		return -ENOMEM;
	return lc_env_put(e, kv);
}

const char *lc_env_get(const lc_strvec *e, const char *key)
{
	ssize_t i = env_find(e, key, strlen(key));

	return i >= 0 ? e->v[i] + strlen(key) + 1 : NULL;
}

void lc_strvec_free(lc_strvec *e)
{
	lc_strv_free(e->v);
	*e = (lc_strvec){0};
}

char **lc_strvec_steal(lc_strvec *e)
{
	char **v = e->v;

	if (!v)
		v = calloc(1, sizeof(char *));
	*e = (lc_strvec){0};
	return v;
}

int lc_env_unset(lc_strvec *e, const char *key)
{
	ssize_t i = env_find(e, key, strlen(key));

	if (i < 0)
		return 0;
	free(e->v[i]);
	memmove(&e->v[i], &e->v[i + 1], (e->n - (size_t)i) * sizeof(char *));
	e->n--;
	return 1;
}

const char *lc_strv_lookup(const char *const *v, const char *name, size_t len)
{
	for (; v && *v; v++)
		if (!strncmp(*v, name, len) && (*v)[len] == '=')
			return *v + len + 1;
	return NULL;
}

const char *lc_strv_get(const char *const *v, const char *name)
{
	return lc_strv_lookup(v, name, strlen(name));
}

size_t lc_env_name_len(const char *s)
{
	size_t n = 0;

	if (!isalpha((unsigned char)*s) && *s != '_')
		return 0;
	while (isalnum((unsigned char)s[n]) || s[n] == '_')
		n++;
	return n;
}
