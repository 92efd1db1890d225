/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hooks phase of the holder, between the site's mounts of pass -1 and the others, as
 * enroot's runtime::_do_hooks: first what enroot's standard hooks do, built in (no shell),
 * then the site's and the user's hooks.d scripts, with enroot's contract:
 *   ENROOT_PID      the holder (its namespaces are the container's)
 *   ENROOT_ROOTFS   the container's root, writable (even for a read-only container)
 *   ENROOT_ENVIRON  the container's environment file: lines appended are variables
 *   ENROOT_MOUNTS   an fstab file: lines appended are mounted afterwards, inside the root
 * (the last three as /proc/ENROOT_PID/fd/N: a hook runs in a mount namespace of its own, where
 * /tmp is the host's again, not the holder's scratch tmpfs)
 * plus the caller's environment and the settings. They run as the user, with capabilities in
 * the container's user namespace only, once per container; the first that fails stops the
 * start with "<file> exited with return code N" and what it wrote on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container.h"

#define HOOK_ENVIRON LC_SCRATCH "/environment"
#define HOOK_MOUNTS LC_SCRATCH "/fstab"
#define HOOK_STDERR_MAX 400
#define HOOK_FILE_MAX (1u << 20)

/* ---------------------------------------------------------------- built in */

/* A file inside the root (parents created), replaced, never written through a link. */
static int write_in_root(int root_fd, const char *dir, const char *name, const char *text)
{
	_cleanup_close_ int d = -1;
	int r = lc_resolve_in_root(root_fd, dir, LC_RESOLVE_DIR, &d);

	return r < 0 ? r : lc_file_replace_at(d, name, text, strlen(text), 0644);
}

/* enroot's 10-aptfix: with remap-root on a Debian-family image, apt runs its downloads as root
 * (the _apt user it would switch to does not exist in the user namespace). */
static int aptfix(lc_holder *h)
{
	_cleanup_close_ int fd = -1;

	if (h->c->user.in_uid != 0 ||
	    lc_resolve_in_root(h->root_fd, "/etc/debian_version", LC_RESOLVE_NONE, &fd) < 0)
		return 0;
	return write_in_root(h->root_fd, "/etc/apt/apt.conf.d", "enroot",
			     "APT::Sandbox::User \"root\";\n");
}

/* enroot's 10-localtime: the host's time zone, when /etc/localtime is a link to one. */
static int localtime_link(lc_holder *h)
{
	_cleanup_close_ int etc = -1;
	_cleanup_close_ int zone = -1;
	char link[PATH_MAX];
	ssize_t n = readlink("/etc/localtime", link, sizeof(link) - 1);
	int r;

	if (n <= 0)
		return 0;
	link[n] = '\0';
	r = lc_resolve_in_root(h->root_fd, "/etc", LC_RESOLVE_DIR, &etc);
	if (r < 0)
		return r;
	/* the zone file must exist inside: the image's tzdata, else no change */
	if (link[0] != '/' || lc_resolve_in_root(h->root_fd, link, LC_RESOLVE_NONE, &zone) < 0)
		return 0;
	(void)unlinkat(etc, "localtime", 0);
	return symlinkat(link, etc, "localtime") < 0 && errno != EEXIST ? -errno : 0;
}

static int run_builtin(lc_holder *h, lc_error *err)
{
	int r = aptfix(h);

	if (r < 0)
		return lc_fail(err, -r, "cannot configure apt in the container: %s", strerror(-r));
	r = localtime_link(h);
	if (r < 0)
		return lc_fail(err, -r, "cannot set the container's time zone: %s", strerror(-r));
	return 0;
}

/* ---------------------------------------------------------------- site hooks */

/* A new file in the scratch directory with @a's and @b's lines, opened for reading and
 * writing (the hooks reach it through the holder's fd). */
static int write_lines(const char *path, const char *const *a, const char *const *b, int *ret_fd)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int r = fd < 0 ? -errno : 0;

	for (const char *const *v = a; !r && v && *v; v++)
		if ((r = lc_write_all(fd, *v, strlen(*v))) >= 0)
			r = lc_write_all(fd, "\n", 1);
	for (const char *const *v = b; !r && v && *v; v++)
		if ((r = lc_write_all(fd, *v, strlen(*v))) >= 0)
			r = lc_write_all(fd, "\n", 1);
	if (r < 0 && fd >= 0)
		close(fd);
	*ret_fd = r < 0 ? -1 : fd;
	return r < 0 ? r : 0;
}

