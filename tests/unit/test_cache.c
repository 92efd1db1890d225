/* SPDX-License-Identifier: Apache-2.0 */
/* The node cache (src/cache) without Slurm: a real pull (an in-memory registry) fills an entry,
 * lookups, uses and records find it, a job's mark holds it, and the GC evicts what is free. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "cache/cache.h"
#include "lc-test.h"

#define BASE "https://reg.test/v2/app"
#define REF "reg.test/app:latest"

static struct {
	char *dir; /* the test's directory: BASE is dir/cache, the blobs dir/blobs */
	char base[4096], user[4200], blobs[4200];
	char *layer;
	size_t layer_len, layer_cap;
	bool gzip; /* serve the layer gzip-compressed (gz) rather than as a plain tar */
	char *gz;  /* F.layer, gzipped */
	size_t gz_len;
	char layer_digest[72], diff_id[72], config_digest[72], manifest_digest[72];
	char *config, *manifest;
	char url_layer[256], url_config[256];
	mem_route routes[8];
	mem_server srv;
	lc_ctx *ctx;
} F;

/* One tar layer holding /hello. */
static void make_layer(void)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	size_t used = 0;

	archive_write_set_format_pax_restricted(a);
	F.layer_cap = 32u << 20; /* room for what a test appends after the tar */
	F.layer = calloc(1, F.layer_cap);
	ck_assert_int_eq(archive_write_open_memory(a, F.layer, 4096, &used), ARCHIVE_OK);
	archive_entry_set_pathname(e, "hello");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 6);
	ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_data(a, "hello\n", 6), 6);
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(e);
	F.layer_len = used;
}

/* F.layer, gzipped into F.gz. */
static void gzip_layer(void)
{
	z_stream z = {0};

	free(F.gz);
	F.gz = malloc(F.layer_len + 4096);
	ck_assert_int_eq(deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
			 Z_OK);
	z.next_in = (Bytef *)F.layer;
	z.avail_in = (uInt)F.layer_len;
	z.next_out = (Bytef *)F.gz;
	z.avail_out = (uInt)(F.layer_len + 4096);
	ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	F.gz_len = z.total_out;
	deflateEnd(&z);
}

/* Serve the layer (F.layer; gzipped with F.gzip) with a config whose rootfs is @rootfs (JSON;
 * NULL: F.layer's own digest as its one diff_id). */
static void publish(const char *rootfs)
{
	char own[160];
	const char *blob = F.layer;
	size_t blob_len = F.layer_len;
	mem_route *r;

	free(F.config);
	free(F.manifest);
	if (F.gzip) {
		gzip_layer();
		blob = F.gz;
		blob_len = F.gz_len;
	}
	lc_sha256_digest(F.layer, F.layer_len, F.diff_id);
	lc_sha256_digest(blob, blob_len, F.layer_digest);
	snprintf(own, sizeof(own), "{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}", F.diff_id);
	ck_assert_int_ge(asprintf(&F.config,
				  "{\"architecture\":\"amd64\",\"os\":\"linux\","
				  "\"config\":{\"Env\":[\"PATH=/bin\"]},\"rootfs\":%s}",
				  rootfs ? rootfs : own),
			 0);
	lc_sha256_digest(F.config, strlen(F.config), F.config_digest);
	ck_assert_int_ge(
	    asprintf(&F.manifest,
		     "{\"schemaVersion\":2,\"mediaType\":\"" LC_MT_OCI_MANIFEST "\","
		     "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
		     "\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":\"application/"
		     "vnd.oci.image.layer.v1.tar%s\",\"digest\":\"%s\",\"size\":%zu}]}",
		     F.config_digest, strlen(F.config), F.gzip ? "+gzip" : "", F.layer_digest,
		     blob_len),
	    0);
	lc_sha256_digest(F.manifest, strlen(F.manifest), F.manifest_digest);
	snprintf(F.url_layer, sizeof(F.url_layer), BASE "/blobs/%s", F.layer_digest);
	snprintf(F.url_config, sizeof(F.url_config), BASE "/blobs/%s", F.config_digest);
	F.srv.routes = F.routes;
	F.srv.n_routes = 0;
	r = &F.routes[F.srv.n_routes++];
	*r = (mem_route){.url = BASE "/manifests/latest",
			 .status = 200,
			 .headers = "Content-Type: " LC_MT_OCI_MANIFEST "\n",
			 .body = F.manifest};
	F.routes[F.srv.n_routes++] =
	    (mem_route){.url = F.url_config, .status = 200, .body = F.config};
	F.routes[F.srv.n_routes++] =
	    (mem_route){.url = F.url_layer, .status = 200, .body = blob, .body_len = blob_len};
}

