/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image references: enroot's "[USER@][REGISTRY#]IMAGE[:TAG][@DIGEST]" and Docker's
 * "[REGISTRY[:PORT]/]REPO[:TAG][@DIGEST]". Grammar of repository components and tags from the
 * OCI distribution spec (https://github.com/opencontainers/distribution-spec/blob/main/spec.md,
 * "Pulling manifests"): [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* and [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

#define REPO_MAX 255

static int ref_error(lc_error *err, const char *input, const char *why)
{
	char shown[160];

	lc_str_sanitize(shown, sizeof(shown), input);
	return lc_fail_domain(err, LC_DOMAIN_REF, LC_EREF, "invalid image reference '%s': %s",
			      shown, why);
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool component_is_valid(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	while (i < n) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		if (s[i] == '.' || (s[i] == '_' && s[i + 1] != '_')) {
			i++;
		} else if (s[i] == '_') {
			i += 2;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i >= n || !is_lower_alnum(s[i]))
			return false;
	}
	return true;
}

static const char *repository_problem(const char *repo)
{
	size_t len = strlen(repo);

	if (len == 0)
		return "empty image name";
	if (len > REPO_MAX)
		return "image name longer than 255 characters";
	for (const char *p = repo; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			return "repository name must be lowercase";
	for (const char *p = repo;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (!component_is_valid(p, n))
			return "bad character or empty component in image name";
		if (!slash)
			return NULL;
		p = slash + 1;
	}
}

static bool tag_is_valid(const char *tag)
{
	size_t len = strlen(tag);

	if (len == 0 || len > 128 || !(isalnum((unsigned char)tag[0]) || tag[0] == '_'))
		return false;
	for (const char *p = tag; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-'))
			return false;
	return true;
}

/* host (letters, digits, '.', '-'), or [IPv6], then optional :PORT (1..65535) */
static bool registry_is_valid(const char *r)
{
	const char *p = r;

	if (*p == '[') {
		const char *end = strchr(p, ']');
		if (!end || end == p + 1)
			return false;
		for (const char *q = p + 1; q < end; q++)
			if (!(isxdigit((unsigned char)*q) || *q == ':' || *q == '.'))
				return false;
		p = end + 1;
	} else {
		if (!isalnum((unsigned char)*p))
			return false;
		while (isalnum((unsigned char)*p) || *p == '.' || *p == '-')
			p++;
	}
	if (*p == '\0')
		return true;
	if (*p != ':' || p[1] == '\0' || strlen(p + 1) > 5)
		return false;
	char *end = NULL;
	long port = strtol(p + 1, &end, 10);
	return *end == '\0' && isdigit((unsigned char)p[1]) && port >= 1 && port <= 65535;
}

static bool user_is_valid(const char *u, size_t n)
{
	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)u[i]) || strchr("_.-$", u[i])))
			return false;
	return true;
}

static bool looks_like_registry(const char *s, size_t n)
{
	return memchr(s, '.', n) || memchr(s, ':', n) || memchr(s, '[', n) ||
	       (n == 9 && memcmp(s, "localhost", 9) == 0);
}

static const char *canonical_registry(const char *r)
{
	if (strcmp(r, "docker.io") == 0 || strcmp(r, "index.docker.io") == 0)
		return LC_DOCKER_HUB;
	return r;
}

/* Split "[USER@]rest": the first '@' starts a digest when a digest algorithm follows it,
 * otherwise it ends a user name. */
static int split_user(char *s, char **ret_user, char **ret_rest)
{
	static const char *const algorithms[] = {"sha256:", "sha384:", "sha512:"};
	char *at = strchr(s, '@');

	*ret_user = NULL;
	*ret_rest = s;
	if (!at)
		return 0;
	for (size_t i = 0; i < LC_ELEMENTSOF(algorithms); i++)
		if (lc_str_has_prefix(at + 1, algorithms[i]))
			return 0;
	if (!user_is_valid(s, (size_t)(at - s)))
		return -1;
	*at = '\0';
	*ret_user = s;
	*ret_rest = at + 1;
	return 0;
}

/* Take "@digest" and ":tag" off the end of @name (modified in place). */
static const char *split_tag_digest(char *name, char **ret_tag, char **ret_digest)
{
	char *at = strchr(name, '@');
	char *colon;

	*ret_tag = NULL;
	*ret_digest = NULL;
	if (at) {
		*at = '\0';
		*ret_digest = at + 1;
		if (!lc_str_has_prefix(*ret_digest, "sha256:"))
			return "only sha256 digests are supported";
		if (!lc_digest_is_valid(*ret_digest))
			return "bad digest (want sha256: and 64 lowercase hex digits)";
	}
	colon = strrchr(name, ':');
	if (colon && !strchr(colon, '/')) {
		*colon = '\0';
		*ret_tag = colon + 1;
		if (!tag_is_valid(*ret_tag))
			return "bad tag";
	}
	return NULL;
}

