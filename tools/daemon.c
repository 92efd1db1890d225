/* SPDX-License-Identifier: Apache-2.0 */
/* dockerd:// and podman://: the daemon's save, as this user (the Slurm plugin runs ctr-import as
 * the job's user, never root), streamed into lc_pull_new_archive. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"

/* "HOST/PATH[:TAG]" from the daemon's name: what a repository may not hold ("127.0.0.1:5000/x"
 * has a ':' and a registry of its own) becomes '-', so the reference parses. */
static void make_ref(daemon_save *ds, const char *host)
{
	const char *colon = strrchr(ds->name, ':');
	size_t path_len, n;

	if (colon && strchr(colon, '/'))
		colon = NULL; /* a port, not a tag */
	path_len = colon ? (size_t)(colon - ds->name) : strlen(ds->name);
	n = (size_t)snprintf(ds->ref, sizeof(ds->ref), "%s/", host);
	for (size_t i = 0; i < path_len && n < sizeof(ds->ref) - 1; i++) {
		char c = ds->name[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		ds->ref[n++] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
				       c == '_' || c == '/' || c == '-'
				   ? c
				   : '-';
	}
	ds->ref[n] = '\0';
	if (colon)
		snprintf(ds->ref + n, sizeof(ds->ref) - n, "%s", colon);
}

bool daemon_ref(const char *text, daemon_save *ds)
{
	static const struct {
		const char *scheme, *tool, *host;
	} schemes[] = {{"dockerd://", "docker", "dockerd.local"},
		       {"podman://", "podman", "podman.local"}};

	for (size_t i = 0; i < sizeof(schemes) / sizeof(*schemes); i++) {
		size_t n = strlen(schemes[i].scheme);

		if (strncmp(text, schemes[i].scheme, n))
			continue;
		*ds = (daemon_save){
		    .tool = schemes[i].tool, .name = text + n, .out = -1, .err_log = -1};
		make_ref(ds, schemes[i].host);
		return true;
	}
	return false;
}

int daemon_save_start(daemon_save *ds, lc_error *err)
{
	const char *docker[] = {"docker", "save", ds->name, NULL};
	const char *podman[] = {"podman", "save", "--format", "docker-archive", ds->name, NULL};
	const char *const *argv = strcmp(ds->tool, "docker") ? podman : docker;
	int p[2];

	if (!*ds->name || ds->name[0] == '-')
		return lc_error_set(err, EINVAL, "%s://: no image named", ds->tool);
	ds->err_log = memfd_create("save-stderr", MFD_CLOEXEC);
	if (ds->err_log < 0 || pipe2(p, O_CLOEXEC) < 0)
		return lc_error_set(err, errno, "pipe: %s", strerror(errno));
	ds->pid = fork();
	if (ds->pid == 0) {
		if (dup2(p[1], 1) < 0 || dup2(ds->err_log, 2) < 0)
			_exit(126);
		execvp(argv[0], (char *const *)argv);
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	if (ds->pid < 0) {
		close(p[0]);
		return lc_error_set(err, errno, "fork: %s", strerror(errno));
	}
	ds->out = p[0];
	return 0;
}

/* The last non-empty line the tool printed, into @buf. */
static void last_line(int fd, char *buf, size_t size)
{
	char text[4096];
	off_t end = lseek(fd, 0, SEEK_END);
	off_t from = end > (off_t)sizeof(text) - 1 ? end - (off_t)sizeof(text) + 1 : 0;
	ssize_t n = end > 0 ? pread(fd, text, (size_t)(end - from), from) : 0;
	char *line;

	text[n > 0 ? n : 0] = '\0';
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		text[--n] = '\0';
	line = strrchr(text, '\n');
	snprintf(buf, size, "%s", line ? line + 1 : text);
}

int daemon_save_end(daemon_save *ds, int r, lc_error *err)
{
	char why[512];
	int status = 0;

	if (ds->out >= 0)
		close(ds->out); /* a reader that stopped early: the tool gets EPIPE */
	ds->out = -1;
	while (ds->pid > 0 && waitpid(ds->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (ds->pid > 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0) &&
	    !(r >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE)) {
		last_line(ds->err_log, why, sizeof(why));
		r = lc_error_set(err, EIO, "%s save %s failed: %s", ds->tool, ds->name,
				 why[0] ? why : "(no message)");
	}
	if (ds->err_log >= 0)
		close(ds->err_log);
	ds->err_log = -1;
	return r;
}
