/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node cache of imported images (pyxis's --container-cache, on squashfs files).
 *
 * Layout under a base directory that the admin names: BASE/<uid>/ (the user's, 0700) holds
 *   pyxis_cache_u<uid>_<hash>/            an entry: image.sqsh and .pyxis_cache_lock
 *   .pyxis_cache_fill_<hash>.lock         serializes the fills of one entry
 *   .pyxis_cache_tmp_<hash>.XXXXXX/       a fill in progress (its .pyxis_cache_lock is held)
 *   blobs/                                the registry client's layer cache
 * <hash> comes from the registry, the repository and the manifest digest: a moved tag names a
 * new entry, the same image always finds the old one. An entry appears by rename() of a
 * complete, synced directory, so nothing half-written ever looks like one.
 *
 * A step holds its entry's lock shared for as long as it runs, and its job marks the entry until
 * the job ends (jobs.c); its use touches the entry (mtime is the last use). The GC (gc.c) takes
 * a victim's lock exclusively without waiting and skips marked ones.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/util.h"
#include "cache.h"

int lc_cache_open_dir(const char *path, int *ret_fd, lc_error *err)
{
	*ret_fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return *ret_fd < 0 ? lc_fail(err, errno, "cannot open %s: %m", path) : 0;
}

bool lc_cache_entry_format(char *buf, size_t size, const char *uid, const char *hash,
			   size_t hash_len)
{
	int n = snprintf(buf, size, LC_CACHE_ENTRY_PREFIX "u%s_%.*s", uid, (int)hash_len, hash);

	return n >= 0 && (size_t)n < size;
}

char *lc_cache_entry_dir(const char *image_path)
{
	char *entry = strdup(image_path), *slash = entry ? strrchr(entry, '/') : NULL;

	if (!slash || slash == entry) {
		free(entry);
		return NULL;
	}
	*slash = '\0';
	return entry;
}

int lc_cache_lock_fd(int fd, int how)
{
	while (flock(fd, how) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int lc_cache_lock_at(int dir_fd, const char *name, int how, int *ret_fd)
{
	int fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	int r = fd < 0 ? -errno : lc_cache_lock_fd(fd, how);

	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

/* Under the user's file-system ids: lock the entry shared, check it is still one, touch it. */
static int use_entry(const char *entry, int *ret_lock_fd, lc_error *err)
{
	_cleanup_close_ int dir = -1, lock = -1;
	struct stat st;
	int r = lc_cache_open_dir(entry, &dir, err);

	if (r < 0)
		return r;
	/* never created here: a lock file unlinked by the GC means the entry is gone */
	lock = openat(dir, LC_CACHE_LOCK, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (lock < 0)
		return lc_fail(err, errno, "cannot open %s/" LC_CACHE_LOCK ": %m", entry);
	while (flock(lock, LOCK_SH) < 0)
		if (errno != EINTR)
			return lc_fail(err, errno, "cannot lock %s: %m", entry);
	if (fstat(lock, &st) < 0 || st.st_nlink == 0)
		return lc_fail(err, ENOENT, "%s was evicted", entry);
	if (futimens(dir, NULL) < 0)
		return lc_fail(err, errno, "cannot touch %s: %m", entry);
	*ret_lock_fd = TAKE_FD(lock);
	return 0;
}

LC_API int lc_cache_use(const char *image_path, uid_t uid, gid_t gid, int *ret_lock_fd,
			lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	_cleanup_free_ char *entry = lc_cache_entry_dir(image_path);
	bool switched;
	int r;

	if (!err)
		err = &local;
	if (!entry)
		return lc_fail(err, EINVAL, "not a cache entry: %s", image_path);
	switched = lc_fsids_become(uid, gid);
	r = use_entry(entry, ret_lock_fd, err);
	lc_fsids_restore(switched);
	return r;
}
