/* SPDX-License-Identifier: Apache-2.0 */
/* Named containers (src/runtime/named.c) without Slurm: the directory, its lock and states,
 * copying, resetting and removing, the layers' directories, and both ends of the running
 * instance's socket (a server in a child process, the caller's side here). */
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lc-test.h"
#include "runtime/runtime.h"

static char *tmp;
static char dir[4096];

static void setup(void)
{
	tmp = lc_test_tmpdir();
	ck_assert_int_lt(snprintf(dir, sizeof(dir), "%s/pyxis_n1", tmp), (int)sizeof(dir));
}

static void teardown(void)
{
	lc_test_rmtree(tmp);
	free(tmp);
}

static bool has(const char *name)
{
	char path[4200];
	struct stat st;

	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", dir, name), (int)sizeof(path));
	return lstat(path, &st) == 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* A child that opens the name when told to ("g" on @go) and says "o" on @done once it holds
 * it. Forked before the caller locks: a lock inherited through fork() would be the child's too. */
static pid_t opener(int *ret_go, int *ret_done)
{
	int go[2], done[2];
	pid_t pid;

	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(done), 0);
	pid = fork();
	if (pid == 0) {
		lc_named *m = NULL;
		char byte;

		close(go[1]);
		close(done[0]);
		if (read(go[0], &byte, 1) != 1)
			_exit(1);
		_exit(lc_named_open(dir, (uid_t)-1, (gid_t)-1, &m, NULL) < 0 ||
		      write(done[1], "o", 1) != 1);
	}
	close(go[0]);
	close(done[1]);
	*ret_go = go[1];
	*ret_done = done[0];
	return pid;
}

START_TEST(open_makes_the_users_directory_and_locks_it)
{
	lc_named *n = NULL;
	lc_error err = LC_ERROR_INIT;
	char image[4200], byte = 0;
	struct stat st;
	struct pollfd p;
	int go, done;
	pid_t pid = opener(&go, &done);

	ck_assert_int_eq(lc_named_open(dir, (uid_t)-1, (gid_t)-1, &n, &err), 0);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	ck_assert(has(".lock"));
	ck_assert_int_eq(lc_named_state(n, &err), LC_NAMED_ABSENT);
	ck_assert_int_eq(lc_named_ns_flags(n), 0);
	ck_assert_int_lt(snprintf(image, sizeof(image), "%s/image.sqsh", dir), (int)sizeof(image));
	ck_assert_str_eq(lc_named_image_path(n), image);
	/* the lock is held: another process that opens the name waits */
	ck_assert_int_eq(write(go, "g", 1), 1);
	p = (struct pollfd){.fd = done, .events = POLLIN};
	ck_assert_int_eq(poll(&p, 1, 300), 0); /* still waiting */
	lc_named_free(n);                      /* unlocks */
	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	ck_assert_int_eq(read(done, &byte, 1), 1);
	ck_assert_int_eq(byte, 'o');
	close(go);
	close(done);
	waitpid(pid, NULL, 0);
}
END_TEST

START_TEST(copy_reset_remove)
{
	lc_named *n = NULL;
	lc_error err = LC_ERROR_INIT;
	char src[4200], work[4200];

	ck_assert_int_lt(snprintf(src, sizeof(src), "%s/some.sqsh", tmp), (int)sizeof(src));
	write_file(src, "not really squashfs, but a regular file");
	ck_assert_int_eq(lc_named_open(dir, (uid_t)-1, (gid_t)-1, &n, &err), 0);
	ck_assert_int_eq(lc_named_copy_image(n, "some.sqsh", tmp, &err), 0);
	ck_assert(has("image.sqsh"));
	/* a name's directory, not some other one; none of its instances runs */
	ck_assert(lc_named_exists_at(AT_FDCWD, dir));
	ck_assert(!lc_named_exists_at(AT_FDCWD, tmp));
	ck_assert_int_eq(lc_named_peek(dir, &err), 0);
	ck_assert_int_eq(lc_named_state(n, &err), LC_NAMED_STOPPED);
	/* a directory is not an image */
	ck_assert_int_eq(lc_named_copy_image(n, tmp, NULL, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "is not a regular file"), "%s", err.msg);
	/* the layers' directories, for the name's own instance and a separate one */
	ck_assert_int_eq(
	    lc_named_overlay_layers(lc_named_dir_fd(n), NULL, work, sizeof(work), &err), 0);
	ck_assert_msg(strstr(work, "upperdir=/proc/self/fd/") && strstr(work, "/upper,workdir=") &&
			  strstr(work, "/work"),
		      "%s", work);
	ck_assert_int_eq(
	    lc_named_overlay_layers(lc_named_dir_fd(n), "7.3", work, sizeof(work), &err), 0);
	ck_assert(has("upper") && has("work") && has("work.7.3"));
	ck_assert(!lc_named_is_volatile_at(AT_FDCWD, dir));
	ck_assert_int_eq(lc_named_remove_instance(dir, "7.3", &err), 0);
	ck_assert(!has("work.7.3") && has("work"));
	ck_assert_int_eq(lc_named_remove_instance(dir, "../x", &err), -EINVAL);
	ck_assert_int_eq(lc_named_remove_instance(dir, "7.3", &err), 0); /* nothing there: fine */
	/* reset keeps the lock alone */
	ck_assert_int_eq(lc_named_reset(n, &err), 0);
	ck_assert(has(".lock") && !has("image.sqsh") && !has("upper") && !has("work"));
	ck_assert(lc_named_is_volatile_at(AT_FDCWD, dir)); /* nothing but .lock */
	ck_assert_int_eq(lc_named_state(n, &err), LC_NAMED_ABSENT);
	ck_assert_int_eq(lc_named_remove(n, &err), 0);
	ck_assert_int_ne(access(dir, F_OK), 0);
	lc_named_free(n);
	ck_assert(!lc_named_is_volatile_at(AT_FDCWD, dir)); /* missing: false */
	ck_assert(!lc_named_exists_at(AT_FDCWD, dir));
	ck_assert_int_eq(lc_named_peek(dir, &err), -ENOENT);
}
END_TEST

