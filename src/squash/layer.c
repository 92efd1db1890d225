/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer streams: compressed bytes (from a download in progress or a cached blob) → plain tar
 * bytes → libarchive entries. Gzip is inflated with ISA-L (about 2.5x zlib here, see README),
 * zstd with libzstd; libarchive only ever sees an uncompressed tar, so its own filters are off.
 * The compression is chosen by media type and must agree with the magic bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <isa-l/igzip_lib.h>
#include <zlib.h>
#include <zstd.h>

#include "squash.h"

#define IN_CHUNK (256u << 10)
#define OUT_CHUNK (1u << 20)
#define RING 4 /* decompressed buffers between the inflate thread and libarchive */
/* what may follow the tar's end in a layer (padding) and is still read, to hash it */
#define TRAILING_MAX (16u << 20)

/* Decompression runs on its own thread and hands full buffers to libarchive's read callback
 * through a small ring, so inflating overlaps tar parsing and feeding the squashfs writer.
 * With hashing, a third thread hashes the same buffers (the layer's diff_id): a buffer is
 * reused once both libarchive and the hash thread are done with it. */
typedef struct ring_buf {
	char *data;
	size_t len;
} ring_buf;

struct lc_layer_stream {
	lc_layer_source src;
	enum lc_layer_compression comp;
	char *in;
	size_t in_len, in_pos;
	bool in_eof;
	char *out;
	struct inflate_state *isal;
	z_stream *zlib;
	ZSTD_DStream *zstd;
	bool member_done; /* a gzip member or zstd frame finished, maybe another follows */
	bool magic_checked;
	uint64_t in_total, out_total;
	lc_error err;
	int failed;
	struct archive *ar;
	/* the inflate thread (see RING) */
	pthread_t thread;
	bool threaded;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	ring_buf ring[RING];
	size_t head, count;  /* filled buffers: ring[head], ... (count of them) */
	size_t used;         /* of them, those libarchive is done with */
	size_t hashed;       /* of them, those the hash thread is done with */
	bool producer_done;  /* no more buffers will come (end, or s->failed) */
	bool stop;           /* the reader is gone */
	bool consumer_holds; /* libarchive still reads ring[head + used] */
	/* the hash thread (with hashing): sha256 of the uncompressed stream */
	lc_sha256 *sha;
	pthread_t hasher;
	bool hasher_running;
};

/* With the lock held: give the producer the buffers that everyone is done with. */
static void release_done(lc_layer_stream *s)
{
	bool freed = false;

	while (s->used > 0 && (!s->sha || s->hashed > 0)) {
		s->head = (s->head + 1) % RING;
		s->count--;
		s->used--;
		if (s->sha)
			s->hashed--;
		freed = true;
	}
	if (freed)
		pthread_cond_broadcast(&s->cond);
}

static const struct {
	const char *suffix;
	enum lc_layer_compression comp;
} media_suffixes[] = {
    {"tar+gzip", LC_LAYER_GZIP},
    {"tar.gzip", LC_LAYER_GZIP},
    {"rootfs.diff.tar.gzip", LC_LAYER_GZIP},
    {"tar+zstd", LC_LAYER_ZSTD},
    {"rootfs.diff.tar.zstd", LC_LAYER_ZSTD},
    {"tar", LC_LAYER_NONE},
    {"rootfs.diff.tar", LC_LAYER_NONE},
};

int lc_layer_compression_of(const char *media_type, enum lc_layer_compression *ret, lc_error *err)
{
	size_t n = media_type ? strlen(media_type) : 0;

	for (size_t i = 0; i < LC_ELEMENTSOF(media_suffixes); i++) {
		size_t s = strlen(media_suffixes[i].suffix);
		if (n >= s && strcmp(media_type + n - s, media_suffixes[i].suffix) == 0 &&
		    (n == s || media_type[n - s - 1] == '.')) {
			*ret = media_suffixes[i].comp;
			return 0;
		}
	}
	return lc_fail(err, LC_EMANIFEST, "unsupported layer media type '%s'",
		       media_type ? media_type : "");
}

static int fill_input(lc_layer_stream *s)
{
	size_t n = 0;
	int r;

	if (s->in_pos < s->in_len || s->in_eof)
		return 0;
	r = s->src.read(s->src.userdata, s->in, IN_CHUNK, &n, &s->err);
	if (r < 0)
		return r;
	s->in_pos = 0;
	s->in_len = n;
	s->in_total += n;
	s->in_eof = n == 0;
	return 0;
}

