/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checks of the container API that need one process to hold a container:
 *   container-test join IMAGE      two processes join one container and see each other's /tmp
 *   container-test cycles IMAGE N  N create/spawn/free cycles leave no fd, child or mount behind
 * Prints what it checked; exit 0 when everything held.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libcontainer/libcontainer.h>

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static char *read_mounts(void)
{
	FILE *f = fopen("/proc/self/mounts", "r");
	char *buf = calloc(1, 1 << 20);
	size_t n = f && buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;

	if (f)
		fclose(f);
	if (buf)
		buf[n] = '\0';
	return buf;
}

static int create(const char *image, lc_container **c)
{
	lc_container_opts o = LC_CONTAINER_OPTS_INIT;
	lc_error err = LC_ERROR_INIT;

	o.image_path = image;
	if (lc_container_create(NULL, &o, c, &err) < 0) {
		fprintf(stderr, "create: %s\n", lc_error_message(&err));
		return -1;
	}
	return 0;
}

static int run(lc_container *c, const char *script, pid_t *pid)
{
	const char *argv[] = {"/bin/sh", "-c", script, NULL};
	lc_process_opts p = LC_PROCESS_OPTS_INIT;
	lc_error err = LC_ERROR_INIT;

	p.argv = argv;
	if (lc_container_spawn(c, &p, pid, &err) < 0) {
		fprintf(stderr, "spawn: %s\n", lc_error_message(&err));
		return -1;
	}
	return 0;
}

static int exit_code(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Each writes its file and waits (5 s at most) for the other's: both must see both. */
static int join(const char *image)
{
	static const char a[] =
	    "echo from-a > /tmp/a; i=0; while [ ! -e /tmp/b ] && [ $i -lt 50 ]; "
	    "do sleep 0.1; i=$((i+1)); done; cat /tmp/b";
	static const char b[] =
	    "echo from-b > /tmp/b; i=0; while [ ! -e /tmp/a ] && [ $i -lt 50 ]; "
	    "do sleep 0.1; i=$((i+1)); done; cat /tmp/a";
	lc_container *c = NULL;
	pid_t pa, pb;
	int ra, rb;

	if (create(image, &c) < 0 || run(c, a, &pa) < 0 || run(c, b, &pb) < 0)
		return 1;
	ra = exit_code(pa);
	rb = exit_code(pb);
	lc_container_free(c);
	printf("join: first process exit %d, second exit %d\n", ra, rb);
	return ra || rb;
}

static int cycles(const char *image, int n)
{
	int fds = count_fds();
	char *before = read_mounts(), *after;
	int bad = 0;

	for (int i = 0; i < n && !bad; i++) {
		lc_container *c = NULL;
		pid_t pid;

		if (create(image, &c) < 0 || run(c, "exit 0", &pid) < 0 || exit_code(pid) != 0)
			bad = 1;
		lc_container_free(c);
	}
	after = read_mounts();
	printf("cycles: %d done, fds %s, mounts %s, children left %s\n", n,
	       fds == count_fds() ? "unchanged" : "LEAKED",
	       strcmp(before, after) ? "CHANGED" : "unchanged",
	       waitpid(-1, NULL, WNOHANG) == -1 ? "none" : "SOME");
	bad |= fds != count_fds() || strcmp(before, after) || waitpid(-1, NULL, WNOHANG) != -1;
	free(before);
	free(after);
	return bad;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "join"))
		return join(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "cycles"))
		return cycles(argv[2], atoi(argv[3]));
	fprintf(stderr, "usage: container-test join IMAGE | cycles IMAGE N\n");
	return 2;
}
