/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Substitution in site files. enroot passes environ.d and fstab files through an awk envsubst
 * (${VAR} only) and enroot.conf values through `eval echo`, a shell. Here the shell's part is
 * done for the forms sites write, without a shell: a site file never runs a program.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "site.h"

/* The value of the variable named by @len bytes at @name in @v->env, or NULL. */
static const char *var_get(const lc_site_vars *v, const char *name, size_t len)
{
	return lc_strv_lookup(v->env, name, len);
}

int lc_site_subst(const lc_site_vars *v, const char *text, char **ret)
{
	lc_buf b = LC_BUF_INIT;
	int r = lc_buf_append(&b, "", 0);

	if (!v) {
		lc_buf_free(&b);
		return (*ret = strdup(text)) ? 0 : -ENOMEM;
	}

	for (const char *p = text; r >= 0 && *p;) {
		size_t n = p[0] == '$' && p[1] == '{' ? lc_env_name_len(p + 2) : 0;
		const char *value;

		if (n && p[2 + n] == '}') {
			value = var_get(v, p + 2, n);
			r = value ? lc_buf_append(&b, value, strlen(value)) : 0;
			p += n + 3;
		} else {
			r = lc_buf_append(&b, p++, 1);
		}
	}
	if (r < 0) {
		lc_buf_free(&b);
		return -ENOMEM;
	}
	*ret = lc_buf_steal(&b);
	return 0;
}

/* ---------------------------------------------------------------- enroot.conf values */

typedef struct expander {
	const lc_site_vars *v;
	const char *text; /* for messages */
	lc_buf out;
	bool in_word;   /* a word has begun (quotes count, even empty ones) */
	bool separated; /* blanks since the last word */
	lc_error *err;
} expander;

static int emit(expander *x, const char *s, size_t len)
{
	if (x->separated && x->out.len)
		if (lc_buf_append(&x->out, " ", 1) < 0)
			return -ENOMEM;
	x->separated = false;
	x->in_word = true;
	return lc_buf_append(&x->out, s, len) < 0 ? -ENOMEM : 0;
}

static int refuse(expander *x, const char *what)
{
	return lc_fail(x->err, EINVAL,
		       "%s is not supported in '%s' (no program runs from a site file)", what,
		       x->text);
}

/* $(id -u) or $(id -g) at @p ("$("); *@len: how much it takes. */
static int command(expander *x, const char *p, size_t *len)
{
	const char *end = strchr(p, ')'), *from = p + 2, *to = end;
	char id[16];

	if (!end)
		return lc_fail(x->err, EINVAL, "unterminated $( in '%s'", x->text);
	while (from < to && isspace((unsigned char)*from))
		from++;
	while (to > from && isspace((unsigned char)to[-1]))
		to--;
	if ((size_t)(to - from) != 5 || (strncmp(from, "id -u", 5) && strncmp(from, "id -g", 5)))
		return refuse(x, "a command substitution other than $(id -u) and $(id -g)");
	snprintf(id, sizeof(id), "%u", from[4] == 'u' ? (unsigned)x->v->uid : (unsigned)x->v->gid);
	*len = (size_t)(end - p) + 1;
	return emit(x, id, strlen(id));
}

/* ${NAME} or ${NAME:-default} at @p ("${"). */
static int braced(expander *x, const char *p, size_t *len)
{
	const char *end = strchr(p, '}'), *value;
	size_t n = lc_env_name_len(p + 2);

	if (!end || !n)
		return refuse(x, "this ${...} form");
	if (p[2 + n] == '}') {
		value = var_get(x->v, p + 2, n);
	} else if (p[2 + n] == ':' && p[3 + n] == '-') {
		value = var_get(x->v, p + 2, n);
		if (!value || !*value)
			value = NULL;
		if (!value && end > p + 4 + n && emit(x, p + 4 + n, (size_t)(end - p - 4 - n)) < 0)
			return -ENOMEM;
	} else {
		return refuse(x, "this ${...} form");
	}
	*len = (size_t)(end - p) + 1;
	return value && *value ? emit(x, value, strlen(value)) : 0;
}

/* A '$' form at @p; *@len: the bytes it took. */
static int dollar(expander *x, const char *p, size_t *len)
{
	size_t n = lc_env_name_len(p + 1);
	const char *value;

	if (p[1] == '(')
		return command(x, p, len);
	if (p[1] == '{')
		return braced(x, p, len);
	if (!n) {
		*len = 1;
		return emit(x, "$", 1);
	}
	*len = n + 1;
	value = var_get(x->v, p + 1, n);
	return value && *value ? emit(x, value, strlen(value)) : 0;
}

/* '...' at @p: literal. */
static int single_quoted(expander *x, const char *p, size_t *len)
{
	const char *end = strchr(p + 1, '\'');

	if (!end)
		return lc_fail(x->err, EINVAL, "unterminated quote in '%s'", x->text);
	*len = (size_t)(end - p) + 1;
	return emit(x, p + 1, (size_t)(end - p - 1));
}

/* One step at @p, inside double quotes or not; *@len: the bytes it took. */
static int step(expander *x, const char *p, bool quoted, size_t *len)
{
	const char *home;

	*len = 1;
	if (*p == '`')
		return refuse(x, "a backquote command substitution");
	if (*p == '$')
		return dollar(x, p, len);
	if (*p == '\\' && p[1] && (!quoted || strchr("$`\"\\", p[1]))) {
		*len = 2;
		return emit(x, p + 1, 1);
	}
	if (!quoted && *p == '~' && !x->in_word &&
	    (!p[1] || p[1] == '/' || isspace((unsigned char)p[1]))) {
		home = var_get(x->v, "HOME", 4);
		return emit(x, home ? home : "~", strlen(home ? home : "~"));
	}
	return emit(x, p, 1);
}

int lc_site_conf_value(const lc_site_vars *v, const char *text, char **ret, lc_error *err)
{
	expander x = {.v = v, .text = text, .out = LC_BUF_INIT, .err = err};
	bool quoted = false;
	size_t len;
	int r = lc_buf_append(&x.out, "", 0) < 0 ? -ENOMEM : 0;

	for (const char *p = text; r >= 0 && *p; p += len) {
		len = 1;
		if (!quoted && isspace((unsigned char)*p)) {
			x.separated = x.separated || x.in_word;
			x.in_word = false;
		} else if (*p == '"') {
			quoted = !quoted;
			r = emit(&x, "", 0);
		} else if (!quoted && *p == '\'') {
			r = single_quoted(&x, p, &len);
		} else {
			r = step(&x, p, quoted, &len);
		}
	}
	if (r >= 0 && quoted)
		r = lc_fail(err, EINVAL, "unterminated quote in '%s'", text);
	if (r == -ENOMEM)
		lc_fail(err, ENOMEM, "out of memory");
	if (r < 0) {
		lc_buf_free(&x.out);
		return r;
	}
	*ret = lc_buf_steal(&x.out);
	return 0;
}
