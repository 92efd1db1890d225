/* SPDX-License-Identifier: Apache-2.0 */
/* WWW-Authenticate parsing, netrc and docker config.json credentials. */
#include <string.h>

#include "lc-test.h"

START_TEST(challenge_bearer)
{
	lc_challenge c = {0};
	lc_error err = LC_ERROR_INIT;

	ck_assert_int_eq(lc_challenge_parse("Bearer realm=\"https://auth.docker.io/token\","
					    "service=\"registry.docker.io\","
					    "scope=\"repository:library/ubuntu:pull\"",
					    &c, &err),
			 0);
	ck_assert_str_eq(c.scheme, "Bearer");
	ck_assert_str_eq(c.realm, "https://auth.docker.io/token");
	ck_assert_str_eq(c.service, "registry.docker.io");
	ck_assert_str_eq(c.scope, "repository:library/ubuntu:pull");
	lc_challenge_clear(&c);
}
END_TEST

START_TEST(challenge_variants)
{
	lc_challenge c = {0};
	lc_error err = LC_ERROR_INIT;

	/* unquoted values, spaces after commas, case-insensitive names, escapes, unknown params */
	ck_assert_int_eq(lc_challenge_parse("bearer Realm=http://h/t, SERVICE=\"a\\\"b\", "
					    "error=\"insufficient_scope\"",
					    &c, &err),
			 0);
	ck_assert_str_eq(c.scheme, "bearer");
	ck_assert_str_eq(c.realm, "http://h/t");
	ck_assert_str_eq(c.service, "a\"b");
	ck_assert_ptr_null(c.scope);
	lc_challenge_clear(&c);
	ck_assert_int_eq(lc_challenge_parse("Basic realm=\"oci-test-basic\"", &c, &err), 0);
	ck_assert_str_eq(c.scheme, "Basic");
	ck_assert_str_eq(c.realm, "oci-test-basic");
	lc_challenge_clear(&c);
}
END_TEST

START_TEST(challenge_malformed)
{
	static const char *const bad[] = {"",
					  "   ",
					  "Bearer realm",
					  "Bearer realm=\"unterminated",
					  "Bearer =x",
					  "Bearer realm=\"a\" ;x=1"};
	lc_error err = LC_ERROR_INIT;

	for (size_t i = 0; i < LC_ELEMENTSOF(bad); i++) {
		lc_challenge c = {0};
		ck_assert_msg(lc_challenge_parse(bad[i], &c, &err) == -LC_EAUTH, "'%s'", bad[i]);
		ck_assert_ptr_null(c.scheme);
	}
}
END_TEST

static const char netrc[] = "# comment line\n"
			    "machine nvcr.io login $oauthtoken password nvapi-KEY\n"
			    "machine 127.0.0.1:5001 login portuser password portpass\n"
			    "machine 127.0.0.1\n  login testuser\n  password \"pass with space\"\n"
			    "machine ghcr.io login alice password a1\n"
			    "machine ghcr.io login bob password b1\n"
			    "default login anon password anonpass\n";

START_TEST(netrc_lookup)
{
	lc_credentials c = {0};
	lc_error err = LC_ERROR_INIT;

	ck_assert_int_eq(lc_netrc_lookup(netrc, "nvcr.io", NULL, &c, &err), 0);
	ck_assert_str_eq(c.login, "$oauthtoken");
	ck_assert_str_eq(c.password, "nvapi-KEY");
	lc_credentials_clear(&c);
	/* host:port entry first, then the host alone */
	ck_assert_int_eq(lc_netrc_lookup(netrc, "127.0.0.1:5001", NULL, &c, &err), 0);
	ck_assert_str_eq(c.login, "portuser");
	lc_credentials_clear(&c);
	ck_assert_int_eq(lc_netrc_lookup(netrc, "127.0.0.1:5002", NULL, &c, &err), 0);
	ck_assert_str_eq(c.login, "testuser");
	ck_assert_str_eq(c.password, "pass with space");
	lc_credentials_clear(&c);
	/* the USER@ of a reference selects among entries of one host */
	ck_assert_int_eq(lc_netrc_lookup(netrc, "ghcr.io", "bob", &c, &err), 0);
	ck_assert_str_eq(c.password, "b1");
	lc_credentials_clear(&c);
	ck_assert_int_eq(lc_netrc_lookup(netrc, "ghcr.io", NULL, &c, &err), 0);
	ck_assert_str_eq(c.login, "alice");
	lc_credentials_clear(&c);
	/* default matches other hosts */
	ck_assert_int_eq(lc_netrc_lookup(netrc, "quay.io", NULL, &c, &err), 0);
	ck_assert_str_eq(c.login, "anon");
	lc_credentials_clear(&c);
	ck_assert_int_eq(lc_netrc_lookup(netrc, "ghcr.io", "carol", &c, &err), 0);
	ck_assert_ptr_null(c.login);
	ck_assert_int_eq(lc_netrc_lookup("machine a login x\n", "a", NULL, &c, &err), 0);
	ck_assert_ptr_null(c.login); /* no password: no match */
	ck_assert_int_eq(lc_netrc_lookup("", "a", NULL, &c, &err), 0);
	ck_assert_ptr_null(c.login);
}
END_TEST

