/* SPDX-License-Identifier: Apache-2.0 */
/* The import helper's answer (lc_import_answer): what ctr-import prints and the plugin reads. */
#include <string.h>

#include "lc-test.h"

START_TEST(answer_round_trip)
{
	lc_import_answer a = {.image_path = "/run/x/image.sqsh",
			      .digest = "sha256:0123",
			      .cache = "filled",
			      .resolve_ms = 12,
			      .convert_ms = 3400,
			      .image_bytes = 1u << 30};
	lc_import_answer b = {0};
	lc_error err = LC_ERROR_INIT;
	char *text = NULL, *lines[16] = {0}, *save = NULL;
	size_t n = 0;

	ck_assert_int_eq(lc_import_answer_format(&a, &text, &err), 0);
	ck_assert_str_eq(text, "image_path=/run/x/image.sqsh\ndigest=sha256:0123\ncache=filled\n"
			       "resolve_ms=12\nconvert_ms=3400\nimage_bytes=1073741824\n");
	for (char *l = strtok_r(text, "\n", &save); l && n < 15; l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	ck_assert_int_eq(lc_import_answer_parse((const char *const *)lines, &b, &err), 0);
	ck_assert_str_eq(b.image_path, a.image_path);
	ck_assert_str_eq(b.digest, a.digest);
	ck_assert_str_eq(b.cache, a.cache);
	ck_assert_ptr_null(b.offline);
	ck_assert_uint_eq(b.resolve_ms, 12);
	ck_assert_uint_eq(b.convert_ms, 3400);
	ck_assert_uint_eq(b.finish_ms, 0);
	ck_assert_uint_eq(b.image_bytes, 1u << 30);
	lc_import_answer_clear(&b);
	ck_assert_ptr_null(b.image_path);
	free(text);
}
END_TEST

START_TEST(answer_pyxis_importer_and_unknown_keys)
{
	const char *pyxis[] = {"/var/tmp/u/image.sqsh", "noise that is not a fact", NULL};
	const char *newer[] = {"color=blue", "image_path=/x=y.sqsh", "cache=miss", "offline=a b",
			       NULL};
	lc_import_answer a = {0};
	lc_error err = LC_ERROR_INIT;

	ck_assert_int_eq(lc_import_answer_parse(pyxis, &a, &err), 0);
	ck_assert_str_eq(a.image_path, "/var/tmp/u/image.sqsh");
	ck_assert_ptr_null(a.cache);
	lc_import_answer_clear(&a);
	ck_assert_int_eq(lc_import_answer_parse(newer, &a, &err), 0);
	ck_assert_str_eq(a.image_path, "/x=y.sqsh"); /* the value runs to the end of the line */
	ck_assert_str_eq(a.cache, "miss");
	ck_assert_str_eq(a.offline, "a b");
	lc_import_answer_clear(&a);
	ck_assert_int_eq(lc_import_answer_parse(NULL, &a, &err), 0);
	ck_assert_ptr_null(a.image_path);
}
END_TEST

START_TEST(answer_refuses_bad_values)
{
	const char *bad_num[] = {"image_path=/a", "total_ms=-1", NULL};
	const char *not_num[] = {"convert_ms=12x", NULL};
	lc_import_answer a = {0}, nl = {.image_path = "/a\nimage=/etc/shadow"};
	lc_error err = LC_ERROR_INIT;
	char *text = NULL;

	ck_assert_int_eq(lc_import_answer_parse(bad_num, &a, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "import answer: total_ms is not a number");
	ck_assert_ptr_null(a.image_path); /* nothing half-filled */
	ck_assert_int_eq(lc_import_answer_parse(not_num, &a, &err), -EINVAL);
	ck_assert_int_eq(lc_import_answer_format(&nl, &text, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "import answer: image_path has a newline");
	ck_assert_ptr_null(text);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("import");
	TCase *tc = tcase_create("answer");

	tcase_add_test(tc, answer_round_trip);
	tcase_add_test(tc, answer_pyxis_importer_and_unknown_keys);
	tcase_add_test(tc, answer_refuses_bad_values);
	suite_add_tcase(s, tc);
	return lc_test_run(s);
}
