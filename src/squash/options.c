/* SPDX-License-Identifier: Apache-2.0 */
/* The squashfs writer's options from the public import options: compression, block size and the
 * ENROOT_SQUASH_OPTIONS forms people use (mksquashfs's syntax). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "squash.h"

static int parse_size(const char *s, uint32_t *ret)
{
	char *end = NULL;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s)
		return -EINVAL;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	if (*end != '\0' || v > UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

static int parse_compression(const char *s, lc_sqfs_writer_opts *o, lc_error *err)
{
	if (strcmp(s, "none") == 0) {
		o->uncompressed = true;
		return 0;
	}
	if (strcmp(s, "zstd") == 0) {
		o->uncompressed = false;
		return 0;
	}
	if (lc_str_has_prefix(s, "zstd:")) {
		char *end = NULL;
		long level = strtol(s + 5, &end, 10);
		if (end != s + 5 && *end == '\0' && level >= 1 && level <= 22) {
			o->compression_level = (int)level;
			o->uncompressed = false;
			return 0;
		}
	}
	return lc_fail(err, EINVAL, "compression '%s': want zstd, zstd:LEVEL (1-22) or none", s);
}

/* The ENROOT_SQUASH_OPTIONS forms people use; anything else is refused by name. */
static int parse_squash_options(const char *text, lc_sqfs_writer_opts *o, lc_error *err)
{
	_cleanup_free_ char *copy = strdup(text);
	char *save = NULL, *arg;

	if (!copy)
		return lc_fail(err, ENOMEM, "out of memory");
	for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (strcmp(t, "-comp") == 0) {
			arg = strtok_r(NULL, " \t", &save);
			if (!arg || strcmp(arg, "zstd") != 0)
				return lc_fail(err, EINVAL,
					       "squash options: only '-comp zstd' is "
					       "supported, not '%s'",
					       arg ? arg : "");
		} else if (strcmp(t, "-Xcompression-level") == 0) {
			char level[32];
			arg = strtok_r(NULL, " \t", &save);
			(void)snprintf(level, sizeof(level), "zstd:%s", arg ? arg : "");
			if (parse_compression(level, o, err) < 0)
				return lc_fail(err, EINVAL,
					       "squash options: bad -Xcompression-level");
		} else if (strcmp(t, "-b") == 0) {
			arg = strtok_r(NULL, " \t", &save);
			if (!arg || parse_size(arg, &o->block_size) < 0)
				return lc_fail(err, EINVAL, "squash options: bad -b value");
		} else if (strcmp(t, "-noI") == 0 || strcmp(t, "-noD") == 0 ||
			   strcmp(t, "-noF") == 0 || strcmp(t, "-noX") == 0 ||
			   strcmp(t, "-noInodeCompression") == 0 ||
			   strcmp(t, "-noDataCompression") == 0) {
			o->uncompressed = true;
		} else if (strcmp(t, "-all-root") == 0) {
			o->all_root = true;
		} else {
			return lc_fail(err, EINVAL, "squash options: '%s' is not supported", t);
		}
	}
	return 0;
}

int lc_sqfs_writer_opts_parse(const lc_import_opts *io, lc_sqfs_writer_opts *o, lc_error *err)
{
	int r = lc_opts_check(io, io->version, LC_IMPORT_OPTS_VERSION, io->flags, LC_IMPORT_ALL,
			      "lc_import_opts", err);

	if (r < 0)
		return r;
	memset(o, 0, sizeof(*o));
	o->compression_level = 3;
	if (io->squash_options)
		r = parse_squash_options(io->squash_options, o, err);
	if (r >= 0 && io->compression)
		r = parse_compression(io->compression, o, err);
	if (r < 0)
		return r;
	if (io->block_size)
		o->block_size = io->block_size;
	if (!o->block_size) /* mksquashfs's default: a first touch decompresses little */
		o->block_size = LC_SQFS_DEFAULT_BLOCK_SIZE;
	if (o->block_size < 4096 || o->block_size > (1u << 20) ||
	    (o->block_size & (o->block_size - 1)))
		return lc_fail(err, EINVAL, "block size %u: want a power of two from 4K to 1M",
			       o->block_size);
	o->threads = io->threads;
	if (io->flags & LC_IMPORT_ALL_ROOT)
		o->all_root = true;
	o->max_file_size =
	    io->version >= 2 && io->max_file_size ? io->max_file_size : LC_IMPORT_MAX_FILE_SIZE;
	return 0;
}
