/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helper processes: long work (pulls, conversions) runs out of the caller, as the user, in a
 * clean child whose output is kept and shown only when it fails (pyxis's discipline for
 * slurmstepd, which is multi-threaded, runs as root and is OOM-protected).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "runtime.h"

#define LOG_MAX (256u * 1024)  /* the tail of a longer log is kept */
#define PROGRESS_LINE_MAX 255u /* bytes of a progress line passed on */

static void child_say(const char *what, const char *arg, int e)
{
	const char *why = strerror(e);

	(void)!write(2, what, strlen(what));
	(void)!write(2, arg, strlen(arg));
	(void)!write(2, ": ", 2);
	(void)!write(2, why, strlen(why));
	(void)!write(2, "\n", 1);
}

int lc_fd_above_stdio(int fd)
{
	int moved;

	if (fd < 0 || fd >= LC_SPAWN_FDS)
		return fd;
	moved = fcntl(fd, F_DUPFD_CLOEXEC, LC_SPAWN_FDS);
	close(fd);
	return moved;
}

/* The fds the helper gets: stdout, stderr (the log) and, when asked for, progress. */
typedef struct helper_fds {
	int out, log, progress;
} helper_fds;

/* Async-signal-safe only: the caller may be multi-threaded. */
static _Noreturn void helper_child(const lc_helper_opts *o, const helper_fds *fds)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;
	int null = lc_fd_above_stdio(open("/dev/null", O_RDONLY | O_CLOEXEC));
	int r;

	lc_oom_score_adj_reset();
	if (null < 0 || dup2(null, 0) < 0 || dup2(fds->out, 1) < 0 || dup2(fds->log, 2) < 0 ||
	    (fds->progress >= 0 && dup2(fds->progress, LC_HELPER_PROGRESS_FD) < 0))
		_exit(126);
	(void)close_range(fds->progress >= 0 ? LC_HELPER_PROGRESS_FD + 1 : 3, ~0u, 0);
	if ((r = lc_become_user(o->uid, o->gid, o->groups, o->n_groups)) < 0) {
		child_say("cannot become the user to run ", o->path, -r);
		_exit(126);
	}
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	execve(o->path, (char *const *)o->argv, (char *const *)o->env);
	child_say("cannot execute ", o->path, errno);
	_exit(127);
}

/* The helper's progress lines, as they come. */
typedef struct progress_reader {
	const lc_helper_opts *o;
	char line[PROGRESS_LINE_MAX + 1];
	size_t len;
	bool cut; /* the rest of a line that was too long */
} progress_reader;

static void progress_line_end(progress_reader *pr)
{
	pr->line[pr->len] = '\0';
	if (!pr->cut && pr->len)
		pr->o->on_progress(pr->o->progress_userdata, pr->line);
	pr->len = 0;
	pr->cut = false;
}

/* Read what the progress pipe has: > 0 bytes were read, 0 its end, < 0 nothing now. */
static ssize_t progress_read(progress_reader *pr, int fd)
{
	char buf[1024];
	ssize_t n = read(fd, buf, sizeof(buf));

	for (ssize_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\n') {
			progress_line_end(pr);
		} else if (pr->len == PROGRESS_LINE_MAX) {
			progress_line_end(pr); /* what fits is said; the rest is not */
			pr->cut = true;
		} else if (!pr->cut) {
			pr->line[pr->len++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
		}
	}
	if (n == 0)
		progress_line_end(pr); /* an unfinished last line */
	return n < 0 && errno != EINTR && errno != EAGAIN ? 0 : n;
}

/* Wait for @pid, forwarding SIGTERM and SIGINT (read from @sig_fd) to it and passing on the
 * lines of @progress_fd (-1: none). */
static int wait_forwarding(const lc_helper_opts *o, pid_t pid, int sig_fd, int progress_fd,
			   int *ret_status, lc_error *err)
{
	_cleanup_close_ int pidfd = pidfd_open(pid, 0);
	struct pollfd p[3] = {{.fd = pidfd, .events = POLLIN},
			      {.fd = sig_fd, .events = POLLIN},
			      {.fd = progress_fd, .events = POLLIN}};
	progress_reader pr = {.o = o};

	while (pidfd >= 0) {
		struct signalfd_siginfo si;

		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[2].revents && progress_read(&pr, p[2].fd) == 0)
			p[2].fd = -1; /* its end: the helper (or what it started) closed it */
		if (p[0].revents)
			break;
		if ((p[1].revents & POLLIN) && read(sig_fd, &si, sizeof(si)) == sizeof(si))
			(void)pidfd_send_signal(pidfd, SIGTERM, NULL, 0);
	}
	while (p[2].fd >= 0 && progress_read(&pr, p[2].fd) > 0)
		; /* what the helper said before it ended (a child it left may keep the pipe) */
	int r = lc_wait_child(pid, ret_status);

	return r < 0 ? lc_fail(err, -r, "waiting for %d: %s", (int)pid, strerror(-r)) : 0;
}

int lc_memfd_new(const char *name, int *ret_fd, lc_error *err)
{
	*ret_fd = lc_fd_above_stdio(memfd_create(name, MFD_CLOEXEC));
	return *ret_fd < 0 ? lc_fail(err, errno, "memfd_create: %m") : 0;
}

