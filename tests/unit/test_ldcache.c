/* SPDX-License-Identifier: Apache-2.0 */
/* The library cache written natively (src/runtime/ldcache.c) against the host's ldconfig: an
 * image's cache read and written back lists the same (glibc's new format and the compat one of
 * glibc < 2.32); libraries added rank first, exactly where ldconfig puts a directory searched
 * first; ELF sonames and flags as ldconfig reads them; broken caches and files refused. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lc-test.h"
#include "runtime/runtime.h"

#define LIBS "/lib/x86_64-linux-gnu"
/* a spread of names for _dl_cache_libcmp: digits, dashes, prefixes of each other */
#define SOME_LIBS                                                                               \
	"libz.so* libm.so* libbz2.so* liblzma.so* libpcre2-8.so* libpthread.so* libcap.so* "    \
	"libacl.so* libattr.so* libgmp.so* libffi.so* libexpat.so* libcrypt.so* libdl.so* "     \
	"libjansson.so* libncursesw.so* libreadline.so* libcurl.so* libblkid.so* libmount.so* " \
	"libc.so.6"

/* names that sort differently by numbers than by characters */
#define NUMBERED "libv.so.9 libv.so.10 libv2.so.1 libv10.so.1 libv-2.so.0 libv-10.so.0 libva.so.1"

static char *tmp;

static void setup(void)
{
	tmp = lc_test_tmpdir();
}

static void teardown(void)
{
	lc_test_rmtree(tmp);
	free(tmp);
}

static int sh(const char *fmt, const char *arg)
{
	char cmd[PATH_MAX * 2 + 1024];

	snprintf(cmd, sizeof(cmd), fmt, arg, arg, arg, arg);
	return system(cmd);
}

static char *slurp(const char *path, size_t *len)
{
	char *data = NULL;

	ck_assert_int_eq(lc_file_read_all(path, 64u << 20, &data, len, NULL), 0);
	return data;
}

/* What `ldconfig -p` lists of the cache @path, without its summary lines. */
static char *listing(const char *path)
{
	char cmd[PATH_MAX + 64], line[1024];
	lc_buf b = LC_BUF_INIT;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ldconfig -p -C '%s'", path);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (line[0] == '\t')
			ck_assert_int_eq(lc_buf_append(&b, line, strlen(line)), 0);
	ck_assert_int_eq(pclose(f), 0);
	ck_assert_uint_gt(b.len, 0);
	return lc_buf_steal(&b);
}

/* An image in @tmp/img: some of the host's libraries and ldconfig's cache of them (@format). */
static void make_image(const char *format)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "set -e; cd '%s'; mkdir -p img/etc img" LIBS " img/usr" LIBS "; cd " LIBS
		 "; cp -a " SOME_LIBS " '%s/img" LIBS "/'; cd '%s';"
		 " printf '" LIBS "\\n/usr" LIBS "\\n' > img/etc/ld.so.conf; : > e.c;"
		 " for n in " NUMBERED "; do gcc -shared -o img" LIBS
		 "/$n -Wl,-soname,$n e.c; done;"
		 " ldconfig -c %s -r img",
		 tmp, tmp, tmp, format);
	ck_assert_int_eq(system(cmd), 0);
}

/* The listings agree; else the first line that differs (whole ones overflow Check). */
static void same_listing(const char *got, const char *want)
{
	size_t line = 1, i = 0;

	while (got[i] && got[i] == want[i])
		line += got[i++] == '\n';
	if (got[i] || want[i]) {
		while (i > 0 && got[i - 1] != '\n')
			i--;
		ck_abort_msg("line %zu: got '%.80s', want '%.80s'", line, got + i, want + i);
	}
}

static void write_file(const char *path, const char *data, size_t len)
{
	ck_assert_int_eq(lc_file_replace_at(AT_FDCWD, path, data, len, 0644), 0);
}

static void round_trip(const char *format)
{
	char in[PATH_MAX], out[PATH_MAX], *data, *cache;
	_cleanup_free_ char *a = NULL, *b = NULL;
	lc_ldcache *c = NULL;
	size_t len, cache_len;

	make_image(format);
	snprintf(in, sizeof(in), "%s/img/etc/ld.so.cache", tmp);
	snprintf(out, sizeof(out), "%s/native.cache", tmp);
	data = slurp(in, &len);
	ck_assert_int_eq(lc_ldcache_parse(data, len, &c), 0);
	ck_assert_int_eq(lc_ldcache_write(c, &cache, &cache_len), 0);
	write_file(out, cache, cache_len);
	a = listing(in);
	b = listing(out);
	same_listing(b, a);
	ck_assert_ptr_nonnull(strstr(a, "libpcre2-8.so.0 (libc6,x86-64) => " LIBS));
	lc_ldcache_free(c);
	free(cache);
	free(data);
}

START_TEST(test_round_trip_new)
{
	round_trip("new");
}
END_TEST

START_TEST(test_round_trip_compat)
{
	round_trip("compat");
}
END_TEST

