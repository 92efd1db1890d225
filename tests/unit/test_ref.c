/* SPDX-License-Identifier: Apache-2.0 */
/* Image reference parsing, as a table; hostile input included. */
#include <string.h>

#include "lc-test.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const struct {
	const char *in, *user, *registry, *repo, *tag, *digest, *canonical;
} good[] = {
    {"ubuntu", NULL, "registry-1.docker.io", "library/ubuntu", "latest", NULL,
     "registry-1.docker.io/library/ubuntu:latest"},
    {"ubuntu:22.04", NULL, "registry-1.docker.io", "library/ubuntu", "22.04", NULL, NULL},
    {"docker://ubuntu:22.04", NULL, "registry-1.docker.io", "library/ubuntu", "22.04", NULL, NULL},
    {"nvidia/cuda:12.4.0-base", NULL, "registry-1.docker.io", "nvidia/cuda", "12.4.0-base", NULL,
     NULL},
    {"nvcr.io#nvidia/pytorch:25.09-py3", NULL, "nvcr.io", "nvidia/pytorch", "25.09-py3", NULL,
     "nvcr.io/nvidia/pytorch:25.09-py3"},
    {"docker://alice@nvcr.io#nvidia/pytorch:25.09-py3", "alice", "nvcr.io", "nvidia/pytorch",
     "25.09-py3", NULL, NULL},
    {"$oauthtoken@nvcr.io#nvidia/cuda", "$oauthtoken", "nvcr.io", "nvidia/cuda", "latest", NULL,
     NULL},
    {"nvcr.io/nvidia/pytorch:25.09-py3", NULL, "nvcr.io", "nvidia/pytorch", "25.09-py3", NULL,
     NULL},
    {"127.0.0.1:5000/tiny", NULL, "127.0.0.1:5000", "tiny", "latest", NULL,
     "127.0.0.1:5000/tiny:latest"},
    {"127.0.0.1:5000#tiny:v2s2", NULL, "127.0.0.1:5000", "tiny", "v2s2", NULL, NULL},
    {"localhost/foo/bar", NULL, "localhost", "foo/bar", "latest", NULL, NULL},
    {"localhost:5000/foo", NULL, "localhost:5000", "foo", "latest", NULL, NULL},
    {"[::1]:5000/foo:1", NULL, "[::1]:5000", "foo", "1", NULL, NULL},
    {"docker.io/library/alpine:3.19", NULL, "registry-1.docker.io", "library/alpine", "3.19", NULL,
     NULL},
    {"index.docker.io/alpine", NULL, "registry-1.docker.io", "library/alpine", "latest", NULL,
     NULL},
    {"alpine@sha256:" D64, NULL, "registry-1.docker.io", "library/alpine", NULL, "sha256:" D64,
     "registry-1.docker.io/library/alpine@sha256:" D64},
    {"alpine:3.19@sha256:" D64, NULL, "registry-1.docker.io", "library/alpine", "3.19",
     "sha256:" D64, NULL},
    {"ghcr.io/a-b/c.d/e__f:T_a.g-1", NULL, "ghcr.io", "a-b/c.d/e__f", "T_a.g-1", NULL, NULL},
    {"quay.io/a---b/c", NULL, "quay.io", "a---b/c", "latest", NULL, NULL},
    {"myreg#team/app", NULL, "myreg", "team/app", "latest", NULL, "myreg#team/app:latest"},
    {"bob@ubuntu", "bob", "registry-1.docker.io", "library/ubuntu", "latest", NULL, NULL},
};

START_TEST(ref_parses_valid)
{
	lc_error err = LC_ERROR_INIT;
	lc_ref *ref = NULL;

	ck_assert_msg(lc_ref_parse(good[_i].in, &ref, &err) == 0, "%s: %s", good[_i].in, err.msg);
	ck_assert_int_eq(err.code, 0);
	if (good[_i].user)
		ck_assert_str_eq(lc_ref_user(ref), good[_i].user);
	else
		ck_assert_ptr_null(lc_ref_user(ref));
	ck_assert_str_eq(lc_ref_registry(ref), good[_i].registry);
	ck_assert_str_eq(lc_ref_repository(ref), good[_i].repo);
	if (good[_i].tag)
		ck_assert_str_eq(lc_ref_tag(ref), good[_i].tag);
	else
		ck_assert_ptr_null(lc_ref_tag(ref));
	if (good[_i].digest)
		ck_assert_str_eq(lc_ref_digest(ref), good[_i].digest);
	else
		ck_assert_ptr_null(lc_ref_digest(ref));
	if (good[_i].canonical)
		ck_assert_str_eq(lc_ref_string(ref), good[_i].canonical);
	lc_ref_free(ref);
}
END_TEST

