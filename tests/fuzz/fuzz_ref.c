/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: image reference parsing must never crash, and results must be canonical. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = strndup((const char *)data, size);
	lc_error err = LC_ERROR_INIT;
	lc_ref *ref = NULL, *again = NULL;

	if (!text)
		return 0;
	if (lc_ref_parse(text, &ref, &err) == 0) {
		/* the canonical form parses to the same reference */
		if (lc_ref_parse(lc_ref_string(ref), &again, &err) != 0 ||
		    strcmp(lc_ref_string(ref), lc_ref_string(again)) != 0)
			abort();
		lc_ref_free(again);
		lc_ref_free(ref);
	} else if (err.msg[0] == '\0' || strchr(err.msg, '\n')) {
		abort(); /* errors are one non-empty line */
	}
	free(text);
	return 0;
}
