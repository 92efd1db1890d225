/* SPDX-License-Identifier: Apache-2.0 */
/* The error contract: int return (0 / -code) plus a caller-owned lc_error filled without malloc. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

LC_API const char *lc_error_message(const lc_error *err)
{
	return err ? err->msg : "";
}

static int fail_v(lc_error *err, int domain, int code, const char *fmt, va_list ap)
{
	if (code < 0)
		code = -code;
	if (code == 0)
		code = EIO;
	if (err) {
		/* %m inside fmt refers to errno: keep it as the caller's */
		int saved = errno;
		err->code = code;
		err->domain = domain;
		errno = saved;
		(void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	}
	return -code;
}

int lc_fail(lc_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = fail_v(err, code > 0 && code < LC_EBASE ? LC_DOMAIN_SYSTEM : LC_DOMAIN_NONE, code, fmt,
		   ap);
	va_end(ap);
	return r;
}

int lc_fail_domain(lc_error *err, int domain, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = fail_v(err, domain, code, fmt, ap);
	va_end(ap);
	return r;
}

int lc_error_prefix(lc_error *err, int r, const char *fmt, ...)
{
	char prefix[256];
	char old[sizeof(err->msg)];
	va_list ap;

	if (!err)
		return r;
	va_start(ap, fmt);
	(void)vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	if (snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old) >= (int)sizeof(err->msg))
		memcpy(err->msg + sizeof(err->msg) - 4, "...", 4);
	return r;
}

/* The library's own lc_fail(), exported for programs built on it. */
LC_API int lc_error_set(lc_error *err, int code, const char *fmt, ...)
    __attribute__((alias("lc_fail")));

int lc_opts_check(const void *opts, uint32_t version, uint32_t current, uint32_t flags,
		  uint32_t all, const char *what, lc_error *err)
{
	if (!opts)
		return lc_fail(err, EINVAL, "%s: NULL", what);
	if (version < 1 || version > current)
		return lc_fail(err, EINVAL, "%s version %u is not supported (1 to %u)", what,
			       version, current);
	if (flags & ~all)
		return lc_fail(err, EINVAL, "%s: unknown flags 0x%x", what, flags & ~all);
	return 0;
}
