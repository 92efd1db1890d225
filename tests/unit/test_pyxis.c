/* SPDX-License-Identifier: Apache-2.0 */
/* Pyxis's runtime directory (src/pyxis): names, the user's and the step's directories, and the
 * job epilog's cleanup, on a real filesystem. Making directories for another user needs root. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lc-test.h"
#include "pyxis/pyxis.h"

#define USER_UID 4242
#define USER_GID 4343

static char *tmp;

static void setup(void)
{
	tmp = lc_test_tmpdir();
}

static void teardown(void)
{
	lc_test_rmtree(tmp);
	free(tmp);
}

/* "@a/@b" into @buf (of @size bytes), which must hold it. */
static char *join(char *buf, size_t size, const char *a, const char *b)
{
	ck_assert_int_lt(snprintf(buf, size, "%s/%s", a, b), (int)size);
	return buf;
}
#define JOIN(buf, a, b) join(buf, sizeof(buf), a, b)

static void touch(const char *dir, const char *name)
{
	char path[4096];
	int fd;

	JOIN(path, dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

static bool exists(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;

	return lstat(JOIN(path, dir, name), &st) == 0;
}

START_TEST(names)
{
	char buf[64];

	lc_pyxis_step_name(17, 4294967291u, buf, sizeof(buf));
	ck_assert_str_eq(buf, "17.4294967291");
	ck_assert_int_eq(lc_pyxis_container_dir_name("web", false, 17, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "pyxis_web");
	ck_assert_int_eq(lc_pyxis_container_dir_name("web", true, 17, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "pyxis_17_web");
	ck_assert_int_eq(lc_pyxis_container_dir_name("17.3", false, 17, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "pyxis_17.3");
	ck_assert_int_eq(lc_pyxis_container_dir_name("a-much-longer-name", true, 17, buf, 16),
			 -ENAMETOOLONG);
}
END_TEST

START_TEST(job_leftovers)
{
	static const struct {
		const char *name;
		bool dir, image, global, job;
	} cases[] = {
	    {"7.0", true, false, true, true},           /* a killed step's import */
	    {"7.4294967291", true, false, true, true},  /* the batch step's */
	    {"70.0", true, false, false, false},        /* another job's */
	    {"7.x", true, false, false, false},         /* not a step */
	    {"7.", true, false, false, false},          /* not a step */
	    {"pyxis_7.1", true, false, true, true},     /* a killed step's own name */
	    {"pyxis_7.2", true, true, false, false},    /* the user named a container so */
	    {"pyxis_7_web", true, true, false, true},   /* job scope: the job's */
	    {"pyxis_70_web", true, true, false, false}, /* another job's */
	    {"pyxis_web", true, true, false, false},    /* global names stay */
	    {"7.images", true, false, true, true},      /* the job's imports */
	    {"70.images", true, false, false, false},   /* another job's */
	};
	int dir_fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char path[4096];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		JOIN(path, tmp, cases[i].name);
		ck_assert_int_eq(mkdir(path, 0700), 0);
		touch(path, ".lock");
		if (cases[i].image)
			touch(path, "image.sqsh");
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		ck_assert_msg(lc_pyxis_is_job_leftover(dir_fd, cases[i].name, 7, false) ==
				  cases[i].global,
			      "%s (global scope)", cases[i].name);
		ck_assert_msg(lc_pyxis_is_job_leftover(dir_fd, cases[i].name, 7, true) ==
				  cases[i].job,
			      "%s (job scope)", cases[i].name);
	}
	close(dir_fd);
}
END_TEST

START_TEST(remove_job_leftovers)
{
	lc_error err = LC_ERROR_INIT;
	char user[4096], path[4096];
	size_t failed = 1;

	snprintf(user, sizeof(user), "%s/%u", tmp, (unsigned)getuid());
	ck_assert_int_eq(mkdir(user, 0700), 0);
	JOIN(path, user, "7.0");
	ck_assert_int_eq(mkdir(path, 0700), 0);
	touch(path, "image.sqsh");
	JOIN(path, user, "pyxis_7_web");
	ck_assert_int_eq(mkdir(path, 0700), 0);
	JOIN(path, user, "pyxis_web");
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(lc_pyxis_remove_job_leftovers(tmp, getuid(), 7, true, &failed, &err), 0);
	ck_assert_uint_eq(failed, 0);
	ck_assert(!exists(user, "7.0") && !exists(user, "pyxis_7_web"));
	ck_assert(exists(user, "pyxis_web"));
	/* a user without a directory: nothing to do */
	ck_assert_int_eq(lc_pyxis_remove_job_leftovers(tmp, 4241, 7, true, NULL, &err), 0);
}
END_TEST

START_TEST(user_and_job_dirs)
{
	lc_error err = LC_ERROR_INIT;
	char base[4096], *user = NULL, *image = NULL, want[4200];
	struct stat st;

	if (geteuid() != 0)
		return; /* giving a directory to another user needs root */
	JOIN(base, tmp, "runtime");
	ck_assert_int_eq(lc_pyxis_user_dir(base, USER_UID, USER_GID, &user, &err), 0);
	snprintf(want, sizeof(want), "%s/%u", base, USER_UID);
	ck_assert_str_eq(user, want);
	ck_assert_int_eq(stat(base, &st), 0);
	ck_assert(st.st_uid == 0 && (st.st_mode & 07777) == 0755);
	/* a base the user's helpers cannot search: named */
	ck_assert_int_eq(chmod(base, 0700), 0);
	ck_assert_int_eq(lc_pyxis_user_dir(base, USER_UID, USER_GID, &image, &err), -EACCES);
	ck_assert_msg(strstr(err.msg, "is not searchable by users (mode 700): make it 0755"), "%s",
		      err.msg);
	ck_assert_int_eq(chmod(base, 0755), 0);
	ck_assert_int_eq(stat(user, &st), 0);
	ck_assert(st.st_uid == USER_UID && st.st_gid == USER_GID && (st.st_mode & 07777) == 0700);
	ck_assert_int_eq(lc_pyxis_job_images_dir(user, USER_UID, USER_GID, 7, &image, &err), 0);
	JOIN(want, user, "7.images");
	ck_assert_str_eq(image, want);
	ck_assert_int_eq(stat(want, &st), 0);
	ck_assert(st.st_uid == USER_UID && (st.st_mode & 07777) == 0700);
	free(image);
	/* again: the same directories, kept */
	ck_assert_int_eq(lc_pyxis_job_images_dir(user, USER_UID, USER_GID, 7, &image, &err), 0);
	free(image);
	/* another user's directory is refused, and left alone */
	ck_assert_int_eq(lc_pyxis_job_images_dir(user, USER_UID + 1, USER_GID, 7, &image, &err),
			 -EPERM);
	ck_assert_msg(strstr(err.msg, "is not the user's own directory"), "%s", err.msg);
	ck_assert_int_eq(stat(want, &st), 0);
	ck_assert(st.st_uid == USER_UID);
	free(user);
}
END_TEST

START_TEST(links_are_not_followed)
{
	lc_error err = LC_ERROR_INIT;
	char base[4096], outside[4096], link[4200], *user = NULL;

	JOIN(outside, tmp, "outside");
	ck_assert_int_eq(mkdir(outside, 0755), 0);
	touch(outside, "precious");
	JOIN(base, tmp, "runtime");
	ck_assert_int_eq(mkdir(base, 0755), 0);
	snprintf(link, sizeof(link), "%s/%u", base, (unsigned)getuid());
	ck_assert_int_eq(symlink(outside, link), 0);
	/* the user's directory must not be a link */
	ck_assert_int_lt(lc_pyxis_user_dir(base, getuid(), getgid(), &user, &err), 0);
	ck_assert_ptr_null(user);
	/* removal removes the link, never what it points to */
	snprintf(link, sizeof(link), "%u", (unsigned)getuid());
	ck_assert_int_eq(lc_pyxis_remove_under(base, link, &err), 0);
	ck_assert(!exists(base, link));
	ck_assert(exists(outside, "precious"));
	/* a directory that is a link is not entered */
	JOIN(link, tmp, "dirlink");
	ck_assert_int_eq(symlink(outside, link), 0);
	ck_assert_int_lt(lc_pyxis_remove_under(link, "precious", &err), 0);
	ck_assert(exists(outside, "precious"));
}
END_TEST

static bool env_has(char **env, const char *kv)
{
	for (; env && *env; env++)
		if (!strcmp(*env, kv))
			return true;
	return false;
}

static bool env_has_name(char **env, const char *name)
{
	size_t n = strlen(name);

	for (; env && *env; env++)
		if (!strncmp(*env, name, n) && (*env)[n] == '=')
			return true;
	return false;
}

START_TEST(task_env_follows_pyxis)
{
	const char *job[] = {"FOO=bar",        "LANG=C.UTF-8", "LC_ALL=C", "CUDA_VERSION=host",
			     "PATH=/host/bin", "KEEP=host",    NULL};
	const char *image[] = {"PATH=/image/bin", "CUDA_VERSION=13.0", "KEEP=image", "ONLY_IMAGE=1",
			       NULL};
	const char *wins[] = {"KEEP", "LC_ALL", "UNSET_ON_HOST", NULL};
	char **env = NULL;

	ck_assert_int_eq(lc_pyxis_task_env(job, image, wins, &env, NULL), 0);
	ck_assert(env_has(env, "FOO=bar"));
	ck_assert(!env_has_name(env, "LANG"));
	ck_assert(env_has(env, "LC_ALL=C"));
	ck_assert(env_has(env, "CUDA_VERSION=13.0"));
	ck_assert(env_has(env, "PATH=/image/bin"));
	ck_assert(env_has(env, "KEEP=host"));
	ck_assert(env_has(env, "ONLY_IMAGE=1"));
	ck_assert(!env_has_name(env, "RANK"));
	lc_strv_free(env);
}
END_TEST

START_TEST(task_env_pytorch)
{
	const char *job[] = {"SLURM_PROCID=5",         "SLURM_LOCALID=1",
			     "SLURM_JOB_ID=4600",      "SLURM_STEP_NODELIST=gpu[07-09]",
			     "SLURM_STEP_NUM_TASKS=6", "SLURM_STEP_NUM_NODES=3",
			     "MASTER_PORT=1",          NULL};
	const char *image[] = {"PYTORCH_VERSION=2.9.0", "WORLD_SIZE=99", NULL};
	const char *wins[] = {"MASTER_PORT", NULL};
	char **env = NULL;

	ck_assert_int_eq(lc_pyxis_task_env(job, image, NULL, &env, NULL), 0);
	ck_assert(env_has(env, "RANK=5"));
	ck_assert(env_has(env, "LOCAL_RANK=1"));
	ck_assert(env_has(env, "MASTER_ADDR=gpu07"));
	ck_assert(env_has(env, "MASTER_PORT=61064")); /* 61000 + 4600 % 4536 */
	ck_assert(env_has(env, "WORLD_SIZE=99"));     /* the image's */
	ck_assert(env_has(env, "OMP_NUM_THREADS=1")); /* 6 tasks on 3 nodes */
	lc_strv_free(env);
	/* a job value the user listed in --container-env stays */
	ck_assert_int_eq(lc_pyxis_task_env(job, image, wins, &env, NULL), 0);
	ck_assert(env_has(env, "MASTER_PORT=1"));
	lc_strv_free(env);
}
END_TEST

START_TEST(hostlist_first_host)
{
	static const char *const cases[][2] = {
	    {"node[07-09,12],gpu1", "node07"}, {"a1,b2", "a1"}, {"n[001-004]", "n001"}, {"x", "x"},
	    {"pre[3-4]post,z", "pre3post"},    {"c[5]", "c5"}};
	char *host = NULL;

	for (size_t i = 0; i < LC_ELEMENTSOF(cases); i++) {
		ck_assert_int_eq(lc_pyxis_hostlist_first(cases[i][0], &host, NULL), 0);
		ck_assert_str_eq(host, cases[i][1]);
		free(host);
	}
	ck_assert_int_lt(lc_pyxis_hostlist_first("", &host, NULL), 0);
	ck_assert_int_lt(lc_pyxis_hostlist_first("n[", &host, NULL), 0);
	ck_assert_int_lt(lc_pyxis_hostlist_first("n[x]", &host, NULL), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pyxis");
	TCase *tc = tcase_create("layout");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, names);
	tcase_add_test(tc, job_leftovers);
	tcase_add_test(tc, remove_job_leftovers);
	tcase_add_test(tc, user_and_job_dirs);
	tcase_add_test(tc, links_are_not_followed);
	suite_add_tcase(s, tc);
	tc = tcase_create("task environment");
	tcase_add_test(tc, task_env_follows_pyxis);
	tcase_add_test(tc, task_env_pytorch);
	tcase_add_test(tc, hostlist_first_host);
	suite_add_tcase(s, tc);
	return lc_test_run(s);
}
