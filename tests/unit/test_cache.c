/* SPDX-License-Identifier: Apache-2.0 */
/* The node cache (src/cache) without Slurm: a real pull (an in-memory registry) fills an entry,
 * lookups, uses and records find it, a job's mark holds it, and the GC evicts what is free. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cache.h"
#include "lc-test.h"

#define BASE "https://reg.test/v2/app"
#define REF "reg.test/app:latest"

static struct {
	char *dir; /* the test's directory: BASE is dir/cache, the blobs dir/blobs */
	char base[4096], user[4200], blobs[4200];
	char layer[4096];
	size_t layer_len;
	char layer_digest[72], config_digest[72], manifest_digest[72];
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
	ck_assert_int_eq(archive_write_open_memory(a, F.layer, sizeof(F.layer), &used), ARCHIVE_OK);
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

static void setup(void)
{
	mem_route *r;

	memset(&F, 0, sizeof(F));
	F.dir = lc_test_tmpdir();
	snprintf(F.base, sizeof(F.base), "%s/cache", F.dir);
	snprintf(F.user, sizeof(F.user), "%s/%u", F.base, (unsigned)getuid());
	snprintf(F.blobs, sizeof(F.blobs), "%s/blobs", F.dir);
	ck_assert_int_eq(mkdir(F.base, 0755), 0);
	ck_assert_int_eq(mkdir(F.user, 0700), 0);
	make_layer();
	lc_sha256_digest(F.layer, F.layer_len, F.layer_digest);
	ck_assert_int_ge(asprintf(&F.config, "{\"architecture\":\"amd64\",\"os\":\"linux\","
					     "\"config\":{\"Env\":[\"PATH=/bin\"]}}"),
			 0);
	lc_sha256_digest(F.config, strlen(F.config), F.config_digest);
	ck_assert_int_ge(
	    asprintf(&F.manifest,
		     "{\"schemaVersion\":2,\"mediaType\":\"" LC_MT_OCI_MANIFEST "\","
		     "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
		     "\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":\"application/"
		     "vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%zu}]}",
		     F.config_digest, strlen(F.config), F.layer_digest, F.layer_len),
	    0);
	lc_sha256_digest(F.manifest, strlen(F.manifest), F.manifest_digest);
	snprintf(F.url_layer, sizeof(F.url_layer), BASE "/blobs/%s", F.layer_digest);
	snprintf(F.url_config, sizeof(F.url_config), BASE "/blobs/%s", F.config_digest);
	F.srv.routes = F.routes;
	r = &F.routes[F.srv.n_routes++];
	*r = (mem_route){.url = BASE "/manifests/latest",
			 .status = 200,
			 .headers = "Content-Type: " LC_MT_OCI_MANIFEST "\n",
			 .body = F.manifest};
	F.routes[F.srv.n_routes++] =
	    (mem_route){.url = F.url_config, .status = 200, .body = F.config};
	F.routes[F.srv.n_routes++] = (mem_route){
	    .url = F.url_layer, .status = 200, .body = F.layer, .body_len = F.layer_len};
	ck_assert_int_eq(lc_ctx_new(&F.ctx, NULL), 0);
}

static void teardown(void)
{
	lc_test_rmtree(F.dir);
	free(F.dir);
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
	tcase_add_test(tc, gc_evicts_what_is_free);
	suite_add_tcase(s, tc);
	return lc_test_run(s);
}
