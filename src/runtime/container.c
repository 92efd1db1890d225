/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Containers, their lifecycle: the caller checks the options, resolves the user, opens the
 * image (as the user) and reads its config, builds the mount plan and the seccomp filter, and
 * chooses FUSE or the kernel's driver; then it starts the holder (holder.c), which makes the
 * container, and keeps its pidfd, through which processes join it (spawn.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../squash/squash.h"
#include "container.h"

int lc_ns_flags(uint32_t flags)
{
	return CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP |
	       (flags & LC_CONTAINER_UNSHARE_NET ? CLONE_NEWNET : 0) |
	       (flags & LC_CONTAINER_UNSHARE_IPC ? CLONE_NEWIPC : 0) |
	       (flags & LC_CONTAINER_UNSHARE_UTS ? CLONE_NEWUTS : 0);
}

int lc_container_opts_read(const lc_container_opts *in, lc_container_opts *o, lc_error *err)
{
	static const size_t size_of[] = {0,
					 offsetof(lc_container_opts, hold_fd),
					 offsetof(lc_container_opts, named),
					 offsetof(lc_container_opts, site),
					 offsetof(lc_container_opts, devices),
					 offsetof(lc_container_opts, nvidia_backend),
					 sizeof(lc_container_opts)};
	int r = lc_opts_check(in, in ? in->version : 0, LC_CONTAINER_OPTS_VERSION,
			      in ? in->flags : 0, LC_CONTAINER_ALL, "lc_container_opts", err);

	if (r < 0)
		return r;
	*o = (lc_container_opts)LC_CONTAINER_OPTS_INIT;
	memcpy(o, in, size_of[in->version]);
	o->version = LC_CONTAINER_OPTS_VERSION;
	o->flags |= lc_site_container_flags(o->site);
	return 0;
}

static int check_opts(const lc_container_opts *o, lc_error *err)
{
	if (o->named_instance &&
	    (!o->named || !*o->named_instance || strchr(o->named_instance, '/') ||
	     strlen(o->named_instance) > NAME_MAX - 5))
		return lc_fail(err, EINVAL, "lc_container_create: bad named instance");
	if ((o->flags & LC_CONTAINER_VOLATILE_UPPER) && (!o->named || o->named_instance))
		return lc_fail(
		    err, EINVAL,
		    "lc_container_create: a volatile upper layer is for a named instance");
	if (!o->image_path || !*o->image_path)
		return lc_fail(err, EINVAL, "no image given");
	if (geteuid() != 0 && o->uid != (uid_t)-1 && o->uid != getuid())
		return lc_fail(err, EPERM, "only root can create a container for another user");
	return 0;
}

/* The kernel's driver for a trusted image in a read-only container, else FUSE (logged why). */
static void try_kernel_squashfs(lc_container *c, lc_holder *h, const char *path)
{
	lc_error why = LC_ERROR_INIT;

	if (c->flags & LC_CONTAINER_RW) {
		lc_debug(c->ctx, "%s: writable container, served over FUSE", path);
		return;
	}
	if (lc_image_trust_check(h->image_fd, path, &why) < 0) {
		lc_debug(c->ctx, "%s: not for the kernel's squashfs driver (%s), served over FUSE",
			 path, lc_error_message(&why));
		return;
	}
	if (lc_kernel_squashfs_mount(h->image_fd, c->user.uid, c->user.gid, &h->kernel_fd, &why) <
	    0) {
		h->kernel_fd = -1;
		lc_warn(c->ctx, "%s: the kernel's squashfs driver failed (%s), served over FUSE",
			path, lc_error_message(&why));
		return;
	}
	lc_debug(c->ctx, "%s: mounted by the kernel's squashfs driver", path);
}

/* MELLANOX_VISIBLE_DEVICES as enroot's 99-mellanox reads it: the caller's environment or the
 * site's configuration, else the container's environment (the site's environ.d, the image). */
static const char *mellanox_visible(const lc_container *c, const lc_site *site)
{
	static const char key[] = "MELLANOX_VISIBLE_DEVICES";
	const char *v = site ? lc_site_setting(site, key) : NULL;

	if (!v && site)
		v = lc_env_get(&site->environ, key);
	return v ? v : lc_strv_get(lc_image_env(c->img), key);
}

static int prepare(lc_container *c, const lc_container_opts *o, lc_holder *h, lc_error *err)
{
	_cleanup_free_ char *cwd = o->cwd ? strdup(o->cwd) : getcwd(NULL, 0);
	_cleanup_free_ char *image = NULL;
	const char *login;
	lc_devices *devices = &h->devices;
	lc_mount_spec *specs = NULL;
	size_t n_specs = 0;
	int r, config_fd;

	r = lc_user_lookup(o->uid == (uid_t)-1 ? getuid() : o->uid,
			   o->gid == (gid_t)-1 ? getgid() : o->gid, o->flags, &c->user, err);
	if (r >= 0 && o->mounts && *o->mounts)
		r = lc_mount_specs_parse(o->mounts, &specs, &n_specs, err);
	if (r >= 0 && o->image_path[0] != '/' && o->cwd &&
	    asprintf(&image, "%s/%s", o->cwd, o->image_path) < 0)
		r = lc_fail(err, ENOMEM, "out of memory");
	if (r >= 0)
		r = lc_image_open_as(c->user.uid, c->user.gid, image ? image : o->image_path,
				     &h->image_fd, err);
	if (r >= 0) {
		config_fd = fcntl(h->image_fd, F_DUPFD_CLOEXEC, 3);
		r = config_fd < 0
			? lc_fail(err, errno, "dup: %m")
			: lc_squash_image_config_fd(config_fd, o->image_path, &c->img, err);
	}
	if (r >= 0)
		r = lc_devices_resolve(
		    c->ctx,
		    &(lc_devices_request){o->devices, o->cdi_spec_dirs,
					  o->site ? (const char *const *)o->site->env.v : NULL,
					  lc_image_env(c->img), o->nvidia_backend,
					  o->flags & LC_CONTAINER_REFUSE_CDI_HOOKS},
		    devices, err);
	if (r >= 0) {
		lc_plan_input in = {.flags = o->flags,
				    .user = &c->user,
				    .specs = specs,
				    .n_specs = n_specs,
				    .cwd = cwd,
				    .workdir = lc_image_workdir(c->img),
				    .site = o->site,
				    .cgroup_parent =
					o->site && lc_env_get(&o->site->env, "SLURM_STEP_ID"),
				    .mellanox = mellanox_visible(c, o->site),
				    .devices = devices};

		r = lc_mount_plan_build(&in, &h->plan, err);
	}
	login = o->site ? lc_site_setting(o->site, "ENROOT_LOGIN_SHELL") : NULL;
	snprintf(c->login_shell, sizeof(c->login_shell), "%s",
		 login && login[0] == '/' && strlen(login) < sizeof(c->login_shell) ? login
										    : "/bin/sh");
	lc_mount_specs_free(specs, n_specs);
	for (char **v = o->site ? o->site->environ.v : NULL; r >= 0 && v && *v; v++)
		if (lc_env_put(&c->site_env, *v) < 0)
			r = lc_fail(err, ENOMEM, "out of memory");
	/* the devices' variables after the site's, as a hook's would be */
	for (size_t i = 0; r >= 0 && i < devices->edits.env.n; i++)
		if (lc_env_put(&c->site_env, devices->edits.env.v[i]) < 0)
			r = lc_fail(err, ENOMEM, "out of memory");
	if (r >= 0)
		r = lc_seccomp_prog_new(&c->seccomp, err);
	if (r >= 0 && (o->flags & LC_CONTAINER_KERNEL_SQUASHFS))
		try_kernel_squashfs(c, h, image ? image : o->image_path);
	h->fuse_from_caller = geteuid() == 0 && c->user.uid != 0 && h->kernel_fd < 0;
	return r;
}

/* One debug line: how long each phase of the start took, from @t0 (ms). */
static void log_start_phases(lc_ctx *ctx, const lc_holder *h, int64_t t0)
{
	static const char *const names[LC_PHASES] = {
	    [LC_PHASE_PREPARE] = "prepare",       [LC_PHASE_FORK] = "fork",
	    [LC_PHASE_NAMESPACES] = "namespaces", [LC_PHASE_FUSE] = "fuse",
	    [LC_PHASE_SOURCES] = "sources",       [LC_PHASE_ROOTFS] = "rootfs",
	    [LC_PHASE_MOUNTS] = "mounts",         [LC_PHASE_PIVOT] = "pivot",
	    [LC_PHASE_REPORT] = "report"};
	char line[512];
	size_t len = 0;
	int64_t prev = t0;

	for (int i = 0; i < LC_PHASES && len < sizeof(line); i++) {
		if (h->at[i] < prev) /* not reported */
			return;
		len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s %.1f", i ? ", " : "",
					names[i], (double)(h->at[i] - prev) / 1000);
		prev = h->at[i];
	}
	lc_debug(ctx, "start phases (ms): %s; total %.1f", line, (double)(prev - t0) / 1000);
}

