/* SPDX-License-Identifier: Apache-2.0 */
/* Byte buffers and string helpers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

int lc_buf_append(lc_buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + len + 1) {
			if (cap > SIZE_MAX / 2)
				return -ENOMEM;
			cap *= 2;
		}
		p = realloc(b->data, cap);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int lc_array_reserve(void *items_ptr, size_t *cap, size_t n, size_t elem, size_t first)
{
	void **items = items_ptr;
	size_t want;
	void *p;

	if (n < *cap)
		return 0;
	want = *cap ? *cap * 2 : first;
	if (want < *cap || want > SIZE_MAX / elem)
		return -ENOMEM;
	p = realloc(*items, want * elem);
	if (!p)
		return -ENOMEM;
	*items = p;
	*cap = want;
	return 0;
}

int lc_buf_printf(lc_buf *b, const char *fmt, ...)
{
	_cleanup_free_ char *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		s = NULL;
		return -ENOMEM;
	}
	return lc_buf_append(b, s, (size_t)n);
}

void lc_buf_free(lc_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *lc_buf_steal(lc_buf *b)
{
	char *p = b->data;

	if (!p)
		p = strdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

bool lc_str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool lc_str_has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

LC_API void lc_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

void lc_str_sanitize(char *dst, size_t dst_size, const char *s)
{
	size_t i = 0;

	if (dst_size == 0)
		return;
	for (; s && *s && i + 1 < dst_size; s++, i++)
		dst[i] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
	dst[i] = '\0';
	if (s && *s && dst_size > 4)
		memcpy(dst + dst_size - 4, "...", 4);
}

bool lc_digest_is_valid(const char *s)
{
	if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 71)
		return false;
	for (const char *p = s + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}