static void setup(void)
{
	memset(&F, 0, sizeof(F));
	F.dir = lc_test_tmpdir();
	snprintf(F.base, sizeof(F.base), "%s/cache", F.dir);
	snprintf(F.user, sizeof(F.user), "%s/%u", F.base, (unsigned)getuid());
	snprintf(F.blobs, sizeof(F.blobs), "%s/blobs", F.dir);
	ck_assert_int_eq(mkdir(F.base, 0755), 0);
	ck_assert_int_eq(mkdir(F.user, 0700), 0);
	make_layer();
	publish(NULL);
	ck_assert_int_eq(lc_ctx_new(&F.ctx, NULL), 0);
}

static void teardown(void)
{
	lc_test_rmtree(F.dir);
	free(F.dir);
	free(F.layer);
	free(F.gz);
	free(F.config);
	free(F.manifest);
	lc_ctx_free(F.ctx);
}

static lc_pull *new_pull(void)
{
	lc_pull_opts o = LC_PULL_OPTS_INIT;
	lc_pull *p = NULL;
	lc_error err = LC_ERROR_INIT;

	o.cache_dir = F.blobs;
	o.architecture = "amd64";
	ck_assert_msg(lc_pull_new_transport(F.ctx, REF, &o, mem_transport_new(&F.srv), &p, &err) ==
			  0,
		      "%s", err.msg);
	return p;
}

static int find_hello(void *u, const lc_squash_entry *e)
{
	if (!strcmp(e->path, "/hello") && e->size == 6)
		*(bool *)u = true;
	return 0;
}

START_TEST(fill_lookup_use_remember)
{
	lc_pull *p = new_pull();
	lc_import_stats stats;
	lc_error err = LC_ERROR_INIT;
	char *path = NULL, *again = NULL, *recalled = NULL, want[4400];
	struct stat before, after;
	bool hello = false;
	int lock = -1, other;

	ck_assert_int_eq(lc_cache_lookup(F.user, lc_pull_image(p), getuid(), &path, &err), 0);
	ck_assert_ptr_null(path); /* a miss */
	ck_assert_int_eq(lc_cache_fill(p, F.user, getuid(), NULL, &stats, &path, &err), 0);
	ck_assert_uint_gt(stats.image_bytes, 0); /* this call imported */
	/* pyxis_cache_u<uid>_<32 hex of sha256(registry/repository@digest)>/image.sqsh */
	ck_assert_int_lt(snprintf(want, sizeof(want), "%s/" LC_CACHE_ENTRY_PREFIX "u%u_", F.user,
				  (unsigned)getuid()),
			 (int)sizeof(want));
	ck_assert_msg(!strncmp(path, want, strlen(want)) &&
			  strlen(path) == strlen(want) + 32 + strlen("/image.sqsh") &&
			  !strcmp(path + strlen(path) - 11, "/image.sqsh"),
		      "%s", path);
	ck_assert_int_eq(lc_squash_list(path, find_hello, &hello, &err), 0);
	ck_assert(hello);
	ck_assert_int_eq(lc_cache_lookup(F.user, lc_pull_image(p), getuid(), &again, &err), 0);
	ck_assert_str_eq(again, path);
	free(again);
	ck_assert_int_eq(lc_cache_fill(p, F.user, getuid(), NULL, &stats, &again, &err), 0);
	ck_assert_uint_eq(stats.image_bytes, 0); /* there already: nothing imported */
	ck_assert_str_eq(again, path);
	free(again);
	/* another user's uid names another entry */
	ck_assert_int_eq(lc_cache_lookup(F.user, lc_pull_image(p), getuid() + 1, &again, &err), 0);
	ck_assert_ptr_null(again);
	/* use: a shared lock, and a touch (the entry's mtime is its last use) */
	{
		char entry[4400];

		snprintf(entry, sizeof(entry), "%.*s", (int)(strrchr(path, '/') - path), path);
		ck_assert_int_eq(stat(entry, &before), 0);
		sleep(1);
		ck_assert_int_eq(lc_cache_use(path, (uid_t)-1, (gid_t)-1, &lock, &err), 0);
		ck_assert_int_eq(stat(entry, &after), 0);
		ck_assert_int_gt(after.st_mtime, before.st_mtime);
		strcat(entry, "/" LC_CACHE_LOCK);
		other = open(entry, O_RDWR | O_CLOEXEC);
		ck_assert_int_lt(flock(other, LOCK_EX | LOCK_NB), 0); /* held shared */
		ck_assert_int_eq(flock(other, LOCK_SH | LOCK_NB), 0);
		close(other);
	}
	close(lock);
	/* records: what the reference resolved to, for the registry's absence */
	ck_assert_int_eq(lc_cache_remember(F.user, REF, lc_pull_image(p), getuid(), &err), 0);
	ck_assert_int_eq(lc_cache_recall(F.user, REF, &recalled, &err), 0);
	ck_assert_str_eq(recalled, path);
	free(recalled);
	ck_assert_int_eq(lc_cache_recall(F.user, "reg.test/other:1", &recalled, &err), 0);
	ck_assert_ptr_null(recalled);
	/* not an entry: no lock file there */
	ck_assert_int_lt(lc_cache_use("/etc/passwd", (uid_t)-1, (gid_t)-1, &lock, &err), 0);
	free(path);
	lc_pull_free(p);
}
END_TEST

