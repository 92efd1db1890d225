/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NVIDIA's rules for what a container asks of the driver, as enroot's 98-nvidia hook and
 * nvidia-container-runtime read them: NVIDIA_VISIBLE_DEVICES (the caller's environment first,
 * then the image's), NVIDIA_DRIVER_CAPABILITIES, NVIDIA_REQUIRE_* (unless
 * NVIDIA_DISABLE_REQUIRE), NVIDIA_MIG_CONFIG_DEVICES / NVIDIA_MIG_MONITOR_DEVICES; the CDI names
 * a request maps to; and the requirements checked against the host's driver.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdi.h"

static const struct {
	const char *name;
	uint32_t bit;
} capabilities[] = {
    {"compute", LC_NVIDIA_CAP_COMPUTE}, {"compat32", LC_NVIDIA_CAP_COMPAT32},
    {"display", LC_NVIDIA_CAP_DISPLAY}, {"graphics", LC_NVIDIA_CAP_GRAPHICS},
    {"utility", LC_NVIDIA_CAP_UTILITY}, {"video", LC_NVIDIA_CAP_VIDEO},
};

/* The caller's value of @name, else the image's; *@from_caller says which. */
static const char *lookup(const char *const *caller, const char *const *image, const char *name,
			  bool *from_caller)
{
	const char *v = lc_strv_get(caller, name);

	if (from_caller)
		*from_caller = v != NULL;
	return v ? v : lc_strv_get(image, name);
}

static bool hex_dashes(const char *s)
{
	return *s && strspn(s, "0123456789abcdefABCDEF-") == strlen(s);
}

/* An index, GPU-<uuid>, MIG-<uuid> (also MIG-GPU-<uuid>/<gi>/<ci>), or <gpu>:<mig>. */
static bool selector_ok(const char *s)
{
	size_t d = strspn(s, "0123456789");

	if (d && !s[d])
		return true;
	if (d && s[d] == ':' && s[d + 1] && strspn(s + d + 1, "0123456789") == strlen(s + d + 1))
		return true;
	if (!strncmp(s, "GPU-", 4))
		return hex_dashes(s + 4);
	if (!strncmp(s, "MIG-", 4))
		return strspn(s + 4, "0123456789abcdefABCDEF-GPU/") == strlen(s + 4) && s[4];
	return false;
}

static int parse_devices(const char *v, lc_nvidia_request *r, lc_error *err)
{
	_cleanup_free_ char *copy = strdup(v);
	char *save = NULL;

	if (!copy)
		return lc_fail(err, ENOMEM, "out of memory");
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char shown[80];

		while (*t == ' ')
			t++;
		t[strcspn(t, " ")] = '\0';
		if (!strcmp(t, "all")) {
			r->all = true;
			continue;
		}
		if (!selector_ok(t)) {
			lc_str_sanitize(shown, sizeof(shown), t);
			return lc_fail(
			    err, EINVAL,
			    "NVIDIA_VISIBLE_DEVICES: '%s' is not a GPU (an index, GPU-<uuid>, "
			    "MIG-<uuid>, <gpu>:<mig>, all, none or void)",
			    shown);
		}
		if (lc_strvec_push(&r->devices, t) < 0)
			return lc_fail(err, ENOMEM, "out of memory");
	}
	if (!r->all && !r->devices.n)
		return lc_fail(err, EINVAL, "NVIDIA_VISIBLE_DEVICES: no GPU in '%s'", v);
	return 0;
}

static int parse_capabilities(const char *v, lc_nvidia_request *r, lc_error *err)
{
	_cleanup_free_ char *copy = strdup(v && *v ? v : "utility");
	char *save = NULL;

	if (!copy)
		return lc_fail(err, ENOMEM, "out of memory");
	for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		bool known = !strcmp(t, "all");
		char shown[80];

		if (known)
			r->caps = LC_NVIDIA_CAP_ALL;
		for (size_t i = 0; !known && i < LC_ELEMENTSOF(capabilities); i++)
			if (!strcmp(t, capabilities[i].name)) {
				r->caps |= capabilities[i].bit;
				known = true;
			}
		if (!known) {
			lc_str_sanitize(shown, sizeof(shown), t);
			return lc_fail(err, EINVAL, "Unknown NVIDIA driver capability: %s", shown);
		}
	}
	return 0;
}

