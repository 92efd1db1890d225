/* SPDX-License-Identifier: Apache-2.0 */
/* The squash module without a registry: paths, options, names, and merging in-memory layers. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lc-test.h"
#include "runtime/runtime.h"
#include "squash/squash.h"

START_TEST(media_types)
{
	static const struct {
		const char *mt;
		int comp;
	} ok[] = {
	    {"application/vnd.oci.image.layer.v1.tar+gzip", LC_LAYER_GZIP},
	    {"application/vnd.oci.image.layer.v1.tar+zstd", LC_LAYER_ZSTD},
	    {"application/vnd.oci.image.layer.v1.tar", LC_LAYER_NONE},
	    {"application/vnd.docker.image.rootfs.diff.tar.gzip", LC_LAYER_GZIP},
	    {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", LC_LAYER_GZIP},
	};
	enum lc_layer_compression c;
	lc_error err = LC_ERROR_INIT;

	for (size_t i = 0; i < LC_ELEMENTSOF(ok); i++) {
		ck_assert_int_eq(lc_layer_compression_of(ok[i].mt, &c, &err), 0);
		ck_assert_int_eq(c, ok[i].comp);
	}
	ck_assert_int_eq(
	    lc_layer_compression_of("application/vnd.oci.image.layer.v1.tar+lz4", &c, &err),
	    -LC_EMANIFEST);
	ck_assert_int_eq(lc_layer_compression_of("text/plain+tar", &c, &err), -LC_EMANIFEST);
	ck_assert_int_eq(lc_layer_compression_of(NULL, &c, &err), -LC_EMANIFEST);
}
END_TEST

START_TEST(path_split)
{
	static const struct {
		const char *in;
		size_t n;
		const char *last;
	} ok[] = {{"a/b/c", 3, "c"},
		  {"./a//b/", 2, "b"},
		  {".", 0, NULL},
		  {"./", 0, NULL},
		  {"a/./b", 2, "b"}};
	static const char *const bad[] = {"/etc/passwd", "../x", "a/../../x", "a/.."};
	lc_error err = LC_ERROR_INIT;

	for (size_t i = 0; i < LC_ELEMENTSOF(ok); i++) {
		char *copy = strdup(ok[i].in), **parts = NULL;
		size_t n;
		ck_assert_int_eq(lc_path_split(copy, &parts, &n, &err), 0);
		ck_assert_uint_eq(n, ok[i].n);
		if (n)
			ck_assert_str_eq(parts[n - 1], ok[i].last);
		free(parts);
		free(copy);
	}
	for (size_t i = 0; i < LC_ELEMENTSOF(bad); i++) {
		char *copy = strdup(bad[i]), **parts = NULL;
		size_t n;
		ck_assert_msg(lc_path_split(copy, &parts, &n, &err) == -EPERM, "%s", bad[i]);
		free(copy);
	}
	/* a component of 256 bytes: no reader could list it */
	{
		char name[600] = "a/", **parts = NULL;
		size_t n;

		memset(name + 2, 'x', 256);
		ck_assert_int_eq(lc_path_split(name, &parts, &n, &err), -ENAMETOOLONG);
		ck_assert_str_eq(err.msg, "a name longer than 255 bytes");
		memset(name, 'y', sizeof(name) - 1);
		name[255] = '/';
		name[300] = '\0';
		ck_assert_int_eq(lc_path_split(name, &parts, &n, &err), 0);
		ck_assert_uint_eq(n, 2);
		free(parts);
	}
}
END_TEST

START_TEST(children_sorted)
{
	lc_node *d = lc_node_new("", S_IFDIR | 0755, 0);
	static const char *const names[] = {"b", "a", "c", "B", "aa", "\xc3\xa9"};

	for (size_t i = 0; i < LC_ELEMENTSOF(names); i++)
		ck_assert_int_eq(lc_node_add_child(d, lc_node_new(names[i], S_IFREG, 0)), 0);
	ck_assert_str_eq(d->children[0]->name, "B"); /* byte order, as squashfs wants */
	ck_assert_str_eq(d->children[1]->name, "a");
	ck_assert_str_eq(d->children[2]->name, "aa");
	ck_assert_str_eq(d->children[5]->name, "\xc3\xa9");
	lc_node *dup = lc_node_new("a", S_IFREG, 0);
	ck_assert_int_eq(lc_node_add_child(d, dup), -EEXIST);
	lc_node_free(dup);
	ck_assert_ptr_eq(lc_node_child(d, "c"), d->children[4]);
	ck_assert_ptr_null(lc_node_child(d, "zz"));
	lc_node_free(d);
}
END_TEST