static int check_magic(lc_layer_stream *s)
{
	static const unsigned char gz[] = {0x1f, 0x8b}, zs[] = {0x28, 0xb5, 0x2f, 0xfd};
	const unsigned char *p = (const unsigned char *)s->in;
	bool is_gz = s->in_len >= 2 && memcmp(p, gz, 2) == 0;
	bool is_zs = s->in_len >= 4 && memcmp(p, zs, 4) == 0;

	if (s->comp == LC_LAYER_GZIP && !is_gz)
		return lc_fail(&s->err, LC_EMANIFEST,
			       "layer is not gzip-compressed as its media type says");
	if (s->comp == LC_LAYER_ZSTD && !is_zs)
		return lc_fail(&s->err, LC_EMANIFEST,
			       "layer is not zstd-compressed as its media type says");
	if (s->comp == LC_LAYER_NONE && (is_gz || is_zs))
		return lc_fail(&s->err, LC_EMANIFEST,
			       "layer is compressed but its media type says plain tar");
	return 0;
}

/* ---- gzip with ISA-L; zlib when ISA-L is told off (LC_LAYER_GZIP_ZLIB) */

static int inflate_isal(lc_layer_stream *s, size_t *ret_n)
{
	struct inflate_state *st = s->isal;

	if (s->member_done) {
		/* RFC 1952 allows several members: go on only if more bytes follow */
		if (s->in_pos == s->in_len && s->in_eof)
			return *ret_n = 0, 0;
		isal_inflate_reset(st);
		st->crc_flag = ISAL_GZIP;
		s->member_done = false;
	}
	st->next_in = (uint8_t *)s->in + s->in_pos;
	st->avail_in = (uint32_t)(s->in_len - s->in_pos);
	st->next_out = (uint8_t *)s->out;
	st->avail_out = OUT_CHUNK;
	if (isal_inflate(st) != ISAL_DECOMP_OK)
		return lc_fail(&s->err, LC_EMANIFEST, "gzip data is corrupt");
	s->in_pos = s->in_len - st->avail_in;
	*ret_n = OUT_CHUNK - st->avail_out;
	if (st->block_state == ISAL_BLOCK_FINISH)
		s->member_done = true;
	else if (*ret_n == 0 && s->in_eof && s->in_pos == s->in_len)
		return lc_fail(&s->err, LC_EMANIFEST, "gzip data is truncated");
	return 0;
}

static int inflate_zlib(lc_layer_stream *s, size_t *ret_n)
{
	z_stream *z = s->zlib;
	int zr;

	if (s->member_done) {
		if (s->in_pos == s->in_len && s->in_eof)
			return *ret_n = 0, 0;
		inflateReset(z);
		s->member_done = false;
	}
	z->next_in = (Bytef *)s->in + s->in_pos;
	z->avail_in = (uInt)(s->in_len - s->in_pos);
	z->next_out = (Bytef *)s->out;
	z->avail_out = OUT_CHUNK;
	zr = inflate(z, Z_NO_FLUSH);
	if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
		return lc_fail(&s->err, LC_EMANIFEST, "gzip data is corrupt");
	s->in_pos = s->in_len - z->avail_in;
	*ret_n = OUT_CHUNK - z->avail_out;
	if (zr == Z_STREAM_END)
		s->member_done = true;
	else if (*ret_n == 0 && s->in_eof && s->in_pos == s->in_len)
		return lc_fail(&s->err, LC_EMANIFEST, "gzip data is truncated");
	return 0;
}

static int decompress_zstd(lc_layer_stream *s, size_t *ret_n)
{
	ZSTD_inBuffer in = {s->in, s->in_len, s->in_pos};
	ZSTD_outBuffer out = {s->out, OUT_CHUNK, 0};
	size_t was = s->in_pos;
	size_t zr = ZSTD_decompressStream(s->zstd, &out, &in);

	if (ZSTD_isError(zr))
		return lc_fail(&s->err, LC_EMANIFEST, "zstd data is corrupt: %s",
			       ZSTD_getErrorName(zr));
	s->in_pos = in.pos;
	*ret_n = out.pos;
	if (in.pos > was || out.pos > 0)
		s->member_done = zr == 0; /* a frame ended (another may follow) */
	if (out.pos == 0 && s->in_eof && s->in_pos == s->in_len && !s->member_done)
		return lc_fail(&s->err, LC_EMANIFEST, "zstd data is truncated");
	return 0;
}

/* Next plain tar bytes into s->out; *ret_n == 0 at the end. */
static int produce(lc_layer_stream *s, size_t *ret_n)
{
	for (;;) {
		int r = fill_input(s);

		if (r < 0)
			return r;
		if (!s->magic_checked && s->in_len > 0) {
			s->magic_checked = true;
			if ((r = check_magic(s)) < 0)
				return r;
		}
		if (s->comp == LC_LAYER_NONE) {
			*ret_n = s->in_len - s->in_pos;
			memcpy(s->out, s->in + s->in_pos, *ret_n);
			s->in_pos = s->in_len;
		} else if (s->isal) {
			r = inflate_isal(s, ret_n);
		} else if (s->zlib) {
			r = inflate_zlib(s, ret_n);
		} else {
			r = decompress_zstd(s, ret_n);
		}
		if (r < 0 || *ret_n > 0 || (s->in_eof && s->in_pos == s->in_len))
			return r;
	}
}