START_TEST(docker_config_lookup)
{
	/* "testuser:testpass" and "u2:p:with:colons" in base64 */
	static const char cfg[] =
	    "{\"auths\": {"
	    "\"https://index.docker.io/v1/\": {\"auth\": \"dGVzdHVzZXI6dGVzdHBhc3M=\"},"
	    "\"127.0.0.1:5001\": {\"auth\": \"dTI6cDp3aXRoOmNvbG9ucw==\"},"
	    "\"ghcr.io\": {\"username\": \"gh\", \"password\": \"tok\"},"
	    "\"broken.io\": {\"auth\": \"!!!\"}}}";
	lc_credentials c = {0};
	lc_error err = LC_ERROR_INIT;

	ck_assert_int_eq(lc_docker_config_lookup(cfg, "registry-1.docker.io", NULL, &c, &err), 0);
	ck_assert_str_eq(c.login, "testuser");
	ck_assert_str_eq(c.password, "testpass");
	lc_credentials_clear(&c);
	ck_assert_int_eq(lc_docker_config_lookup(cfg, "127.0.0.1:5001", NULL, &c, &err), 0);
	ck_assert_str_eq(c.login, "u2");
	ck_assert_str_eq(c.password, "p:with:colons");
	lc_credentials_clear(&c);
	ck_assert_int_eq(lc_docker_config_lookup(cfg, "ghcr.io", "gh", &c, &err), 0);
	ck_assert_str_eq(c.password, "tok");
	lc_credentials_clear(&c);
	ck_assert_int_eq(lc_docker_config_lookup(cfg, "ghcr.io", "other", &c, &err), 0);
	ck_assert_ptr_null(c.login);
	ck_assert_int_eq(lc_docker_config_lookup(cfg, "broken.io", NULL, &c, &err), 0);
	ck_assert_ptr_null(c.login);
	ck_assert_int_eq(lc_docker_config_lookup(cfg, "127.0.0.1", NULL, &c, &err), 0);
	ck_assert_ptr_null(c.login);
	ck_assert_int_eq(lc_docker_config_lookup("{not json", "x", NULL, &c, &err), -LC_EAUTH);
	ck_assert_int_eq(lc_docker_config_lookup("{}", "x", NULL, &c, &err), 0);
}
END_TEST

START_TEST(base64_roundtrip)
{
	static const char *const in[] = {"",     "f",     "fo",     "foo",
					 "foob", "fooba", "foobar", "testuser:testpass"};
	for (size_t i = 0; i < LC_ELEMENTSOF(in); i++) {
		char *e = lc_base64_encode(in[i], strlen(in[i]));
		size_t n = 0;
		char *d = lc_base64_decode(e, &n);
		ck_assert_str_eq(d, in[i]);
		ck_assert_uint_eq(n, strlen(in[i]));
		free(e);
		free(d);
	}
	ck_assert_ptr_null(lc_base64_decode("a*b", NULL));
}
END_TEST

START_TEST(digest_validation)
{
	char d[72];

	lc_sha256_digest("abc", 3, d);
	ck_assert_str_eq(d,
			 "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert(lc_digest_is_valid(d));
	d[10] = 'A';
	ck_assert(!lc_digest_is_valid(d));
	ck_assert(!lc_digest_is_valid("sha256:abc"));
	ck_assert(!lc_digest_is_valid(
	    "md5:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	ck_assert(!lc_digest_is_valid(NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");

	tcase_add_test(tc, challenge_bearer);
	tcase_add_test(tc, challenge_variants);
	tcase_add_test(tc, challenge_malformed);
	tcase_add_test(tc, netrc_lookup);
	tcase_add_test(tc, docker_config_lookup);
	tcase_add_test(tc, base64_roundtrip);
	tcase_add_test(tc, digest_validation);
	suite_add_tcase(s, tc);
	return lc_test_run(s);
}