/* A fake entry NAME (any name after the user's prefix) of the user, last used @age s ago. */
static void fake_entry(const char *name, int age)
{
	char entry[4400], file[4500];
	struct timespec t[2];
	int fd;

	snprintf(entry, sizeof(entry), "%s/" LC_CACHE_ENTRY_PREFIX "u%u_%s", F.user,
		 (unsigned)getuid(), name);
	ck_assert_int_eq(mkdir(entry, 0755), 0);
	snprintf(file, sizeof(file), "%s/" LC_CACHE_LOCK, entry);
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	close(fd);
	snprintf(file, sizeof(file), "%s/" LC_CACHE_IMAGE, entry);
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	close(fd);
	clock_gettime(CLOCK_REALTIME, &t[0]);
	t[0].tv_sec -= age;
	t[1] = t[0];
	ck_assert_int_eq(utimensat(AT_FDCWD, entry, t, 0), 0);
}

static bool entry_exists(const char *name)
{
	char entry[4400];

	snprintf(entry, sizeof(entry), "%s/" LC_CACHE_ENTRY_PREFIX "u%u_%s", F.user,
		 (unsigned)getuid(), name);
	return access(entry, F_OK) == 0;
}

/* lc_import(@p) into a new file of the test's directory; its result, the message in @err. */
static int import_into(const char *name, uint32_t flags, lc_error *err)
{
	lc_import_opts io = LC_IMPORT_OPTS_INIT;
	char out[4400];
	lc_pull *p = new_pull();
	int r;

	io.flags = flags;
	snprintf(out, sizeof(out), "%s/%s.sqsh", F.dir, name);
	r = lc_import(p, out, &io, NULL, err);
	ck_assert_int_eq(access(out, F_OK) == 0, r == 0); /* nothing left when it fails */
	lc_pull_free(p);
	return r;
}

/* A layer whose content is not its diff_id is refused, naming both. */
static void expect_diff_id_refused(const char *name, const char *layer_is)
{
	lc_error err = LC_ERROR_INIT;

	ck_assert_int_eq(import_into(name, 0, &err), -LC_EMANIFEST);
	ck_assert_msg(strstr(err.msg, "its content is not what the image config says "
				      "(rootfs.diff_ids[0] is sha256:0000") &&
			  strstr(err.msg, F.layer_digest) == err.msg + strlen("layer ") &&
			  strstr(err.msg, layer_is),
		      "%s", err.msg);
}

/* Every layer's uncompressed stream is the image config's diff_id, and there is one per layer,
 * as containerd checks; what follows the tar counts too. A gzip layer is hashed on a thread of
 * its own; a plain tar's digest is its diff_id, compared without hashing it again. */
