/* SPDX-License-Identifier: Apache-2.0 */
/* Manifest kinds, platform selection for every index media type, manifest and config parsing. */
#include <string.h>

#include "lc-test.h"

#define DA "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DB "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DC "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define DD "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"

static int kind_of(const char *ct, const char *body, enum lc_manifest_kind *k, lc_error *err)
{
	return lc_manifest_kind(ct, body, strlen(body), k, err);
}

START_TEST(manifest_kinds)
{
	enum lc_manifest_kind k;
	lc_error err = LC_ERROR_INIT;

	ck_assert_int_eq(
	    kind_of(LC_MT_OCI_INDEX, "{\"schemaVersion\":2,\"manifests\":[]}", &k, &err), 0);
	ck_assert_int_eq(k, LC_MANIFEST_INDEX);
	ck_assert_int_eq(kind_of(NULL,
				 "{\"schemaVersion\":2,\"mediaType\":\"" LC_MT_DOCKER_LIST
				 "\",\"manifests\":[]}",
				 &k, &err),
			 0);
	ck_assert_int_eq(k, LC_MANIFEST_INDEX);
	ck_assert_int_eq(kind_of(LC_MT_DOCKER_MANIFEST, "{\"schemaVersion\":2}", &k, &err), 0);
	ck_assert_int_eq(k, LC_MANIFEST_IMAGE);
	ck_assert_int_eq(kind_of("application/json",
				 "{\"schemaVersion\":2,\"mediaType\":\"" LC_MT_OCI_MANIFEST "\"}",
				 &k, &err),
			 0);
	ck_assert_int_eq(k, LC_MANIFEST_IMAGE);
	/* OCI without mediaType: by shape */
	ck_assert_int_eq(
	    kind_of("application/octet-stream", "{\"schemaVersion\":2,\"layers\":[]}", &k, &err),
	    0);
	ck_assert_int_eq(k, LC_MANIFEST_IMAGE);
}
END_TEST

START_TEST(manifest_schema1_refused)
{
	enum lc_manifest_kind k;
	lc_error err = LC_ERROR_INIT;

	ck_assert_int_eq(kind_of("application/vnd.docker.distribution.manifest.v1+prettyjws",
				 "{\"schemaVersion\":1}", &k, &err),
			 -LC_EMANIFEST);
	ck_assert_ptr_nonnull(strstr(err.msg, "schema 1"));
	ck_assert_int_eq(
	    kind_of("application/json", "{\"schemaVersion\":1,\"fsLayers\":[]}", &k, &err),
	    -LC_EMANIFEST);
	ck_assert_ptr_nonnull(strstr(err.msg, "schema 1"));
	ck_assert_int_eq(kind_of(NULL, "[1,2]", &k, &err), -LC_EMANIFEST);
	ck_assert_int_eq(
	    kind_of(NULL, "{\"schemaVersion\":2,\"mediaType\":\"text/html\"}", &k, &err),
	    -LC_EMANIFEST);
	ck_assert_ptr_nonnull(strstr(err.msg, "unsupported media type 'text/html'"));
	ck_assert_int_eq(kind_of(NULL, "{\"schemaVersion\":2,\"a\":1,\"a\":2}", &k, &err),
			 -LC_EMANIFEST);
	ck_assert_int_eq(kind_of(NULL, "garbage", &k, &err), -LC_EMANIFEST);
}
END_TEST

