/* SPDX-License-Identifier: Apache-2.0 */
/* User mount specs in pyxis syntax: a table of valid and of rejected inputs. */
#include <string.h>
#include <sys/mount.h>

#include "lc-test.h"
#include "runtime/runtime.h"

static const struct {
	const char *in;
	int kind;
	const char *source, *target;
	bool recursive;
	unsigned long flags, propagation;
} good[] = {
    {"/data", LC_MOUNT_BIND, "/data", "/data", true, 0, 0},
    {"/data:/mnt", LC_MOUNT_BIND, "/data", "/mnt", true, 0, 0},
    {"./rel:/mnt:ro", LC_MOUNT_BIND, "./rel", "/mnt", true, MS_RDONLY, 0},
    {"/a:/b:ro+nosuid+nodev+noexec", LC_MOUNT_BIND, "/a", "/b", true,
     MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 0},
    {"/a:/b:ro+rw", LC_MOUNT_BIND, "/a", "/b", true, 0, 0},
    {"/a:/b:bind+rslave", LC_MOUNT_BIND, "/a", "/b", false, 0, MS_SLAVE | MS_REC},
    {"/a:/b:private", LC_MOUNT_BIND, "/a", "/b", true, 0, MS_PRIVATE},
    {"tmpfs:/scratch", LC_MOUNT_TMPFS, NULL, "/scratch", true, 0, 0},
    {"umount:/home/alice", LC_MOUNT_UMOUNT, NULL, "/home/alice", true, 0, 0},
    {"/x y:/with space", LC_MOUNT_BIND, "/x y", "/with space", true, 0, 0},
    {"/a:./relative/target", LC_MOUNT_BIND, "/a", "./relative/target", true, 0, 0},
    {"/a:/b..c", LC_MOUNT_BIND, "/a", "/b..c", true, 0, 0},
};

/* a tmpfs's kernel options: kept in order, each value checked */
static const struct {
	const char *in, *data; /* NULL data: refused, naming the flag */
} tmpfs[] = {
    {"tmpfs:/x:size=1g", "size=1g"},
    {"tmpfs:/x:size=50%+mode=700", "size=50%,mode=700"},
    {"tmpfs:/x:huge=within_size", "huge=within_size"},
    {"tmpfs:/x:nr_inodes=10k+nr_blocks=100+uid=1000+gid=0",
     "nr_inodes=10k,nr_blocks=100,uid=1000,gid=0"},
    {"tmpfs:/x:ro+noswap+inode64", "noswap,inode64"},
    {"tmpfs:/x:mpol=interleave", "mpol=interleave"},
    {"tmpfs:/x:mpol=prefer=relative", "mpol=prefer=relative"},
    {"tmpfs:/x:size=1x", NULL},
    {"tmpfs:/x:size=", NULL},
    {"tmpfs:/x:size", NULL},
    {"tmpfs:/x:mode=800", NULL},
    {"tmpfs:/x:mode=17777", NULL},
    {"tmpfs:/x:uid=-1", NULL},
    {"tmpfs:/x:huge=sometimes", NULL},
    {"tmpfs:/x:noswap=1", NULL},
    {"tmpfs:/x:mpol=fast", NULL},
    {"tmpfs:/x:mpol=local=dynamic", NULL},
    {"tmpfs:/x:context=x", NULL},
    {"/a:/b:size=1g", NULL}, /* a bind mount has no such option */
};

START_TEST(tmpfs_options)
{
	lc_mount_spec *m = NULL;
	size_t n = 0;
	lc_error err = LC_ERROR_INIT;
	int r = lc_mount_specs_parse(tmpfs[_i].in, &m, &n, &err);

	if (!tmpfs[_i].data) {
		ck_assert_msg(r == -EINVAL && strstr(err.msg, "unknown mount flag '"), "%s: %s",
			      tmpfs[_i].in, err.msg);
		ck_assert_uint_eq(n, 0);
		return;
	}
	ck_assert_msg(r == 0, "%s: %s", tmpfs[_i].in, err.msg);
	ck_assert_str_eq(m[0].data, tmpfs[_i].data);
	lc_mount_specs_free(m, n);
}
END_TEST

START_TEST(mount_specs_valid)
{
	lc_mount_spec *m = NULL;
	size_t n = 0;
	lc_error err = LC_ERROR_INIT;

	ck_assert_msg(lc_mount_specs_parse(good[_i].in, &m, &n, &err) == 0, "%s: %s", good[_i].in,
		      err.msg);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(m[0].kind, good[_i].kind);
	if (good[_i].source)
		ck_assert_str_eq(m[0].source, good[_i].source);
	else
		ck_assert_ptr_null(m[0].source);
	ck_assert_str_eq(m[0].target, good[_i].target);
	ck_assert_int_eq(m[0].recursive, good[_i].recursive);
	ck_assert_uint_eq(m[0].flags, good[_i].flags);
	ck_assert_uint_eq(m[0].propagation, good[_i].propagation);
	lc_mount_specs_free(m, n);
}
END_TEST

static const struct {
	const char *in, *why;
} bad[] = {
    {"", "invalid format"},
    {":/b", "invalid format"},
    {"/a:", "invalid format"},
    {"/a:/b:", "invalid format"},
    {"/a:/b:ro:x", "invalid format"},
    {"data:/b", "mount source must be a relative path, an absolute path, \"tmpfs\" or \"umount\""},
    {"/a:b", "mount target must be a relative path or an absolute path"},
    {"/a:/../etc", "mount target may not contain '..' (Invalid cross-device link)"},
    {"/a:/x/..", "mount target may not contain '..' (Invalid cross-device link)"},
    {"/a:../x", "mount target may not contain '..' (Invalid cross-device link)"},
    {"/a:/b:ro+x-create=dir", "unknown mount flag 'x-create=dir'"},
    {"/a:/b:suid", "unknown mount flag 'suid'"},
    {"/a\n:/b", "control character"},
};

START_TEST(mount_specs_invalid)
{
	lc_mount_spec *m = NULL;
	size_t n = 0;
	lc_error err = LC_ERROR_INIT;

	ck_assert_int_eq(lc_mount_specs_parse(bad[_i].in, &m, &n, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, bad[_i].why), "'%s': '%s' lacks '%s'", bad[_i].in, err.msg,
		      bad[_i].why);
	ck_assert_ptr_null(strchr(err.msg, '\n'));
	lc_mount_specs_free(m, n);
}
END_TEST

START_TEST(mount_specs_list)
{
	lc_mount_spec *m = NULL;
	size_t n = 0;
	lc_error err = LC_ERROR_INIT;

	/* several entries, a duplicate kept once, appending to what is there */
	ck_assert_int_eq(lc_mount_specs_parse("/a:/b,tmpfs:/t,/a:/b", &m, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(lc_mount_specs_parse("/a:/b:ro,umount:/u", &m, &n, &err), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(m[2].flags, MS_RDONLY);
	ck_assert_int_eq(m[3].kind, LC_MOUNT_UMOUNT);
	lc_mount_specs_free(m, n);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mountspec");
	TCase *tc = tcase_create("mountspec");

	tcase_add_loop_test(tc, mount_specs_valid, 0, (int)LC_ELEMENTSOF(good));
	tcase_add_loop_test(tc, mount_specs_invalid, 0, (int)LC_ELEMENTSOF(bad));
	tcase_add_loop_test(tc, tmpfs_options, 0, (int)LC_ELEMENTSOF(tmpfs));
	tcase_add_test(tc, mount_specs_list);
	suite_add_tcase(s, tc);
	return lc_test_run(s);
}