START_TEST(import_checks_diff_ids)
{
	lc_error err = LC_ERROR_INIT;
	char other[256], name[32];

	for (int gz = 0; gz < 2; gz++) {
		F.gzip = gz;
		publish(NULL);
		snprintf(name, sizeof(name), "right%d", gz);
		ck_assert_msg(import_into(name, 0, &err) == 0, "%s", err.msg);
		snprintf(other, sizeof(other), "{\"diff_ids\":[\"sha256:%064d\"]}", 0);
		publish(other);
		snprintf(name, sizeof(name), "wrong%d", gz);
		expect_diff_id_refused(name, F.diff_id);
		snprintf(name, sizeof(name), "unchecked%d", gz);
		ck_assert_msg(import_into(name, LC_IMPORT_NO_DIFF_IDS, &err) == 0, "%s", err.msg);
	}
	/* a config naming the compressed blob's digest, a known mistake of image builders */
	snprintf(other, sizeof(other), "{\"diff_ids\":[\"%s\"]}", F.layer_digest);
	publish(other);
	ck_assert_int_eq(import_into("compressed", 0, &err), -LC_EMANIFEST);
	ck_assert_msg(strstr(err.msg, "the layer's is ") && strstr(err.msg, F.diff_id), "%s",
		      err.msg);
	F.gzip = false;
	publish("{\"type\":\"layers\"}");
	ck_assert_int_eq(import_into("none", 0, &err), -LC_EMANIFEST);
	ck_assert_str_eq(err.msg, "image config: rootfs.diff_ids names 0 layers, the manifest 1");
	snprintf(other, sizeof(other), "{\"diff_ids\":[\"%s\",\"%s\"]}", F.layer_digest,
		 F.layer_digest);
	publish(other);
	ck_assert_int_eq(import_into("two", 0, &err), -LC_EMANIFEST);
	ck_assert_str_eq(err.msg, "image config: rootfs.diff_ids names 2 layers, the manifest 1");
	publish("{\"diff_ids\":[\"md5:x\"]}");
	{
		lc_pull_opts o = LC_PULL_OPTS_INIT;
		lc_pull *p = NULL;

		o.cache_dir = F.blobs;
		ck_assert_int_eq(
		    lc_pull_new_transport(F.ctx, REF, &o, mem_transport_new(&F.srv), &p, &err),
		    -LC_EMANIFEST);
		ck_assert_str_eq(err.msg,
				 "image config: rootfs.diff_ids[0] is not a sha256 digest");
	}
	/* padding after the tar's end is part of the layer: hashed (a plain tar: its digest) */
	F.layer_len += 3000;
	for (int gz = 0; gz < 2; gz++) {
		F.gzip = gz;
		publish(NULL);
		snprintf(name, sizeof(name), "padded%d", gz);
		ck_assert_msg(import_into(name, 0, &err) == 0, "%s", err.msg);
	}
	/* more than 16 MiB of it inflated is refused rather than read on; a plain tar's is read
	 * anyway, to check the blob's digest */
	F.layer_len += 17u << 20;
	publish(NULL);
	ck_assert_int_eq(import_into("trailing", 0, &err), -LC_EMANIFEST);
	ck_assert_msg(strstr(err.msg, ": layer: more than 16 MiB after the end of its tar"), "%s",
		      err.msg);
	F.gzip = false;
	publish(NULL);
	ck_assert_msg(import_into("trailing-plain", 0, &err) == 0, "%s", err.msg);
}
END_TEST

/* The holder of a fill: tells the parent when it converts, then takes its time. */
static void slow_holder(void *u, const lc_import_progress *p)
{
	if (p->phase == LC_IMPORT_CONVERTING) {
		ck_assert_int_eq(write(*(int *)u, "c", 1), 1);
		usleep(2500 * 1000);
	}
}

typedef struct waited {
	int reports;
	char holder[64];
	size_t layer_count;
	uint64_t waited_ms;
} waited;

static void waiter(void *u, const lc_import_progress *p)
{
	waited *w = u;

	ck_assert_int_eq(p->phase, LC_IMPORT_WAITING); /* it never imports itself */
	w->reports++;
	snprintf(w->holder, sizeof(w->holder), "%s", p->holder);
	w->layer_count = p->layer_count;
	w->waited_ms = p->waited_ms;
}

/* The fill lock file's size (its holder's line; 0 once nobody holds it). */
static off_t fill_lock_size(void)
{
	DIR *d = opendir(F.user);
	struct dirent *e;
	off_t size = -1;

	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, LC_CACHE_FILL_PREFIX, strlen(LC_CACHE_FILL_PREFIX))) {
			struct stat st;

			ck_assert_int_eq(fstatat(dirfd(d), e->d_name, &st, 0), 0);
			size = st.st_size;
		}
	closedir(d);
	return size;
}

/* A second fill of the entry waits for the first and hears, once a second, who holds it and how
 * far it got (LC_IMPORT_WAITING, opts version 3); then it uses the first one's entry. */
