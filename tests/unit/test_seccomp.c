/* SPDX-License-Identifier: Apache-2.0 */
/* The fake-chown seccomp filter: its rules for every ABI, and its effect in a real process. */
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lc-test.h"
#include "runtime/runtime.h"

START_TEST(rules_cover_every_abi)
{
	lc_error err = LC_ERROR_INIT;
	char *pfc = NULL;

	ck_assert_msg(lc_seccomp_prog_describe(&pfc, &err) == 0, "%s", err.msg);
#if defined(__x86_64__)
	/* pyxis and enroot filter only the native ABI; i386 and x32 binaries must not escape */
	ck_assert_ptr_nonnull(strstr(pfc, "# filter for arch x86_64"));
	ck_assert_ptr_nonnull(strstr(pfc, "# filter for arch x86 "));
	ck_assert_ptr_nonnull(strstr(pfc, "# filter for arch x32"));
	ck_assert_ptr_nonnull(strstr(pfc, "\"chown32\" (212)")); /* i386 numbering */
#endif
	static const char *const names[] = {
	    "\"chown\"",     "\"lchown\"",   "\"fchown\"",   "\"fchownat\"",  "\"setuid\"",
	    "\"setgid\"",    "\"setreuid\"", "\"setregid\"", "\"setresuid\"", "\"setresgid\"",
	    "\"setgroups\"", "\"setfsuid\"", "\"setfsgid\""};
	for (size_t i = 0; i < LC_ELEMENTSOF(names); i++)
		ck_assert_msg(strstr(pfc, names[i]), "no rule for %s", names[i]);
	/* the query form of setfsuid (-1) is let through */
	ck_assert_ptr_nonnull(strstr(pfc, "if ($a0.lo32 == 4294967295)"));
	ck_assert_ptr_null(strstr(pfc, "\"open\""));
	free(pfc);
}
END_TEST

/* In a child: become an ordinary uid for real, install the filter, check each faked call. Exit
 * code = number of the first failed check. */
static int child_checks(const char *file, uid_t uid, gid_t gid)
{
	lc_seccomp_prog *p = NULL;
	struct stat st;
	char status[4096] = "";
	FILE *f;

	if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
			       setresuid(uid, uid, uid) < 0))
		return 1;
	if (lc_seccomp_prog_new(&p, NULL) < 0 || lc_seccomp_install(p) < 0)
		return 2;
	lc_seccomp_prog_free(p);
	if (chown(file, 4242, 4242) != 0 || lchown(file, 4242, 4242) != 0)
		return 3; /* without the filter: EPERM */
	if (stat(file, &st) < 0 || st.st_uid == 4242)
		return 4; /* and nothing happened */
#ifndef __SANITIZE_THREAD__
	/* ThreadSanitizer runs a thread of its own: glibc then broadcasts set*id to every thread
	 * (SIGSETXID), and TSan's thread does not take part, which aborts. The task processes the
	 * filter is meant for are single-threaded when it is installed. */
	if (setuid(0) != 0 || setgid(0) != 0 || setresuid(0, 0, 0) != 0 || setgroups(0, NULL) != 0)
		return 5;
	if (getuid() != uid || geteuid() != uid || getgid() != gid)
		return 6;
	if ((uid_t)setfsuid(4242) != 0 || (uid_t)setfsuid((uid_t)-1) != uid)
		return 7; /* faked change returns 0, the query still tells the truth */
#endif
	f = fopen("/proc/self/status", "r");
	if (!f || fread(status, 1, sizeof(status) - 1, f) == 0)
		return 8;
	fclose(f);
	return strstr(status, "Seccomp:\t2") ? 0 : 9;
}

START_TEST(filter_fakes_ownership_calls)
{
	char *dir = lc_test_tmpdir(), file[512];
	uid_t uid = geteuid() == 0 ? 65534 : geteuid();
	gid_t gid = geteuid() == 0 ? 65534 : getegid();
	int status, fd;
	pid_t pid;

	snprintf(file, sizeof(file), "%s/owned", dir);
	fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	chmod(dir, 0755);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(child_checks(file, uid, gid));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "check %d failed",
		      WEXITSTATUS(status));
	lc_test_rmtree(dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("seccomp");
	TCase *tc = tcase_create("seccomp");

	tcase_add_test(tc, rules_cover_every_abi);
	tcase_add_test(tc, filter_fakes_ownership_calls);
	suite_add_tcase(s, tc);
	return lc_test_run(s);
}
