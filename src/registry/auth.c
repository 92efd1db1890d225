/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Credentials and challenges: WWW-Authenticate parsing (RFC 7235 section 2.1 auth-params; token
 * flow of https://distribution.github.io/distribution/spec/auth/token/), enroot's netrc-form
 * credentials file and docker's config.json "auths".
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "registry.h"

void lc_challenge_clear(lc_challenge *c)
{
	free(c->scheme);
	free(c->realm);
	free(c->service);
	free(c->scope);
	memset(c, 0, sizeof(*c));
}

static const char *skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == ',')
		p++;
	return p;
}

/* Read a token or a quoted-string (with \-escapes) at *pp into a new string. */
static char *read_value(const char **pp)
{
	const char *p = *pp;
	lc_buf b = LC_BUF_INIT;

	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			if (lc_buf_append(&b, p, 1) < 0)
				goto oom;
		}
		if (*p != '"')
			goto oom; /* unterminated: treated as malformed */
		p++;
	} else {
		const char *start = p;
		while (*p && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		if (lc_buf_append(&b, start, (size_t)(p - start)) < 0)
			goto oom;
	}
	*pp = p;
	return lc_buf_steal(&b);
oom:
	lc_buf_free(&b);
	return NULL;
}

static int store_param(lc_challenge *c, const char *name, size_t name_len, char *value)
{
	char **slot = NULL;

	if (name_len == 5 && strncasecmp(name, "realm", 5) == 0)
		slot = &c->realm;
	else if (name_len == 7 && strncasecmp(name, "service", 7) == 0)
		slot = &c->service;
	else if (name_len == 5 && strncasecmp(name, "scope", 5) == 0)
		slot = &c->scope;
	if (!slot) {
		free(value);
		return 0;
	}
	free(*slot);
	*slot = value;
	return 0;
}

int lc_challenge_parse(const char *text, lc_challenge *ret, lc_error *err)
{
	lc_challenge c = {0};
	const char *p = skip_space(text);
	const char *start = p;

	while (*p && !isspace((unsigned char)*p))
		p++;
	if (p == start)
		return lc_fail(err, LC_EAUTH, "empty WWW-Authenticate challenge");
	c.scheme = strndup(start, (size_t)(p - start));
	if (!c.scheme)
		return lc_fail(err, ENOMEM, "challenge: out of memory");
	for (p = skip_space(p); *p; p = skip_space(p)) {
		const char *name = p;
		char *value;

		while (*p && (isalnum((unsigned char)*p) || *p == '_' || *p == '-'))
			p++;
		if (p == name || *p != '=') {
			lc_challenge_clear(&c);
			return lc_fail(err, LC_EAUTH, "malformed WWW-Authenticate challenge");
		}
		size_t name_len = (size_t)(p - name);
		p++;
		value = read_value(&p);
		if (!value) {
			lc_challenge_clear(&c);
			return lc_fail(err, LC_EAUTH, "malformed WWW-Authenticate challenge");
		}
		store_param(&c, name, name_len, value);
	}
	*ret = c;
	return 0;
}

void lc_credentials_clear(lc_credentials *c)
{
	if (c->password)
		explicit_bzero(c->password, strlen(c->password));
	free(c->login);
	free(c->password);
	c->login = c->password = NULL;
}

/* ---------------------------------------------------------------- netrc */

/* Next whitespace-separated word; supports "double quoted" words. NULL at the end. */
static char *netrc_word(const char **pp)
{
	const char *p = *pp;

	while (*p && isspace((unsigned char)*p))
		p++;
	if (*p == '#') { /* comment to end of line */
		while (*p && *p != '\n')
			p++;
		*pp = p;
		return netrc_word(pp);
	}
	if (!*p)
		return NULL;
	const char *start = p;
	if (*p == '"') {
		start = ++p;
		while (*p && *p != '"')
			p++;
		*pp = *p ? p + 1 : p;
		return strndup(start, (size_t)(p - start));
	}
	while (*p && !isspace((unsigned char)*p))
		p++;
	*pp = p;
	return strndup(start, (size_t)(p - start));
}

typedef struct netrc_entry {
	char *machine; /* NULL for "default" */
	char *login;
	char *password;
	bool is_default;
} netrc_entry;

static void netrc_entry_clear(netrc_entry *e)
{
	free(e->machine);
	free(e->login);
	if (e->password)
		explicit_bzero(e->password, strlen(e->password));
	free(e->password);
	memset(e, 0, sizeof(*e));
}

