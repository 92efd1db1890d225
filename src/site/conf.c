/* SPDX-License-Identifier: Apache-2.0 */
/*
 * enroot.conf and enroot.conf.d/ *.conf, read as enroot's config::load reads them: a line is a
 * key, blanks or one '=', and a value; only the keys enroot reads count; the caller's
 * environment beats the files; false ENROOT_* settings are unset at the end.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "site.h"

bool lc_site_conf_key(const char *key)
{
	static const char *const exact[] = {
	    "SSL_CERT_DIR", "SSL_CERT_FILE", "all_proxy", "no_proxy",
	    "http_proxy",   "https_proxy",   NULL};
	size_t n = strlen(key);

	if (lc_str_has_prefix(key, "ENROOT_") && n > 7)
		return strspn(key + 7, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") == n - 7;
	if (lc_str_has_prefix(key, "MELLANOX_") || lc_str_has_prefix(key, "NVIDIA_"))
		return strspn(key,
			      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
		       n;
	for (size_t i = 0; exact[i]; i++)
		if (!strcmp(key, exact[i]))
			return true;
	return false;
}

/* The caller's environment sets @key to a non-empty value. */
static bool env_sets(const lc_site_vars *v, const char *key)
{
	const char *value = lc_strv_get(v->env, key);

	return value && *value;
}

/* Split a line as bash's `read key value` with IFS=$' \t=' does: blanks before the key, the key,
 * then blanks around at most one '='; the value runs to the end (its trailing blanks removed). */
static void split_line(char *line, char **ret_key, char **ret_value)
{
	char *p = line, *end;

	while (*p == ' ' || *p == '\t')
		p++;
	*ret_key = p;
	p += strcspn(p, " \t=");
	end = p;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '=')
		p++;
	while (*p == ' ' || *p == '\t')
		p++;
	*end = '\0';
	*ret_value = p;
	for (end = p + strlen(p); end > p && isspace((unsigned char)end[-1]);)
		*--end = '\0';
}

static int conf_line(char *line, const char *name, unsigned lineno, const lc_site_vars *v,
		     lc_strvec *conf, lc_error *err)
{
	_cleanup_free_ char *value = NULL;
	char *key, *raw;
	int r;

	split_line(line, &key, &raw);
	if (!lc_site_conf_key(key) || env_sets(v, key))
		return 0;
	r = lc_site_conf_value(v, raw, &value, err);
	if (r < 0)
		return lc_error_prefix(err, r, "%s, line %u: %s", name, lineno, key);
	return lc_env_set(conf, key, value) < 0 ? lc_fail(err, ENOMEM, "out of memory") : 0;
}

int lc_site_conf_parse(const char *text, const char *name, const lc_site_vars *v, lc_strvec *conf,
		       lc_error *err)
{
	_cleanup_free_ char *copy = strdup(text);
	char *save = NULL;
	unsigned lineno = 0;
	int r = copy ? 0 : lc_fail(err, ENOMEM, "out of memory");

	for (char *line = copy; r >= 0 && line; line = save) {
		save = strchr(line, '\n');
		if (save)
			*save++ = '\0';
		lineno++;
		r = conf_line(line, name, lineno, v, conf, err);
	}
	return r;
}

static bool is_false(const char *value)
{
	static const char *const no[] = {"n", "no",    "N",     "No",    "NO", "f",
					 "F", "false", "False", "FALSE", "0",  NULL};

	for (size_t i = 0; no[i]; i++)
		if (!strcmp(value, no[i]))
			return true;
	return false;
}

int lc_site_conf_finish(lc_strvec *conf, lc_strvec *off)
{
	int r = 0;

	for (size_t i = conf->n; !r && i-- > 0;) {
		const char *eq = strchr(conf->v[i], '=');
		char key[256];

		if (!lc_str_has_prefix(conf->v[i], "ENROOT_") || !is_false(eq + 1) ||
		    (size_t)(eq - conf->v[i]) >= sizeof(key))
			continue;
		snprintf(key, sizeof(key), "%.*s", (int)(eq - conf->v[i]), conf->v[i]);
		if (off)
			r = lc_env_put(off, conf->v[i]);
		(void)lc_env_unset(conf, key);
	}
	return r;
}

bool lc_site_conf_on(const lc_strvec *conf, const char *key)
{
	const char *value = lc_env_get(conf, key);

	return value && *value;
}