START_TEST(fill_waiter_hears_the_holder)
{
	lc_import_opts io = LC_IMPORT_OPTS_INIT;
	lc_import_stats stats;
	lc_error err = LC_ERROR_INIT;
	waited w = {0};
	char host[64] = "", c;
	char *path = NULL;
	int ready[2], status;
	pid_t holder;
	lc_pull *p;

	ck_assert_int_eq(pipe(ready), 0);
	holder = fork();
	if (holder == 0) {
		lc_import_opts slow = LC_IMPORT_OPTS_INIT;

		slow.progress = slow_holder;
		slow.progress_userdata = &ready[1];
		_exit(lc_cache_fill(new_pull(), F.user, getuid(), &slow, NULL, &path, NULL) == 0
			  ? 0
			  : 1);
	}
	close(ready[1]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1); /* the holder converts */
	ck_assert_int_eq(fill_lock_size(), 128);
	io.progress = waiter;
	io.progress_userdata = &w;
	p = new_pull();
	ck_assert_msg(lc_cache_fill(p, F.user, getuid(), &io, &stats, &path, &err) == 0, "%s",
		      err.msg);
	ck_assert_int_eq(waitpid(holder, &status, 0), holder);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_uint_eq(stats.image_bytes, 0); /* the holder's entry */
	ck_assert_int_ge(w.reports, 1);
	gethostname(host, sizeof(host));
	ck_assert_str_eq(w.holder, host);
	ck_assert_uint_eq(w.layer_count, 1);
	ck_assert_uint_ge(w.waited_ms, 1000); /* a report a second, the last after one */
	ck_assert_int_eq(fill_lock_size(), 0);
	free(path);
	close(ready[0]);
	lc_pull_free(p);
}
END_TEST

START_TEST(gc_evicts_what_is_free)
{
	lc_cache_gc_result res;
	lc_error err = LC_ERROR_INIT;
	char image[4400], dead[4400];
	int lock = -1;

	fake_entry("old", 3000);
	fake_entry("used", 4000);
	fake_entry("held", 5000);
	snprintf(image, sizeof(image), "%s/" LC_CACHE_ENTRY_PREFIX "u%u_used/" LC_CACHE_IMAGE,
		 F.user, (unsigned)getuid());
	ck_assert_int_eq(lc_cache_use(image, (uid_t)-1, (gid_t)-1, &lock, &err), 0);
	if (geteuid() == 0) { /* a job's mark holds "held" between its steps */
		snprintf(image, sizeof(image),
			 "%s/" LC_CACHE_ENTRY_PREFIX "u%u_held/" LC_CACHE_IMAGE, F.user,
			 (unsigned)getuid());
		ck_assert_int_eq(lc_cache_job_hold(F.base, 42, image, getuid(), &err), 0);
		/* only the user's own entries are marked for their jobs */
		ck_assert_int_eq(lc_cache_job_hold(F.base, 42, image, getuid() + 1, &err), -EINVAL);
	}
	snprintf(dead, sizeof(dead), "%s/" LC_CACHE_TMP_PREFIX "0123.abcdef", F.user);
	ck_assert_int_eq(mkdir(dead, 0700), 0);
	/* high 1%, low 0%: everything that may go goes */
	ck_assert_int_eq(lc_cache_gc(F.base, 1, 0, &res, &err), 0);
	ck_assert(res.ran && !res.concurrent);
	ck_assert(!entry_exists("old"));
	ck_assert(entry_exists("used")); /* its lock is held */
	if (geteuid() == 0) {
		ck_assert(entry_exists("held"));
		ck_assert_uint_eq(res.busy, 2);
		ck_assert_uint_eq(res.evicted, 1);
		/* the job's end lets it go */
		ck_assert_int_eq(lc_cache_job_done(F.base, 42, &err), 0);
		ck_assert_int_eq(lc_cache_gc(F.base, 1, 0, &res, &err), 0);
		ck_assert(!entry_exists("held"));
	}
	ck_assert_int_ne(access(dead, F_OK), 0); /* a dead fill is removed */
	close(lock);
	ck_assert_int_eq(lc_cache_gc(F.base, 1, 0, &res, &err), 0);
	ck_assert(!entry_exists("used"));                                 /* free now */
	ck_assert_int_eq(lc_cache_gc(F.base, 1, 1, &res, &err), -EINVAL); /* bad watermarks */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cache");
	TCase *tc = tcase_create("cache");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fill_lookup_use_remember);
	tcase_add_test(tc, fill_waiter_hears_the_holder);
	tcase_add_test(tc, import_checks_diff_ids);
	tcase_add_test(tc, gc_evicts_what_is_free);
	suite_add_tcase(s, tc);
	return lc_test_run(s);
}
