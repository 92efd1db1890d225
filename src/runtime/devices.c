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
	for (size_t i = 0; i < e->n_hooks; i++)
		lc_warn(ctx, "CDI hook %s (%s%s%s) not run: specs never run programs here",
			e->hooks[i].hook_name, e->hooks[i].path, e->hooks[i].args.n > 1 ? " " : "",
			e->hooks[i].args.n > 1 ? e->hooks[i].args.v[1] : "");
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
static int nvidia_names(lc_ctx *ctx, const lc_cdi_registry *reg, const char *dirs,
			const char *const *caller_env, const char *const *image_env,
			lc_strvec *names, lc_error *err)
{
	lc_nvidia_request req;
	const char *mine = lc_strv_lookup(caller_env, "NVIDIA_VISIBLE_DEVICES", 22);
	const char *visible = mine ? mine : lc_strv_lookup(image_env, "NVIDIA_VISIBLE_DEVICES", 22);
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
	if (r < 0 || !req.wanted)
		return r;
	if (!lc_cdi_has_kind(reg, "nvidia.com/gpu")) {
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

int lc_devices_resolve(lc_ctx *ctx, const lc_devices_request *q, lc_cdi_edits *edits, lc_error *err)
{
	const char *dirs = q->dirs ? q->dirs : CDI_DEFAULT_DIRS;
	lc_cdi_registry *reg = NULL;
	lc_strvec names = {0};
	int r = 0;

	*edits = (lc_cdi_edits){0};
	for (const char *const *n = q->names; !r && n && *n; n++)
		r = lc_strvec_push(&names, *n) < 0 ? lc_fail(err, ENOMEM, "out of memory") : 0;
	if (r >= 0)
		r = lc_cdi_registry_load(ctx, dirs, geteuid() == 0, &reg, err);
	if (r >= 0)
		r = nvidia_names(ctx, reg, dirs, q->caller_env, q->image_env, &names, err);
	if (r >= 0 && names.n)
		r = lc_cdi_resolve(reg, (const char *const *)names.v, edits, err);
	lc_cdi_registry_free(reg);
	lc_strvec_free(&names);
	if (r >= 0)
		r = check_edits(ctx, edits, err);
	if (r < 0)
		lc_cdi_edits_clear(edits);
	return r;
}