int lc_fd_read_lines(int fd, size_t max, char ***ret_log)
{
	off_t size = lseek(fd, 0, SEEK_END);
	off_t from = size > (off_t)max ? size - (off_t)max : 0;
	_cleanup_free_ char *text = malloc(max + 1);
	lc_strvec lines = {0};
	ssize_t n = text && size >= 0 ? pread(fd, text, (size_t)(size - from), from) : -1;
	int r = 0;

	if (n < 0)
		return text ? -errno : -ENOMEM;
	text[n] = '\0';
	for (char *line = text, *end; r >= 0 && *line; line = end + (*end != '\0')) {
		char *copy;

		end = strchrnul(line, '\n');
		copy = strndup(line, (size_t)(end - line));
		if (!copy ||
		    lc_array_reserve(&lines.v, &lines.cap, lines.n + 1, sizeof(char *), 16) < 0) {
			free(copy);
			r = -ENOMEM;
			break;
		}
		lines.v[lines.n++] = copy;
		lines.v[lines.n] = NULL;
	}
	if (r < 0) {
		lc_strvec_free(&lines);
		return r;
	}
	*ret_log = lc_strvec_steal(&lines);
	return *ret_log ? 0 : -ENOMEM;
}

/* The progress pipe, both ends above the standard fds and the progress fd. */
static int progress_pipe(int *ret_read, int *ret_write, lc_error *err)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) < 0)
		return lc_fail(err, errno, "pipe: %m");
	*ret_read = lc_fd_above_stdio(fds[0]);
	*ret_write = lc_fd_above_stdio(fds[1]);
	if (*ret_read < 0 || *ret_write < 0)
		return lc_fail(err, errno, "fcntl: %m");
	/* only the caller's end: the helper writes as it likes */
	return fcntl(*ret_read, F_SETFL, O_NONBLOCK) < 0 ? lc_fail(err, errno, "fcntl: %m") : 0;
}

static int check_helper_opts(const lc_helper_opts *o, lc_error *err)
{
	int r = lc_opts_check(o, o ? o->version : 0, LC_HELPER_OPTS_VERSION, o ? o->flags : 0,
			      LC_HELPER_ALL, "lc_helper_opts", err);

	if (r < 0)
		return r;
	if (o->version >= 2 && o->progress_userdata && !o->on_progress)
		return lc_fail(err, EINVAL, "lc_helper_run: progress_userdata without on_progress");
	if (!o->path || o->path[0] != '/' || !o->argv || !o->argv[0] || !o->env)
		return lc_fail(err, EINVAL,
			       "lc_helper_run: the helper needs an absolute path, "
			       "argv and env");
	return 0;
}

/* The lines of @fd into *@ret (when asked for). */
static int read_output(const lc_helper_opts *o, int fd, char ***ret, lc_error *err)
{
	int r = ret ? lc_fd_read_lines(fd, LOG_MAX, ret) : 0;

	return r < 0 ? lc_fail(err, -r, "reading the output of %s: %s", o->path, strerror(-r)) : 0;
}

LC_API int lc_helper_run_split(const lc_helper_opts *opts, int *ret_status, char ***ret_stdout,
			       char ***ret_log, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	_cleanup_close_ int log_fd = -1;
	_cleanup_close_ int out_fd = -1;
	_cleanup_close_ int sig_fd = -1;
	_cleanup_close_ int progress_r = -1;
	_cleanup_close_ int progress_w = -1;
	sigset_t forward, old;
	int r, status = 0;
	pid_t pid;

	if (!err)
		err = &local;
	r = check_helper_opts(opts, err);
	if (r >= 0)
		r = lc_memfd_new("lc-helper-log", &log_fd, err);
	if (r >= 0 && ret_stdout)
		r = lc_memfd_new("lc-helper-stdout", &out_fd, err);
	if (r >= 0 && opts->version >= 2 && opts->on_progress)
		r = progress_pipe(&progress_r, &progress_w, err);
	if (r < 0)
		return r;
	sigemptyset(&forward);
	sigaddset(&forward, SIGTERM);
	sigaddset(&forward, SIGINT);
	if (sigprocmask(SIG_BLOCK, &forward, &old) < 0)
		return lc_fail(err, errno, "sigprocmask: %m");
	sig_fd = signalfd(-1, &forward, SFD_CLOEXEC | SFD_NONBLOCK);
	pid = sig_fd < 0 ? -1 : fork();
	if (pid == 0)
		helper_child(opts,
			     &(helper_fds){out_fd >= 0 ? out_fd : log_fd, log_fd, progress_w});
	lc_closep(&progress_w); /* the pipe ends when the helper (and what it started) closes it */
	if (pid < 0)
		r = lc_fail(err, errno, "cannot start %s: %m", opts->path);
	else
		r = wait_forwarding(opts, pid, sig_fd, progress_r, &status, err);
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	if (r >= 0)
		r = read_output(opts, log_fd, ret_log, err);
	if (r >= 0 && (r = read_output(opts, out_fd, ret_stdout, err)) < 0 && ret_log) {
		lc_strv_free(*ret_log);
		*ret_log = NULL;
	}
	if (r >= 0 && ret_status)
		*ret_status = status;
	return r < 0 ? r : 0;
}

LC_API int lc_helper_run(const lc_helper_opts *opts, int *ret_status, char ***ret_log,
			 lc_error *err)
{
	return lc_helper_run_split(opts, ret_status, NULL, ret_log, err);
}

int lc_fd_read_tail(int fd, int timeout_ms, char *tail, size_t size)
{
	int64_t deadline = timeout_ms < 0 ? -1 : lc_now_ms() + timeout_ms;
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	int r = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int wait = deadline < 0 ? -1 : (int)(deadline - lc_now_ms()), ready;

		if (deadline >= 0 && wait <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		ready = poll(&p, 1, wait);
		if (ready < 0 && errno != EINTR)
			break;
		if (ready <= 0)
			continue; /* the deadline, above */
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (len + 1 >= size)
				memmove(tail, tail + 1, --len);
			tail[len++] = buf[i] == '\n' || buf[i] == '\t' ? ' ' : buf[i];
		}
	}
	while (len && tail[len - 1] == ' ')
		len--;
	tail[len] = '\0';
	return r;
}
