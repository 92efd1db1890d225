/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A process's environment and command line, from the image's config and the caller's choices.
 * Precedence (lowest first): login defaults, the image's Env, explicit overrides.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

int lc_env_build(const lc_user *u, const lc_image *img, const char *const *site_env,
		 const char *const *overrides, lc_strvec *ret, lc_error *err)
{
	lc_strvec e = {0};
	const char *term = getenv("TERM");
	int r = lc_env_set(&e, "PATH", LC_DEFAULT_PATH);
	if (!r)
		r = lc_env_set(&e, "HOME", u->in_home);
	if (!r)
		r = lc_env_set(&e, "USER", u->in_name);
	if (!r)
		r = lc_env_set(&e, "LOGNAME", u->in_name);
	if (!r)
		r = lc_env_set(&e, "SHELL", "/bin/sh");
	if (!r)
		r = lc_env_set(&e, "TERM", term && *term ? term : "dumb");
	for (const char *const *p = img ? lc_image_env(img) : NULL; !r && p && *p; p++)
		if (strchr(*p, '=') && **p != '=')
			r = lc_env_put(&e, *p);
	for (const char *const *p = site_env; !r && p && *p; p++)
		r = lc_env_put(&e, *p);
	for (const char *const *p = overrides; !r && p && *p; p++) {
		const char *host = strchr(*p, '=') ? NULL : getenv(*p);

		if (**p == '=' || !**p) {
			lc_strvec_free(&e);
			return lc_fail(err, EINVAL, "invalid environment variable '%s'", *p);
		}
		if (strchr(*p, '='))
			r = lc_env_put(&e, *p);
		else if (host)
			r = lc_env_set(&e, *p, host);
	}
	if (r < 0) {
		lc_strvec_free(&e);
		return lc_fail(err, -r, "building the environment: %s", strerror(-r));
	}
	*ret = e;
	return 0;
}

static int strv_append(lc_strvec *v, const char *const *items)
{
	int r = 0;

	for (; !r && items && *items; items++)
		r = lc_strvec_push(v, *items);
	return r;
}

int lc_command_build(const lc_image *img, bool entrypoint, const char *const *argv, char ***ret,
		     lc_error *err)
{
	lc_strvec v = {0};
	const char *const *cmd = argv && *argv ? argv : lc_image_cmd(img);
	int r = 0;

	if (entrypoint)
		r = strv_append(&v, lc_image_entrypoint(img));
	if (!r)
		r = strv_append(&v, cmd);
	if (r < 0) {
		lc_strvec_free(&v);
		return lc_fail(err, ENOMEM, "out of memory");
	}
	if (!v.n) {
		lc_strvec_free(&v);
		return lc_fail(err, EINVAL, "no command given and the image has no Cmd");
	}
	*ret = lc_strvec_steal(&v);
	return 0;
}

/* ---------------------------------------------------------------- users */

static int user_groups(lc_user *u)
{
	int n = 64;

	if (geteuid() != 0)
		return 0; /* an unprivileged caller keeps its own groups */
	for (;;) {
		gid_t *g = realloc(u->groups, (size_t)n * sizeof(gid_t));
		int want = n;

		if (!g)
			return -ENOMEM;
		u->groups = g;
		if (getgrouplist(u->name, u->gid, g, &want) >= 0) {
			u->n_groups = want;
			return 0;
		}
		if (want <= n || want > 65536)
			return -EINVAL;
		n = want;
	}
}

int lc_user_lookup(uid_t uid, gid_t gid, uint32_t flags, lc_user *u, lc_error *err)
{
	bool remap = flags & LC_CONTAINER_REMAP_ROOT;
	struct passwd pw, *found = NULL;
	char buf[16384];
	int r;

	*u =
	    (lc_user){.uid = uid, .gid = gid, .in_uid = remap ? 0 : uid, .in_gid = remap ? 0 : gid};
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) != 0)
		found = NULL;
	if (found) {
		u->name = strdup(pw.pw_name);
		u->home = strdup(pw.pw_dir && *pw.pw_dir ? pw.pw_dir : "/");
		u->shell = strdup(pw.pw_shell && *pw.pw_shell ? pw.pw_shell : "/bin/sh");
	} else if (asprintf(&u->name, "%u", (unsigned)uid) >= 0) {
		u->home = strdup("/");
		u->shell = strdup("/bin/sh");
	}
	if (u->name) {
		u->in_name = strdup(remap ? "root" : u->name);
		u->in_home = strdup(remap ? "/root" : u->home);
	}
	r = !u->name || !u->home || !u->shell || !u->in_name || !u->in_home ? -ENOMEM : 0;
	if (!r && found)
		r = user_groups(u);
	if (r < 0) {
		lc_user_free(u);
		return lc_fail(err, -r, "looking up user %u: %s", (unsigned)uid, strerror(-r));
	}
	return 0;
}

void lc_user_free(lc_user *u)
{
	free(u->name);
	free(u->in_name);
	free(u->home);
	free(u->in_home);
	free(u->shell);
	free(u->groups);
	*u = (lc_user){0};
}

int lc_user_become(const lc_user *u)
{
	return u->uid == 0 ? 0 : lc_become_user(u->uid, u->gid, u->groups, (size_t)u->n_groups);
}
