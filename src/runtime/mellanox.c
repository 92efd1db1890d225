/* SPDX-License-Identifier: Apache-2.0 */
/*
 * enroot's 99-mellanox, built in: MELLANOX_VISIBLE_DEVICES (all, or a comma list of indices
 * into the node's mlx4/mlx5 verbs devices in sysfs order) selects the InfiniBand devices a
 * container sees. libibverbs finds devices through sysfs, so /sys/class/infiniband* are hidden
 * behind tmpfs and only the selected devices' entries are linked back; the device nodes are
 * /dev/infiniband/rdma_cm and the selected uverbs nodes. Unset, "void" or "none": nothing
 * changes (a restricted /dev has the whole /dev/infiniband). The management nodes (umad, issm)
 * are enroot's only for a real root with ENROOT_ALLOW_SUPERUSER: never here.
 */
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

#define UEVENT_MAX 4096

bool lc_mellanox_selects(const char *visible)
{
	return visible && *visible && strcmp(visible, "void") && strcmp(visible, "none");
}

/* The value of @key in the uevent file @path ("KEY=value" lines), or NULL. */
static char *uevent_value(const char *path, const char *key)
{
	_cleanup_free_ char *text = NULL;
	size_t klen = strlen(key);

	if (lc_file_read_all(path, UEVENT_MAX, &text, NULL, NULL) < 0)
		return NULL;
	for (char *line = text; line && *line;) {
		char *next = strchr(line, '\n');

		if (next)
			*next = '\0';
		if (!strncmp(line, key, klen) && line[klen] == '=')
			return strdup(line + klen + 1);
		line = next ? next + 1 : NULL;
	}
	return NULL;
}

/* Every "KEY" value of the uevent files matching @sys/bus/pci/drivers/mlx?_core/ * /@kind/ * /
 * uevent, in sorted order (the hook's glob order). */
static int uevents(const char *sys, const char *kind, const char *key, lc_strvec *out)
{
	char pattern[PATH_MAX];
	glob_t g = {0};
	int r = 0;

	snprintf(pattern, sizeof(pattern), "%s/bus/pci/drivers/mlx?_core/*/%s/*/uevent", sys, kind);
	if (glob(pattern, 0, NULL, &g) != 0)
		return 0;
	for (size_t i = 0; !r && i < g.gl_pathc; i++) {
		_cleanup_free_ char *value = uevent_value(g.gl_pathv[i], key);

		if (value && *value && !strstr(value, "..") && !strchr(value, '\n'))
			r = lc_strvec_push(out, value);
	}
	globfree(&g);
	return r;
}

/* The target of the host's sysfs entry @sys/class/@cls/@name as the container's /sys shows it,
 * a link: "/sys/devices/...". */
static int sysfs_link(const char *sys, const char *cls, const char *name, lc_mellanox *m)
{
	char path[PATH_MAX], real[PATH_MAX];
	size_t len = strlen(sys);
	_cleanup_free_ char *target = NULL, *at = NULL;

	snprintf(path, sizeof(path), "%s/class/%s/%s", sys, cls, name);
	if (!realpath(path, real) || strncmp(real, sys, len) || real[len] != '/')
		return 0; /* not a sysfs entry: no link */
	if (asprintf(&target, "/sys%s", real + len) < 0 ||
	    asprintf(&at, "/sys/class/%s/%s", cls, name) < 0)
		return -ENOMEM;
	if (lc_strvec_push(&m->link_paths, at) < 0 || lc_strvec_push(&m->link_targets, target) < 0)
		return -ENOMEM;
	return 0;
}

static int select_one(const char *sys, const lc_strvec *devices, const lc_strvec *ifaces, size_t id,
		      lc_mellanox *m)
{
	const char *dev = devices->v[id], *slash = strrchr(dev, '/');
	int r = lc_strvec_push(&m->nodes, dev);

	if (!r && id < ifaces->n)
		r = sysfs_link(sys, "infiniband", ifaces->v[id], m);
	if (!r)
		r = sysfs_link(sys, "infiniband_verbs", slash ? slash + 1 : dev, m);
	return r;
}

int lc_mellanox_select(const char *sys, const char *visible, lc_mellanox *m, lc_error *err)
{
	lc_strvec devices = {0}, ifaces = {0};
	_cleanup_free_ char *list = NULL;
	char *save = NULL;
	int r = uevents(sys, "infiniband_verbs", "DEVNAME", &devices);

	if (!r)
		r = uevents(sys, "infiniband", "NAME", &ifaces);
	if (!r && !(list = strdup(visible)))
		r = -ENOMEM;
	for (char *id = r ? NULL : strtok_r(list, ",", &save); !r && id;
	     id = strtok_r(NULL, ",", &save)) {
		char *end = NULL;
		unsigned long n = strtoul(id, &end, 10);

		if (!strcmp(id, "all")) {
			for (size_t i = 0; !r && i < devices.n; i++)
				r = select_one(sys, &devices, &ifaces, i, m);
			continue;
		}
		if (!*id || *end || *id == '-' || *id == '+' || n >= devices.n) {
			char shown[64];

			lc_str_sanitize(shown, sizeof(shown), id);
			r = lc_fail(
			    err, EINVAL,
			    "Unknown MELLANOX device id: %s (MELLANOX_VISIBLE_DEVICES; this "
			    "node has %zu)",
			    shown, devices.n);
			break;
		}
		r = select_one(sys, &devices, &ifaces, n, m);
	}
	if (r == -ENOMEM)
		r = lc_fail(err, ENOMEM, "out of memory");
	lc_strvec_free(&devices);
	lc_strvec_free(&ifaces);
	return r;
}

void lc_mellanox_clear(lc_mellanox *m)
{
	lc_strvec_free(&m->nodes);
	lc_strvec_free(&m->link_paths);
	lc_strvec_free(&m->link_targets);
}
