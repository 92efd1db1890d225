/* SPDX-License-Identifier: Apache-2.0 */
/* Containers shared by sibling processes (the lock and its failures), task environments, host
 * lists, and helper processes (log capture, fds, ids, SIGTERM forwarding). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lc-test.h"
#include "runtime/runtime.h"

/* In a child: lock, then exit with 10 + the result (1: creator, 0: joiner, < 0 -> 9). */
static int child_lock(lc_group *g, char *msg, size_t size)
{
	lc_error err = LC_ERROR_INIT;
	int r = lc_group_lock(g, &err);

	if (r < 0)
		snprintf(msg, size, "%s", err.msg);
	return r;
}

static int wait_child(pid_t pid)
{
	int status = 0;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(creator_death_is_reported)
{
	lc_group *g = NULL;
	char msg[512] = "";
	pid_t pid;

	ck_assert_int_eq(lc_group_new(&g, NULL), 0);
	pid = fork();
	if (pid == 0)
		_exit(child_lock(g, msg, sizeof(msg)) == 1 ? 0 : 1); /* dies holding the lock */
	ck_assert_int_eq(wait_child(pid), 0);
	ck_assert_int_lt(child_lock(g, msg, sizeof(msg)), 0);
	ck_assert_str_eq(msg, "a previous task terminated unexpectedly during container setup");
	/* and every later task hears the same, without waiting */
	ck_assert_int_lt(child_lock(g, msg, sizeof(msg)), 0);
	ck_assert_str_eq(msg, "a previous task terminated unexpectedly during container setup");
	lc_group_free(g);
}
END_TEST

START_TEST(creator_failure_is_reported)
{
	lc_group *g = NULL;
	char msg[512] = "";
	pid_t pid;

	ck_assert_int_eq(lc_group_new(&g, NULL), 0);
	pid = fork();
	if (pid == 0) {
		lc_error why = LC_ERROR_INIT;

		if (child_lock(g, msg, sizeof(msg)) != 1)
			_exit(1);
		lc_fail(&why, EIO, "failed to import docker image: x");
		lc_group_fail(g, &why);
		_exit(0);
	}
	ck_assert_int_eq(wait_child(pid), 0);
	ck_assert_int_lt(child_lock(g, msg, sizeof(msg)), 0);
	ck_assert_str_eq(msg, "container was not started successfully by another task: "
			      "failed to import docker image: x");
	lc_group_free(g);
}
END_TEST

START_TEST(first_locker_creates)
{
	lc_group *g = NULL;
	char msg[512] = "";

	ck_assert_int_eq(lc_group_new(&g, NULL), 0);
	ck_assert_int_eq(child_lock(g, msg, sizeof(msg)), 1);
	/* lc_group_create without the lock is refused */
	lc_group_fail(g, NULL);
	ck_assert_int_lt(lc_group_create(NULL, g, NULL, NULL, NULL, NULL), 0);
	lc_group_free(g);
}
END_TEST

/* A group that made no container (its creator failed) has no holder to wait for: release hangs
 * up and returns at once, also twice. */
START_TEST(release_without_container_returns)
{
	lc_group *g = NULL;
	lc_error err = LC_ERROR_INIT;
	char msg[512] = "";

	ck_assert_int_eq(lc_group_new(&g, NULL), 0);
	ck_assert_int_eq(child_lock(g, msg, sizeof(msg)), 1);
	lc_group_fail(g, NULL);
	ck_assert_int_eq(lc_group_release(g, &err), 0);
	ck_assert_int_eq(lc_group_release(g, &err), 0);
	lc_group_free(g);
	ck_assert_int_eq(lc_group_release(NULL, &err), 0);
}
END_TEST

static char *joined(char **log)
{
	lc_buf b = LC_BUF_INIT;

	for (; log && *log; log++)
		lc_buf_printf(&b, "%s\n", *log);
	return lc_buf_steal(&b);
}

static char *run_sh(const char *script, uid_t uid, int *ret_status)
{
	const char *argv[] = {"sh", "-c", script, NULL};
	const char *env[] = {"PATH=/usr/bin:/bin", "MARK=helper-env", NULL};
	lc_helper_opts o = LC_HELPER_OPTS_INIT;
	lc_error err = LC_ERROR_INIT;
	char **log = NULL, *text;

	o.path = "/bin/sh";
	o.argv = argv;
	o.env = env;
	if (uid != (uid_t)-1) {
		o.uid = uid;
		o.gid = (gid_t)uid;
	}
	ck_assert_msg(lc_helper_run(&o, ret_status, &log, &err) == 0, "%s", err.msg);
	text = joined(log);
	lc_strv_free(log);
	return text;
}

START_TEST(helper_captures_and_isolates)
{
	int status = 0, stray = open("/dev/null", O_RDONLY); /* not CLOEXEC: must still close */
	char *log = run_sh("echo out; echo err >&2; echo $MARK; ls /proc/self/fd | tr '\\n' ' ';"
			   " echo; cat; exit 3",
			   (uid_t)-1, &status);

	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	ck_assert_str_eq(log, "out\nerr\nhelper-env\n0 1 2 3 \n");
	free(log);
	close(stray);
	if (geteuid() == 0) {
		log = run_sh("id -u; cat /proc/self/oom_score_adj", 65534, &status);
		ck_assert_str_eq(log, "65534\n0\n");
		free(log);
	}
}
END_TEST

START_TEST(helper_gets_sigterm_forwarded)
{
	pid_t self = getpid(), killer = fork();
	int status = 0;
	char *log;

	if (killer == 0) {
		usleep(300 * 1000);
		kill(self, SIGTERM);
		_exit(0);
	}
	log = run_sh("trap 'echo got-term; exit 7' TERM; sleep 20 & wait", (uid_t)-1, &status);
	ck_assert_int_eq(wait_child(killer), 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 7);
	ck_assert_str_eq(log, "got-term\n");
	free(log);
}
END_TEST

/* An importer prints its result on stdout and logs on stderr: kept apart. */
START_TEST(helper_stdout_apart)
{
	const char *argv[] = {"sh", "-c", "echo log1 >&2; echo /path/x.sqsh; echo log2 >&2", NULL};
	const char *env[] = {"PATH=/usr/bin:/bin", NULL};
	lc_helper_opts o = LC_HELPER_OPTS_INIT;
	lc_error err = LC_ERROR_INIT;
	char **out = NULL, **log = NULL, *text;
	int status = -1;

	o.path = "/bin/sh";
	o.argv = argv;
	o.env = env;
	ck_assert_msg(lc_helper_run_split(&o, &status, &out, &log, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(status, 0);
	text = joined(out);
	ck_assert_str_eq(text, "/path/x.sqsh\n");
	free(text);
	text = joined(log);
	ck_assert_str_eq(text, "log1\nlog2\n");
	free(text);
	lc_strv_free(out);
	lc_strv_free(log);
}
END_TEST

/* Progress lines reach the caller while the helper runs (the callback releases it), cleaned. */
typedef struct heard {
	lc_buf lines;
	const char *go; /* created when the first line is heard */
} heard;

static void hear(void *u, const char *line)
{
	heard *h = u;

	lc_buf_printf(&h->lines, "%s\n", line);
	if (h->go)
		close(open(h->go, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
}

START_TEST(helper_progress_is_live)
{
	char go[] = "/tmp/lc-test-go-XXXXXX", script[1024], *log_text, *progress;
	const char *argv[] = {"sh", "-c", script, NULL};
	const char *env[] = {"PATH=/usr/bin:/bin", NULL};
	lc_helper_opts o = LC_HELPER_OPTS_INIT;
	lc_error err = LC_ERROR_INIT;
	heard h = {LC_BUF_INIT, go};
	char **log = NULL;
	int status = -1;

	close(mkstemp(go));
	unlink(go);
	snprintf(script, sizeof(script),
		 "echo first >&3; i=0; while [ ! -e %s ] && [ $i -lt 200 ]; do sleep 0.02; "
		 "i=$((i+1)); done; [ -e %s ] && echo second >&3 || echo late >&3; "
		 "printf 'esc\\033[2Jx\\n' >&3; head -c 600 /dev/zero | tr '\\0' a >&3; "
		 "echo >&3; printf 'no newline' >&3; echo log; ls /proc/self/fd | wc -w",
		 go, go);
	o.path = "/bin/sh";
	o.argv = argv;
	o.env = env;
	o.on_progress = hear;
	o.progress_userdata = &h;
	ck_assert_msg(lc_helper_run(&o, &status, &log, &err) == 0, "%s", err.msg);
	unlink(go);
	ck_assert_int_eq(status, 0);
	progress = lc_buf_steal(&h.lines);
	log_text = joined(log);
	ck_assert_msg(!strncmp(progress, "first\nsecond\nesc?[2Jx\n", 22), "%s", progress);
	/* the long line: its first 255 bytes, the rest dropped; the unfinished line is said */
	ck_assert_uint_eq(strlen(progress), 22 + 256 + strlen("no newline\n"));
	ck_assert_uint_eq(strspn(progress + 22, "a"), 255);
	ck_assert_str_eq(progress + 22 + 256, "no newline\n");
	ck_assert_str_eq(log_text, "log\n5\n"); /* 0 1 2, fd 3 (progress) and ls's */
	free(progress);
	free(log_text);
	lc_strv_free(log);
}
END_TEST

START_TEST(helper_refuses_relative_path)
{
	const char *argv[] = {"sh", NULL}, *env[] = {NULL};
	lc_helper_opts o = LC_HELPER_OPTS_INIT;
	lc_error err = LC_ERROR_INIT;

	o.path = "sh";
	o.argv = argv;
	o.env = env;
	ck_assert_int_lt(lc_helper_run(&o, NULL, NULL, &err), 0);
	ck_assert(strstr(err.msg, "absolute path"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("group");
	TCase *tc = tcase_create("group");

	tcase_add_test(tc, creator_death_is_reported);
	tcase_add_test(tc, creator_failure_is_reported);
	tcase_add_test(tc, first_locker_creates);
	tcase_add_test(tc, release_without_container_returns);
	tcase_add_test(tc, helper_captures_and_isolates);
	tcase_add_test(tc, helper_gets_sigterm_forwarded);
	tcase_add_test(tc, helper_stdout_apart);
	tcase_add_test(tc, helper_progress_is_live);
	tcase_add_test(tc, helper_refuses_relative_path);
	suite_add_tcase(s, tc);
	return lc_test_run(s);
}