START_TEST(squash_options)
{
	lc_import_opts io = LC_IMPORT_OPTS_INIT;
	lc_sqfs_writer_opts o;
	lc_error err = LC_ERROR_INIT;

	ck_assert_int_eq(lc_sqfs_writer_opts_parse(&io, &o, &err), 0);
	ck_assert_int_eq(o.compression_level, 3);
	ck_assert_uint_eq(o.block_size, 128u << 10);
	io.squash_options = "-comp zstd -Xcompression-level 19 -b 1M -all-root";
	ck_assert_int_eq(lc_sqfs_writer_opts_parse(&io, &o, &err), 0);
	ck_assert_int_eq(o.compression_level, 19);
	ck_assert_uint_eq(o.block_size, 1u << 20);
	ck_assert(o.all_root);
	io.squash_options = "-noI -noD -noF -noX";
	ck_assert_int_eq(lc_sqfs_writer_opts_parse(&io, &o, &err), 0);
	ck_assert(o.uncompressed);
	io.compression = "zstd:7"; /* overrides the options */
	ck_assert_int_eq(lc_sqfs_writer_opts_parse(&io, &o, &err), 0);
	ck_assert(!o.uncompressed);
	ck_assert_int_eq(o.compression_level, 7);
	static const char *const bad[] = {"-comp gzip", "-Xcompression-level 40", "-b 3000",
					  "-b 2M",      "-processors 4",          "-comp"};
	io.compression = NULL;
	for (size_t i = 0; i < LC_ELEMENTSOF(bad); i++) {
		io.squash_options = bad[i];
		ck_assert_msg(lc_sqfs_writer_opts_parse(&io, &o, &err) == -EINVAL, "%s", bad[i]);
	}
	io.squash_options = NULL;
	io.compression = "zstd:0";
	ck_assert_int_eq(lc_sqfs_writer_opts_parse(&io, &o, &err), -EINVAL);
}
END_TEST

START_TEST(default_names)
{
	static const struct {
		const char *ref, *name;
	} t[] = {
	    {"nvcr.io#nvidia/pytorch:25.09-py3", "nvidia+pytorch+25.09-py3.sqsh"},
	    {"ubuntu", "ubuntu+latest.sqsh"},
	    {"docker.io/library/debian:bookworm", "debian+bookworm.sqsh"},
	    {"127.0.0.1:5000/a/b/c:1", "a+b+c+1.sqsh"},
	    {"alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	     "alpine+sha256-0123456789ab.sqsh"},
	};
	lc_error err = LC_ERROR_INIT;

	for (size_t i = 0; i < LC_ELEMENTSOF(t); i++) {
		char *name = NULL;
		ck_assert_int_eq(lc_import_default_name(t[i].ref, &name, &err), 0);
		ck_assert_str_eq(name, t[i].name);
		free(name);
	}
}
END_TEST

/* ---- merging layers built in memory */

typedef struct mem_layer {
	char data[1 << 20];
	size_t len, pos;
} mem_layer;

static void add(struct archive *a, const char *path, mode_t mode, const char *content,
		const char *link, bool hard)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, path);
	archive_entry_set_mode(e, mode);
	archive_entry_set_mtime(e, 1700000000, 0);
	if (link && hard)
		archive_entry_set_hardlink(e, link);
	else if (link)
		archive_entry_set_symlink(e, link);
	archive_entry_set_size(e, content ? (la_int64_t)strlen(content) : 0);
	ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
	if (content)
		archive_write_data(a, content, strlen(content));
	archive_entry_free(e);
}

static struct archive *tar_begin(mem_layer *l)
{
	struct archive *a = archive_write_new();

	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_per_block(a, 512);
	ck_assert_int_eq(archive_write_open_memory(a, l->data, sizeof(l->data), &l->len),
			 ARCHIVE_OK);
	return a;
}

