/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What an import helper answers on its stdout: one "key=value" line per fact, the value running
 * to the end of the line (messages go to stderr). ctr-import writes it; the Slurm plugin reads
 * it from ctr-import and from a site's importer, whose answer in pyxis's protocol is the image
 * file's absolute path alone on the first line. Unknown keys are skipped, so a newer helper can
 * say more.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"

typedef struct answer_key {
	const char *key;
	size_t str_off; /* offset of a char * field, or SIZE_MAX */
	size_t num_off; /* offset of a uint64_t field, or SIZE_MAX */
} answer_key;

#define STR(f)                                              \
	{                                                   \
#f, offsetof(lc_import_answer, f), SIZE_MAX \
	}
#define NUM(f)                                              \
	{                                                   \
#f, SIZE_MAX, offsetof(lc_import_answer, f) \
	}
static const answer_key keys[] = {
    STR(image_path),  STR(digest),     STR(cache),       STR(offline),
    NUM(resolve_ms),  NUM(convert_ms), NUM(finish_ms),   NUM(total_ms),
    NUM(layer_bytes), NUM(tar_bytes),  NUM(image_bytes),
};
#undef STR
#undef NUM

static char **str_field(lc_import_answer *a, const answer_key *k)
{
	return (char **)((char *)a + k->str_off);
}

static uint64_t *num_field(lc_import_answer *a, const answer_key *k)
{
	return (uint64_t *)((char *)a + k->num_off);
}

LC_API int lc_import_answer_format(const lc_import_answer *a, char **ret_text, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	lc_buf b = LC_BUF_INIT;
	int r = 0;

	if (!err)
		err = &local;
	for (size_t i = 0; i < LC_ELEMENTSOF(keys) && r >= 0; i++) {
		const answer_key *k = &keys[i];
		const char *s =
		    k->str_off != SIZE_MAX ? *str_field((lc_import_answer *)a, k) : NULL;
		uint64_t n = k->num_off != SIZE_MAX ? *num_field((lc_import_answer *)a, k) : 0;

		if (s && strchr(s, '\n')) {
			lc_buf_free(&b);
			return lc_fail(err, EINVAL, "import answer: %s has a newline", k->key);
		}
		if (s)
			r = lc_buf_printf(&b, "%s=%s\n", k->key, s);
		else if (k->num_off != SIZE_MAX && n)
			r = lc_buf_printf(&b, "%s=%" PRIu64 "\n", k->key, n);
	}
	if (r >= 0 && !b.data)
		r = lc_buf_append(&b, "", 0);
	if (r < 0) {
		lc_buf_free(&b);
		return lc_fail(err, ENOMEM, "out of memory");
	}
	*ret_text = lc_buf_steal(&b);
	return 0;
}

/* One "key=value" line; an unknown key is skipped. */
static int parse_line(lc_import_answer *a, const char *line, lc_error *err)
{
	const char *eq = strchr(line, '=');

	for (size_t i = 0; eq && i < LC_ELEMENTSOF(keys); i++) {
		const answer_key *k = &keys[i];
		char *end = NULL;

		if (strlen(k->key) != (size_t)(eq - line) || strncmp(line, k->key, strlen(k->key)))
			continue;
		if (k->str_off != SIZE_MAX) {
			free(*str_field(a, k));
			*str_field(a, k) = strdup(eq + 1);
			return *str_field(a, k) ? 0 : lc_fail(err, ENOMEM, "out of memory");
		}
		errno = 0;
		*num_field(a, k) = strtoull(eq + 1, &end, 10);
		if (errno || end == eq + 1 || *end || eq[1] == '-')
			return lc_fail(err, EINVAL, "import answer: %s is not a number", k->key);
		return 0;
	}
	return 0;
}

LC_API int lc_import_answer_parse(const char *const *lines, lc_import_answer *ret, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	lc_import_answer a = {0};
	int r = 0;

	if (!err)
		err = &local;
	if (!ret)
		return lc_fail(err, EINVAL, "lc_import_answer_parse: NULL argument");
	for (size_t i = 0; lines && lines[i] && r >= 0; i++) {
		if (i == 0 && lines[0][0] == '/') /* pyxis's importer: the path alone */
			r = (a.image_path = strdup(lines[0]))
				? 0
				: lc_fail(err, ENOMEM, "out of memory");
		else
			r = parse_line(&a, lines[i], err);
	}
	if (r < 0) {
		lc_import_answer_clear(&a);
		return r;
	}
	*ret = a;
	return 0;
}

LC_API void lc_import_answer_clear(lc_import_answer *a)
{
	if (!a)
		return;
	free(a->image_path);
	free(a->digest);
	free(a->cache);
	free(a->offline);
	*a = (lc_import_answer){0};
}
