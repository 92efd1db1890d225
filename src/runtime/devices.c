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

int lc_devices_resolve(lc_ctx *ctx, const char *const *names, const char *dirs, lc_cdi_edits *edits,
		       lc_error *err)
{
	lc_cdi_registry *reg = NULL;
	int r;

	*edits = (lc_cdi_edits){0};
	if (!names || !*names)
		return 0;
	r = lc_cdi_registry_load(ctx, dirs ? dirs : CDI_DEFAULT_DIRS, geteuid() == 0, &reg, err);
	if (r >= 0)
		r = lc_cdi_resolve(reg, names, edits, err);
	lc_cdi_registry_free(reg);
	if (r >= 0)
		r = check_edits(ctx, edits, err);
	if (r < 0)
		lc_cdi_edits_clear(edits);
	return r;
}
