/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: a squashfs file a user hands over (the plugin opens it and reads its image
 * config as root in slurmstepd): the image config (our xattr, or enroot's /etc/environment and
 * /etc/rc) and a walk of every entry (names, links, xattrs) never crash, hang or leak, and
 * errors are one line. Then the FUSE server (src/runtime/sqfuse.c, which serves the image to
 * the container) answers what the kernel would ask: listings in small readdir calls, lookups,
 * and reads of every file in pieces that cross blocks, within a budget. The input is the whole
 * file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libcontainer/libcontainer.h>

#include "runtime/runtime.h"

#define WALK_NODES 512        /* lookups per input */
#define WALK_BYTES (4u << 20) /* bytes read per input */
#define WALK_DEPTH 16
#define NAMES_PER_DIR 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count(void *u, const lc_squash_entry *e)
{
	if (!e->path || e->path[0] != '/')
		abort();
	return ++*(size_t *)u > 100000 ? -1 : 0; /* a bound, whatever the tables claim */
}

static void one_line(const lc_error *err)
{
	if (err->msg[0] == '\0' || strchr(err->msg, '\n'))
		abort();
}

typedef struct walk {
	lc_sqfs_server *s;
	unsigned nodes;
	size_t bytes;
	char *buf;
} walk;

typedef struct names {
	char name[NAMES_PER_DIR][257];
	size_t n;
} names;

static int keep_name(void *u, const char *name, unsigned type)
{
	names *l = u;

	(void)type;
	if (strlen(name) > 256)
		abort(); /* a name longer than squashfs allows came out of a listing */
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	if (l->n == NAMES_PER_DIR)
		return 1;
	strcpy(l->name[l->n++], name);
	return 0;
}

/* Every file of @node read as the kernel would (pieces of odd sizes, so they cross blocks). */
static void read_file(walk *w, uint64_t node, uint64_t size)
{
	uint64_t off = 0;
	ssize_t n;

	while (w->bytes < WALK_BYTES &&
	       (n = lc_sqfs_server_read(w->s, node, off, w->buf, 70001)) > 0) {
		if ((size_t)n > 70001 || off + (uint64_t)n > size)
			abort(); /* more than asked for, or past the size it reported */
		off += (uint64_t)n;
		w->bytes += (size_t)n;
	}
}

static void walk_dir(walk *w, uint64_t dir, int depth)
{
	names *l = calloc(1, sizeof(*l));

	if (!l)
		abort();
	(void)lc_sqfs_server_list(w->s, dir, 300 + (size_t)depth * 97, keep_name, l);
	for (size_t i = 0; i < l->n && w->nodes < WALK_NODES; i++) {
		struct stat st;
		uint64_t node;

		w->nodes++;
		if (lc_sqfs_server_lookup(w->s, dir, l->name[i], &node, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth < WALK_DEPTH)
			walk_dir(w, node, depth + 1);
		else if (S_ISREG(st.st_mode))
			read_file(w, node, (uint64_t)st.st_size);
		lc_sqfs_server_forget(w->s, node, 1);
	}
	free(l);
}

static void serve(int fd)
{
	lc_error err = LC_ERROR_INIT;
	walk w = {0};
	int copy = dup(fd);

	if (copy < 0)
		abort();
	if (lc_sqfs_server_new(copy, "fuzz.sqsh", 1000, 1000, &w.s, &err) < 0)
		return one_line(&err);
	w.buf = malloc(LC_SQFUSE_MAX_READ);
	if (!w.buf)
		abort();
	walk_dir(&w, 1, 0);
	free(w.buf);
	lc_sqfs_server_free(w.s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char path[64];
	lc_error err = LC_ERROR_INIT;
	lc_image *img = NULL;
	size_t entries = 0;
	int r;

	if (fd < 0 && (fd = memfd_create("fuzz.sqsh", MFD_CLOEXEC)) < 0)
		abort();
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = lc_squash_image_config(path, &img, &err);
	if (r < 0)
		one_line(&err);
	lc_image_free(img);
	err = (lc_error)LC_ERROR_INIT;
	if (lc_squash_list(path, count, &entries, &err) < 0 && entries <= 100000)
		one_line(&err);
	serve(fd);
	return 0;
}