static int create(lc_ctx *ctx, const lc_container_opts *caller_opts, int lifeline,
		  lc_container **ret_container, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	lc_container_opts o;
	const lc_container_opts *opts = &o;
	lc_container *c;
	lc_holder h = LC_HOLDER_INIT;
	int64_t t0 = lc_now_us();
	int r;

	if (!err)
		err = &local;
	r = lc_container_opts_read(caller_opts, &o, err);
	if (r >= 0)
		r = check_opts(&o, err);
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c)
		return lc_fail(err, ENOMEM, "out of memory");
	*c = (lc_container){.ctx = ctx, .flags = opts->flags, .pidfd = -1, .control_fd = -1};
	h.c = c;
	h.lifeline = lifeline;
	h.image_name = opts->image_path;
	h.hold_fd = opts->hold_fd;
	h.tmpfs_size = opts->tmpfs_size;
	h.site = opts->site;
	if (opts->named) {
		h.named_fd = lc_named_dir_fd(opts->named);
		h.named_path = lc_named_dir(opts->named);
		h.named_upper = !(opts->flags & LC_CONTAINER_VOLATILE_UPPER);
		h.named_instance = opts->named_instance;
		h.serve = !opts->named_instance && lifeline >= 0;
	}
	r = prepare(c, opts, &h, err);
	h.at[LC_PHASE_PREPARE] = lc_now_us();
	if (r >= 0)
		r = lc_holder_start(c, &h, err);
	lc_closep(&h.image_fd);
	lc_closep(&h.fuse_fd);
	lc_closep(&h.kernel_fd);
	lc_mount_plan_free(&h.plan);
	lc_devices_clear(&h.devices);
	if (r < 0) {
		lc_container_free(c);
		return lc_error_prefix(err, r, "container from '%s'", opts->image_path);
	}
	lc_debug(ctx, "container from '%s': holder %d", opts->image_path, (int)c->pid);
	log_start_phases(ctx, &h, t0);
	*ret_container = c;
	return 0;
}

