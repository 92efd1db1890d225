/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Processes in a container: a child of the caller becomes the user, joins the holder's
 * namespaces through its pidfd (lc_container_join(), which lc_group_enter() uses too) and
 * execs; failures up to the exec come back through a close-on-exec pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "container.h"

int lc_keep_capabilities(void)
{
	struct __user_cap_header_struct head = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &head, data) < 0)
		return -errno;
	data[0].inheritable = data[0].permitted;
	data[1].inheritable = data[1].permitted;
	if (syscall(SYS_capset, &head, data) < 0)
		return -errno;
	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 && errno == EINVAL &&
		    cap > CAP_LAST_CAP)
			break;
	return 0;
}

int lc_container_join(int pidfd, int ns_flags, const char *workdir, const lc_seccomp_prog *prog,
		      lc_error *err)
{
	int r;

	if (setns(pidfd, ns_flags) < 0)
		return lc_fail(err, errno, "couldn't join the container's namespaces: %m");
	/* setns() gave every capability in the container's user namespace: a user who is not
	 * root there keeps them across execve, as enroot does (sethostname in a private UTS
	 * namespace, a tmpfs in the container's mount namespace; nothing outside them) */
	if ((ns_flags & CLONE_NEWUSER) && (r = lc_keep_capabilities()) < 0)
		return lc_fail(err, -r, "couldn't keep the container's capabilities: %s",
			       strerror(-r));
	if (chdir(workdir) < 0)
		return lc_fail(err, errno, "couldn't chdir to %s: %m", workdir);
	r = lc_seccomp_install(prog);
	if (r < 0)
		return lc_fail(err, -r, "seccomp filter failed: %s", strerror(-r));
	return 0;
}

/* The namespace @name of process @pid is not the caller's; -errno when it cannot be read. */
static int ns_differs(pid_t pid, const char *name)
{
	char path[64];
	struct stat self, other;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, name);
	if (stat(path, &other) < 0)
		return -errno;
	snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
	if (stat(path, &self) < 0)
		return -errno;
	return self.st_ino != other.st_ino || self.st_dev != other.st_dev;
}

/* The namespaces to join to be where @pid is: its user and mount ones (which must differ from
 * the caller's), and the others that differ. */
static int pid_ns_flags(pid_t pid, int *ret_flags, lc_error *err)
{
	static const struct {
		const char *name;
		int flag;
	} kinds[] = {{"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS},  {"net", CLONE_NEWNET},
		     {"ipc", CLONE_NEWIPC},   {"uts", CLONE_NEWUTS}, {"cgroup", CLONE_NEWCGROUP}};
	int flags = 0;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++) {
		int r = ns_differs(pid, kinds[i].name);

		if (r == -ENOENT || r == -ESRCH)
			return lc_fail(err, ESRCH, "process %d not found", (int)pid);
		if (r < 0)
			return lc_fail(err, -r, "cannot read the namespaces of process %d: %s",
				       (int)pid, strerror(-r));
		if (r > 0)
			flags |= kinds[i].flag;
	}
	if ((flags & (CLONE_NEWUSER | CLONE_NEWNS)) != (CLONE_NEWUSER | CLONE_NEWNS))
		return lc_fail(err, EINVAL, "process %d is not in a container", (int)pid);
	*ret_flags = flags;
	return 0;
}

LC_API int lc_container_enter_pid(pid_t pid, const char *workdir, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	lc_seccomp_prog *prog = NULL;
	_cleanup_close_ int pidfd = -1;
	int flags = 0, r;

	if (!err)
		err = &local;
	if (pid <= 0)
		return lc_fail(err, EINVAL, "process %d not found", (int)pid);
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0)
		return lc_fail(err, errno == ESRCH ? ESRCH : errno, "process %d not found%s%s",
			       (int)pid, errno == ESRCH ? "" : ": ",
			       errno == ESRCH ? "" : strerror(errno));
	/* read after the pidfd pins the process: a pid reused meanwhile fails the check below */
	r = pid_ns_flags(pid, &flags, err);
	if (r >= 0 && pidfd_send_signal(pidfd, 0, NULL, 0) < 0)
		r = lc_fail(err, errno, "process %d: %m", (int)pid);
	if (r >= 0)
		r = lc_seccomp_prog_new(&prog, err);
	if (r >= 0)
		r = lc_container_join(pidfd, flags, workdir && *workdir ? workdir : "/", prog, err);
	lc_seccomp_prog_free(prog);
	return r;
}

typedef struct spawn_args {
	const lc_container *c;
	char *const *argv;
	char *const *env;
	const char *workdir;
	const int *fds; /* the child's fds 0..3, -1: as inherited; each source is >= 4 */
	int err_fd;
} spawn_args;

static _Noreturn void child_fail(const spawn_args *a, int code, const char *what, const char *arg,
				 int e)
{
	char msg[LC_REPORT_MAX];
	int n = e ? snprintf(msg, sizeof(msg), "%s%s: %s", what, arg, strerror(e))
		  : snprintf(msg, sizeof(msg), "%s%s", what, arg);

	(void)!write(a->err_fd, msg, n > 0 ? (size_t)n : 0);
	_exit(code);
}

/* execve @file; a file the kernel cannot run (ENOEXEC: a script without "#!") is run by
 * @shell, as execvp does; enroot's /etc/rc always is, whatever its mode, as enroot runs it. */
