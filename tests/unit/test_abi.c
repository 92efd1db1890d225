/* SPDX-License-Identifier: Apache-2.0 */
/* The public structs' layout is ABI: a change here must be deliberate (bump the version). */
#include <stddef.h>
#include <string.h>

#include "lc-test.h"

START_TEST(abi_layout)
{
	ck_assert_uint_eq(sizeof(lc_error), 520);
	ck_assert_uint_eq(offsetof(lc_error, msg), 8);
	ck_assert_uint_eq(offsetof(lc_pull_opts, version), 0);
	ck_assert_uint_eq(offsetof(lc_pull_opts, flags), 4);
	ck_assert_uint_eq(offsetof(lc_pull_opts, cache_dir), 8);
	ck_assert_uint_eq(offsetof(lc_pull_opts, max_connections), 64);
	ck_assert_uint_eq(offsetof(lc_pull_opts, progress), 88);
	ck_assert_uint_eq(sizeof(lc_pull_opts), 104);
	ck_assert_uint_eq(sizeof(lc_progress), 40);
	ck_assert_uint_eq(offsetof(lc_import_opts, progress), 32);
	ck_assert_uint_eq(offsetof(lc_import_opts, max_file_size), 48); /* version 2 */
	ck_assert_uint_eq(sizeof(lc_import_opts), 56);
	ck_assert_uint_eq(sizeof(lc_import_progress), 48);
	ck_assert_uint_eq(offsetof(lc_import_progress, holder), 32);
	ck_assert_uint_eq(sizeof(lc_container_opts), 104);
	ck_assert_uint_eq(offsetof(lc_container_opts, nvidia_backend), 96);
	ck_assert_uint_eq(offsetof(lc_site_opts, mounts), 48); /* version 2 */
	ck_assert_uint_eq(offsetof(lc_site_opts, hooks), 56);
	ck_assert_uint_eq(sizeof(lc_site_opts), 64);
	ck_assert_uint_eq(offsetof(lc_helper_opts, on_progress), 56); /* version 2 */
	ck_assert_uint_eq(sizeof(lc_helper_opts), 72);
	ck_assert_uint_eq(sizeof(lc_process_opts), 32);
	ck_assert_uint_eq(sizeof(lc_group_opts), 16);
	ck_assert_uint_eq(sizeof(lc_cache_gc_result), 48);
	ck_assert_uint_eq(sizeof(lc_save_opts), 48);
	ck_assert_uint_eq(sizeof(lc_import_answer), 88);
	ck_assert_int_eq(LC_PULL_OPTS_VERSION, 1);
	ck_assert_int_eq(LC_EREF, 1001);
	ck_assert_int_eq(LC_ECANCELED, 1008);
}
END_TEST

START_TEST(abi_init_macros)
{
	lc_pull_opts o = LC_PULL_OPTS_INIT;
	lc_error e = LC_ERROR_INIT;

	ck_assert_uint_eq(o.version, LC_PULL_OPTS_VERSION);
	ck_assert_uint_eq(o.flags, 0);
	ck_assert_ptr_null(o.progress_userdata);
	ck_assert_int_eq(e.code, 0);
	ck_assert_str_eq(lc_error_message(&e), "");
	ck_assert_str_eq(lc_error_message(NULL), "");
}
END_TEST

/* One version, meson's: the library reports the one it was built as. */
START_TEST(abi_version)
{
	ck_assert_str_eq(lc_version(), LC_TEST_VERSION);
}
END_TEST

/* Every option struct: versions 1 to the current one, nothing newer, no unknown flag; an older
 * version's struct is read only as far as that version went (ASan sees an overread). */
START_TEST(abi_option_versions)
{
	lc_container_opts o = LC_CONTAINER_OPTS_INIT;
	lc_helper_opts h = LC_HELPER_OPTS_INIT;
	lc_import_opts io = LC_IMPORT_OPTS_INIT;
	lc_pull_opts po = LC_PULL_OPTS_INIT;
	lc_site_opts so = LC_SITE_OPTS_INIT, *sv1;
	lc_site *site = NULL;
	lc_container *c = NULL;
	lc_error err = LC_ERROR_INIT;
	lc_pull *pull = NULL;
	lc_ctx *ctx = NULL;
	lc_container_opts *v1;
	lc_helper_opts *hv1;
	int status;

	o.image_path = "/nonexistent.sqsh";
	o.version = LC_CONTAINER_OPTS_VERSION + 1;
	ck_assert_int_eq(lc_container_create(NULL, &o, &c, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "lc_container_opts version 7 is not supported (1 to 6)");
	o.version = 0;
	ck_assert_int_eq(lc_container_create(NULL, &o, &c, &err), -EINVAL);
	/* version 1 ended before hold_fd: a struct of that size */
	o.version = 1;
	v1 = malloc(offsetof(lc_container_opts, hold_fd));
	memcpy(v1, &o, offsetof(lc_container_opts, hold_fd));
	ck_assert_int_eq(lc_container_create(NULL, v1, &c, &err), -ENOENT);
	ck_assert_msg(strstr(err.msg, "cannot open image '/nonexistent.sqsh'"), "%s", err.msg);
	free(v1);
	ck_assert_int_eq(lc_ctx_new(&ctx, &err), 0);
	po.version = 2;
	ck_assert_int_eq(lc_pull_new(ctx, "x/y", &po, &pull, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "lc_pull_opts version 2 is not supported (1 to 1)");
	po.version = 1;
	po.flags = LC_PULL_ALL + 1;
	ck_assert_int_eq(lc_pull_new(ctx, "x/y", &po, &pull, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "lc_pull_opts: unknown flags 0x8");
	lc_ctx_free(ctx);
	h.path = "/bin/true";
	h.argv = (const char *const[]){"true", NULL};
	h.env = (const char *const[]){NULL};
	h.flags = 1;
	ck_assert_int_eq(lc_helper_run(&h, &status, NULL, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "lc_helper_opts: unknown flags 0x1");
	/* version 1 ended before on_progress: a struct of that size */
	h.flags = 0;
	h.version = 1;
	hv1 = malloc(offsetof(lc_helper_opts, on_progress));
	memcpy(hv1, &h, offsetof(lc_helper_opts, on_progress));
	ck_assert_int_eq(lc_helper_run(hv1, &status, NULL, &err), 0);
	ck_assert_int_eq(status, 0);
	free(hv1);
	/* lc_site_opts version 1 ended before mounts: a struct of that size */
	so.flags = LC_SITE_NO_SITE_CONFIG | LC_SITE_NO_USER_CONFIG;
	so.version = 1;
	sv1 = malloc(offsetof(lc_site_opts, mounts));
	memcpy(sv1, &so, offsetof(lc_site_opts, mounts));
	ck_assert_int_eq(lc_site_load(NULL, sv1, &site, &err), 0);
	lc_site_free(site);
	free(sv1);
	so.version = 3;
	ck_assert_int_eq(lc_site_load(NULL, &so, &site, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "lc_site_opts version 3 is not supported (1 to 2)");
	io.version = 7;
	ck_assert_int_eq(lc_squash_save(NULL, "/nonexistent", "/nonexistent.sqsh", &io, &err),
			 -EINVAL);
	ck_assert_str_eq(err.msg, "lc_import_opts version 7 is not supported (1 to 3)");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("abi");
	TCase *tc = tcase_create("abi");

	tcase_add_test(tc, abi_layout);
	tcase_add_test(tc, abi_init_macros);
	tcase_add_test(tc, abi_version);
	tcase_add_test(tc, abi_option_versions);
	suite_add_tcase(s, tc);
	return lc_test_run(s);
}