int lc_nvidia_request_parse(const char *const *caller_env, const char *const *image_env,
			    lc_nvidia_request *r, lc_error *err)
{
	bool from_caller = false;
	const char *visible = lookup(caller_env, image_env, "NVIDIA_VISIBLE_DEVICES", &from_caller);
	const char *v;
	int rc = 0;

	*r = (lc_nvidia_request){.explicit_request = from_caller};
	if (!visible || !*visible || !strcmp(visible, "void"))
		return 0; /* nothing injected */
	r->wanted = true;
	if (strcmp(visible, "none"))
		rc = parse_devices(visible, r, err);
	if (rc >= 0)
		rc = parse_capabilities(
		    lookup(caller_env, image_env, "NVIDIA_DRIVER_CAPABILITIES", NULL), r, err);
	if (rc >= 0 && (v = lookup(caller_env, image_env, "NVIDIA_MIG_CONFIG_DEVICES", NULL)) &&
	    *v && !(r->mig_config = strdup(v)))
		rc = lc_fail(err, ENOMEM, "out of memory");
	if (rc >= 0 && (v = lookup(caller_env, image_env, "NVIDIA_MIG_MONITOR_DEVICES", NULL)) &&
	    *v && !(r->mig_monitor = strdup(v)))
		rc = lc_fail(err, ENOMEM, "out of memory");
	v = lookup(caller_env, image_env, "NVIDIA_DISABLE_REQUIRE", NULL);
	/* the caller's requirements, then the image's whose names the caller does not set */
	for (int pass = 0; rc >= 0 && !(v && *v) && pass < 2; pass++)
		for (const char *const *e = pass ? image_env : caller_env; rc >= 0 && e && *e;
		     e++) {
			const char *eq = strchr(*e, '=');

			if (!lc_str_has_prefix(*e, "NVIDIA_REQUIRE_") || !eq || !eq[1] ||
			    (pass && lc_strv_lookup(caller_env, *e, (size_t)(eq - *e))))
				continue;
			if (lc_strvec_push(&r->requires, eq + 1) < 0)
				rc = lc_fail(err, ENOMEM, "out of memory");
		}
	if (rc < 0)
		lc_nvidia_request_clear(r);
	return rc;
}

void lc_nvidia_request_clear(lc_nvidia_request *r)
{
	lc_strvec_free(&r->devices);
	lc_strvec_free(&r->requires);
	free(r->mig_config);
	free(r->mig_monitor);
	*r = (lc_nvidia_request){0};
}

int lc_nvidia_cdi_names(const lc_nvidia_request *r, lc_strvec *names)
{
	char name[256];
	int rc = 0;

	if (r->all)
		return lc_strvec_push(names, "nvidia.com/gpu=all");
	for (size_t i = 0; !rc && i < r->devices.n; i++) {
		snprintf(name, sizeof(name), "nvidia.com/gpu=%s", r->devices.v[i]);
		rc = lc_strvec_push(names, name);
	}
	return rc;
}

/* ---------------------------------------------------------------- requirements */

/* Versions compared component by component ("550.54.15" > "550.9"); a missing one is 0. */
static int version_cmp(const char *a, const char *b)
{
	while (*a || *b) {
		char *ea, *eb;
		unsigned long x = strtoul(a, &ea, 10), y = strtoul(b, &eb, 10);

		if ((ea == a && *a) || (eb == b && *b)) /* not a number: the rest as text */
			return strcmp(a, b);
		if (x != y)
			return x < y ? -1 : 1;
		a = *ea == '.' ? ea + 1 : ea;
		b = *eb == '.' ? eb + 1 : eb;
	}
	return 0;
}

static const char *host_value(const lc_nvidia_host *h, const char *key)
{
	return !strcmp(key, "cuda")     ? h->cuda
	       : !strcmp(key, "driver") ? h->driver
	       : !strcmp(key, "arch")   ? h->arch
	       : !strcmp(key, "brand")  ? h->brand
					: NULL;
}

