/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Devices by their CDI names (lc_container_opts.devices): the specs read (src/cdi), the names
 * resolved into edits, and everything they name checked on the host before anything is
 * mounted. The plan binds the nodes and mounts (plan.c); the environment joins the site's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"

#define CDI_DEFAULT_DIRS "/etc/cdi:/var/run/cdi"
#define NVIDIA_DRIVER_PROC "/proc/driver/nvidia"

int lc_devices_mount_flags(const lc_cdi_mount *m, unsigned long *flags, bool *recursive)
{
	*flags = 0;
	*recursive = false;
	if (m->type && strcmp(m->type, "bind") && strcmp(m->type, "none"))
		return -EOPNOTSUPP;
	for (size_t i = 0; i < m->options.n; i++) {
		const char *o = m->options.v[i];

		*flags |= !strcmp(o, "ro")       ? MS_RDONLY
			  : !strcmp(o, "nosuid") ? MS_NOSUID
			  : !strcmp(o, "nodev")  ? MS_NODEV
			  : !strcmp(o, "noexec") ? MS_NOEXEC
						 : 0;
		*recursive = *recursive || !strcmp(o, "rbind");
	}
	return 0;
}

/* The action of an NVIDIA hook ("nvidia-cdi-hook ACTION" or "nvidia-ctk hook ACTION"), or
 * NULL; *@args: the index of its first argument after the action. */
static const char *nvidia_action(const lc_cdi_hook *h, size_t *args)
{
	const char *base = strrchr(h->path, '/') ? strrchr(h->path, '/') + 1 : h->path;

	if (!strcmp(base, "nvidia-cdi-hook") && h->args.n >= 2) {
		*args = 2;
		return h->args.v[1];
	}
	if (!strcmp(base, "nvidia-ctk") && h->args.n >= 3 && !strcmp(h->args.v[1], "hook")) {
		*args = 3;
		return h->args.v[2];
	}
	return NULL;
}

/* create-symlinks, done here: each --link TARGET::LINK becomes a link made inside the root. */
static int create_symlinks(const lc_cdi_hook *h, size_t first, lc_devices *d, lc_error *err)
{
	for (size_t i = first; i < h->args.n; i++) {
		const char *a = h->args.v[i], *v = NULL, *sep;
		_cleanup_free_ char *target = NULL;
		char shown[200];

		if (!strcmp(a, "--link") && i + 1 < h->args.n)
			v = h->args.v[++i];
		else if (lc_str_has_prefix(a, "--link="))
			v = a + 7;
		if (!v)
			continue;
		sep = strstr(v, "::");
		if (!sep || sep == v || sep[2] != '/') {
			lc_str_sanitize(shown, sizeof(shown), v);
			return lc_fail(err, EINVAL, "CDI hook create-symlinks: bad --link '%s'",
				       shown);
		}
		if (!(target = strndup(v, (size_t)(sep - v))) ||
		    lc_strvec_push(&d->link_targets, target) < 0 ||
		    lc_strvec_push(&d->link_paths, sep + 2) < 0)
			return lc_fail(err, ENOMEM, "out of memory");
	}
	return 0;
}

/* The hooks: NVIDIA's create-symlinks is done natively; no hook is ever run (a warning). */
static int native_hooks(lc_ctx *ctx, lc_devices *d, lc_error *err)
{
	const lc_cdi_edits *e = &d->edits;

	for (size_t i = 0; i < e->n_hooks; i++) {
		size_t first = 0;
		const char *action = nvidia_action(&e->hooks[i], &first);
		int r;

		if (action && !strcmp(action, "create-symlinks")) {
			r = create_symlinks(&e->hooks[i], first, d, err);
			if (r < 0)
				return r;
			continue;
		}
		lc_warn(ctx, "CDI hook %s (%s%s%s) not run: specs never run programs here",
			e->hooks[i].hook_name, e->hooks[i].path, action ? " " : "",
			action ? action : "");
	}
	return 0;
}

void lc_devices_clear(lc_devices *d)
{
	lc_cdi_edits_clear(&d->edits);
	lc_strvec_free(&d->link_targets);
	lc_strvec_free(&d->link_paths);
}