/* "/proc/<holder>/fd/<fd>": how a hook, in a mount namespace of its own, reaches @fd. */
static int fd_path(lc_strvec *e, const char *key, int fd)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)getpid(), fd);
	return lc_env_set(e, key, path);
}

/* The caller's environment, the settings, then enroot's contract, and the container's
 * features as settings (a front-end's flags set them without settings). */
static int hook_env(const lc_holder *h, lc_strvec *e)
{
	static const struct {
		uint32_t flag;
		const char *key;
	} features[] = {
	    {LC_CONTAINER_RW, "ENROOT_ROOTFS_WRITABLE"},
	    {LC_CONTAINER_REMAP_ROOT, "ENROOT_REMAP_ROOT"},
	    {LC_CONTAINER_MOUNT_HOME, "ENROOT_MOUNT_HOME"},
	};
	char pid[16];
	int r = 0;

	for (const char *const *v = (const char *const *)h->site->env.v; !r && v && *v; v++)
		r = lc_env_put(e, *v);
	for (const char *const *v = (const char *const *)h->site->conf.v; !r && v && *v; v++)
		r = lc_env_put(e, *v);
	for (size_t i = 0; !r && i < LC_ELEMENTSOF(features); i++)
		r = h->c->flags & features[i].flag ? lc_env_set(e, features[i].key, "y")
						   : lc_env_unset(e, features[i].key) < 0;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (!r && !lc_env_get(e, "PATH"))
		r = lc_env_set(e, "PATH", LC_DEFAULT_PATH);
	if (!r)
		r = lc_env_set(e, "ENROOT_PID", pid);
	if (!r)
		r = fd_path(e, "ENROOT_ROOTFS", h->root_fd);
	if (!r)
		r = fd_path(e, "ENROOT_ENVIRON", h->hook_env_fd);
	if (!r)
		r = fd_path(e, "ENROOT_MOUNTS", h->hook_mounts_fd);
	return r;
}

/*
 * A hook sees the host as the holder found it: in a mount namespace of its own (it has the
 * holder's capabilities in the user namespace), without the holder's scratch tmpfs on /tmp. It
 * reaches the root and the files through the holder's fds.
 */
static _Noreturn void hook_child(const char *path, char *const *argv, char **env, bool own_mounts,
				 int err_fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	/* the holder's capabilities (in the container's user namespace only) kept across execve,
	 * as a hook run by enroot as root there has them; they also reach the holder's fds */
	if ((own_mounts && (unshare(CLONE_NEWNS) < 0 || umount2(LC_SCRATCH, MNT_DETACH) < 0)) ||
	    lc_keep_capabilities() < 0)
		_exit(125);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(err_fd, 2) < 0 ||
	    chdir("/") < 0)
		_exit(127);
	(void)close_range(3, ~0u, 0);
	execve(path, argv, env);
	dprintf(2, "cannot execute: %s\n", strerror(errno));
	_exit(126);
}

static int run_program(const char *path, char *const *argv, char **env, bool own_mounts,
		       lc_error *err)
{
	char tail[HOOK_STDERR_MAX + 1];
	int pipefd[2], status = 0;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return lc_fail(err, errno, "pipe: %m");
	pid = fork();
	if (pid == 0)
		hook_child(path, argv, env, own_mounts, pipefd[1]);
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		return lc_fail(err, errno, "fork: %m");
	}
	(void)lc_fd_read_tail(pipefd[0], -1, tail, sizeof(tail));
	close(pipefd[0]);
	if (lc_wait_child(pid, &status) < 0)
		return lc_fail(err, ECHILD, "%s: lost", path);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		return lc_fail(err, ECANCELED, "%s was killed by signal %d%s%s", path,
			       WTERMSIG(status), *tail ? ": " : "", tail);
	return lc_fail(err, ECANCELED, "%s exited with return code %d%s%s", path,
		       WEXITSTATUS(status), *tail ? ": " : "", tail);
}

/* The entries of @list (from @name) mounted inside the root: those of pass -1 (@pass -1), the
 * others (@pass 0), or every one (FSTAB_ALL). */
#define FSTAB_ALL 1
static int apply_entries(lc_holder *h, const lc_fstab_list *list, const char *name, int pass,
			 lc_error *err)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < list->n; i++) {
		const lc_fstab_entry *e = &list->v[i];
		_cleanup_close_ int source = -1;

		if (pass != FSTAB_ALL && (e->pass < 0) != (pass < 0))
			continue;
		r = lc_rootfs_fstab_source(h->host_tmp_fd, e, &source);
		if (r >= 0)
			r = lc_rootfs_fstab_entry(h->root_fd, e, source);
		if (r < 0 && e->nofail && r != -EXDEV)
			r = 0;
		else if (r < 0)
			r = lc_fail(err, -r, "cannot mount '%s' on '%s' (%s): %s", e->source,
				    e->target, name,
				    r == -EXDEV
					? "it resolves outside the container's root filesystem"
					: strerror(-r));
	}
	return r;
}

