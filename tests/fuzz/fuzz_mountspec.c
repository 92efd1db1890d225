/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: --container-mounts specs (a user's text, parsed as root in slurmstepd) never
 * crash or leak, errors are one line, and what is accepted keeps the parser's promises: an
 * absolute or "./" target without "..", a source only for binds, tmpfs data only for tmpfs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool has_dotdot(const char *p)
{
	for (const char *c = p; (c = strstr(c, "..")); c += 2)
		if ((c == p || c[-1] == '/') && (c[2] == '\0' || c[2] == '/'))
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = strndup((const char *)data, size);
	lc_error err = LC_ERROR_INIT;
	lc_mount_spec *specs = NULL;
	size_t n = 0;

	if (!text)
		return 0;
	if (lc_mount_specs_parse(text, &specs, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++) {
			const lc_mount_spec *m = &specs[i];

			if (!m->target || (m->target[0] != '/' && m->target[0] != '.') ||
			    has_dotdot(m->target) || (m->kind == LC_MOUNT_BIND) != !!m->source ||
			    (m->data && m->kind != LC_MOUNT_TMPFS))
				abort();
		}
	} else if (err.msg[0] == '\0' || strchr(err.msg, '\n')) {
		abort(); /* errors are one non-empty line */
	}
	lc_mount_specs_free(specs, n);
	free(text);
	return 0;
}