static const struct {
	const char *in, *why;
} bad[] = {
    {"", "empty"},
    {"docker://", "empty"},
    {"Ubuntu", "lowercase"},
    {"nvcr.io#NVIDIA/pytorch", "lowercase"},
    {"ubuntu:", "bad tag"},
    {"ubuntu:-x", "bad tag"},
    {"ubuntu@sha256:abc", "bad digest"},
    {"ubuntu@sha256:" D64 "0", "bad digest"},
    {"ubuntu@sha256:"
     "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
     "bad digest"},
    {"ubuntu@sha512:" D64 D64, "only sha256"},
    {"../etc/passwd", "bad registry"},
    {"foo/../bar", "bad character"},
    {"foo//bar", "bad character"},
    {"/foo", "bad character"},
    {"foo/", "bad character"},
    {"foo bar", "space"},
    {"foo\nbar", "control"},
    {"foo\x7f", "control"},
    {"caf\xc3\xa9", "non-ASCII"},
    {"a#b#c", "more than one"},
    {"reg:99999#foo", "bad registry"},
    {"reg:0/foo", "bad registry"},
    {"-reg.io#foo", "bad registry"},
    {"reg.io:abc/foo", "bad registry"},
    {"[::1/foo", "bad registry"},
    {"foo;rm -rf /", "space"},
    {"foo$bar", "bad character"},
    {"a b@reg#x", "space"},
    {"us'er@reg#x", "bad user"},
    {"-a_", "bad character"},
};

START_TEST(ref_rejects_invalid)
{
	lc_error err = LC_ERROR_INIT;
	lc_ref *ref = NULL;

	ck_assert_int_eq(lc_ref_parse(bad[_i].in, &ref, &err), -LC_EREF);
	ck_assert_ptr_null(ref);
	ck_assert_int_eq(err.code, LC_EREF);
	ck_assert_int_eq(err.domain, LC_DOMAIN_REF);
	ck_assert_msg(strstr(err.msg, bad[_i].why), "'%s': message '%s' lacks '%s'", bad[_i].in,
		      err.msg, bad[_i].why);
	ck_assert_msg(strstr(err.msg, "invalid image reference '"), "%s", err.msg);
	ck_assert_ptr_null(strchr(err.msg, '\n'));
}
END_TEST

START_TEST(ref_rejects_overlong)
{
	char *big = malloc(5000);
	lc_error err = LC_ERROR_INIT;
	lc_ref *ref = NULL;

	memset(big, 'a', 4999);
	big[4999] = '\0';
	ck_assert_int_eq(lc_ref_parse(big, &ref, &err), -LC_EREF);
	ck_assert_ptr_nonnull(strstr(err.msg, "longer than 4096"));
	ck_assert_uint_lt(strlen(err.msg), sizeof(err.msg));
	/* a 256-character repository is too long even though the reference is short */
	memcpy(big, "reg.io/", 7);
	big[7 + 256] = '\0';
	ck_assert_int_eq(lc_ref_parse(big, &ref, &err), -LC_EREF);
	ck_assert_ptr_nonnull(strstr(err.msg, "longer than 255"));
	/* 250 characters on Docker Hub become "library/" + 250 (found by fuzz_ref) */
	memset(big, 'a', 250);
	big[250] = '\0';
	ck_assert_int_eq(lc_ref_parse(big, &ref, &err), -LC_EREF);
	ck_assert_ptr_nonnull(strstr(err.msg, "longer than 255"));
	free(big);
}
END_TEST

START_TEST(ref_null_arguments)
{
	lc_ref *ref = NULL;

	ck_assert_int_eq(lc_ref_parse(NULL, &ref, NULL), -EINVAL);
	ck_assert_int_eq(lc_ref_parse("x", NULL, NULL), -EINVAL);
	ck_assert_ptr_null(lc_ref_free(NULL));
	ck_assert_ptr_null(lc_ref_registry(NULL));
}
END_TEST

START_TEST(ref_host_without_port)
{
	char *h = lc_ref_host_without_port("127.0.0.1:5000");
	ck_assert_str_eq(h, "127.0.0.1");
	free(h);
	h = lc_ref_host_without_port("[::1]:5000");
	ck_assert_str_eq(h, "::1");
	free(h);
	h = lc_ref_host_without_port("nvcr.io");
	ck_assert_str_eq(h, "nvcr.io");
	free(h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ref");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, ref_parses_valid, 0, (int)LC_ELEMENTSOF(good));
	tcase_add_loop_test(tc, ref_rejects_invalid, 0, (int)LC_ELEMENTSOF(bad));
	tcase_add_test(tc, ref_rejects_overlong);
	tcase_add_test(tc, ref_null_arguments);
	tcase_add_test(tc, ref_host_without_port);
	suite_add_tcase(s, tc);
	return lc_test_run(s);
}
