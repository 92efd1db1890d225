/* SPDX-License-Identifier: Apache-2.0 */
/* ctr-squash: list a squashfs image, save a directory into one, load one into a directory. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <libcontainer/libcontainer.h>

#include "cli.h"

enum { EXIT_USAGE = 2 };

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ctr-squash list IMAGE.sqsh\n"
	    "       ctr-squash save [-f] [--compress zstd[:LEVEL]|none] [--block-size N] "
	    "[--all-root] DIR IMAGE.sqsh\n"
	    "       ctr-squash load IMAGE.sqsh DIR\n"
	    "       ctr-squash config IMAGE.sqsh\n\n"
	    "list: one line per entry: type+mode uid/gid size mtime path [-> target]; control\n"
	    "      characters and backslashes in names are escaped as \\n, \\t, \\\\, \\ooo\n"
	    "save: DIR (symlinks stored, not followed; other filesystems not entered) into a new\n"
	    "      image; refuses an existing IMAGE without -f; honours ENROOT_SQUASH_OPTIONS\n"
	    "load: unpack into DIR, which must not exist or be empty; safe for untrusted images\n"
	    "config: the image the file carries (ours, or enroot's /etc/environment and /etc/rc)\n"
	    "Exit status: 0 success, 1 failure (message on stderr), 2 usage error.\n");
}

static char type_char(uint32_t mode)
{
	return S_ISDIR(mode)    ? 'd'
	       : S_ISLNK(mode)  ? 'l'
	       : S_ISCHR(mode)  ? 'c'
	       : S_ISBLK(mode)  ? 'b'
	       : S_ISFIFO(mode) ? 'p'
	       : S_ISSOCK(mode) ? 's'
				: '-';
}

/* Names are bytes: control characters and backslashes are escaped (as ls -b), so one entry is
 * always one line. */
static void print_escaped(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", stdout);
		else if (*p == '\n')
			fputs("\\n", stdout);
		else if (*p == '\t')
			fputs("\\t", stdout);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\%03o", *p);
		else
			putchar(*p);
	}
}

static int print_entry(void *u, const lc_squash_entry *e)
{
	(void)u;
	if (S_ISCHR(e->mode) || S_ISBLK(e->mode))
		printf("%c%04o %u/%u %u,%u %" PRId64 " ", type_char(e->mode), e->mode & 07777,
		       e->uid, e->gid, major(e->rdev), minor(e->rdev), e->mtime);
	else
		printf("%c%04o %u/%u %" PRIu64 " %" PRId64 " ", type_char(e->mode), e->mode & 07777,
		       e->uid, e->gid, e->size, e->mtime);
	print_escaped(e->path);
	if (e->link_target) {
		fputs(" -> ", stdout);
		print_escaped(e->link_target);
	}
	putchar('\n');
	return 0;
}

static int save(lc_ctx *ctx, int argc, char **argv, lc_error *err)
{
	static const struct option longopts[] = {{"force", no_argument, NULL, 'f'},
						 {"compress", required_argument, NULL, 'Z'},
						 {"block-size", required_argument, NULL, 'b'},
						 {"all-root", no_argument, NULL, 'r'},
						 {NULL, 0, NULL, 0}};
	lc_import_opts o = LC_IMPORT_OPTS_INIT;
	int c;

	o.squash_options = getenv("ENROOT_SQUASH_OPTIONS");
	optind = 1;
	while ((c = getopt_long(argc, argv, "f", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o.flags |= LC_IMPORT_FORCE;
			break;
		case 'Z':
			o.compression = optarg;
			break;
		case 'b':
			if (!cli_parse_size(optarg, 1u << 20, &o.block_size))
				return -EXIT_USAGE;
			break;
		case 'r':
			o.flags |= LC_IMPORT_ALL_ROOT;
			break;
		default:
			return -EXIT_USAGE;
		}
	}
	if (argc - optind != 2)
		return -EXIT_USAGE;
	return lc_squash_save(ctx, argv[optind], argv[optind + 1], &o, err);
}

static int show_config(const char *image, lc_error *err)
{
	lc_image *img = NULL;
	int r = lc_squash_image_config(image, &img, err);

	if (r >= 0)
		print_image(stdout, img);
	lc_image_free(img);
	return r;
}

int main(int argc, char **argv)
{
	lc_error err = LC_ERROR_INIT;
	lc_ctx *ctx = NULL;
	int r;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (lc_ctx_new(&ctx, &err) < 0)
		return fprintf(stderr, "ctr-squash: %s\n", lc_error_message(&err)), 1;
	lc_ctx_set_log(ctx, cli_log, LC_LOG_WARNING, NULL);
	if (!strcmp(argv[1], "list") && argc == 3)
		r = lc_squash_list(argv[2], print_entry, NULL, &err);
	else if (!strcmp(argv[1], "config") && argc == 3)
		r = show_config(argv[2], &err);
	else if (!strcmp(argv[1], "load") && argc == 4)
		r = lc_squash_load(ctx, argv[2], argv[3], &err);
	else if (!strcmp(argv[1], "save"))
		r = save(ctx, argc - 1, argv + 1, &err);
	else
		r = -EXIT_USAGE;
	lc_ctx_free(ctx);
	if (r == -EXIT_USAGE) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (r < 0)
		fprintf(stderr, "ctr-squash: %s\n", lc_error_message(&err));
	return r < 0 ? 1 : 0;
}