static void *inflate_thread(void *u)
{
	lc_layer_stream *s = u;

	for (;;) {
		size_t n = 0, slot;
		int r;

		pthread_mutex_lock(&s->lock);
		while (s->count == RING && !s->stop)
			pthread_cond_wait(&s->cond, &s->lock);
		slot = (s->head + s->count) % RING;
		bool stop = s->stop;
		pthread_mutex_unlock(&s->lock);
		if (stop)
			break;
		/* s->out is the slot's buffer while this thread fills it */
		s->out = s->ring[slot].data;
		r = produce(s, &n);
		pthread_mutex_lock(&s->lock);
		if (r < 0)
			s->failed = r;
		if (r < 0 || n == 0) {
			s->producer_done = true;
			pthread_cond_broadcast(&s->cond);
			pthread_mutex_unlock(&s->lock);
			break;
		}
		s->ring[slot].len = n;
		s->count++;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

static void *hash_thread(void *u)
{
	lc_layer_stream *s = u;

	for (;;) {
		const ring_buf *b;

		pthread_mutex_lock(&s->lock);
		while (s->hashed == s->count && !s->producer_done && !s->stop)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->hashed == s->count || s->stop) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		b = &s->ring[(s->head + s->hashed) % RING];
		pthread_mutex_unlock(&s->lock);
		lc_sha256_update(s->sha, b->data, b->len);
		pthread_mutex_lock(&s->lock);
		s->hashed++;
		release_done(s);
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

/* With the lock held: libarchive is done with the buffer it held. */
static void consumer_lets_go(lc_layer_stream *s)
{
	if (s->consumer_holds) {
		s->used++;
		s->consumer_holds = false;
		release_done(s);
	}
}

static la_ssize_t archive_read_cb(struct archive *a, void *u, const void **buf)
{
	lc_layer_stream *s = u;
	size_t n, slot;

	pthread_mutex_lock(&s->lock);
	consumer_lets_go(s);
	while (s->used == s->count && !s->producer_done)
		pthread_cond_wait(&s->cond, &s->lock);
	if (s->used == s->count) {
		int failed = s->failed;
		pthread_mutex_unlock(&s->lock);
		if (failed) {
			archive_set_error(a, EIO, "%s", s->err.msg);
			return -1;
		}
		return 0;
	}
	slot = (s->head + s->used) % RING;
	*buf = s->ring[slot].data;
	n = s->ring[slot].len;
	s->consumer_holds = true;
	pthread_mutex_unlock(&s->lock);
	s->out_total += n;
	return (la_ssize_t)n;
}

static int setup_decompressor(lc_layer_stream *s, bool prefer_zlib, lc_error *err)
{
	if (s->comp == LC_LAYER_GZIP && !prefer_zlib) {
		s->isal = calloc(1, sizeof(*s->isal));
		if (!s->isal)
			return lc_fail(err, ENOMEM, "layer: out of memory");
		isal_inflate_init(s->isal);
		s->isal->crc_flag = ISAL_GZIP;
	} else if (s->comp == LC_LAYER_GZIP) {
		s->zlib = calloc(1, sizeof(*s->zlib));
		if (!s->zlib || inflateInit2(s->zlib, 16 + MAX_WBITS) != Z_OK)
			return lc_fail(err, ENOMEM, "layer: cannot set up zlib");
	} else if (s->comp == LC_LAYER_ZSTD) {
		s->zstd = ZSTD_createDStream();
		if (!s->zstd || ZSTD_isError(ZSTD_initDStream(s->zstd)))
			return lc_fail(err, ENOMEM, "layer: cannot set up zstd");
	}
	return 0;
}

int lc_layer_stream_open(const lc_layer_source *src, enum lc_layer_compression comp,
			 bool prefer_zlib, bool hash, lc_layer_stream **ret, lc_error *err)
{
	lc_layer_stream *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return lc_fail(err, ENOMEM, "layer: out of memory");
	s->src = *src;
	s->comp = comp;
	s->in = malloc(IN_CHUNK);
	s->ar = archive_read_new();
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	r = 0;
	for (size_t i = 0; i < RING; i++)
		if (!(s->ring[i].data = malloc(OUT_CHUNK)))
			r = -ENOMEM;
	if (hash && !(s->sha = lc_sha256_new()))
		r = -ENOMEM;
	r = (r < 0 || !s->in || !s->ar) ? lc_fail(err, ENOMEM, "layer: out of memory")
					: setup_decompressor(s, prefer_zlib, err);
	if (r >= 0 && s->sha && (r = pthread_create(&s->hasher, NULL, hash_thread, s)) != 0)
		r = lc_fail(err, r, "layer: cannot start the hash thread");
	else if (r >= 0 && s->sha)
		s->hasher_running = true;
	if (r >= 0 && (r = pthread_create(&s->thread, NULL, inflate_thread, s)) != 0)
		r = lc_fail(err, r, "layer: cannot start the inflate thread");
	else if (r >= 0)
		s->threaded = true;
	if (r >= 0 && (archive_read_support_format_tar(s->ar) != ARCHIVE_OK ||
		       archive_read_support_format_gnutar(s->ar) != ARCHIVE_OK ||
		       archive_read_open(s->ar, s, NULL, archive_read_cb, NULL) != ARCHIVE_OK))
		r = lc_fail(err, LC_EMANIFEST, "layer: %s",
			    s->failed ? s->err.msg : archive_error_string(s->ar));
	if (r < 0) {
		lc_layer_stream_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

struct archive *lc_layer_stream_archive(lc_layer_stream *s)
{
	return s->ar;
}

/* The error behind a failed libarchive call: ours (source, decompression) or libarchive's. */
int lc_layer_stream_error(lc_layer_stream *s, lc_error *err)
{
	pthread_mutex_lock(&s->lock);
	int failed = s->failed;
	pthread_mutex_unlock(&s->lock);
	if (failed) {
		*err = s->err;
		return s->failed;
	}
	return lc_fail(err, LC_EMANIFEST, "%s",
		       archive_error_string(s->ar) ? archive_error_string(s->ar) : "malformed tar");
}

uint64_t lc_layer_stream_bytes_in(const lc_layer_stream *s)
{
	return s->in_total;
}

uint64_t lc_layer_stream_bytes_out(const lc_layer_stream *s)
{
	return s->out_total;
}

void lc_layer_stream_stop(lc_layer_stream *s)
{
	if (!s->threaded && !s->hasher_running)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->threaded)
		pthread_join(s->thread, NULL);
	if (s->hasher_running)
		pthread_join(s->hasher, NULL);
	s->threaded = s->hasher_running = false;
}

int lc_layer_stream_finish(lc_layer_stream *s, char ret_digest[72], lc_error *err)
{
	uint64_t trailing = 0;
	int failed;

	if (!s->hasher_running)
		return lc_fail(err, EINVAL, "layer: not hashed");
	pthread_mutex_lock(&s->lock);
	consumer_lets_go(s);
	for (;;) { /* what follows the tar's end: hashed, not parsed */
		while (s->used == s->count && !s->producer_done)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->used == s->count || trailing > TRAILING_MAX)
			break;
		trailing += s->ring[(s->head + s->used) % RING].len;
		s->used++;
		release_done(s);
	}
	failed = s->failed;
	pthread_mutex_unlock(&s->lock);
	if (trailing > TRAILING_MAX) {
		lc_layer_stream_stop(s);
		return lc_fail(err, LC_EMANIFEST,
			       "layer: more than %u MiB after the end of its tar",
			       TRAILING_MAX >> 20);
	}
	if (failed) {
		lc_layer_stream_stop(s);
		*err = s->err;
		return failed;
	}
	pthread_join(s->hasher, NULL); /* it ends once it hashed the last buffer */
	s->hasher_running = false;
	lc_layer_stream_stop(s);
	lc_sha256_final_digest(s->sha, ret_digest);
	return 0;
}

lc_layer_stream *lc_layer_stream_free(lc_layer_stream *s)
{
	if (!s)
		return NULL;
	lc_layer_stream_stop(s);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	for (size_t i = 0; i < RING; i++)
		free(s->ring[i].data);
	if (s->ar)
		archive_read_free(s->ar);
	free(s->isal);
	if (s->zlib)
		inflateEnd(s->zlib);
	free(s->zlib);
	ZSTD_freeDStream(s->zstd);
	lc_sha256_free(s->sha);
	free(s->in);
	free(s);
	return NULL;
}

/* ---- a layer source reading a file (the cached blob) */

static int fd_read(void *u, void *buf, size_t len, size_t *ret_n, lc_error *err)
{
	int fd = (int)(intptr_t)u;

	for (;;) {
		ssize_t n = read(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return lc_fail(err, errno, "read layer: %m");
		*ret_n = (size_t)n;
		return 0;
	}
}

lc_layer_source lc_layer_source_fd(int fd)
{
	return (lc_layer_source){fd_read, (void *)(intptr_t)fd};
}