/* The lines the hooks appended to ENROOT_MOUNTS (no substitution: they are the hooks' output,
 * as enroot-mount reads them). */
static int apply_hook_mounts(lc_holder *h, lc_error *err)
{
	_cleanup_free_ char *text = NULL;
	lc_fstab_list list = {0};
	int r = lc_file_read_all(HOOK_MOUNTS, HOOK_FILE_MAX, &text, NULL, err);

	if (r >= 0)
		r = lc_fstab_parse(text, "ENROOT_MOUNTS", NULL, &list, err);
	if (r >= 0)
		r = apply_entries(h, &list, "from a hook", FSTAB_ALL, err);
	lc_fstab_list_clear(&list);
	return r;
}

int lc_image_fstab_apply(lc_holder *h, int pass, lc_error *err)
{
	static const char name[] = "the image's /etc/fstab";
	const lc_site_vars v = {h->site ? (const char *const *)h->site->env.v : NULL,
				h->c->user.uid, h->c->user.gid};
	_cleanup_free_ char *text = NULL;
	int r;

	if (pass >= 0) { /* read before the hooks, as enroot makes its mount file */
		r = apply_entries(h, &h->image_fstab, name, 0, err);
		lc_fstab_list_clear(&h->image_fstab);
		return r;
	}
	text = lc_root_read_file(h->root_fd, "/etc", "fstab", HOOK_FILE_MAX);
	if (!text)
		return lc_fail(err, ENOMEM, "out of memory");
	r = lc_fstab_parse(text, name, &v, &h->image_fstab, err);
	return r < 0 ? r : apply_entries(h, &h->image_fstab, name, -1, err);
}

static int run_site_hooks(lc_holder *h, lc_error *err)
{
	lc_strvec env = {0};
	int r = write_lines(HOOK_ENVIRON, lc_image_env(h->c->img),
			    (const char *const *)h->c->site_env.v, &h->hook_env_fd);

	if (r >= 0)
		r = write_lines(HOOK_MOUNTS, NULL, NULL, &h->hook_mounts_fd);
	if (r >= 0)
		r = hook_env(h, &env);
	if (r < 0) {
		lc_strvec_free(&env);
		return lc_fail(err, -r, "cannot prepare the hooks: %s", strerror(-r));
	}
	for (size_t i = 0; r >= 0 && i < h->site->hooks.n; i++)
		r = run_program(h->site->hooks.v[i], (char *const[]){h->site->hooks.v[i], NULL},
				env.v, true, err);
	lc_strvec_free(&env);
	if (r >= 0)
		r = apply_hook_mounts(h, err);
	lc_closep(&h->hook_mounts_fd);
	return r;
}

int lc_hooks_run(lc_holder *h, lc_error *err)
{
	int r = run_builtin(h, err);

	if (r >= 0 && h->site && h->site->hooks.n)
		r = run_site_hooks(h, err);
	return r;
}

/*
 * NVIDIA's driver by nvidia-container-cli, as enroot's 98-nvidia hook runs it: "--user
 * configure" with the arguments devices.c chose, the holder's pid and the root's path, as the
 * user with capabilities in the container's user namespace only, in the holder's mount
 * namespace (where the root's path is its own), before the root switch.
 */
int lc_hooks_run_nvidia_cli(lc_holder *h, const char *program, lc_error *err)
{
	const lc_strvec *a = &h->devices.nvidia_cli_args;
	char pid[32], *env[] = {"PATH=" LC_DEFAULT_PATH, NULL};
	_cleanup_free_ char **argv = calloc(a->n + 6, sizeof(char *));
	size_t n = 0;

	if (!argv)
		return lc_fail(err, ENOMEM, "out of memory");
	snprintf(pid, sizeof(pid), "--pid=%d", (int)getpid());
	argv[n++] = (char *)program;
	argv[n++] = "--user";
	argv[n++] = "configure";
	for (size_t i = 0; i < a->n; i++)
		argv[n++] = a->v[i];
	argv[n++] = pid;
	argv[n++] = LC_SCRATCH "/root";
	return run_program(program, argv, env, false, err);
}