static void exec_file(const char *file, char *const *argv, char *const *env, const char *shell)
{
	const char *with_shell[4096]; /* after fork(): no malloc */
	size_t n = 0;

	if (strcmp(file, "/etc/rc")) {
		execve(file, argv, env);
		if (errno != ENOEXEC)
			return;
	}
	while (argv[n])
		n++;
	if (n + 2 > sizeof(with_shell) / sizeof(*with_shell))
		return;
	with_shell[0] = shell;
	with_shell[1] = file;
	memcpy(with_shell + 2, argv + 1, n * sizeof(char *)); /* with the NULL */
	execve(shell, (char *const *)with_shell, env);
	errno = ENOEXEC;
}

/* execve @argv[0], searched in the container's PATH (execvpe would use the caller's). */
static int exec_in_path(char *const *argv, char *const *env, const char *shell)
{
	const char *path = NULL;
	char buf[PATH_MAX];
	int saved = ENOENT;

	if (strchr(argv[0], '/')) {
		exec_file(argv[0], argv, env, shell);
		return -errno;
	}
	for (char *const *e = env; *e; e++)
		if (!strncmp(*e, "PATH=", 5))
			path = *e + 5;
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		const char *end = strchrnul(p, ':');
		int n = snprintf(buf, sizeof(buf), "%.*s/%s", (int)(end - p), p, argv[0]);

		if (n > 0 && (size_t)n < sizeof(buf) && end > p) {
			exec_file(buf, argv, env, shell);
			if (errno != ENOENT && errno != ENOTDIR)
				saved = errno;
		}
		p = *end ? end + 1 : end;
	}
	return -saved;
}

static _Noreturn void child_main(const spawn_args *a)
{
	const lc_container *c = a->c;
	lc_error err = LC_ERROR_INIT;
	int r;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	for (int i = 0; a->fds && i < LC_SPAWN_FDS; i++)
		if (a->fds[i] >= 0 && dup2(a->fds[i], i) < 0)
			child_fail(a, 126, "cannot set up the process's file descriptors", "",
				   errno);
	if (a->fds) /* given fds only: nothing of the caller's leaks in */
		(void)close_range(LC_SPAWN_FDS, ~0u, CLOSE_RANGE_CLOEXEC);
	r = lc_user_become(&c->user);
	if (r < 0)
		child_fail(a, 126, "cannot become the user ", c->user.name, -r);
	if (lc_container_join(c->pidfd, lc_ns_flags(c->flags), a->workdir, c->seccomp, &err) < 0)
		child_fail(a, 126, lc_error_message(&err), "", 0);
	r = exec_in_path(a->argv, a->env, c->login_shell);
	if (r == -ENOENT)
		child_fail(a, 127, a->argv[0], ": command not found", 0);
	child_fail(a, 126, "cannot execute ", a->argv[0], -r);
}

static int spawn_wait_exec(pid_t pid, int fd, lc_error *err)
{
	char msg[LC_REPORT_MAX];
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(msg) - 1 &&
	       ((n = read(fd, msg + got, sizeof(msg) - 1 - got)) > 0 || (n < 0 && errno == EINTR)))
		got += n > 0 ? (size_t)n : 0;
	if (!got)
		return 0; /* the exec closed the pipe */
	msg[got] = '\0';
	(void)lc_wait_child(pid, NULL);
	return lc_fail(err, strstr(msg, "command not found") ? ENOENT : EIO, "%s", msg);
}

int lc_container_spawn_fds(lc_container *c, char *const *argv, char *const *env,
			   const char *workdir, const int fds[LC_SPAWN_FDS], pid_t *ret_pid,
			   lc_error *err)
{
	const char *img_dir = lc_image_workdir(c->img);
	spawn_args a = {.c = c,
			.argv = argv,
			.env = env,
			.workdir = workdir   ? workdir
				   : img_dir ? img_dir
					     : "/",
			.fds = fds,
			.err_fd = -1};
	int64_t t0 = lc_now_us();
	int pipefd[2], r;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return lc_fail(err, errno, "pipe: %m");
	a.err_fd = pipefd[1];
	pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		child_main(&a);
	}
	close(pipefd[1]);
	r = pid < 0 ? lc_fail(err, errno, "fork: %m") : spawn_wait_exec(pid, pipefd[0], err);
	close(pipefd[0]);
	if (r < 0)
		return r;
	lc_debug(c->ctx, "process %d: joined and executed '%s' in %.1f ms", (int)pid, argv[0],
		 (double)(lc_now_us() - t0) / 1000);
	*ret_pid = pid;
	return 0;
}

LC_API int lc_container_spawn(lc_container *c, const lc_process_opts *opts, pid_t *ret_pid,
			      lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	static const lc_process_opts defaults = LC_PROCESS_OPTS_INIT;
	char **argv = NULL, **env = NULL;
	int r;

	if (!err)
		err = &local;
	if (!opts)
		opts = &defaults;
	if (!c || !ret_pid)
		return lc_fail(err, EINVAL, "lc_container_spawn: NULL argument");
	r = lc_opts_check(opts, opts->version, LC_PROCESS_OPTS_VERSION, opts->flags, LC_PROCESS_ALL,
			  "lc_process_opts", err);
	if (r < 0)
		return r;
	r = lc_command_build(c->img, opts->flags & LC_PROCESS_ENTRYPOINT, opts->argv, &argv, err);
	if (r >= 0 && opts->env) {
		lc_strvec e = {0};

		for (const char *const *p = opts->env; r >= 0 && *p; p++)
			r = lc_env_put(&e, *p) < 0
				? lc_fail(err, EINVAL, "bad environment entry '%s'", *p)
				: 0;
		env = lc_strvec_steal(&e);
	} else if (r >= 0) {
		r = lc_container_env(c, NULL, &env, err);
	}
	if (r >= 0)
		r = lc_container_spawn_fds(c, argv, env, opts->workdir, NULL, ret_pid, err);
	lc_strv_free(argv);
	lc_strv_free(env);
	return r;
}
