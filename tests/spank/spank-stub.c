/* SPDX-License-Identifier: Apache-2.0 */
/* A small stand-in for the parts of Slurm's SPANK API that the option code uses, so that its
 * unit tests run without Slurm: messages are recorded, the job environment is a table. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "spank-stub.h"

char stub_messages[8192];
struct spank_option *stub_options[64];
int stub_n_options;
const char *stub_job_env[32];

static void record(const char *level, const char *fmt, va_list ap)
{
	size_t len = strlen(stub_messages);

	snprintf(stub_messages + len, sizeof(stub_messages) - len, "%s: ", level);
	len = strlen(stub_messages);
	vsnprintf(stub_messages + len, sizeof(stub_messages) - len, fmt, ap);
	len = strlen(stub_messages);
	snprintf(stub_messages + len, sizeof(stub_messages) - len, "\n");
}

#define RECORDER(fn, level)             \
	void fn(const char *fmt, ...)   \
	{                               \
		va_list ap;             \
		va_start(ap, fmt);      \
		record(level, fmt, ap); \
		va_end(ap);             \
	}
RECORDER(slurm_error, "error")
RECORDER(slurm_info, "info")
RECORDER(slurm_verbose, "verbose")
RECORDER(slurm_debug, "debug")

spank_err_t spank_option_register(spank_t sp, struct spank_option *opt)
{
	(void)sp;
	if (stub_n_options >= 64)
		return ESPANK_ERROR;
	stub_options[stub_n_options++] = opt;
	return ESPANK_SUCCESS;
}

spank_err_t spank_getenv(spank_t sp, const char *var, char *buf, int len)
{
	size_t n = strlen(var);

	(void)sp;
	for (int i = 0; stub_job_env[i]; i++)
		if (!strncmp(stub_job_env[i], var, n) && stub_job_env[i][n] == '=') {
			if ((int)strlen(stub_job_env[i] + n + 1) >= len)
				return ESPANK_NOSPACE;
			snprintf(buf, (size_t)len, "%s", stub_job_env[i] + n + 1);
			return ESPANK_SUCCESS;
		}
	return ESPANK_ENV_NOEXIST;
}

struct spank_option *stub_option(const char *name)
{
	for (int i = 0; i < stub_n_options; i++)
		if (!strcmp(stub_options[i]->name, name))
			return stub_options[i];
	return NULL;
}
