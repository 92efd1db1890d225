/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mount plan: every step that builds a container's filesystem, decided before anything is
 * mounted (bubblewrap's pattern), so that the plan can be checked and tested on its own and the
 * holder only applies it.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "runtime.h"

static int plan_add(lc_mount_plan *p, enum lc_step_kind kind, const char *source,
		    const char *target, unsigned long flags)
{
	lc_mount_step *s;

	if (lc_array_reserve(&p->steps, &p->cap, p->n, sizeof(*p->steps), 32) < 0)
		return -ENOMEM;
	s = &p->steps[p->n];
	*s = (lc_mount_step){.kind = kind, .flags = flags, .recursive = true};
	s->source = source ? strdup(source) : NULL;
	s->target = strdup(target);
	if ((source && !s->source) || !s->target) {
		free(s->source);
		free(s->target);
		return -ENOMEM;
	}
	p->n++;
	return 0;
}

static lc_mount_step *plan_last(lc_mount_plan *p)
{
	return &p->steps[p->n - 1];
}

static int plan_add_data(lc_mount_plan *p, enum lc_step_kind kind, const char *target,
			 unsigned long flags, const char *data)
{
	int r = plan_add(p, kind, NULL, target, flags);

	if (r < 0)
		return r;
	plan_last(p)->data = strdup(data);
	return plan_last(p)->data ? 0 : -ENOMEM;
}

/* A host path bound at @target, skipped when the host does not have it. */
static int plan_optional_bind_at(lc_mount_plan *p, const char *source, const char *target,
				 unsigned long flags)
{
	int r = plan_add(p, LC_STEP_BIND, source, target, flags);

	if (r < 0)
		return r;
	plan_last(p)->optional = true;
	return 0;
}

/* A host path bound at the same place, skipped when the host does not have it. */
static int plan_optional_bind(lc_mount_plan *p, const char *path, unsigned long flags)
{
	return plan_optional_bind_at(p, path, path, flags);
}

#define NOSUID_NODEV (MS_NOSUID | MS_NODEV)
#define NOSUID_NODEV_NOEXEC (MS_NOSUID | MS_NODEV | MS_NOEXEC)

static const char *const dev_nodes[] = {"null", "zero", "full", "random", "urandom", "tty", "log"};
static const char *const dev_links[][2] = {
    {"/dev/ptmx", "pts/ptmx"},          {"/dev/fd", "/proc/self/fd"},
    {"/dev/stdin", "/proc/self/fd/0"},  {"/dev/stdout", "/proc/self/fd/1"},
    {"/dev/stderr", "/proc/self/fd/2"}, {"/dev/core", "/proc/kcore"},
};

/* The host's accelerator and fabric devices that a restricted /dev keeps (enroot's 10-devices
 * and 99-mellanox): NVIDIA GPUs (nvidia*, nvidia-caps), GPUDirect RDMA (gdrdrv), InfiniBand,
 * Slingshot (cxi*), AMD GPUs (kfd, dri), and huge pages. */
static bool accelerator_device(const char *name)
{
	static const char *const prefixes[] = {"nvidia", "cxi", NULL};
	static const char *const names[] = {"infiniband", "gdrdrv",    "kfd",
					    "dri",        "hugepages", NULL};

	for (size_t i = 0; prefixes[i]; i++)
		if (lc_str_has_prefix(name, prefixes[i]))
			return true;
	for (size_t i = 0; names[i]; i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

static int plan_accelerators(lc_mount_plan *p, const char *dev_dir, bool whole_infiniband)
{
	_cleanup_free_ struct dirent **names = NULL;
	int n = scandir(dev_dir, &names, NULL, alphasort), r = 0;

	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		char source[512], target[512];

		if (!r && accelerator_device(name) &&
		    (whole_infiniband || strcmp(name, "infiniband"))) {
			snprintf(source, sizeof(source), "%s/%s", dev_dir, name);
			snprintf(target, sizeof(target), "/dev/%s", name);
			r = plan_optional_bind_at(p, source, target, MS_NOSUID);
		}
		free(names[i]);
	}
	return r;
}

/* /dev is the host's: enroot without ENROOT_RESTRICT_DEV; its 10-devices restricts /dev for a
 * private IPC namespace. */
static bool host_dev(uint32_t flags)
{
	return (flags & LC_CONTAINER_HOST_DEV) && !(flags & LC_CONTAINER_UNSHARE_IPC);
}

static int plan_dev(lc_mount_plan *p, const lc_plan_input *in)
{
	const char *dev_dir = in->dev_dir ? in->dev_dir : "/dev";
	uint32_t flags = in->flags;
	int r;

	if (host_dev(flags))
		return plan_add(p, LC_STEP_BIND, dev_dir, "/dev", MS_NOSUID | MS_NOEXEC);
	r = plan_add_data(p, LC_STEP_TMPFS, "/dev", MS_NOSUID | MS_NOEXEC, "mode=755,size=1m");

	for (size_t i = 0; !r && i < sizeof(dev_nodes) / sizeof(*dev_nodes); i++) {
		char path[64];

		snprintf(path, sizeof(path), "/dev/%s", dev_nodes[i]);
		r = plan_optional_bind(p, path, MS_NOSUID | MS_NOEXEC);
		if (!r)
			plan_last(p)->recursive = false;
	}
	if (!r)
		r = plan_add_data(p, LC_STEP_DEVPTS, "/dev/pts", MS_NOSUID | MS_NOEXEC,
				  "newinstance,ptmxmode=0666,mode=0620");
	for (size_t i = 0; !r && i < sizeof(dev_links) / sizeof(*dev_links); i++)
		r = plan_add(p, LC_STEP_SYMLINK, dev_links[i][1], dev_links[i][0], 0);
	/* POSIX shared memory and message queues belong to the IPC namespace */
	if (!r && (flags & LC_CONTAINER_UNSHARE_IPC))
		r = plan_add_data(p, LC_STEP_TMPFS, "/dev/shm", NOSUID_NODEV, "mode=1777");
	else if (!r)
		r = plan_optional_bind(p, "/dev/shm", NOSUID_NODEV);
	if (!r && !(flags & LC_CONTAINER_UNSHARE_IPC))
		r = plan_optional_bind(p, "/dev/mqueue", NOSUID_NODEV_NOEXEC);
	if (!r)
		r = plan_accelerators(p, dev_dir, !lc_mellanox_selects(in->mellanox));
	return r;
}

/* enroot's 10-cgroups: the container's own cgroups, read-only at the cgroup mount points */
static int plan_cgroups(lc_mount_plan *p, const lc_plan_input *in)
{
	lc_strvec sources = {0}, targets = {0};
	int r;

	if (!in->cgroup_proc && !in->cgroup_parent && lc_cgroup_unified()) {
		/* cgroup2 in the container's cgroup namespace: the holder's cgroup is its root */
		r = plan_add(p, LC_STEP_CGROUP2, NULL, "/sys/fs/cgroup",
			     MS_RDONLY | NOSUID_NODEV_NOEXEC);
		if (!r)
			plan_last(p)->optional = true;
		return r;
	}
	/* v1 hierarchies cannot be mounted in a user namespace, and a step's cgroup is above the
	 * holder's: the subtrees are bound over the host's mount points (in a new sysfs, on a
	 * tmpfs made for them) */
	r = lc_cgroup_subtrees(in->cgroup_proc ? in->cgroup_proc : "/proc/self", in->cgroup_parent,
			       &sources, &targets);
	if (!r && sources.n && (in->flags & LC_CONTAINER_UNSHARE_NET))
		r = plan_add_data(p, LC_STEP_TMPFS, "/sys/fs/cgroup", NOSUID_NODEV_NOEXEC,
				  "mode=755,size=64k");
	for (size_t i = 0; !r && i < sources.n; i++) {
		r = plan_optional_bind_at(p, sources.v[i], targets.v[i],
					  MS_RDONLY | NOSUID_NODEV_NOEXEC);
		if (!r)
			plan_last(p)->recursive = false;
	}
	lc_strvec_free(&sources);
	lc_strvec_free(&targets);
	return r;
}

static int plan_system(lc_mount_plan *p, const lc_plan_input *in)
{
	int r = plan_add(p, LC_STEP_BIND, "/proc", "/proc", NOSUID_NODEV_NOEXEC);

	/* sysfs shows the network devices of the namespace that mounted it */
	if (!r && (in->flags & LC_CONTAINER_UNSHARE_NET))
		r = plan_add(p, LC_STEP_SYSFS, NULL, "/sys", MS_RDONLY | NOSUID_NODEV_NOEXEC);
	else if (!r)
		r = plan_add(p, LC_STEP_BIND, "/sys", "/sys", MS_RDONLY | NOSUID_NODEV_NOEXEC);
	if (!r)
		r = plan_cgroups(p, in);
	if (!r)
		r = plan_dev(p, in);
	if (!r && (in->flags & LC_CONTAINER_HOST_TMP))
		r = plan_add(p, LC_STEP_BIND, "/tmp", "/tmp", NOSUID_NODEV);
	else if (!r)
		r = plan_add_data(p, LC_STEP_TMPFS, "/tmp", NOSUID_NODEV, "mode=1777");
	for (const char *const *f =
		 (const char *const[]){"/etc/hosts", "/etc/resolv.conf", "/etc/hostname", NULL};
	     !r && *f; f++) {
		r = plan_optional_bind(p, *f, MS_RDONLY | NOSUID_NODEV);
		if (!r)
			plan_last(p)->recursive = false;
	}
	/* enroot's 10-shadow */
	if (!r)
		r = plan_add(p, LC_STEP_USERDB, NULL, "/etc/passwd", 0);
	if (!r)
		r = plan_add(p, LC_STEP_USERDB, NULL, "/etc/group", 0);
	return r;
}

/* A bind source as the holder opens it: relative sources are taken from @cwd. */
static char *absolute_source(const char *source, const char *cwd)
{
	char *abs = NULL;

	if (source[0] == '/')
		return strdup(source);
	if (asprintf(&abs, "%s/%s", cwd ? cwd : "/", source) < 0)
		return NULL;
	return abs;
}

/* A user's tmpfs: the kernel's options given, mode=1777 unless one is. */
static char *tmpfs_data(const lc_mount_spec *m)
{
	bool mode = m->data && (lc_str_has_prefix(m->data, "mode=") || strstr(m->data, ",mode="));
	char *data = NULL;

	if (asprintf(&data, "%s%s%s", mode ? "" : "mode=1777", !mode && m->data ? "," : "",
		     m->data ? m->data : "") < 0)
		return NULL;
	return data;
}

static int plan_user_spec(lc_mount_plan *p, const lc_mount_spec *m, const char *cwd)
{
	static const enum lc_step_kind kinds[] = {[LC_MOUNT_BIND] = LC_STEP_BIND,
						  [LC_MOUNT_TMPFS] = LC_STEP_TMPFS,
						  [LC_MOUNT_UMOUNT] = LC_STEP_UMOUNT};
	_cleanup_free_ char *source = m->source ? absolute_source(m->source, cwd) : NULL;
	_cleanup_free_ char *data = m->kind == LC_MOUNT_TMPFS ? tmpfs_data(m) : NULL;
	lc_mount_step *s;
	int r;

	if ((m->source && !source) || (m->kind == LC_MOUNT_TMPFS && !data))
		return -ENOMEM;
	r = m->kind == LC_MOUNT_TMPFS ? plan_add_data(p, LC_STEP_TMPFS, m->target, m->flags, data)
				      : plan_add(p, kinds[m->kind], source, m->target, m->flags);
	if (r < 0)
		return r;
	s = plan_last(p);
	s->user = true;
	s->recursive = m->recursive;
	s->propagation = m->propagation;
	return 0;
}

/* The site's mounts of pass -1 (@before) or of the others. */
static int plan_site_mounts(lc_mount_plan *p, const lc_site *site, bool before)
{
	int r = 0;

	for (size_t i = 0; !r && site && i < site->mounts.n; i++) {
		const lc_fstab_entry *e = &site->mounts.v[i];

		if ((e->pass < 0) != before)
			continue;
		r = plan_add(p, LC_STEP_FSTAB, e->source, e->target, 0);
		if (!r)
			plan_last(p)->fstab = e;
	}
	return r;
}

/* enroot's 99-mellanox: sysfs's InfiniBand classes hidden but for the selected devices, whose
 * nodes (and rdma_cm) are the only ones of /dev/infiniband in a restricted /dev. */
static int plan_mellanox(lc_mount_plan *p, const lc_plan_input *in, lc_mellanox *m)
{
	static const char *const classes[] = {"infiniband", "infiniband_verbs", "infiniband_cm",
					      "infiniband_mad"};
	const char *sys = in->sys_dir ? in->sys_dir : "/sys";
	char source[PATH_MAX], target[PATH_MAX];
	int r = 0;

	for (size_t i = 0; !r && i < LC_ELEMENTSOF(classes); i++) {
		snprintf(target, sizeof(target), "/sys/class/%s", classes[i]);
		r = plan_add_data(p, LC_STEP_TMPFS, target, NOSUID_NODEV_NOEXEC, "mode=755");
		if (!r)
			plan_last(p)->optional = true; /* a node without InfiniBand has no class */
		snprintf(source, sizeof(source), "%s/class/%s/abi_version", sys, classes[i]);
		snprintf(target, sizeof(target), "/sys/class/%s/abi_version", classes[i]);
		if (!r && i)
			r = plan_optional_bind_at(p, source, target,
						  MS_RDONLY | NOSUID_NODEV_NOEXEC);
	}
	for (size_t i = 0; !r && i < m->link_paths.n; i++) {
		r = plan_add(p, LC_STEP_SYMLINK, m->link_targets.v[i], m->link_paths.v[i], 0);
		if (!r)
			plan_last(p)->optional = true;
	}
	if (host_dev(in->flags))
		return r; /* the host's /dev has every node */
	for (size_t i = 0; !r && i <= m->nodes.n; i++) {
		const char *node = i < m->nodes.n ? m->nodes.v[i] : "infiniband/rdma_cm";

		snprintf(source, sizeof(source), "%s/%s", in->dev_dir ? in->dev_dir : "/dev", node);
		snprintf(target, sizeof(target), "/dev/%s", node);
		r = plan_optional_bind_at(p, source, target, MS_NOSUID | MS_NOEXEC);
	}
	return r;
}

/* CDI devices: their nodes bound from the host (never created; not nodev), their mounts, the
 * links NVIDIA's hook would make. */
static int plan_devices(lc_mount_plan *p, const lc_devices *d)
{
	const lc_cdi_edits *e = &d->edits;
	int r = 0;

	for (size_t i = 0; !r && i < e->n_nodes; i++) {
		r = plan_add(p, LC_STEP_BIND, e->nodes[i].host_path, e->nodes[i].path,
			     MS_NOSUID | MS_NOEXEC);
		if (!r)
			plan_last(p)->recursive = false;
		if (!r)
			plan_last(p)->inject = true;
	}
	for (size_t i = 0; !r && i < e->n_mounts; i++) {
		unsigned long flags;
		bool recursive;

		r = lc_devices_mount_flags(&e->mounts[i], &flags, &recursive);
		if (!r)
			r = plan_add(p, LC_STEP_BIND, e->mounts[i].host_path,
				     e->mounts[i].container_path, flags);
		if (!r)
			plan_last(p)->recursive = recursive;
		if (!r)
			plan_last(p)->inject = true;
	}
	/* NVIDIA's create-symlinks, after the mounts that hold their targets */
	for (size_t i = 0; !r && i < d->link_paths.n; i++) {
		r = plan_add(p, LC_STEP_SYMLINK, d->link_targets.v[i], d->link_paths.v[i], 0);
		if (!r)
			plan_last(p)->inject = true;
	}
	if (!r && d->nvidia_params)
		r = plan_add_data(p, LC_STEP_FILE, "/proc/driver/nvidia/params",
				  MS_RDONLY | NOSUID_NODEV_NOEXEC, d->nvidia_params);
	if (!r && d->nvidia_params)
		plan_last(p)->optional = true;
	if (!r && d->nvidia_cli)
		r = plan_add(p, LC_STEP_NVIDIA_CLI, d->nvidia_cli, "/", 0);
	return r;
}

int lc_mount_plan_build(const lc_plan_input *in, lc_mount_plan *plan, lc_error *err)
{
	lc_mount_plan p = {0};
	lc_mellanox m = {0};
	int r = 0;

	if (lc_mellanox_selects(in->mellanox))
		r = lc_mellanox_select(in->sys_dir ? in->sys_dir : "/sys", in->mellanox, &m, err);
	if (r < 0) {
		lc_mellanox_clear(&m);
		return r;
	}
	r = plan_system(&p, in);
	if (!r && lc_mellanox_selects(in->mellanox))
		r = plan_mellanox(&p, in, &m);
	lc_mellanox_clear(&m);

	/* enroot's mount file: the image's /etc/fstab, then mounts.d; pass -1, hooks, the rest */
	if (!r)
		r = plan_add_data(&p, LC_STEP_IMAGE_FSTAB, "/etc/fstab", 0, "-1");
	if (!r)
		r = plan_site_mounts(&p, in->site, true);
	if (!r)
		r = plan_add(&p, LC_STEP_HOOKS, NULL, "/", 0);
	if (!r && in->devices)
		r = plan_devices(&p, in->devices);
	if (!r)
		r = plan_add_data(&p, LC_STEP_IMAGE_FSTAB, "/etc/fstab", 0, "0");
	if (!r)
		r = plan_site_mounts(&p, in->site, false);
	/* with remap-root, the home is root's (enroot's 10-home) */
	if (!r && (in->flags & LC_CONTAINER_MOUNT_HOME))
		r = plan_add(&p, LC_STEP_BIND, in->user->home, in->user->in_home, NOSUID_NODEV);
	for (size_t i = 0; !r && i < in->n_specs; i++)
		r = plan_user_spec(&p, &in->specs[i], in->cwd);
	if (!r && in->workdir && *in->workdir)
		r = plan_add(&p, LC_STEP_MKDIR, NULL, in->workdir, 0);
	if (r < 0) {
		lc_mount_plan_free(&p);
		return lc_fail(err, -r, "building the mount plan: %s", strerror(-r));
	}
	*plan = p;
	return 0;
}

void lc_mount_plan_free(lc_mount_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		free(plan->steps[i].source);
		free(plan->steps[i].target);
		free(plan->steps[i].data);
	}
	free(plan->steps);
	*plan = (lc_mount_plan){0};
}
