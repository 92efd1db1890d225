/* SPDX-License-Identifier: Apache-2.0 */
/*
 * environ.d/ *.env, as enroot makes the container's environment file from them: its envsubst
 * (${VAR} from the caller's environment), then its envfmt (leading blanks, comments, malformed
 * lines and ENROOT_* removed, one pair of quotes around a value removed).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "site.h"

/* NAME=value with a name of letters, digits and '_' that does not start with a digit. */
static bool well_formed(const char *line)
{
	size_t n = lc_env_name_len(line);

	return n && line[n] == '=';
}

/* "value" or 'value' (blanks after the closing quote allowed) loses its quotes, as envfmt's sed
 * does; the quotes need not match. */
static void unquote(char *value)
{
	size_t n = strlen(value);

	while (n && isspace((unsigned char)value[n - 1]))
		n--;
	if (n >= 2 && strchr("\"'", value[0]) && strchr("\"'", value[n - 1])) {
		memmove(value, value + 1, n - 2);
		value[n - 2] = '\0';
	}
}

static int environ_line(char *line, lc_strvec *env)
{
	char *eq;

	while (isspace((unsigned char)*line))
		line++;
	if (!well_formed(line) || lc_str_has_prefix(line, "ENROOT_"))
		return 0;
	eq = strchr(line, '=');
	unquote(eq + 1);
	return lc_env_put(env, line);
}

int lc_site_environ_parse(const char *text, const lc_site_vars *v, lc_strvec *env, lc_error *err)
{
	_cleanup_free_ char *copy = NULL;
	char *next;
	int r = lc_site_subst(v, text, &copy);

	for (char *line = r >= 0 ? copy : NULL; r >= 0 && line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		r = environ_line(line, env);
	}
	return r < 0 ? lc_fail(err, ENOMEM, "out of memory") : 0;
}
