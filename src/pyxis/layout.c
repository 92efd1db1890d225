/* SPDX-License-Identifier: Apache-2.0 */
/* Pyxis's runtime directory on a node: its layout and its cleanup (see pyxis.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/util.h"
#include "pyxis.h"

#define CONTAINER_PREFIX "pyxis_"
#define JOB_IMAGES ".images" /* <jobid>.images */

void lc_pyxis_step_name(uint32_t jobid, uint32_t stepid, char *buf, size_t size)
{
	snprintf(buf, size, "%u.%u", jobid, stepid);
}

int lc_pyxis_container_dir_name(const char *name, bool scope_job, uint32_t jobid, char *buf,
				size_t size)
{
	int n = scope_job ? snprintf(buf, size, CONTAINER_PREFIX "%u_%s", jobid, name)
			  : snprintf(buf, size, CONTAINER_PREFIX "%s", name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* "<jobid>.<stepid>" at @name. */
static bool is_step_of(const char *name, uint32_t jobid)
{
	char prefix[32];
	size_t len = (size_t)snprintf(prefix, sizeof(prefix), "%u.", jobid);

	return !strncmp(name, prefix, len) && name[len] &&
	       strspn(name + len, "0123456789") == strlen(name + len);
}

bool lc_pyxis_is_job_leftover(int dir_fd, const char *name, uint32_t jobid, bool scope_job)
{
	const size_t plen = strlen(CONTAINER_PREFIX);
	char prefix[64], images[32];
	size_t len = (size_t)snprintf(prefix, sizeof(prefix), CONTAINER_PREFIX "%u_", jobid);

	snprintf(images, sizeof(images), "%u" JOB_IMAGES, jobid);
	if ((scope_job && !strncmp(name, prefix, len)) || !strcmp(name, images))
		return true;
	return is_step_of(name, jobid) ||
	       (!strncmp(name, CONTAINER_PREFIX, plen) && is_step_of(name + plen, jobid) &&
		lc_named_is_volatile_at(dir_fd, name));
}

/* @name under @parent_fd: the user's directory, mode 0700, never a link. -errno. */
static int owned_dir_at(int parent_fd, const char *name, uid_t uid, gid_t gid)
{
	_cleanup_close_ int fd = -1;
	bool made = mkdirat(parent_fd, name, 0700) == 0;
	struct stat s;

	if (!made && errno != EEXIST)
		return -errno;
	fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (made && fchown(fd, uid, gid) < 0)
		return -errno;
	if (fstat(fd, &s) < 0)
		return -errno;
	if (s.st_uid != uid || (s.st_mode & 022))
		return -EPERM;
	return 0;
}

static int owned_dir_fail(lc_error *err, int r, const char *dir, const char *name)
{
	if (r == -EPERM)
		return lc_fail(err, EPERM, "%s/%s is not the user's own directory", dir, name);
	return lc_fail(err, -r, "cannot make %s/%s: %s", dir, name, strerror(-r));
}

int lc_pyxis_user_dir(const char *base, uid_t uid, gid_t gid, char **ret_path, lc_error *err)
{
	_cleanup_close_ int base_fd = -1;
	struct stat st = {0};
	char name[16];
	int r;

	if (mkdir(base, 0755) < 0 && errno != EEXIST)
		return lc_fail(err, errno, "cannot make %s: %m", base);
	base_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (base_fd < 0)
		return lc_fail(err, errno, "cannot open %s: %m", base);
	/* the user's helpers reach <uid> through it */
	if (fstat(base_fd, &st) < 0 || !(st.st_mode & S_IXOTH))
		return lc_fail(err, EACCES, "%s is not searchable by users (mode %o): make it 0755",
			       base, (unsigned)(st.st_mode & 07777));
	snprintf(name, sizeof(name), "%u", (unsigned)uid);
	r = owned_dir_at(base_fd, name, uid, gid);
	if (r < 0)
		return owned_dir_fail(err, r, base, name);
	if (asprintf(ret_path, "%s/%s", base, name) < 0)
		return lc_fail(err, ENOMEM, "out of memory");
	return 0;
}

/* <@user_dir>/<@name>, the user's: made as lc_pyxis_user_dir() makes <uid>. */
static int user_subdir(const char *user_dir, uid_t uid, gid_t gid, const char *name, lc_error *err)
{
	_cleanup_close_ int dir_fd =
	    open(user_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r;

	if (dir_fd < 0)
		return lc_fail(err, errno, "cannot open %s: %m", user_dir);
	r = owned_dir_at(dir_fd, name, uid, gid);
	return r < 0 ? owned_dir_fail(err, r, user_dir, name) : 0;
}

int lc_pyxis_job_images_dir(const char *user_dir, uid_t uid, gid_t gid, uint32_t jobid,
			    char **ret_dir, lc_error *err)
{
	char name[32];
	int r;

	snprintf(name, sizeof(name), "%u" JOB_IMAGES, jobid);
	r = user_subdir(user_dir, uid, gid, name, err);
	if (r >= 0 && asprintf(ret_dir, "%s/%s", user_dir, name) < 0)
		r = lc_fail(err, ENOMEM, "out of memory");
	return r;
}

#define DAEMON_IMAGE "daemon-%u.sqsh"

int lc_pyxis_daemon_image_path(const char *job_images, uint32_t stepid, char **ret_path,
			       lc_error *err)
{
	if (asprintf(ret_path, "%s/" DAEMON_IMAGE, job_images, stepid) < 0)
		return lc_fail(err, ENOMEM, "out of memory");
	return 0;
}

int lc_pyxis_daemon_image_remove(const char *job_images, uint32_t stepid, lc_error *err)
{
	char name[32];

	snprintf(name, sizeof(name), DAEMON_IMAGE, stepid);
	return lc_pyxis_remove_under(job_images, name, err);
}

int lc_pyxis_remove_under(const char *dir, const char *name, lc_error *err)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r;

	if (fd < 0)
		return errno == ENOENT ? 0 : lc_fail(err, errno, "cannot open %s: %m", dir);
	r = lc_rm_rf_at(fd, name);
	if (r < 0 && r != -ENOENT)
		return lc_fail(err, -r, "cannot remove %s/%s: %s", dir, name, strerror(-r));
	return 0;
}

int lc_pyxis_remove_job_leftovers(const char *base, uid_t uid, uint32_t jobid, bool scope_job,
				  size_t *ret_failed, lc_error *err)
{
	char user_dir[PATH_MAX];
	size_t failed = 0;
	struct dirent *de;
	int fd, r = 0;
	DIR *d;

	snprintf(user_dir, sizeof(user_dir), "%s/%u", base, (unsigned)uid);
	fd = open(user_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ret_failed)
		*ret_failed = 0;
	if (fd < 0)
		return 0; /* nothing was made for this user here */
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return lc_fail(err, errno, "cannot read %s: %m", user_dir);
	}
	while ((de = readdir(d))) {
		int e;

		if (!lc_pyxis_is_job_leftover(dirfd(d), de->d_name, jobid, scope_job))
			continue;
		e = lc_rm_rf_at(dirfd(d), de->d_name);
		if (e >= 0 || e == -ENOENT)
			continue;
		if (!failed++)
			r = lc_fail(err, -e, "container %s was not removed: %s", de->d_name,
				    strerror(-e));
	}
	closedir(d);
	if (ret_failed)
		*ret_failed = failed;
	return r;
}