#define UNKNOWN 2 /* a condition on what the host could not tell */

/* One "key<op>value" condition: 1 met, 0 not, UNKNOWN; -EINVAL when malformed. */
static int condition_met(const char *cond, const lc_nvidia_host *h)
{
	static const char *const ops[] = {">=", "<=", "!=", "=", ">", "<"};
	size_t klen = strspn(cond, "abcdefghijklmnopqrstuvwxyz");
	char key[16];
	const char *have, *op = NULL, *want;
	int c;

	for (size_t i = 0; !op && i < LC_ELEMENTSOF(ops); i++)
		if (!strncmp(cond + klen, ops[i], strlen(ops[i])))
			op = ops[i];
	if (!klen || klen >= sizeof(key) || !op || !cond[klen + strlen(op)])
		return -EINVAL;
	snprintf(key, sizeof(key), "%.*s", (int)klen, cond);
	want = cond + klen + strlen(op);
	if (!strcmp(key, "brand") ? (strcmp(op, "=") && strcmp(op, "!=")) : false)
		return -EINVAL;
	if (strcmp(key, "cuda") && strcmp(key, "driver") && strcmp(key, "arch") &&
	    strcmp(key, "brand"))
		return -EINVAL;
	have = host_value(h, key);
	if (!have)
		return UNKNOWN;
	c = !strcmp(key, "brand") ? strcasecmp(have, want) : version_cmp(have, want);
	return !strcmp(op, "=")    ? c == 0
	       : !strcmp(op, "!=") ? c != 0
	       : !strcmp(op, ">=") ? c >= 0
	       : !strcmp(op, "<=") ? c <= 0
	       : !strcmp(op, ">")  ? c > 0
				   : c < 0;
}

/* One requirement: alternatives separated by blanks, each comma-joined conditions. */
static int requirement_met(const char *req, const lc_nvidia_host *h)
{
	_cleanup_free_ char *copy = strdup(req);
	char *save = NULL;
	bool any = false, met = false, unknown = false;

	if (!copy)
		return -ENOMEM;
	for (char *alt = strtok_r(copy, " \t", &save); alt; alt = strtok_r(NULL, " \t", &save)) {
		char *save2 = NULL;
		int all = 1; /* 1, 0, or UNKNOWN when no condition failed but one was unknown */

		any = true;
		for (char *c = strtok_r(alt, ",", &save2); c; c = strtok_r(NULL, ",", &save2)) {
			int r = condition_met(c, h);

			if (r < 0)
				return r;
			all = !r || !all ? 0 : r == UNKNOWN ? UNKNOWN : all;
		}
		met = met || all == 1;
		unknown = unknown || all == UNKNOWN;
	}
	return !any || met ? 1 : unknown ? UNKNOWN : 0;
}

bool lc_nvidia_requires_undecided(const lc_nvidia_request *r, const lc_nvidia_host *h)
{
	for (size_t i = 0; i < r->requires.n; i++)
		if (requirement_met(r->requires.v[i], h) == UNKNOWN)
			return true;
	return false;
}

int lc_nvidia_check_requires(const lc_nvidia_request *r, const lc_nvidia_host *h, lc_error *err)
{
	for (size_t i = 0; i < r->requires.n; i++) {
		int met = requirement_met(r->requires.v[i], h);
		char shown[200];

		lc_str_sanitize(shown, sizeof(shown), r->requires.v[i]);
		if (met == -ENOMEM)
			return lc_fail(err, ENOMEM, "out of memory");
		if (met < 0)
			return lc_fail(err, EINVAL, "NVIDIA_REQUIRE_*: malformed requirement '%s'",
				       shown);
		/* what the host cannot tell does not refuse a start (UNKNOWN) */
		if (!met)
			return lc_fail(err, EPERM,
				       "unsatisfied NVIDIA requirement: %s (this node: driver %s, "
				       "CUDA %s%s%s%s%s)",
				       shown, h->driver ? h->driver : "unknown",
				       h->cuda ? h->cuda : "unknown", h->brand ? ", brand " : "",
				       h->brand ? h->brand : "", h->arch ? ", arch " : "",
				       h->arch ? h->arch : "");
	}
	return 0;
}