static void tar_end(struct archive *a)
{
	archive_write_close(a);
	archive_write_free(a);
}

static int mem_read(void *u, void *buf, size_t len, size_t *ret_n, lc_error *err)
{
	mem_layer *l = u;
	size_t n = l->len - l->pos < len ? l->len - l->pos : len;

	(void)err;
	memcpy(buf, l->data + l->pos, n);
	l->pos += n;
	*ret_n = n;
	return 0;
}

/* Collect "path|type|target" lines of an image for assertions. */
static int collect(void *u, const lc_squash_entry *e)
{
	lc_buf_printf(u, "%s|%c|%s|%u\n", e->path,
		      S_ISDIR(e->mode)   ? 'd'
		      : S_ISLNK(e->mode) ? 'l'
					 : 'f',
		      e->link_target ? e->link_target : "", e->nlink);
	return 0;
}

static int merge(mem_layer *layers, size_t n, const char *out, lc_error *err)
{
	lc_sqfs_writer_opts wo = {3, false, 1 << 17, 1, false};
	lc_sqfs_writer *w = NULL;
	lc_tree t;
	void *pending = NULL;
	int fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), r;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(lc_tree_init(&t, err), 0);
	r = lc_sqfs_writer_new(fd, &wo, &w, err);
	for (size_t i = n; r >= 0 && i-- > 0;) {
		lc_layer_source src = {mem_read, &layers[i]};
		lc_merge_layer l = {(int)i, "sha256:test", NULL};

		layers[i].pos = 0;
		r = lc_layer_stream_open(&src, LC_LAYER_NONE, false, false, &l.stream, err);
		if (r >= 0)
			r = lc_merge_layer_apply(&t, w, &l, NULL, &pending, err);
		lc_layer_stream_free(l.stream);
		if (r >= 0 && lc_merge_has_pending(pending)) {
			layers[i].pos = 0;
			r = lc_layer_stream_open(&src, LC_LAYER_NONE, false, false, &l.stream, err);
			if (r >= 0)
				r = lc_merge_resolve_pending(&t, w, &l, pending, err);
			lc_layer_stream_free(l.stream);
		}
	}
	if (r >= 0)
		r = lc_merge_pending_check(pending, err);
	lc_merge_pending_free(pending);
	if (r >= 0)
		r = lc_sqfs_writer_finish(w, &t, err);
	lc_sqfs_writer_free(w);
	lc_tree_free(&t);
	close(fd);
	return r;
}

