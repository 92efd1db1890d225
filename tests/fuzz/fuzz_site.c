/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: every parser of a site's files (enroot.conf, environ.d, fstab lines, CDI
 * specs in JSON and YAML) and of an image's NVIDIA_* values must never crash or leak on hostile
 * input: root reads them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdi/cdi.h"
#include "site/site.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const env[] = {"HOME=/home/u", "TERM=xterm", NULL};
	const lc_site_vars vars = {env, 1000, 1000};
	char *text = strndup((const char *)data, size);
	lc_error err = LC_ERROR_INIT;
	lc_strvec conf = {0}, environ_vars = {0};
	lc_fstab_list mounts = {0};
	lc_cdi_spec *spec = NULL;

	if (!text)
		return 0;
	(void)lc_site_conf_parse(text, "fuzz.conf", &vars, &conf, &err);
	(void)lc_site_conf_finish(&conf, NULL);
	(void)lc_site_environ_parse(text, &vars, &environ_vars, &err);
	(void)lc_fstab_parse(text, "fuzz.fstab", &vars, &mounts, &err);
	if (lc_cdi_spec_parse(text, strlen(text), "fuzz.yaml", &spec, &err) == 0)
		lc_cdi_spec_free(spec);
	/* an image's NVIDIA_* values */
	{
		char *visible = NULL, *require = NULL;
		const lc_nvidia_host host = {"550.54.15", "12.4", "9.0", "tesla"};
		lc_nvidia_request r;

		if (asprintf(&visible, "NVIDIA_VISIBLE_DEVICES=%s", text) >= 0 &&
		    asprintf(&require, "NVIDIA_REQUIRE_X=%s", text) >= 0 &&
		    lc_nvidia_request_parse(NULL, (const char *[]){visible, require, NULL}, &r,
					    &err) == 0) {
			(void)lc_nvidia_check_requires(&r, &host, &err);
			lc_nvidia_request_clear(&r);
		}
		free(visible);
		free(require);
	}
	lc_strvec_free(&conf);
	lc_strvec_free(&environ_vars);
	lc_fstab_list_clear(&mounts);
	free(text);
	return 0;
}
