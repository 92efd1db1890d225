/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Entries held by running jobs. A step's holder keeps its entry's lock only while the step runs;
 * between two steps of a job nothing would. So a job also marks the entries it used:
 *
 *   BASE/.jobs/<boot_id>/<jobid>/<entry name>     root's (0700), empty files
 *
 * and its epilog removes BASE/.jobs/<boot_id>/<jobid>. The GC skips a marked entry. Marks of an
 * earlier boot (the node went down before the epilog) are stale: the GC removes them. Only root
 * writes there, so a user cannot pin entries beyond the jobs that really use them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/util.h"
#include "cache.h"

#define JOBS_DIR ".jobs"
#define BOOT_ID_LEN 36

/* This boot's id (/proc/sys/kernel/random/boot_id), for marks that a reboot makes stale. */
static int boot_id(char buf[BOOT_ID_LEN + 1])
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, BOOT_ID_LEN);

	if (fd >= 0)
		close(fd);
	if (n != BOOT_ID_LEN)
		return -EIO;
	buf[BOOT_ID_LEN] = '\0';
	return strspn(buf, "0123456789abcdef-") == BOOT_ID_LEN ? 0 : -EIO;
}

/* @name under @parent_fd: root's directory, made when missing (0700), never a link. */
static int root_dir_at(int parent_fd, const char *name, bool make, int *ret_fd)
{
	struct stat st;
	int fd;

	if (make && mkdirat(parent_fd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 022)) {
		close(fd);
		return -EPERM;
	}
	*ret_fd = fd;
	return 0;
}

/* BASE/.jobs/<boot_id>, made when @make. */
static int open_boot_dir(int base_fd, bool make, int *ret_fd)
{
	_cleanup_close_ int jobs = -1;
	char boot[BOOT_ID_LEN + 1];
	int r = boot_id(boot);

	if (r >= 0)
		r = root_dir_at(base_fd, JOBS_DIR, make, &jobs);
	return r < 0 ? r : root_dir_at(jobs, boot, make, ret_fd);
}

/* The name of the entry directory @entry_dir when it is one of @uid's entries, else NULL. */
static const char *own_entry(const char *entry_dir, uid_t uid)
{
	const char *slash = entry_dir ? strrchr(entry_dir, '/') : NULL;
	const char *name = slash ? slash + 1 : entry_dir;
	char user[16], prefix[64];

	snprintf(user, sizeof(user), "%u", (unsigned)uid);
	if (!name || !lc_cache_entry_format(prefix, sizeof(prefix), user, "", 0) ||
	    strncmp(name, prefix, strlen(prefix)) || strlen(name) >= NAME_MAX)
		return NULL;
	return name;
}

LC_API int lc_cache_job_hold(const char *base, uint32_t jobid, const char *image_path, uid_t uid,
			     lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	_cleanup_close_ int base_fd = -1, boot = -1, job = -1, mark = -1;
	_cleanup_free_ char *entry = image_path ? lc_cache_entry_dir(image_path) : NULL;
	const char *name = own_entry(entry, uid);
	char id[16];
	int r;

	if (!err)
		err = &local;
	if (!name)
		return lc_fail(err, EINVAL, "not one of the user's cache entries: %s",
			       image_path ? image_path : "(none)");
	if (geteuid() != 0)
		return lc_fail(err, EPERM, "only root marks the entries of jobs");
	snprintf(id, sizeof(id), "%u", jobid);
	base_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = base_fd < 0 ? -errno : open_boot_dir(base_fd, true, &boot);
	if (r >= 0)
		r = root_dir_at(boot, id, true, &job);
	if (r >= 0) {
		mark = openat(job, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		r = mark < 0 ? -errno : 0;
	}
	if (r < 0)
		return lc_fail(err, -r, "cannot mark %s in use by job %u in %s/" JOBS_DIR ": %s",
			       name, jobid, base, strerror(-r));
	return 0;
}

LC_API int lc_cache_job_done(const char *base, uint32_t jobid, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	_cleanup_close_ int base_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int boot = -1;
	char id[16];
	int r = base_fd < 0 ? -errno : open_boot_dir(base_fd, false, &boot);

	if (r == -ENOENT)
		return 0; /* no job marked anything */
	snprintf(id, sizeof(id), "%u", jobid);
	if (r >= 0)
		r = lc_rm_rf_at(boot, id);
	if (r < 0 && r != -ENOENT)
		return lc_fail(err ? err : &local, -r,
			       "cannot remove the marks of job %u in %s: %s", jobid, base,
			       strerror(-r));
	return 0;
}

int lc_cache_jobs_open(int base_fd)
{
	_cleanup_close_ int jobs = -1;
	char boot[BOOT_ID_LEN + 1];
	struct dirent *e;
	DIR *d;
	int fd = -1;

	if (boot_id(boot) < 0 || root_dir_at(base_fd, JOBS_DIR, false, &jobs) < 0)
		return -1;
	d = lc_opendir_at(jobs, ".");
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.' && strcmp(e->d_name, boot))
			(void)lc_rm_rf_at(jobs, e->d_name); /* an earlier boot's */
	if (d)
		closedir(d);
	return root_dir_at(jobs, boot, false, &fd) < 0 ? -1 : fd;
}

bool lc_cache_jobs_hold(int boot_fd, const char *name)
{
	struct dirent *e;
	struct stat st;
	bool held = false;
	DIR *d;

	if (boot_fd < 0)
		return false;
	d = lc_opendir_at(boot_fd, ".");
	while (d && !held && (e = readdir(d))) {
		_cleanup_close_ int job = -1;

		if (e->d_name[0] == '.')
			continue;
		job = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		held = job >= 0 && fstatat(job, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	}
	if (d)
		closedir(d);
	return held;
}