LC_API int lc_container_create(lc_ctx *ctx, const lc_container_opts *opts,
			       lc_container **ret_container, lc_error *err)
{
	return create(ctx, opts, -1, ret_container, err);
}

int lc_container_create_detached(lc_ctx *ctx, const lc_container_opts *opts, int lifeline_fd,
				 lc_container **ret_container, lc_error *err)
{
	if (lifeline_fd < 0)
		return lc_fail(err, EBADF, "no lifeline for a detached container");
	return create(ctx, opts, lifeline_fd, ret_container, err);
}

int lc_container_pidfd(const lc_container *c)
{
	return c->pidfd;
}

int lc_container_ns_flags(const lc_container *c)
{
	return lc_ns_flags(c->flags);
}

LC_API lc_container *lc_container_free(lc_container *c)
{
	int64_t t0 = lc_now_us();

	if (!c)
		return NULL;
	lc_closep(&c->control_fd);
	if (c->pid > 0 && !c->detached) {
		struct pollfd p = {.fd = c->pidfd, .events = POLLIN};

		if (c->pidfd < 0 || poll(&p, 1, 2000) <= 0)
			(void)kill(c->pid, SIGKILL);
		(void)lc_wait_child(c->pid, NULL);
		lc_debug(c->ctx, "holder %d ended in %.1f ms", (int)c->pid,
			 (double)(lc_now_us() - t0) / 1000);
	}
	lc_closep(&c->pidfd);
	lc_user_free(&c->user);
	lc_image_free(c->img);
	lc_seccomp_prog_free(c->seccomp);
	lc_strvec_free(&c->site_env);
	free(c);
	return NULL;
}

LC_API pid_t lc_container_pid(const lc_container *c)
{
	return c ? c->pid : -1;
}

LC_API const lc_image *lc_container_image(const lc_container *c)
{
	return c ? c->img : NULL;
}

LC_API int lc_container_env(const lc_container *c, const char *const *overrides, char ***ret_env,
			    lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	lc_strvec e;
	int r = lc_env_build(&c->user, c->img, (const char *const *)c->site_env.v, overrides, &e,
			     err ? err : &local);

	if (r < 0)
		return r;
	*ret_env = lc_strvec_steal(&e);
	return 0;
}