START_TEST(merge_whiteouts_and_links)
{
	static mem_layer layers[3];
	char *dir = lc_test_tmpdir(), out[512];
	lc_buf got = LC_BUF_INIT;
	lc_error err = LC_ERROR_INIT;
	struct archive *a;

	memset(layers, 0, sizeof(layers));
	a = tar_begin(&layers[0]);
	add(a, "etc/", S_IFDIR | 0755, NULL, NULL, false);
	add(a, "etc/keep", S_IFREG | 0644, "keep\n", NULL, false);
	add(a, "etc/gone", S_IFREG | 0644, "gone\n", NULL, false);
	add(a, "opq/", S_IFDIR | 0755, NULL, NULL, false);
	add(a, "opq/old", S_IFREG | 0644, "old\n", NULL, false);
	add(a, "hl/a", S_IFREG | 0644, "shared\n", NULL, false);
	add(a, "hl/b", S_IFREG | 0644, NULL, "hl/a", true);
	add(a, "hl/c", S_IFREG | 0644, NULL, "hl/a", true);
	add(a, "f2d", S_IFREG | 0644, "file\n", NULL, false);
	tar_end(a);
	a = tar_begin(&layers[1]);
	add(a, "etc/.wh.gone", S_IFREG | 0644, NULL, NULL, false);
	add(a, "opq/.wh..wh..opq", S_IFREG | 0644, NULL, NULL, false);
	add(a, "opq/new", S_IFREG | 0644, "new\n", NULL, false);
	add(a, "f2d/inside", S_IFREG | 0644, "dir now\n", NULL, false);
	add(a, ".wh.never-existed", S_IFREG | 0644, NULL, NULL, false);
	tar_end(a);
	a = tar_begin(&layers[2]);
	add(a, "hl/a", S_IFREG | 0644, "replaced\n", NULL, false); /* the link target */
	add(a, "ln", S_IFLNK | 0777, NULL, "/etc/keep", false);
	tar_end(a);
	snprintf(out, sizeof(out), "%s/out.sqsh", dir);
	ck_assert_msg(merge(layers, 3, out, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(lc_squash_list(out, collect, &got, &err), 0);
	/* directory nlink: 2 + subdirectories */
	ck_assert_str_eq(got.data, "/|d||6\n"
				   "/etc|d||2\n/etc/keep|f||1\n"
				   "/f2d|d||2\n/f2d/inside|f||1\n"
				   "/hl|d||2\n/hl/a|f||1\n/hl/b|f||2\n/hl/c|f||2\n"
				   "/ln|l|/etc/keep|1\n"
				   "/opq|d||2\n/opq/new|f||1\n");
	lc_buf_free(&got);
	lc_test_rmtree(dir);
	free(dir);
}
END_TEST

/* A budget bounds what an image's tables can make the reader read and decompress (the
 * configuration read as root); a spent one says so. */
START_TEST(image_budget_bounds_reads)
{
	static mem_layer layers[1];
	char *dir = lc_test_tmpdir(), out[512];
	lc_error err = LC_ERROR_INIT;
	lc_sqfs_image im;
	struct archive *a;
	char name[64];

	memset(layers, 0, sizeof(layers));
	a = tar_begin(&layers[0]);
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "dir/entry-with-a-long-name-%04d", i);
		add(a, name, S_IFREG | 0644, "x\n", NULL, false);
	}
	tar_end(a);
	snprintf(out, sizeof(out), "%s/out.sqsh", dir);
	ck_assert_msg(merge(layers, 1, out, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(
	    lc_sqfs_image_open_fd(open(out, O_RDONLY | O_CLOEXEC), out, true, 0, &im, &err), 0);
	lc_sqfs_image_close(&im);
	ck_assert_int_eq(
	    lc_sqfs_image_open_fd(open(out, O_RDONLY | O_CLOEXEC), out, true, 1 << 20, &im, &err),
	    0);
	ck_assert(!lc_sqfs_image_budget_spent(&im));
	lc_sqfs_image_close(&im);
	/* the tree of 50 entries needs more than 1 KiB of tables */
	ck_assert_int_eq(
	    lc_sqfs_image_open_fd(open(out, O_RDONLY | O_CLOEXEC), out, true, 1024, &im, &err),
	    -EFBIG);
	ck_assert_msg(strstr(err.msg, ": its tables ask for more than 1024 bytes to be read"), "%s",
		      err.msg);
	lc_test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(merge_rejects_hostile)
{
	static const struct {
		const char *path, *link;
		bool hard;
		const char *why;
	} t[] = {{"../x", NULL, false, "'..' in the name"},
		 {"/abs", NULL, false, "absolute name"},
		 {"b", "missing", true,
		  "is the target of a hardlink but not in the layer or a layer below it"},
		 {"b", "../../etc/shadow", true, "'..' in the name"}};
	char *dir = lc_test_tmpdir(), out[512];

	snprintf(out, sizeof(out), "%s/out.sqsh", dir);
	for (size_t i = 0; i < LC_ELEMENTSOF(t); i++) {
		static mem_layer l;
		lc_error err = LC_ERROR_INIT;
		struct archive *a;

		memset(&l, 0, sizeof(l));
		a = tar_begin(&l);
		add(a, "ok", S_IFREG | 0644, "x", NULL, false);
		add(a, t[i].path, S_IFREG | 0644, t[i].link ? NULL : "y", t[i].link, t[i].hard);
		tar_end(a);
		ck_assert_int_lt(merge(&l, 1, out, &err), 0);
		ck_assert_msg(strstr(err.msg, t[i].why) &&
				  strstr(err.msg, "layer sha256:test: entry"),
			      "case %zu: %s", i, err.msg);
	}
	lc_test_rmtree(dir);
	free(dir);
}
END_TEST

static char *read_back(const char *dir, const char *name)
{
	char path[1024], *data = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_msg(lc_file_read_all(path, 4096, &data, NULL, NULL) == 0, "%s", path);
	return data;
}

/* Hardlinks to a lower layer's file, as containerd and Docker apply them: the file as it was
 * when the link's layer was applied; one a layer between removed fails, named. */
START_TEST(merge_links_to_lower_layers)
{
	static mem_layer layers[4];
	char *dir = lc_test_tmpdir(), out[512], tree[600];
	_cleanup_free_ char *b = NULL, *a = NULL, *c = NULL;
	lc_error err = LC_ERROR_INIT;
	struct archive *ar;

	memset(layers, 0, sizeof(layers));
	ar = tar_begin(&layers[0]);
	add(ar, "lib/a", S_IFREG | 0644, "base\n", NULL, false);
	add(ar, "deep/er/f", S_IFREG | 0644, "deep\n", NULL, false);
	add(ar, "g", S_IFREG | 0644, "gone\n", NULL, false);
	tar_end(ar);
	ar = tar_begin(&layers[1]);
	add(ar, ".wh.g", S_IFREG | 0644, NULL, NULL, false);
	tar_end(ar);
	ar = tar_begin(&layers[2]);
	add(ar, "lib/b", S_IFREG | 0644, NULL, "lib/a", true);
	add(ar, "c", S_IFREG | 0644, NULL, "deep/er/f", true);
	tar_end(ar);
	ar = tar_begin(&layers[3]);
	add(ar, "lib/a", S_IFREG | 0644, "replaced later\n", NULL, false);
	tar_end(ar);
	snprintf(out, sizeof(out), "%s/out.sqsh", dir);
	snprintf(tree, sizeof(tree), "%s/tree", dir);
	ck_assert_msg(merge(layers, 4, out, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(lc_squash_load(NULL, out, tree, &err), 0);
	b = read_back(tree, "lib/b");
	a = read_back(tree, "lib/a");
	c = read_back(tree, "c");
	ck_assert_str_eq(b, "base\n");
	ck_assert_str_eq(a, "replaced later\n");
	ck_assert_str_eq(c, "deep\n");
	/* a link to what a layer between removed */
	ar = tar_begin(&layers[2]);
	add(ar, "h", S_IFREG | 0644, NULL, "g", true);
	tar_end(ar);
	ck_assert_int_lt(merge(layers, 3, out, &err), 0);
	ck_assert_msg(strstr(err.msg, "entry 'g': is the target of a hardlink but not in the layer "
				      "or a layer below it"),
		      "%s", err.msg);
	lc_test_rmtree(dir);
	free(dir);
}
END_TEST

/* A higher layer's entries below what a lower layer made a symbolic link: refused, naming it
 * (the link is never replaced by a directory quietly). */
START_TEST(merge_refuses_paths_through_links)
{
	static const struct {
		const char *lower, *link, *upper, *why;
	} t[] = {
	    {"etc", "elsewhere", "etc/passwd", "a symbolic link that a higher layer's entries"},
	    {"etc", "elsewhere", "etc/.wh.x", "a symbolic link that a higher layer's entries"},
	    {"etc", "/", "etc/sub/f", "a symbolic link that a higher layer's entries"}};
	char *dir = lc_test_tmpdir(), out[512];

	snprintf(out, sizeof(out), "%s/out.sqsh", dir);
	for (size_t i = 0; i < LC_ELEMENTSOF(t); i++) {
		static mem_layer l[2];
		lc_error err = LC_ERROR_INIT;
		struct archive *a;

		memset(l, 0, sizeof(l));
		a = tar_begin(&l[0]);
		add(a, t[i].lower, S_IFLNK | 0777, NULL, t[i].link, false);
		tar_end(a);
		a = tar_begin(&l[1]);
		add(a, t[i].upper, S_IFREG | 0644, "x\n", NULL, false);
		tar_end(a);
		ck_assert_int_lt(merge(l, 2, out, &err), 0);
		ck_assert_msg(strstr(err.msg, t[i].why) &&
				  strstr(err.msg, "layer sha256:test: entry 'etc'"),
			      "case %zu: %s", i, err.msg);
	}
	lc_test_rmtree(dir);
	free(dir);
}
END_TEST

/* ---- the FUSE server's answers (src/runtime/sqfuse.c), without a session */

static int list_names(void *u, const char *name, unsigned type)
{
	lc_buf_printf(u, "%s:%u ", name, type);
	return 0;
}

/* Lookups, reads across blocks and into the tail fragment, and listings in readdir calls too
 * small for more than one entry, as the kernel would ask; then what it is refused. */
START_TEST(fuse_server_answers)
{
	static mem_layer layers[1];
	char *dir = lc_test_tmpdir(), out[512], *big = malloc(300001), *got = malloc(300000);
	lc_error err = LC_ERROR_INIT;
	lc_sqfs_server *s = NULL;
	lc_buf names = LC_BUF_INIT;
	struct archive *a;
	struct stat st;
	uint64_t node, sub;
	size_t done = 0;
	ssize_t n;

	for (size_t i = 0; i < 300000; i++)
		big[i] = (char)('a' + (i * 7 + i / 4096) % 26);
	big[300000] = '\0';
	memset(layers, 0, sizeof(layers));
	a = tar_begin(&layers[0]);
	add(a, "big", S_IFREG | 0644, big, NULL, false);
	add(a, "d/", S_IFDIR | 0755, NULL, NULL, false);
	add(a, "d/small", S_IFREG | 0600, "small\n", NULL, false);
	add(a, "ln", S_IFLNK | 0777, NULL, "d/small", false);
	tar_end(a);
	snprintf(out, sizeof(out), "%s/img.sqsh", dir);
	ck_assert_msg(merge(layers, 1, out, &err) == 0, "%s", err.msg);
	ck_assert_msg(lc_sqfs_server_new(open(out, O_RDONLY | O_CLOEXEC), "img.sqsh", 1234, 5678,
					 &s, &err) == 0,
		      "%s", err.msg);
	ck_assert_int_eq(lc_sqfs_server_list(s, 1, 40, list_names, &names), 0);
	ck_assert_str_eq(names.data, ".:4 ..:4 big:8 d:4 ln:10 ");
	ck_assert_int_eq(lc_sqfs_server_lookup(s, 1, "big", &node, &st), 0);
	ck_assert_int_eq(st.st_size, 300000);
	ck_assert_int_eq(st.st_uid, 1234);
	ck_assert_int_eq(st.st_gid, 5678);
	while ((n = lc_sqfs_server_read(s, node, done, got + done, 70000)) > 0)
		done += (size_t)n;
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(done, 300000);
	ck_assert(memcmp(got, big, 300000) == 0);
	ck_assert_int_eq(lc_sqfs_server_read(s, node, 299990, got, 4096), 10);
	ck_assert(memcmp(got, big + 299990, 10) == 0);
	ck_assert_int_eq(lc_sqfs_server_lookup(s, node, "x", &sub, &st), -ENOTDIR);
	ck_assert_int_eq(lc_sqfs_server_lookup(s, 1, "d", &sub, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(lc_sqfs_server_read(s, sub, 0, got, 10), -EISDIR);
	ck_assert_int_eq(lc_sqfs_server_lookup(s, sub, "nope", &node, &st), -ENOENT);
	ck_assert_int_eq(lc_sqfs_server_lookup(s, sub, "small", &node, &st), 0);
	ck_assert_int_eq(lc_sqfs_server_read(s, node, 0, got, 100), 6);
	ck_assert(memcmp(got, "small\n", 6) == 0);
	lc_sqfs_server_forget(s, node, 1);
	ck_assert_int_eq(lc_sqfs_server_read(s, node, 0, got, 100), -ESTALE);
	lc_sqfs_server_free(s);
	lc_buf_free(&names);
	free(big);
	free(got);
	lc_test_rmtree(dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("squash");
	TCase *tc = tcase_create("squash");

	tcase_add_test(tc, media_types);
	tcase_add_test(tc, path_split);
	tcase_add_test(tc, children_sorted);
	tcase_add_test(tc, squash_options);
	tcase_add_test(tc, default_names);
	tcase_add_test(tc, merge_whiteouts_and_links);
	tcase_add_test(tc, merge_rejects_hostile);
	tcase_add_test(tc, image_budget_bounds_reads);
	tcase_add_test(tc, merge_links_to_lower_layers);
	tcase_add_test(tc, merge_refuses_paths_through_links);
	tcase_add_test(tc, fuse_server_answers);
	suite_add_tcase(s, tc);
	return lc_test_run(s);
}