START_TEST(refuses_what_is_not_the_users_own)
{
	lc_named *n = NULL;
	lc_error err = LC_ERROR_INIT;
	char link[4200];

	ck_assert_int_eq(mkdir(dir, 0770), 0);
	ck_assert_int_eq(chmod(dir, 0770), 0);
	ck_assert_int_eq(lc_named_open(dir, (uid_t)-1, (gid_t)-1, &n, &err), -EPERM);
	ck_assert_msg(strstr(err.msg, "is not the user's own directory"), "%s", err.msg);
	ck_assert_ptr_null(n);
	ck_assert_int_eq(chmod(dir, 0700), 0);
	if (geteuid() == 0) { /* another user's directory */
		ck_assert_int_lt(lc_named_open(dir, 4242, 4242, &n, &err), 0);
		ck_assert_ptr_null(n);
	}
	/* a link is never followed */
	ck_assert_int_lt(snprintf(link, sizeof(link), "%s/pyxis_link", tmp), (int)sizeof(link));
	ck_assert_int_eq(symlink(dir, link), 0);
	ck_assert_int_lt(lc_named_open(link, (uid_t)-1, (gid_t)-1, &n, &err), 0);
	ck_assert_ptr_null(n);
}
END_TEST

/* The instance's side in a child: it serves until its lifeline and every joiner's hang up. */
static pid_t start_server(int image_fd, int *ret_lifeline, int *ret_ready)
{
	int life[2], ready[2];
	pid_t pid;

	ck_assert_int_eq(pipe2(life, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	pid = fork();
	if (pid == 0) {
		lc_named_server s = LC_NAMED_SERVER_INIT;
		int dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

		close(life[1]);
		close(ready[0]);
		if (lc_named_server_listen(&s, dir_fd, image_fd, NULL) < 0)
			_exit(1);
		(void)!write(ready[1], "r", 1);
		lc_named_server_run(&s, life[0], CLONE_NEWUSER | CLONE_NEWNS);
		_exit(0);
	}
	close(life[0]);
	close(ready[1]);
	*ret_lifeline = life[1];
	*ret_ready = ready[0];
	return pid;
}

START_TEST(both_ends_of_the_socket)
{
	lc_named *n = NULL;
	lc_error err = LC_ERROR_INIT;
	char src[4200], byte;
	int image_fd, lifeline, ready, join[2], pidfd = -1, status;
	pid_t server;

	/* the name's directory and lock, then the server (forked before the caller locks) */
	ck_assert_int_eq(lc_named_open(dir, (uid_t)-1, (gid_t)-1, &n, &err), 0);
	n = lc_named_free(n);
	ck_assert_int_lt(snprintf(src, sizeof(src), "%s/image.sqsh", dir), (int)sizeof(src));
	write_file(src, "image");
	image_fd = open(src, O_RDONLY | O_CLOEXEC);
	server = start_server(image_fd, &lifeline, &ready);
	ck_assert_int_eq(lc_named_open(dir, (uid_t)-1, (gid_t)-1, &n, &err), 0);
	ck_assert_int_eq(read(ready, &byte, 1), 1);
	ck_assert(has("sock"));
	/* the caller's side: it finds the instance running, with its namespaces */
	ck_assert_int_eq(lc_named_state(n, &err), LC_NAMED_RUNNING);
	ck_assert_int_eq(lc_named_ns_flags(n), CLONE_NEWUSER | CLONE_NEWNS);
	/* without the lock (held here): the instance's pid */
	ck_assert_int_eq(lc_named_peek(dir, &err), server);
	ck_assert_int_eq(pipe2(join, O_CLOEXEC), 0);
	ck_assert_int_eq(lc_named_join(n, join[0], &pidfd, &err), 0);
	ck_assert_int_ge(pidfd, 0);
	close(join[0]);
	/* the instance outlives its own lifeline while a joined group lives */
	close(lifeline);
	ck_assert_int_eq(waitpid(server, &status, WNOHANG), 0);
	lc_named_free(n); /* the server stops only under the name's lock */
	usleep(300 * 1000);
	ck_assert_int_eq(waitpid(server, &status, WNOHANG), 0);
	close(join[1]); /* the joined group ends: so does the instance */
	ck_assert_int_eq(waitpid(server, &status, 0), server);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert(!has("sock"));
	close(pidfd);
	close(image_fd);
	close(ready);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("named");
	TCase *tc = tcase_create("named");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, open_makes_the_users_directory_and_locks_it);
	tcase_add_test(tc, copy_reset_remove);
	tcase_add_test(tc, refuses_what_is_not_the_users_own);
	tcase_add_test(tc, both_ends_of_the_socket);
	suite_add_tcase(s, tc);
	return lc_test_run(s);
}
