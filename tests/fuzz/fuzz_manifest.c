/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: every parser of registry-supplied text (manifest, index, config, challenge,
 * credentials files) must never crash or leak on hostile input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_all(const char *text, size_t len)
{
	lc_platform amd64 = {"linux", "amd64", NULL};
	enum lc_manifest_kind kind;
	lc_descriptor d, config, *layers = NULL;
	lc_challenge c = {0};
	lc_credentials cred = {0};
	lc_error err = LC_ERROR_INIT;
	size_t n = 0;
	lc_image *img = calloc(1, sizeof(*img));

	(void)lc_manifest_kind(NULL, text, len, &kind, &err);
	if (lc_index_select(text, len, &amd64, &d, &err) == 0)
		free(d.media_type);
	if (lc_manifest_parse(text, len, &config, &layers, &n, &err) == 0) {
		free(config.media_type);
		lc_descriptors_free(layers, n);
	}
	if (img) {
		(void)lc_image_parse_config(img, text, len, &err);
		lc_image_free(img);
	}
	if (lc_challenge_parse(text, &c, &err) == 0)
		lc_challenge_clear(&c);
	(void)lc_netrc_lookup(text, "127.0.0.1:5000", NULL, &cred, &err);
	lc_credentials_clear(&cred);
	(void)lc_docker_config_lookup(text, "127.0.0.1:5000", NULL, &cred, &err);
	lc_credentials_clear(&cred);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = strndup((const char *)data, size);

	if (!text)
		return 0;
	parse_all(text, strlen(text));
	free(text);
	return 0;
}
