/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The image's Entrypoint, run once for a group of processes as enroot's /etc/rc runs it:
 * ENTRYPOINT followed by a command that the Entrypoint is expected to run (usually with
 * `exec "$@"`). That command is a report: its working directory, then its own initial
 * environment, i.e. exactly what the Entrypoint handed on, written to fd 3. Every task then
 * starts from that environment and directory; the Entrypoint's output is kept for the caller.
 * Only /bin/sh and cat are needed in the image.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime.h"

#define REPORT_MAX (4u << 20)
#define OUTPUT_MAX (256u * 1024)
#define HINT " (if the image has an unusual entrypoint, try using --no-container-entrypoint)"

static const char *const report_command[] = {"/bin/sh", "-c", "pwd >&3 && cat /proc/$$/environ >&3",
					     NULL};

void lc_entrypoint_result_free(lc_entrypoint_result *res)
{
	lc_strv_free(res->env);
	free(res->cwd);
	lc_strv_free(res->log);
	*res = (lc_entrypoint_result){0};
}

static int status_error(int status, lc_error *err)
{
	if (WIFSIGNALED(status))
		return lc_fail(err, EIO, "container start failed: killed by signal %d" HINT,
			       WTERMSIG(status));
	return lc_fail(err, EIO, "container start failed with error code: %d" HINT,
		       WEXITSTATUS(status));
}

/* "cwd\nK=V\0K=V\0...": the report of the command the Entrypoint ran. */
static int parse_report(int fd, lc_entrypoint_result *res, lc_error *err)
{
	off_t size = lseek(fd, 0, SEEK_END);
	_cleanup_free_ char *text = NULL;
	lc_strvec env = {0};
	char *nl, *end;
	ssize_t n;

	if (size <= 0)
		return lc_fail(err, EPROTO, "container exited too soon" HINT);
	if ((size_t)size > REPORT_MAX)
		return lc_fail(err, E2BIG, "the entrypoint's environment is too large");
	text = malloc((size_t)size + 1);
	if (!text)
		return lc_fail(err, ENOMEM, "out of memory");
	n = pread(fd, text, (size_t)size, 0);
	if (n != size)
		return lc_fail(err, EIO, "reading the entrypoint's report: %m");
	text[n] = '\0';
	end = text + n;
	nl = memchr(text, '\n', (size_t)n);
	if (!nl || text[0] != '/')
		return lc_fail(err, EPROTO, "container exited too soon" HINT);
	res->cwd = strndup(text, (size_t)(nl - text));
	for (char *kv = nl + 1; kv < end; kv += strlen(kv) + 1)
		if (lc_env_put(&env, kv) == -ENOMEM)
			break;
	res->env = lc_strvec_steal(&env);
	if (!res->cwd || !res->env)
		return lc_fail(err, ENOMEM, "out of memory");
	return 0;
}

int lc_entrypoint_run(lc_container *c, char *const *env, lc_entrypoint_result *res, lc_error *err)
{
	const lc_image *img = lc_container_image(c);
	_cleanup_close_ int null = -1, out = -1, report = -1;
	char **argv = NULL;
	int status = 0, r;
	pid_t pid;

	*res = (lc_entrypoint_result){0};
	if (!lc_image_entrypoint(img) || !lc_image_entrypoint(img)[0])
		return 0;
	res->ran = true;
	null = lc_fd_above_stdio(open("/dev/null", O_RDONLY | O_CLOEXEC));
	if (null < 0)
		return lc_fail(err, errno, "/dev/null: %m");
	r = lc_memfd_new("lc-entrypoint-output", &out, err);
	if (r >= 0)
		r = lc_memfd_new("lc-entrypoint-report", &report, err);
	if (r >= 0)
		r = lc_command_build(img, true, report_command, &argv, err);
	if (r >= 0) {
		const int fds[LC_SPAWN_FDS] = {null, out, out, report};

		r = lc_container_spawn_fds(c, argv, env, NULL, fds, &pid, err);
	}
	lc_strv_free(argv);
	if (r >= 0 && (r = lc_wait_child(pid, &status)) < 0)
		lc_fail(err, -r, "waiting for the entrypoint: %s", strerror(-r));
	if (r >= 0 && lc_fd_read_lines(out, OUTPUT_MAX, &res->log) < 0)
		res->log = NULL;
	if (r >= 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		r = status_error(status, err);
	if (r >= 0)
		r = parse_report(report, res, err);
	return r;
}
