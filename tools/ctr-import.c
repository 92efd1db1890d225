/* SPDX-License-Identifier: Apache-2.0 */
/* ctr-import: image reference -> one squashfs file (enroot import, streamed). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libcontainer/libcontainer.h>

#include "cli.h"
#include "daemon.h"
#include "progress.h"

enum { EXIT_USAGE = 2 };

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ctr-import [OPTIONS] IMAGE-REF\n"
	    "Import an OCI/Docker image into one squashfs file (zstd), streamed from the "
	    "registry.\nIMAGE-REF may also be dockerd://IMAGE or podman://IMAGE (enroot's): the "
	    "local daemon's\nimage, saved by `docker save` or `podman save` run as this user.\n\n"
	    "  -o, --output FILE      output (default: enroot's name, e.g. "
	    "nvidia+pytorch+25.09-py3.sqsh)\n"
	    "  -f, --force            replace an existing output file\n"
	    "  --arch ARCH            platform architecture (default: the host's)\n"
	    "  --compress zstd[:LEVEL]|none   data compression (default zstd:3)\n"
	    "  --block-size N         squashfs block size, 4K..1M (default 128K)\n"
	    "  --all-root             every owner becomes root (mksquashfs -all-root)\n"
	    "  --max-file-size SIZE   refuse a file larger than SIZE (default 1T; K, M, G, T, P)\n"
	    "  --cache DIR            blob cache (default $XDG_CACHE_HOME/libcontainer)\n"
	    "  --allow-http           plain HTTP for every registry (also ENROOT_ALLOW_HTTP=yes)\n"
	    "  --http-registries LIST plain HTTP for these host[:port],... only\n"
	    "  --credentials FILE     netrc-form credentials (default "
	    "$ENROOT_CONFIG_PATH/.credentials)\n"
	    "  -j, --connections N    parallel downloads (default 8, or ENROOT_MAX_CONNECTIONS)\n"
	    "  --digest               resolve the manifest digest only, import nothing\n"
	    "  --node-cache DIR       import into an entry of a user's node cache directory\n"
	    "                         (named by the manifest digest; blobs in DIR/blobs) unless\n"
	    "                         it is there\n"
	    "  --lookup               with --node-cache: only look (cache=hit or cache=miss)\n"
	    "  --offline-fallback     with --lookup: when the registry is unreachable, the entry\n"
	    "                         that the reference resolved to last time\n"
	    "  --gzip-zlib            inflate gzip layers with zlib instead of ISA-L (comparison)\n"
	    "  --no-diff-ids          do not check the layers against the config's diff_ids\n"
	    "                         (comparison; an image whose config lacks them)\n"
	    "  --from-archive FILE    the image is the docker-archive FILE (what docker save and\n"
	    "                         podman save --format docker-archive write), named\n"
	    "                         IMAGE-REF; '-' reads it from stdin\n"
	    "  --sysconf DIR          enroot's site configuration (default $ENROOT_SYSCONF_PATH,\n"
	    "                         else /etc/enroot): enroot.conf's ENROOT_ALLOW_HTTP,\n"
	    "                         ENROOT_MAX_CONNECTIONS, ENROOT_SQUASH_OPTIONS, under the\n"
	    "                         environment's\n"
	    "  --no-site              no site configuration\n"
	    "  -q, --quiet            no progress output\n"
	    "  --progress-fd N        progress lines on fd N (what the Slurm plugin shows): every\n"
	    "                         10 s of a long import, and at once when waiting for another\n"
	    "                         import of the image (another job, or another node)\n"
	    "  --progress-every SECONDS   between those lines (default 10)\n"
	    "  -v, --verbose          debug log and per-phase timings on stderr\n"
	    "  -h, --help             this help\n\n"
	    "ENROOT_SQUASH_OPTIONS (e.g. '-comp zstd -Xcompression-level 9 -b 1M') is honoured;\n"
	    "--compress and --block-size override it.\n"
	    "On success, stdout has one key=value line per fact: image_path=FILE, digest=DIGEST,\n"
	    "cache=hit|miss|filled (--node-cache), offline=WHY (--offline-fallback used), and\n"
	    "the import's resolve_ms, convert_ms, finish_ms, total_ms, layer_bytes, tar_bytes,\n"
	    "image_bytes. Messages go to stderr.\n"
	    "Exit status: 0 success, 1 import failed (message on stderr), 2 usage error.\n");
}

/* An fd open for writing, above stderr. */
static bool parse_progress_fd(const char *text, int *ret)
{
	char *end;
	long fd = strtol(text, &end, 10);
	int flags;

	if (*text == '\0' || *end || fd <= 2 || fd > 1024)
		return false;
	flags = fcntl((int)fd, F_GETFL);
	if (flags < 0 || (flags & O_ACCMODE) == O_RDONLY)
		return false;
	(void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	*ret = (int)fd;
	return true;
}

static bool parse_seconds(const char *text, double *ret)
{
	char *end;
	double v = strtod(text, &end);

	if (end == text || *end || !(v >= 0 && v <= 86400))
		return false;
	*ret = v;
	return true;
}

/* The pull: from the registry, a daemon's save (@ds) or an archive file (@archive). */
static int new_pull(lc_ctx *ctx, const char *ref, daemon_save *ds, const char *archive,
		    const lc_pull_opts *po, lc_pull **ret, lc_error *err)
{
	int fd, r;

	if (ds) {
		r = daemon_save_start(ds, err);
		if (r >= 0)
			r = lc_pull_new_archive(ctx, ds->out, ref, ds->name, po, ret, err);
		return daemon_save_end(ds, r, err);
	}
	if (!archive)
		return lc_pull_new(ctx, ref, po, ret, err);
	fd = strcmp(archive, "-") ? open(archive, O_RDONLY | O_CLOEXEC | O_NOCTTY) : 0;
	if (fd < 0)
		return lc_error_set(err, errno, "cannot open %s: %s", archive, strerror(errno));
	r = lc_pull_new_archive(ctx, fd, ref, NULL, po, ret, err);
	if (fd > 0)
		close(fd);
	return r;
}

/* The registry is unreachable: the entry the reference resolved to last time, if any. */
static int offline_entry(const char *reference, const char *dir, lc_import_answer *ans,
			 lc_error *err)
{
	lc_error why = *err;
	char *path = NULL;
	int r = lc_cache_recall(dir, reference, &path, err);

	if (r >= 0 && !path) {
		*err = why;
		return -why.code;
	}
	if (r < 0)
		return r;
	fprintf(stderr,
		"ctr-import: the registry is unreachable (%s); using the digest %s resolved to "
		"last time\n",
		lc_error_message(&why), reference);
	ans->image_path = path;
	ans->cache = strdup("hit");
	ans->offline = strdup(lc_error_message(&why));
	return ans->cache && ans->offline ? 0 : lc_error_set(err, ENOMEM, "out of memory");
}

/* The entry of the resolved image in a node cache directory: found, or imported. */
static int node_cache_entry(lc_pull *pull, const char *reference, const char *dir, bool lookup,
			    const lc_import_opts *io, lc_import_stats *stats, lc_import_answer *ans,
			    lc_error *err)
{
	const lc_image *img = lc_pull_image(pull);
	int r = lookup ? lc_cache_lookup(dir, img, getuid(), &ans->image_path, err)
		       : lc_cache_fill(pull, dir, getuid(), io, stats, &ans->image_path, err);

	if (r >= 0)
		ans->cache = strdup(!ans->image_path     ? "miss"
				    : stats->image_bytes ? "filled"
							 : "hit");
	if (r >= 0 && !ans->cache)
		r = lc_error_set(err, ENOMEM, "out of memory");
	if (r >= 0 && ans->image_path && lc_cache_remember(dir, reference, img, getuid(), err) < 0)
		fprintf(stderr, "ctr-import: %s\n", lc_error_message(err)); /* not fatal */
	return r;
}

/* The answer on stdout (lc_import_answer): what the caller of the helper reads. */
static int print_answer(lc_import_answer *ans, const lc_pull *pull, const lc_import_stats *stats,
			int64_t resolve_ms, int64_t total_ms, lc_error *err)
{
	char *text = NULL;
	int r;

	ans->digest = pull ? strdup(lc_image_digest(lc_pull_image(pull))) : NULL;
	ans->resolve_ms = (uint64_t)resolve_ms;
	ans->total_ms = (uint64_t)total_ms;
	ans->convert_ms = stats->convert_ms;
	ans->finish_ms = stats->finish_ms;
	ans->layer_bytes = stats->layer_bytes;
	ans->tar_bytes = stats->tar_bytes;
	ans->image_bytes = stats->image_bytes;
	r = lc_import_answer_format(ans, &text, err);
	if (r >= 0 && (fputs(text, stdout) < 0 || fflush(stdout) != 0))
		r = lc_error_set(err, EIO, "cannot write the answer on stdout");
	free(text);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"output", required_argument, NULL, 'o'},
						 {"force", no_argument, NULL, 'f'},
						 {"arch", required_argument, NULL, 'a'},
						 {"compress", required_argument, NULL, 'Z'},
						 {"block-size", required_argument, NULL, 'b'},
						 {"all-root", no_argument, NULL, 'r'},
						 {"max-file-size", required_argument, NULL, 'm'},
						 {"cache", required_argument, NULL, 'c'},
						 {"allow-http", no_argument, NULL, 'H'},
						 {"http-registries", required_argument, NULL, 'R'},
						 {"credentials", required_argument, NULL, 'C'},
						 {"connections", required_argument, NULL, 'j'},
						 {"digest", no_argument, NULL, 'd'},
						 {"node-cache", required_argument, NULL, 'N'},
						 {"lookup", no_argument, NULL, 'L'},
						 {"offline-fallback", no_argument, NULL, 'O'},
						 {"gzip-zlib", no_argument, NULL, 'z'},
						 {"no-diff-ids", no_argument, NULL, 'D'},
						 {"from-archive", required_argument, NULL, 'A'},
						 {"sysconf", required_argument, NULL, 'S'},
						 {"no-site", no_argument, NULL, 'P'},
						 {"quiet", no_argument, NULL, 'q'},
						 {"progress-fd", required_argument, NULL, 'F'},
						 {"progress-every", required_argument, NULL, 'E'},
						 {"verbose", no_argument, NULL, 'v'},
						 {"help", no_argument, NULL, 'h'},
						 {NULL, 0, NULL, 0}};
	lc_pull_opts po = LC_PULL_OPTS_INIT;
	lc_import_opts io = LC_IMPORT_OPTS_INIT;
	lc_import_stats stats = {0};
	lc_import_answer ans = {0};
	lc_error err = LC_ERROR_INIT;
	progress_state ps = PROGRESS_STATE_INIT;
	bool digest_only = false, quiet = false, verbose = false, lookup = false, offline = false;
	char *output = NULL, *default_name = NULL, *blobs = NULL;
	const char *node_cache = NULL, *sysconf = NULL, *archive = NULL, *ref = NULL;
	bool from_daemon = false;
	daemon_save ds;
	bool no_site = false;
	lc_site *site = NULL;
	lc_ctx *ctx = NULL;
	lc_pull *pull = NULL;
	struct timespec t0;
	double t_resolve = 0;
	int c, r;

	po.flags = LC_PULL_USE_ENV;
	while ((c = getopt_long(argc, argv, "o:fj:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'f':
			io.flags |= LC_IMPORT_FORCE;
			break;
		case 'a':
			po.architecture = optarg;
			break;
		case 'Z':
			io.compression = optarg;
			break;
		case 'b':
			if (!cli_parse_size(optarg, 1u << 20, &io.block_size))
				return fprintf(stderr, "ctr-import: bad --block-size '%s'\n",
					       optarg),
				       EXIT_USAGE;
			break;
		case 'r':
			io.flags |= LC_IMPORT_ALL_ROOT;
			break;
		case 'm':
			if (!cli_parse_size64(optarg, UINT64_MAX, &io.max_file_size) ||
			    !io.max_file_size)
				return fprintf(stderr, "ctr-import: bad --max-file-size '%s'\n",
					       optarg),
				       EXIT_USAGE;
			break;
		case 'z':
			io.flags |= LC_IMPORT_ZLIB;
			break;
		case 'D':
			io.flags |= LC_IMPORT_NO_DIFF_IDS;
			break;
		case 'A':
			archive = optarg;
			break;
		case 'c':
			po.cache_dir = optarg;
			break;
		case 'H':
			po.flags |= LC_PULL_ALLOW_HTTP;
			break;
		case 'R':
			po.http_registries = optarg;
			break;
		case 'C':
			po.credentials_file = optarg;
			break;
		case 'j':
			po.max_connections = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			digest_only = true;
			break;
		case 'N':
			node_cache = optarg;
			break;
		case 'L':
			lookup = true;
			break;
		case 'O':
			offline = true;
			break;
		case 'S':
			sysconf = optarg;
			break;
		case 'P':
			no_site = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'F':
			if (!parse_progress_fd(optarg, &ps.fd))
				return fprintf(stderr, "ctr-import: bad --progress-fd '%s'\n",
					       optarg),
				       EXIT_USAGE;
			break;
		case 'E':
			if (!parse_seconds(optarg, &ps.every))
				return fprintf(stderr, "ctr-import: bad --progress-every '%s'\n",
					       optarg),
				       EXIT_USAGE;
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
	ref = argv[optind];
	if (lookup && !node_cache)
		return fprintf(stderr, "ctr-import: --lookup needs --node-cache\n"), EXIT_USAGE;
	from_daemon = daemon_ref(argv[optind], &ds);
	if (from_daemon && archive)
		return fprintf(stderr,
			       "ctr-import: --from-archive names a registry reference, "
			       "not %s\n",
			       argv[optind]),
		       EXIT_USAGE;
	if (from_daemon)
		ref = ds.ref;
	if (node_cache && !po.cache_dir) {
		if (asprintf(&blobs, "%s/blobs", node_cache) < 0)
			return 1;
		po.cache_dir = blobs;
	}
	if (!output && !digest_only && !node_cache) {
		if (lc_import_default_name(ref, &default_name, &err) < 0) {
			fprintf(stderr, "ctr-import: %s\n", lc_error_message(&err));
			return 1;
		}
		output = default_name;
	}
	ps.tty = !quiet && isatty(STDERR_FILENO);
	ps.ref = argv[optind];
	if (ps.fd >= 0)
		signal(SIGPIPE, SIG_IGN); /* a caller gone: the import still ends as it should */
	if (ps.tty || ps.fd >= 0) {
		po.progress = pull_progress;
		po.progress_userdata = &ps;
		io.progress = import_progress;
		io.progress_userdata = &ps;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ps.start = t0;
	r = lc_ctx_new(&ctx, &err);
	if (r >= 0) {
		lc_ctx_set_log(ctx, cli_log, verbose ? LC_LOG_DEBUG : LC_LOG_WARNING, NULL);
		r = no_site ? 0 : cli_load_site(ctx, sysconf, LC_SITE_NO_USER_CONFIG, &site, &err);
	}
	if (r >= 0) {
		cli_site_import_env(site);
		io.squash_options = getenv("ENROOT_SQUASH_OPTIONS");
		r = new_pull(ctx, ref, from_daemon ? &ds : NULL, archive, &po, &pull, &err);
	}
	t_resolve = seconds_since(&t0);
	if (r >= 0)
		ps.layers = lc_image_layer_count(lc_pull_image(pull));
	if (r >= 0 && digest_only) {
		/* the digest alone */
	} else if (r >= 0 && node_cache) {
		r = node_cache_entry(pull, ref, node_cache, lookup, &io, &stats, &ans, &err);
	} else if (r < 0 && node_cache && lookup && offline && err.domain == LC_DOMAIN_HTTP) {
		r = offline_entry(ref, node_cache, &ans, &err);
	} else if (r >= 0) {
		r = lc_import(pull, output, &io, &stats, &err);
		if (ps.tty)
			fprintf(stderr, "\n");
		if (r >= 0 && !(ans.image_path = realpath(output, NULL)))
			r = lc_error_set(&err, errno, "%s: %s", output, strerror(errno));
	}
	if (r >= 0)
		r = print_answer(&ans, pull, &stats, (int64_t)(t_resolve * 1e3),
				 (int64_t)(seconds_since(&t0) * 1e3), &err);
	if (r < 0) {
		fprintf(stderr, "ctr-import: %s\n", lc_error_message(&err));
	} else if (!digest_only) {
		if (!quiet && output && !node_cache)
			fprintf(stderr, "ctr-import: %s -> %s (%s, %.1f MB)\n", argv[optind],
				output, lc_image_digest(lc_pull_image(pull)),
				(double)stats.image_bytes / 1e6);
		if (verbose)
			fprintf(stderr,
				"ctr-import: timings: resolve %.3f s, download+convert %.3f s, "
				"finish %.3f s, total %.3f s; layers %" PRIu64 " B, tar %" PRIu64
				" B\n",
				t_resolve, (double)stats.convert_ms / 1e3,
				(double)stats.finish_ms / 1e3, seconds_since(&t0),
				stats.layer_bytes, stats.tar_bytes);
	}
	lc_import_answer_clear(&ans);
	lc_pull_free(pull);
	lc_site_free(site);
	lc_ctx_free(ctx);
	free(default_name);
	free(blobs);
	return r < 0 ? 1 : 0;
}
