/* SPDX-License-Identifier: Apache-2.0 */
/* The library context: no globals, the log sink lives here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "lc-config.h"
#include "util.h"

LC_API const char *lc_version(void)
{
	return LC_VERSION_STRING;
}

LC_API int lc_ctx_new(lc_ctx **ret_ctx, lc_error *err)
{
	lc_ctx *ctx;

	if (!ret_ctx)
		return lc_fail(err, EINVAL, "lc_ctx_new: ret_ctx is NULL");
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return lc_fail(err, ENOMEM, "context: out of memory");
	ctx->log_max = LC_LOG_ERROR;
	*ret_ctx = ctx;
	return 0;
}

LC_API lc_ctx *lc_ctx_free(lc_ctx *ctx)
{
	free(ctx);
	return NULL;
}

LC_API void lc_ctx_set_log(lc_ctx *ctx, lc_log_fn fn, enum lc_log_level max_level, void *userdata)
{
	if (!ctx)
		return;
	ctx->log_fn = fn;
	ctx->log_max = max_level;
	ctx->log_userdata = userdata;
}

void lc_log(lc_ctx *ctx, enum lc_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!ctx || !ctx->log_fn || level > ctx->log_max)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->log_fn(ctx->log_userdata, level, msg);
}
