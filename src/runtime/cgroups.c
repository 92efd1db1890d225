/* SPDX-License-Identifier: Apache-2.0 */
/*
 * enroot's 10-cgroups: for each hierarchy of the caller (/proc/self/cgroup), the caller's own
 * subtree of it (found through /proc/self/mountinfo), or for a Slurm task its parent, the step's
 * (enroot goes one level up when SLURM_STEP_ID is set, so every task of the step shows), to be
 * bound read-only over the hierarchy's mount point. Needed where a container cannot mount the
 * hierarchy itself (cgroup v1, in a user namespace) or where its cgroup namespace's root would
 * be only the first task's cgroup (a Slurm step); otherwise the container mounts cgroup2 in its
 * own cgroup namespace.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>

#include "runtime.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

bool lc_cgroup_unified(void)
{
	struct statfs fs;

	return statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

/* Whether the comma-separated @list holds every name of the comma-separated @names. */
static bool has_all(const char *list, const char *names)
{
	while (*names) {
		size_t len = strcspn(names, ",");
		bool found = false;

		for (const char *p = list; *p && !found; p += strcspn(p, ","), p += *p == ',')
			found = strcspn(p, ",") == len && !strncmp(p, names, len);
		if (!found)
			return false;
		names += len + (names[len] == ',');
	}
	return true;
}

/* The mount of the hierarchy @ctrl ("" for the unified one) in a mountinfo line: its root and
 * mount point (not escaped: a path with a blank is skipped). */
static bool hierarchy_mount(char *line, const char *ctrl, char **root, char **point)
{
	char *save = NULL, *f[5] = {NULL}, *dash = strstr(line, " - "), *type, *super;

	if (!dash)
		return false;
	*dash = '\0';
	f[0] = strtok_r(line, " ", &save);
	for (int i = 1; i < 5 && f[i - 1]; i++)
		f[i] = strtok_r(NULL, " ", &save);
	save = NULL;
	type = strtok_r(dash + 3, " ", &save);
	(void)strtok_r(NULL, " ", &save); /* the source */
	super = strtok_r(NULL, " \n", &save);
	if (!f[4] || !type || !super || strchr(f[3], '\\') || strchr(f[4], '\\'))
		return false;
	*root = f[3];
	*point = f[4];
	return *ctrl ? !strcmp(type, "cgroup") && has_all(super, ctrl) : !strcmp(type, "cgroup2");
}

/* The subtree of the hierarchy @ctrl at @path (relative to its root), from @mountinfo. */
static int subtree(const char *mountinfo, const char *ctrl, const char *path, lc_strvec *sources,
		   lc_strvec *targets)
{
	_cleanup_free_ char *copy = strdup(mountinfo);
	_cleanup_free_ char *source = NULL;
	char *save = NULL, *root, *point;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t root_len;

		if (!hierarchy_mount(line, ctrl, &root, &point))
			continue;
		root_len = strcmp(root, "/") ? strlen(root) : 0;
		if (strncmp(path, root, root_len) || (path[root_len] && path[root_len] != '/'))
			return 0; /* outside what the host mounted */
		if (asprintf(&source, "%s%s", point, path + root_len) < 0)
			return -ENOMEM;
		r = lc_strvec_push(sources, source);
		return r ? r : lc_strvec_push(targets, point);
	}
	return 0;
}

int lc_cgroup_subtrees(const char *proc_self, bool parent, lc_strvec *sources, lc_strvec *targets)
{
	_cleanup_free_ char *cgroups = NULL, *mountinfo = NULL, *a = NULL, *b = NULL;
	char *save = NULL;
	int r;

	if (asprintf(&a, "%s/cgroup", proc_self) < 0 || asprintf(&b, "%s/mountinfo", proc_self) < 0)
		return -ENOMEM;
	/* procfs files: read whole, at most 1 MiB */
	r = lc_file_read_all(a, 1 << 20, &cgroups, NULL, NULL);
	if (r >= 0)
		r = lc_file_read_all(b, 1 << 20, &mountinfo, NULL, NULL);
	if (r < 0)
		return r == -ENOMEM ? r : 0;
	for (char *line = strtok_r(cgroups, "\n", &save); !r && line;
	     line = strtok_r(NULL, "\n", &save)) {
		/* "ID:CONTROLLERS:PATH"; name=systemd is a hierarchy too */
		char *ctrl = strchr(line, ':'), *path = ctrl ? strchr(ctrl + 1, ':') : NULL;

		char *last;

		if (!path || path[1] != '/')
			continue;
		*path++ = '\0';
		last = strrchr(path, '/');
		if (parent && last && last[1] && strcmp(last + 1, "..")) /* never above the root */
			*(last == path ? last + 1 : last) = '\0';
		r = subtree(mountinfo, ctrl + 1, path, sources, targets);
	}
	return r;
}