static int check_edits(lc_ctx *ctx, const lc_cdi_edits *e, lc_error *err)
{
	struct stat st;

	for (size_t i = 0; i < e->n_nodes; i++) {
		if (stat(e->nodes[i].host_path, &st) < 0)
			return lc_fail(err, errno, "CDI device node %s: %m", e->nodes[i].host_path);
		if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode) && !S_ISFIFO(st.st_mode))
			return lc_fail(err, EINVAL, "CDI device node %s: not a device",
				       e->nodes[i].host_path);
	}
	for (size_t i = 0; i < e->n_mounts; i++) {
		unsigned long flags;
		bool rec;

		if (lc_devices_mount_flags(&e->mounts[i], &flags, &rec) < 0)
			return lc_fail(err, EOPNOTSUPP,
				       "CDI mount on %s: type '%s' is not supported",
				       e->mounts[i].container_path, e->mounts[i].type);
		if (stat(e->mounts[i].host_path, &st) < 0)
			return lc_fail(err, errno, "CDI mount %s: %m", e->mounts[i].host_path);
	}
	if (e->n_gids)
		lc_warn(ctx,
			"CDI: %zu additional group id%s not given: the container's user "
			"namespace maps the user's group alone",
			e->n_gids, e->n_gids > 1 ? "s" : "");
	return 0;
}

/* NVIDIA_VISIBLE_DEVICES and the rest, as enroot's 98-nvidia hook reads them, added to @names as
 * the nvidia.com/gpu devices of the node's CDI spec. A node without NVIDIA's driver serves a
 * request that only the image made as a CPU container (CUDA images must keep running on CPU
 * nodes); the caller's own request is an error there. */
/* The node's specs, read when first needed: most starts ask for no device. */
static int registry(lc_ctx *ctx, const char *dirs, lc_cdi_registry **reg, lc_error *err)
{
	return *reg ? 0 : lc_cdi_registry_load(ctx, dirs, geteuid() == 0, reg, err);
}

static int nvidia_names(lc_ctx *ctx, lc_cdi_registry **reg, const char *dirs,
			const char *const *caller_env, const char *const *image_env,
			lc_strvec *names, lc_error *err)
{
	lc_nvidia_request req;
	const char *mine = lc_strv_get(caller_env, "NVIDIA_VISIBLE_DEVICES");
	const char *visible = mine ? mine : lc_strv_get(image_env, "NVIDIA_VISIBLE_DEVICES");
	bool driver = access(NVIDIA_DRIVER_PROC, F_OK) == 0;
	char shown[80];
	int r;

	if (!visible || !*visible || !strcmp(visible, "void"))
		return 0;
	lc_str_sanitize(shown, sizeof(shown), visible);
	visible = shown;
	if (!driver && !mine) {
		lc_debug(ctx,
			 "NVIDIA_VISIBLE_DEVICES=%s from the image, but this node has no NVIDIA "
			 "driver (%s): a CPU container",
			 visible, NVIDIA_DRIVER_PROC);
		return 0;
	}
	if (!driver)
		return lc_fail(err, ENODEV,
			       "NVIDIA_VISIBLE_DEVICES=%s: this node has no NVIDIA driver (%s)",
			       visible, NVIDIA_DRIVER_PROC);
	r = lc_nvidia_request_parse(caller_env, image_env, &req, err);
	if (r >= 0 && req.wanted)
		r = registry(ctx, dirs, reg, err);
	if (r < 0 || !req.wanted) {
		lc_nvidia_request_clear(&req);
		return r;
	}
	if (!lc_cdi_has_kind(*reg, "nvidia.com/gpu")) {
		r = lc_fail(err, ENODEV,
			    "NVIDIA_VISIBLE_DEVICES=%s: no CDI spec for nvidia.com/gpu in %s "
			    "(nvidia-ctk cdi generate writes one), and nvidia-container-cli is not "
			    "supported yet",
			    visible, dirs);
	} else if (lc_nvidia_cdi_names(&req, names) < 0) {
		r = lc_fail(err, ENOMEM, "out of memory");
	}
	lc_nvidia_request_clear(&req);
	return r;
}

int lc_devices_resolve(lc_ctx *ctx, const lc_devices_request *q, lc_devices *d, lc_error *err)
{
	lc_cdi_edits *edits = &d->edits;
	const char *dirs = q->dirs ? q->dirs : CDI_DEFAULT_DIRS;
	lc_cdi_registry *reg = NULL;
	lc_strvec names = {0};
	int r = 0;

	*d = (lc_devices){0};
	for (const char *const *n = q->names; !r && n && *n; n++)
		r = lc_strvec_push(&names, *n) < 0 ? lc_fail(err, ENOMEM, "out of memory") : 0;
	if (r >= 0)
		r = nvidia_names(ctx, &reg, dirs, q->caller_env, q->image_env, &names, err);
	if (r >= 0 && names.n)
		r = registry(ctx, dirs, &reg, err);
	if (r >= 0 && names.n)
		r = lc_cdi_resolve(reg, (const char *const *)names.v, edits, err);
	lc_cdi_registry_free(reg);
	lc_strvec_free(&names);
	if (r >= 0)
		r = check_edits(ctx, edits, err);
	if (r >= 0)
		r = native_hooks(ctx, d, err);
	if (r < 0)
		lc_devices_clear(d);
	return r;
}
