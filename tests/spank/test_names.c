/* SPDX-License-Identifier: Apache-2.0 */
/* The plugin's pure string helpers (src/spank/names.c), against the SPANK stub. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libcontainer/libcontainer.h>

#include "spank-stub.h"
#include "spank/plugin.h"

START_TEST(helper_env_denylist)
{
	static const char *const denied[] = {
	    "PATH=/x",         "LD_PRELOAD=/evil.so",   "LD_LIBRARY_PATH=", "PMI_FD=4",
	    "PYXIS_VERSION=0", "ENROOT_ALLOW_HTTP=yes", "SLURM_JOB_ID=1",   "XDG_CACHE_HOME=/tmp"};
	static const char *const kept[] = {"HOME=/home/u",         "SLURM_JOB_NAME=x", "PATHS=/x",
					   "LD_PRELOADX=1",        "SLURM_JOB_IDX=2",  "TERM=xterm",
					   "ENROOT_CONFIG_PATH=/c"};

	for (size_t i = 0; i < sizeof(denied) / sizeof(*denied); i++)
		ck_assert_msg(helper_env_denied(denied[i]), "%s", denied[i]);
	for (size_t i = 0; i < sizeof(kept) / sizeof(*kept); i++)
		ck_assert_msg(!helper_env_denied(kept[i]), "%s", kept[i]);
}
END_TEST

START_TEST(save_path)
{
	static const struct {
		const char *save, *cwd, *want;
	} cases[] = {{"/abs/out.sqsh", "", "/abs/out.sqsh"},
		     {"out.sqsh", "/home/u", "/home/u/out.sqsh"},
		     {"./out.sqsh", "/home/u/", "/home/u/out.sqsh"},
		     {"././d/out.sqsh", "/", "/d/out.sqsh"},
		     {"../up.sqsh", "/home/u", "/home/u/../up.sqsh"}};
	char *got = NULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		ck_assert_int_eq(save_path_resolve(cases[i].save, cases[i].cwd, &got), 0);
		ck_assert_str_eq(got, cases[i].want);
		free(got);
	}
	got = NULL;
	ck_assert_int_eq(save_path_resolve("rel.sqsh", "", &got), -EINVAL);
	ck_assert_ptr_null(got);
}
END_TEST

START_TEST(importer_uris)
{
	char *uri = NULL;

	ck_assert_int_eq(importer_uri("nvcr.io#nvidia/pytorch:25.09-py3", &uri), 0);
	ck_assert_str_eq(uri, "docker://nvcr.io#nvidia/pytorch:25.09-py3");
	free(uri);
	ck_assert_int_eq(importer_uri("docker://ubuntu", &uri), 0);
	ck_assert_str_eq(uri, "docker://ubuntu");
	free(uri);
	ck_assert_int_eq(importer_uri("dockerd://local:tag", &uri), 0);
	ck_assert_str_eq(uri, "dockerd://local:tag");
	free(uri);
}
END_TEST

START_TEST(dropped_env_names)
{
	char *job[] = {"A=1", "KEEP=2", "B", "KEEPX=3", NULL};
	char *env[] = {"KEEP=new", "C=4", NULL};
	char **drop = env_names_dropped(job, env);

	ck_assert_ptr_nonnull(drop);
	ck_assert_str_eq(drop[0], "A");
	ck_assert_str_eq(drop[1], "B");
	ck_assert_str_eq(drop[2], "KEEPX"); /* a longer name is another variable */
	ck_assert_ptr_null(drop[3]);
	lc_strv_free(drop);
	drop = env_names_dropped(NULL, env);
	ck_assert_ptr_nonnull(drop);
	ck_assert_ptr_null(drop[0]);
	lc_strv_free(drop);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("spank-names");
	TCase *tc = tcase_create("names");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, helper_env_denylist);
	tcase_add_test(tc, save_path);
	tcase_add_test(tc, importer_uris);
	tcase_add_test(tc, dropped_env_names);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