static bool netrc_entry_matches(const netrc_entry *e, const char *host, const char *user)
{
	if (!e->is_default && (!e->machine || strcmp(e->machine, host) != 0))
		return false;
	if (user && (!e->login || strcmp(e->login, user) != 0))
		return false;
	return e->login && e->password;
}

/* Scan the whole file for @host; the first matching entry wins (netrc(5)). */
static int netrc_find(const char *text, const char *host, const char *user, bool allow_default,
		      lc_credentials *ret)
{
	netrc_entry e = {0};
	const char *p = text;
	char *w;
	bool in_entry = false;

	for (;;) {
		w = netrc_word(&p);
		bool entry_ends = !w || strcmp(w, "machine") == 0 || strcmp(w, "default") == 0;

		if (entry_ends && in_entry) {
			if ((allow_default || !e.is_default) &&
			    netrc_entry_matches(&e, host, user)) {
				ret->login = TAKE_PTR(e.login);
				ret->password = TAKE_PTR(e.password);
				netrc_entry_clear(&e);
				free(w);
				return 1;
			}
			netrc_entry_clear(&e);
			in_entry = false;
		}
		if (!w)
			return 0;
		if (strcmp(w, "machine") == 0) {
			e.machine = netrc_word(&p);
			in_entry = true;
		} else if (strcmp(w, "default") == 0) {
			e.is_default = in_entry = true;
		} else if (in_entry && strcmp(w, "login") == 0) {
			free(e.login);
			e.login = netrc_word(&p);
		} else if (in_entry && strcmp(w, "password") == 0) {
			free(e.password);
			e.password = netrc_word(&p);
		}
		free(w);
	}
}

int lc_netrc_lookup(const char *text, const char *registry, const char *user, lc_credentials *ret,
		    lc_error *err)
{
	_cleanup_free_ char *host = lc_ref_host_without_port(registry);

	memset(ret, 0, sizeof(*ret));
	if (!host)
		return lc_fail(err, ENOMEM, "credentials: out of memory");
	if (netrc_find(text, registry, user, false, ret) || netrc_find(text, host, user, true, ret))
		return 0;
	return 0;
}

/* ---------------------------------------------------------------- docker config.json */

static bool docker_key_matches(const char *key, const char *registry)
{
	const char *k = key;
	size_t n;

	if (lc_str_has_prefix(k, "https://"))
		k += 8;
	else if (lc_str_has_prefix(k, "http://"))
		k += 7;
	n = strcspn(k, "/");
	if (strlen(registry) == n && strncmp(k, registry, n) == 0)
		return true;
	/* Docker Hub is stored under its legacy name */
	if (strcmp(registry, LC_DOCKER_HUB) == 0)
		return (n == 15 && strncmp(k, "index.docker.io", n) == 0) ||
		       (n == 9 && strncmp(k, "docker.io", n) == 0);
	return false;
}

static int docker_auth_entry(json_t *entry, lc_credentials *ret)
{
	const char *auth = json_string_value(json_object_get(entry, "auth"));
	const char *login = json_string_value(json_object_get(entry, "username"));
	const char *password = json_string_value(json_object_get(entry, "password"));

	if (auth && *auth) {
		_cleanup_free_ char *plain = lc_base64_decode(auth, NULL);
		char *colon = plain ? strchr(plain, ':') : NULL;

		if (!colon)
			return 0;
		ret->login = strndup(plain, (size_t)(colon - plain));
		ret->password = strdup(colon + 1);
		explicit_bzero(plain, strlen(plain));
	} else if (login && password) {
		ret->login = strdup(login);
		ret->password = strdup(password);
	} else {
		return 0;
	}
	if (!ret->login || !ret->password) {
		lc_credentials_clear(ret);
		return -ENOMEM;
	}
	return 1;
}

int lc_docker_config_lookup(const char *json, const char *registry, const char *user,
			    lc_credentials *ret, lc_error *err)
{
	_cleanup_(json_decrefp) json_t *root = NULL;
	json_error_t jerr;
	json_t *auths, *entry;
	const char *key;

	memset(ret, 0, sizeof(*ret));
	root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return lc_fail(err, LC_EAUTH, "docker config: invalid JSON at line %d: %s",
			       jerr.line, jerr.text);
	auths = json_object_get(root, "auths");
	if (!json_is_object(auths))
		return 0;
	json_object_foreach(auths, key, entry)
	{
		if (!docker_key_matches(key, registry))
			continue;
		int r = docker_auth_entry(entry, ret);
		if (r < 0)
			return lc_fail(err, ENOMEM, "docker config: out of memory");
		if (r > 0 && user && strcmp(ret->login, user) != 0) {
			lc_credentials_clear(ret);
			continue;
		}
		if (r > 0)
			return 0;
	}
	return 0;
}