/* arm64 first, amd64 second, an attestation entry, an arm/v7 entry */
static const char *index_doc(const char *mt)
{
	static char buf[4096];
	snprintf(buf, sizeof(buf),
		 "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":["
		 "{\"mediaType\":\"m\",\"digest\":\"" DA "\",\"size\":10,"
		 "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
		 "{\"mediaType\":\"m\",\"digest\":\"" DB "\",\"size\":11,"
		 "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
		 "{\"mediaType\":\"m\",\"digest\":\"" DC "\",\"size\":12,"
		 "\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}},"
		 "{\"mediaType\":\"m\",\"digest\":\"" DD "\",\"size\":13,"
		 "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}}]}",
		 mt);
	return buf;
}

static const char *const index_types[] = {LC_MT_OCI_INDEX, LC_MT_DOCKER_LIST};

START_TEST(index_selects_platform)
{
	const char *doc = index_doc(index_types[_i]);
	lc_platform amd64 = {"linux", "amd64", NULL}, arm64 = {"linux", "arm64", "v8"},
		    arm64_nov = {"linux", "arm64", NULL}, armv7 = {"linux", "arm", "v7"};
	lc_descriptor d;
	lc_error err = LC_ERROR_INIT;

	ck_assert_int_eq(lc_index_select(doc, strlen(doc), &amd64, &d, &err), 0);
	ck_assert_str_eq(d.digest, DB); /* not manifests[0] */
	ck_assert_uint_eq(d.size, 11);
	free(d.media_type);
	ck_assert_int_eq(lc_index_select(doc, strlen(doc), &arm64, &d, &err), 0);
	ck_assert_str_eq(d.digest, DA);
	free(d.media_type);
	ck_assert_int_eq(lc_index_select(doc, strlen(doc), &arm64_nov, &d, &err), 0);
	ck_assert_str_eq(d.digest, DA);
	free(d.media_type);
	ck_assert_int_eq(lc_index_select(doc, strlen(doc), &armv7, &d, &err), 0);
	ck_assert_str_eq(d.digest, DD);
	free(d.media_type);
}
END_TEST

START_TEST(index_no_match)
{
	const char *doc = index_doc(index_types[_i]);
	lc_platform s390 = {"linux", "s390x", NULL}, armv6 = {"linux", "arm", "v6"},
		    win = {"windows", "amd64", NULL};
	lc_descriptor d;
	lc_error err = LC_ERROR_INIT;

	ck_assert_int_eq(lc_index_select(doc, strlen(doc), &s390, &d, &err), -LC_EPLATFORM);
	ck_assert_str_eq(err.msg,
			 "no image for platform linux/s390x (the index has: linux/arm64/v8, "
			 "linux/amd64, unknown/unknown, linux/arm/v7)");
	ck_assert_int_eq(lc_index_select(doc, strlen(doc), &armv6, &d, &err), -LC_EPLATFORM);
	ck_assert_int_eq(lc_index_select(doc, strlen(doc), &win, &d, &err), -LC_EPLATFORM);
}
END_TEST

START_TEST(index_bad_entries)
{
	static const char *const docs[] = {
	    "{\"manifests\":{}}",
	    "{\"manifests\":[{\"digest\":\"sha256:xyz\",\"size\":1,\"platform\":{\"os\":\"linux\","
	    "\"architecture\":\"amd64\"}}]}",
	    "{\"manifests\":[{\"digest\":\"" DA
	    "\",\"size\":-1,\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}",
	    "{\"manifests\":[{\"digest\":\"" DA
	    "\",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}",
	};
	lc_platform amd64 = {"linux", "amd64", NULL};
	lc_descriptor d;
	lc_error err = LC_ERROR_INIT;

	for (size_t i = 0; i < LC_ELEMENTSOF(docs); i++)
		ck_assert_msg(lc_index_select(docs[i], strlen(docs[i]), &amd64, &d, &err) ==
				  -LC_EMANIFEST,
			      "doc %zu", i);
}
END_TEST

START_TEST(manifest_parse_layers)
{
	static const char doc[] =
	    "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"c\",\"digest\":\"" DA
	    "\",\"size\":5},"
	    "\"layers\":[{\"mediaType\":\"application/"
	    "vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" DB "\",\"size\":100},"
	    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"" DC
	    "\",\"size\":4294967296000}]}";
	lc_descriptor config, *layers = NULL;
	size_t n = 0;
	lc_error err = LC_ERROR_INIT;

	ck_assert_int_eq(lc_manifest_parse(doc, strlen(doc), &config, &layers, &n, &err), 0);
	ck_assert_str_eq(config.digest, DA);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(layers[0].digest, DB);
	ck_assert_str_eq(layers[1].media_type, "application/vnd.oci.image.layer.v1.tar+zstd");
	ck_assert(layers[1].size == 4294967296000ull);
	free(config.media_type);
	lc_descriptors_free(layers, n);
}
END_TEST

START_TEST(manifest_parse_rejects)
{
	static const char *const docs[] = {
	    "{\"config\":{\"digest\":\"" DA "\",\"size\":5}}",
	    "{\"config\":{\"digest\":\"" DA
	    "\",\"size\":5},\"layers\":[{\"digest\":\"sha256:../../x\",\"size\":1}]}",
	    "{\"config\":{\"digest\":\"" DA "\",\"size\":\"5\"},\"layers\":[]}",
	    "{\"layers\":[]}",
	    "{\"config\":{\"digest\":\"" DA "\",\"size\":5},\"layers\":[7]}",
	};
	lc_descriptor config, *layers = NULL;
	size_t n = 0;
	lc_error err = LC_ERROR_INIT;

	for (size_t i = 0; i < LC_ELEMENTSOF(docs); i++)
		ck_assert_msg(lc_manifest_parse(docs[i], strlen(docs[i]), &config, &layers, &n,
						&err) == -LC_EMANIFEST,
			      "doc %zu: %s", i, err.msg);
}
END_TEST

START_TEST(manifest_too_many_layers)
{
	lc_buf b = LC_BUF_INIT;
	lc_descriptor config, *layers = NULL;
	size_t n = 0;
	lc_error err = LC_ERROR_INIT;

	lc_buf_printf(&b, "{\"config\":{\"digest\":\"" DA "\",\"size\":5},\"layers\":[");
	for (int i = 0; i < 1025; i++)
		lc_buf_printf(&b, "%s{\"digest\":\"" DB "\",\"size\":1}", i ? "," : "");
	lc_buf_printf(&b, "]}");
	ck_assert_int_eq(lc_manifest_parse(b.data, b.len, &config, &layers, &n, &err),
			 -LC_EMANIFEST);
	ck_assert_ptr_nonnull(strstr(err.msg, "1024"));
	lc_buf_free(&b);
}
END_TEST

START_TEST(config_parse)
{
	static const char doc[] =
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"
	    "\"Env\":[\"PATH=/usr/bin\",\"A=b c\"],\"Entrypoint\":[\"/bin/echo\",\"x\"],"
	    "\"Cmd\":null,\"WorkingDir\":\"/work\",\"User\":\"1000:1000\","
	    "\"Labels\":{\"z\":\"last\",\"a\":\"first\",\"n\":5}},\"rootfs\":{}}";
	lc_image *img = calloc(1, sizeof(*img));
	lc_error err = LC_ERROR_INIT;

	ck_assert_int_eq(lc_image_parse_config(img, doc, strlen(doc), &err), 0);
	ck_assert_str_eq(lc_image_env(img)[1], "A=b c");
	ck_assert_ptr_null(lc_image_env(img)[2]);
	ck_assert_str_eq(lc_image_entrypoint(img)[0], "/bin/echo");
	ck_assert_ptr_null(lc_image_cmd(img));
	ck_assert_str_eq(lc_image_workdir(img), "/work");
	ck_assert_str_eq(lc_image_user(img), "1000:1000");
	ck_assert_uint_eq(lc_image_label_count(img), 2);
	ck_assert_str_eq(lc_image_label_key(img, 0), "a");
	ck_assert_str_eq(lc_image_label(img, "z"), "last");
	ck_assert_ptr_null(lc_image_label(img, "n"));
	ck_assert_str_eq(lc_image_architecture(img), "amd64");
	lc_image_free(img);
}
END_TEST

START_TEST(config_rejects)
{
	static const char *const docs[] = {
	    "[]",
	    "{\"config\":{\"Env\":\"PATH=/x\"}}",
	    "{\"config\":{\"Cmd\":[1]}}",
	    "{\"config\":{\"Env\":[\"A=\\u0000B\"]}}",
	};
	lc_error err = LC_ERROR_INIT;

	for (size_t i = 0; i < LC_ELEMENTSOF(docs); i++) {
		lc_image *img = calloc(1, sizeof(*img));
		ck_assert_msg(lc_image_parse_config(img, docs[i], strlen(docs[i]), &err) ==
				  -LC_EMANIFEST,
			      "doc %zu", i);
		lc_image_free(img);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("manifest");
	TCase *tc = tcase_create("manifest");

	tcase_add_test(tc, manifest_kinds);
	tcase_add_test(tc, manifest_schema1_refused);
	tcase_add_loop_test(tc, index_selects_platform, 0, 2);
	tcase_add_loop_test(tc, index_no_match, 0, 2);
	tcase_add_test(tc, index_bad_entries);
	tcase_add_test(tc, manifest_parse_layers);
	tcase_add_test(tc, manifest_parse_rejects);
	tcase_add_test(tc, manifest_too_many_layers);
	tcase_add_test(tc, config_parse);
	tcase_add_test(tc, config_rejects);
	suite_add_tcase(s, tc);
	return lc_test_run(s);
}