/* A driver's libraries added: the same as ldconfig with their directory searched first. */
START_TEST(test_added_first)
{
	const char *drv[] = {"libz.so.1.2.13", "libcap.so.2.66", "libjansson.so.4.14.0"};
	char path[PATH_MAX], *data, *cache;
	_cleanup_free_ char *want = NULL, *got = NULL;
	lc_ldcache *c = NULL;
	size_t len, cache_len;

	make_image("new");
	snprintf(path, sizeof(path), "%s/img/etc/ld.so.cache", tmp);
	data = slurp(path, &len);
	ck_assert_int_eq(lc_ldcache_parse(data, len, &c), 0);
	for (size_t i = 0; i < 3; i++) {
		_cleanup_free_ char *soname = NULL;
		_cleanup_close_ int fd = -1;
		int32_t flags = 0;

		snprintf(path, sizeof(path), "%s/img/usr" LIBS "/%s", tmp, drv[i]);
		ck_assert_int_eq(sh("cp -L " LIBS "/$(basename %s) %s", path), 0);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(lc_elf_library(fd, &soname, &flags), 0);
		ck_assert_int_eq(flags, 0x0303);
		snprintf(path, sizeof(path), "/usr" LIBS "/%s", soname);
		ck_assert_int_eq(lc_ldcache_add(c, flags, soname, path), 0);
	}
	ck_assert_int_eq(lc_ldcache_write(c, &cache, &cache_len), 0);
	snprintf(path, sizeof(path), "%s/native.cache", tmp);
	write_file(path, cache, cache_len);
	got = listing(path);
	/* ldconfig, the driver's directory first */
	ck_assert_int_eq(sh("cd %s && printf '/usr" LIBS "\\n" LIBS "\\n' > img/etc/ld.so.conf && "
			    "ldconfig -r img",
			    tmp),
			 0);
	snprintf(path, sizeof(path), "%s/img/etc/ld.so.cache", tmp);
	want = listing(path);
	same_listing(got, want);
	ck_assert_ptr_nonnull(strstr(got, "\tlibz.so.1 (libc6,x86-64) => /usr" LIBS "/libz.so.1\n"
					  "\tlibz.so.1 (libc6,x86-64) => " LIBS "/libz.so.1\n"));
	lc_ldcache_free(c);
	free(cache);
	free(data);
}
END_TEST

START_TEST(test_bad_caches)
{
	char path[PATH_MAX], *data;
	lc_ldcache *c = NULL;
	size_t len;

	ck_assert_int_eq(lc_ldcache_parse("", 0, &c), -EINVAL);
	ck_assert_int_eq(lc_ldcache_parse("glibc-ld.so.cache1.1", 20, &c), -EINVAL);
	ck_assert_int_eq(lc_ldcache_parse("ld.so-1.7.0\0\xff\xff\xff\x0f", 16, &c), -EINVAL);
	make_image("new");
	snprintf(path, sizeof(path), "%s/img/etc/ld.so.cache", tmp);
	data = slurp(path, &len);
	/* cut in the entries: refused; in the strings: refused or read, never past the end */
	for (size_t cut = 0; cut < len - 1; cut += 7) {
		int r = lc_ldcache_parse(data, cut, &c);

		c = lc_ldcache_free(c);
		if (cut < 48 + 24 * (size_t)(unsigned char)data[20])
			ck_assert_int_eq(r, -EINVAL);
	}
	/* more entries than there is room for */
	data[23] = 0x7f;
	ck_assert_int_eq(lc_ldcache_parse(data, len, &c), -EINVAL);
	data[23] = 0;
	/* a string out of the file */
	memcpy(data + 48 + 4, "\xff\xff\xff\x00", 4);
	ck_assert_int_eq(lc_ldcache_parse(data, len, &c), -EINVAL);
	/* an entry of a glibc-hwcaps subdirectory */
	data[48 + 16 + 7] = 0x40;
	memcpy(data + 48 + 4, data + 48 + 24 + 4, 4);
	ck_assert_int_eq(lc_ldcache_parse(data, len, &c), -ENOTSUP);
	/* the other byte order */
	data[28] = 3;
	ck_assert_int_eq(lc_ldcache_parse(data, len, &c), -EINVAL);
	ck_assert_ptr_null(c);
	free(data);
}
END_TEST

START_TEST(test_elf)
{
	char path[PATH_MAX];
	_cleanup_free_ char *soname = NULL;
	_cleanup_close_ int fd = -1;
	int32_t flags;
	struct stat st;

	fd = open(LIBS "/libc.so.6", O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(lc_elf_library(fd, &soname, &flags), 0);
	ck_assert_str_eq(soname, "libc.so.6");
	ck_assert_int_eq(flags, 0x0303);
	lc_closep(&fd);
	free(soname);
	/* not a library: a script, a truncated one */
	snprintf(path, sizeof(path), "%s/script", tmp);
	write_file(path, "#!/bin/sh\n", 10);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(lc_elf_library(fd, &soname, &flags), -ENOEXEC);
	lc_closep(&fd);
	ck_assert_int_eq(stat(LIBS "/libc.so.6", &st), 0);
	snprintf(path, sizeof(path), "%s/cut.so", tmp);
	ck_assert_int_eq(sh("head -c 1000 " LIBS "/libc.so.6 > %s", path), 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(lc_elf_library(fd, &soname, &flags), -ENOEXEC);
	ck_assert_ptr_null(soname);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ldcache");
	TCase *tc = tcase_create("ldcache");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip_new);
	tcase_add_test(tc, test_round_trip_compat);
	tcase_add_test(tc, test_added_first);
	tcase_add_test(tc, test_bad_caches);
	tcase_add_test(tc, test_elf);
	suite_add_tcase(s, tc);
	return lc_test_run(s);
}
