/* SPDX-License-Identifier: Apache-2.0 */
/* ctr-pull: fetch an image's manifest, config and layers into the blob cache. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libcontainer/libcontainer.h>

#include "cli.h"

enum { EXIT_USAGE = 2 };

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: ctr-pull [OPTIONS] IMAGE-REF\n"
	       "Fetch an OCI/Docker image into the content-addressed blob cache.\n\n"
	       "  IMAGE-REF  [docker://][USER@][REGISTRY#]IMAGE[:TAG][@sha256:HEX]\n"
	       "             or [REGISTRY[:PORT]/]REPO[:TAG][@sha256:HEX]\n\n"
	       "  --cache DIR          blob cache (default $XDG_CACHE_HOME/libcontainer)\n"
	       "  --allow-http         plain HTTP for every registry (also ENROOT_ALLOW_HTTP=yes)\n"
	       "  --http-registry H    plain HTTP for registry H (host[:port]); repeatable\n"
	       "  --arch ARCH          platform architecture (default: the host's)\n"
	       "  --os OS              platform OS (default linux)\n"
	       "  --variant V          platform variant (e.g. v8)\n"
	       "  --credentials FILE   netrc-form credentials (default "
	       "$ENROOT_CONFIG_PATH/.credentials)\n"
	       "  --docker-config FILE docker config.json (default $DOCKER_CONFIG/config.json)\n"
	       "  -j, --connections N  parallel downloads (default 8, or ENROOT_MAX_CONNECTIONS)\n"
	       "  --digest             print only the resolved manifest digest\n"
	       "  --no-layers          resolve manifest and config only\n"
	       "  -q, --quiet          no progress output\n"
	       "  -v, --verbose        debug log on stderr\n"
	       "  -h, --help           this help\n\n"
	       "Exit status: 0 success, 1 pull failed (message on stderr), 2 usage error.\n");
}

static int progress(void *u, const lc_progress *p)
{
	bool *tty = u;

	if (!*tty || !p->finished)
		return 0;
	if (p->index == SIZE_MAX)
		return 0;
	fprintf(stderr, "layer %zu %s %" PRIu64 " bytes%s\n", p->index, p->digest, p->total,
		p->cached ? " (cached)" : "");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"cache", required_argument, NULL, 'c'},
						 {"allow-http", no_argument, NULL, 'H'},
						 {"http-registry", required_argument, NULL, 'R'},
						 {"arch", required_argument, NULL, 'a'},
						 {"os", required_argument, NULL, 'o'},
						 {"variant", required_argument, NULL, 'V'},
						 {"credentials", required_argument, NULL, 'C'},
						 {"docker-config", required_argument, NULL, 'D'},
						 {"connections", required_argument, NULL, 'j'},
						 {"digest", no_argument, NULL, 'd'},
						 {"no-layers", no_argument, NULL, 'n'},
						 {"quiet", no_argument, NULL, 'q'},
						 {"verbose", no_argument, NULL, 'v'},
						 {"help", no_argument, NULL, 'h'},
						 {NULL, 0, NULL, 0}};
	lc_pull_opts opts = LC_PULL_OPTS_INIT;
	lc_error err = LC_ERROR_INIT;
	char http_list[4096] = "";
	bool digest_only = false, no_layers = false, quiet = false, verbose = false;
	bool tty = isatty(STDERR_FILENO);
	lc_ctx *ctx = NULL;
	lc_pull *pull = NULL;
	int c, r;

	opts.flags = LC_PULL_USE_ENV;
	while ((c = getopt_long(argc, argv, "j:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			opts.cache_dir = optarg;
			break;
		case 'H':
			opts.flags |= LC_PULL_ALLOW_HTTP;
			break;
		case 'R':
			if (strlen(http_list) + strlen(optarg) + 2 > sizeof(http_list))
				return fprintf(stderr, "ctr-pull: too many --http-registry\n"),
				       EXIT_USAGE;
			if (*http_list)
				strcat(http_list, ",");
			strcat(http_list, optarg);
			opts.http_registries = http_list;
			break;
		case 'a':
			opts.architecture = optarg;
			break;
		case 'o':
			opts.os = optarg;
			break;
		case 'V':
			opts.variant = optarg;
			break;
		case 'C':
			opts.credentials_file = optarg;
			break;
		case 'D':
			opts.docker_config = optarg;
			break;
		case 'j':
			opts.max_connections = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			digest_only = true;
			break;
		case 'n':
			no_layers = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!quiet && !digest_only) {
		opts.progress = progress;
		opts.progress_userdata = &tty;
	}
	if (lc_ctx_new(&ctx, &err) < 0) {
		fprintf(stderr, "ctr-pull: %s\n", lc_error_message(&err));
		return 1;
	}
	lc_ctx_set_log(ctx, cli_log, verbose ? LC_LOG_DEBUG : LC_LOG_WARNING, NULL);
	r = lc_pull_new(ctx, argv[optind], &opts, &pull, &err);
	if (r >= 0 && !no_layers && !digest_only) {
		r = lc_pull_start(pull, &err);
		if (r >= 0)
			r = lc_pull_wait(pull, &err);
	}
	if (r < 0)
		fprintf(stderr, "ctr-pull: %s\n", lc_error_message(&err));
	else if (digest_only)
		printf("%s\n", lc_image_digest(lc_pull_image(pull)));
	else
		print_image(stdout, lc_pull_image(pull));
	lc_pull_free(pull);
	lc_ctx_free(ctx);
	return r < 0 ? 1 : 0;
}
