/* SPDX-License-Identifier: Apache-2.0 */
/* The public structs' layout is ABI: a change here must be deliberate (bump the version). */
#include <stddef.h>

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
	ck_assert_uint_eq(sizeof(lc_import_opts), 48);
	ck_assert_uint_eq(sizeof(lc_import_progress), 32);
	ck_assert_uint_eq(sizeof(lc_container_opts), 72);
	ck_assert_uint_eq(sizeof(lc_helper_opts), 56);
	ck_assert_uint_eq(sizeof(lc_process_opts), 32);
	ck_assert_uint_eq(sizeof(lc_group_opts), 16);
	ck_assert_uint_eq(sizeof(lc_cache_gc_result), 48);
	ck_assert_uint_eq(sizeof(lc_save_opts), 48);
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

int main(void)
{
	Suite *s = suite_create("abi");
	TCase *tc = tcase_create("abi");

	tcase_add_test(tc, abi_layout);
	tcase_add_test(tc, abi_init_macros);
	suite_add_tcase(s, tc);
	return lc_test_run(s);
}
