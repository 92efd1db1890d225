/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The smallest libcontainer program: pull an image into a cache and print what it is.
 *   cc pull-image.c $(pkg-config --cflags --libs libcontainer) -o pull-image
 *   ./pull-image 127.0.0.1:5000/tiny:latest /tmp/cache
 * Plain HTTP is allowed here because the test registry listens on loopback without TLS.
 */
#include <inttypes.h>
#include <stdio.h>

#include <libcontainer/libcontainer.h>

int main(int argc, char **argv)
{
	lc_pull_opts opts = LC_PULL_OPTS_INIT;
	lc_error err = LC_ERROR_INIT;
	lc_ctx *ctx = NULL;
	lc_image *img = NULL;

	if (argc != 3) {
		fprintf(stderr, "usage: %s IMAGE-REF CACHE-DIR\n", argv[0]);
		return 2;
	}
	opts.flags = LC_PULL_ALLOW_HTTP | LC_PULL_USE_ENV;
	opts.cache_dir = argv[2];
	if (lc_ctx_new(&ctx, &err) < 0 || lc_image_pull(ctx, argv[1], &opts, &img, &err) < 0) {
		fprintf(stderr, "pull-image: %s\n", lc_error_message(&err));
		lc_ctx_free(ctx);
		return 1;
	}
	printf("%s %s\n", lc_image_reference(img), lc_image_digest(img));
	for (size_t i = 0; i < lc_image_layer_count(img); i++)
		printf("  %s %" PRIu64 " bytes\n", lc_image_layer_digest(img, i),
		       lc_image_layer_size(img, i));
	lc_image_free(img);
	lc_ctx_free(ctx);
	return 0;
}