static int ref_build(lc_ref *ref, const char *user, const char *registry, const char *repo,
		     const char *tag, const char *digest)
{
	bool hub = strcmp(registry, LC_DOCKER_HUB) == 0;
	int n;

	ref->user = user ? strdup(user) : NULL;
	ref->registry = strdup(registry);
	if (hub && !strchr(repo, '/')) {
		if (asprintf(&ref->repository, "library/%s", repo) < 0)
			ref->repository = NULL;
	} else {
		ref->repository = strdup(repo);
	}
	ref->tag = tag ? strdup(tag) : (digest ? NULL : strdup("latest"));
	ref->digest = digest ? strdup(digest) : NULL;
	if ((user && !ref->user) || !ref->registry || !ref->repository ||
	    (!ref->tag && !ref->digest) || (digest && !ref->digest))
		return -ENOMEM;
	/* "host/repo" would read as a Docker Hub namespace when host has no '.' or ':': keep '#' */
	n = asprintf(&ref->canonical, "%s%c%s%s%s%s%s", ref->registry,
		     looks_like_registry(ref->registry, strlen(ref->registry)) ? '/' : '#',
		     ref->repository, ref->tag ? ":" : "", ref->tag ? ref->tag : "",
		     ref->digest ? "@" : "", ref->digest ? ref->digest : "");
	if (n < 0) {
		ref->canonical = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int parse_into(lc_ref *ref, const char *input, char *s, lc_error *err)
{
	char *user, *rest, *registry, *name, *tag, *digest, *hash, *slash;
	const char *why;

	if (split_user(s, &user, &rest) < 0)
		return ref_error(err, input, "bad user name before '@'");
	hash = strchr(rest, '#');
	if (hash) {
		*hash = '\0';
		registry = rest;
		name = hash + 1;
		if (strchr(name, '#'))
			return ref_error(err, input, "more than one '#'");
	} else {
		slash = strchr(rest, '/');
		if (slash && looks_like_registry(rest, (size_t)(slash - rest))) {
			*slash = '\0';
			registry = rest;
			name = slash + 1;
		} else {
			registry = (char *)LC_DOCKER_HUB;
			name = rest;
		}
	}
	registry = (char *)canonical_registry(registry);
	if (!registry_is_valid(registry))
		return ref_error(err, input, "bad registry name");
	why = split_tag_digest(name, &tag, &digest);
	if (!why)
		why = repository_problem(name);
	if (why)
		return ref_error(err, input, why);
	if (ref_build(ref, user, registry, name, tag, digest) < 0)
		return lc_fail(err, ENOMEM, "image reference: out of memory");
	/* checked again after "library/" was added */
	if (strlen(ref->repository) > REPO_MAX)
		return ref_error(err, input, "image name longer than 255 characters");
	return 0;
}

LC_API int lc_ref_parse(const char *text, lc_ref **ret_ref, lc_error *err)
{
	_cleanup_(lc_ref_freep) lc_ref *ref = NULL;
	_cleanup_free_ char *copy = NULL;
	const char *s = text;
	int r;

	if (!text || !ret_ref)
		return lc_fail(err, EINVAL, "lc_ref_parse: NULL argument");
	if (strnlen(text, LC_REF_MAX + 1) > LC_REF_MAX)
		return ref_error(err, text, "longer than 4096 characters");
	if (lc_str_has_prefix(s, "docker://"))
		s += strlen("docker://");
	if (*s == '\0')
		return ref_error(err, text, "empty");
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return ref_error(err, text, "space, control or non-ASCII character");
	copy = strdup(s);
	ref = calloc(1, sizeof(*ref));
	if (!copy || !ref)
		return lc_fail(err, ENOMEM, "image reference: out of memory");
	r = parse_into(ref, text, copy, err);
	if (r < 0)
		return r;
	*ret_ref = TAKE_PTR(ref);
	return 0;
}

LC_API lc_ref *lc_ref_free(lc_ref *ref)
{
	if (!ref)
		return NULL;
	free(ref->user);
	free(ref->registry);
	free(ref->repository);
	free(ref->tag);
	free(ref->digest);
	free(ref->canonical);
	free(ref);
	return NULL;
}

LC_API const char *lc_ref_registry(const lc_ref *ref)
{
	return ref ? ref->registry : NULL;
}

LC_API const char *lc_ref_repository(const lc_ref *ref)
{
	return ref ? ref->repository : NULL;
}

LC_API const char *lc_ref_tag(const lc_ref *ref)
{
	return ref ? ref->tag : NULL;
}

LC_API const char *lc_ref_digest(const lc_ref *ref)
{
	return ref ? ref->digest : NULL;
}

LC_API const char *lc_ref_user(const lc_ref *ref)
{
	return ref ? ref->user : NULL;
}

LC_API const char *lc_ref_string(const lc_ref *ref)
{
	return ref ? ref->canonical : NULL;
}

char *lc_ref_host_without_port(const char *registry)
{
	const char *end;

	if (registry[0] == '[') {
		end = strchr(registry, ']');
		return end ? strndup(registry + 1, (size_t)(end - registry - 1)) : strdup(registry);
	}
	end = strchr(registry, ':');
	return end ? strndup(registry, (size_t)(end - registry)) : strdup(registry);
}
