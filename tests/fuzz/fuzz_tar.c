/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: a layer's tar stream through the merge tree into the squashfs writer, as
 * the import does (hostile layers are the registry's, or a user's image). The input is one
 * layer, or two: its first two bytes give where the top layer starts (in 512-byte blocks; 0:
 * one layer); the top one is merged first, whiteouts and hardlinks across them included. It
 * must never crash or leak, and errors are one line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "squash/squash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct mem_src {
	const uint8_t *data;
	size_t len, pos;
} mem_src;

static int mem_read(void *u, void *buf, size_t len, size_t *ret_n, lc_error *err)
{
	mem_src *m = u;
	size_t n = m->len - m->pos < len ? m->len - m->pos : len;

	(void)err;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	*ret_n = n;
	return 0;
}

/* One layer: applied, then its second pass when links wait for it. */
static int apply(lc_tree *t, lc_sqfs_writer *w, mem_src *m, int index, void **pending,
		 lc_error *err)
{
	lc_layer_source src = {mem_read, m};
	lc_merge_layer l = {index, "sha256:fuzz", NULL};
	int r;

	m->pos = 0;
	r = lc_layer_stream_open(&src, LC_LAYER_NONE, false, false, &l.stream, err);
	if (r >= 0)
		r = lc_merge_layer_apply(t, w, &l, NULL, pending, err);
	l.stream = lc_layer_stream_free(l.stream);
	if (r >= 0 && lc_merge_has_pending(*pending)) {
		m->pos = 0;
		r = lc_layer_stream_open(&src, LC_LAYER_NONE, false, false, &l.stream, err);
		if (r >= 0)
			r = lc_merge_resolve_pending(t, w, &l, *pending, err);
		lc_layer_stream_free(l.stream);
	}
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	lc_sqfs_writer_opts wo = {1, false, 1 << 12, 1, false, 1 << 20};
	lc_error err = LC_ERROR_INIT;
	lc_sqfs_writer *w = NULL;
	void *pending = NULL;
	mem_src layers[2];
	size_t split, n = 1;
	lc_tree t;
	int r;

	if (size < 2)
		return 0;
	split = ((size_t)data[0] | (size_t)data[1] << 8) * 512;
	data += 2;
	size -= 2;
	layers[0] = (mem_src){data, split && split < size ? split : size, 0};
	if (split && split < size) {
		layers[1] = (mem_src){data + split, size - split, 0};
		n = 2;
	}
	if (fd < 0 && (fd = memfd_create("fuzz-out", MFD_CLOEXEC)) < 0)
		abort();
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0 || lc_tree_init(&t, &err) < 0)
		abort();
	r = lc_sqfs_writer_new(fd, &wo, &w, &err);
	for (size_t i = n; r >= 0 && i-- > 0;)
		r = apply(&t, w, &layers[i], (int)i, &pending, &err);
	if (r >= 0)
		r = lc_merge_pending_check(pending, &err);
	lc_merge_pending_free(pending);
	if (r >= 0)
		r = lc_sqfs_writer_finish(w, &t, &err);
	if (r < 0 && (err.msg[0] == '\0' || strchr(err.msg, '\n')))
		abort(); /* errors are one non-empty line */
	lc_sqfs_writer_free(w);
	lc_tree_free(&t);
	return 0;
}
