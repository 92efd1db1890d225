/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node cache's fill and lookups (cache.c has the layout): the entry of a resolved image, its
 * import into a fresh entry, and the record of what a reference resolved to. In the import
 * module: it pulls, imports and hashes.
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

#define HASH_HEX 32

/* The entry of @img (a resolved image: its reference and manifest digest) for @uid. */
static int entry_name(const lc_image *img, uid_t uid, char **ret_name, lc_error *err)
{
	const char *reference = img ? lc_image_reference(img) : NULL;
	const char *digest = img ? lc_image_digest(img) : NULL;
	_cleanup_free_ char *key = NULL;
	lc_ref *ref = NULL;
	char hash[72], user[16], name[128];
	int r;

	if (!reference)
		return lc_fail(err, EINVAL, "the image has no reference");
	if (!digest || !lc_digest_is_valid(digest))
		return lc_fail(err, EINVAL, "not a digest: %s", digest ? digest : "(none)");
	r = lc_ref_parse(reference, &ref, err);
	if (r < 0)
		return r;
	r = asprintf(&key, "%s/%s@%s", lc_ref_registry(ref), lc_ref_repository(ref), digest);
	lc_ref_free(ref);
	if (r < 0)
		return lc_fail(err, ENOMEM, "out of memory");
	lc_sha256_digest(key, strlen(key), hash);
	/* "sha256:" + hex: keep HASH_HEX hex digits */
	snprintf(user, sizeof(user), "%u", (unsigned)uid);
	if (!lc_cache_entry_format(name, sizeof(name), user, hash + 7, HASH_HEX) ||
	    !(*ret_name = strdup(name)))
		return lc_fail(err, ENOMEM, "out of memory");
	return 0;
}

/* The <hash> part of an entry's name. */
static const char *entry_hash(const char *name)
{
	const char *u = strchr(name + strlen(LC_CACHE_ENTRY_PREFIX), '_');

	return u ? u + 1 : name;
}

static bool entry_exists(int dir_fd, const char *name)
{
	struct stat st;

	return fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

static int entry_path(const char *dir, const char *name, char **ret_path, lc_error *err)
{
	if (asprintf(ret_path, "%s/%s/" LC_CACHE_IMAGE, dir, name) < 0)
		return lc_fail(err, ENOMEM, "out of memory");
	return 0;
}

/* *@ret_path: the image file of entry @name in @user_dir, or NULL when it is not there. */
static int lookup_name(const char *user_dir, const char *name, char **ret_path, lc_error *err)
{
	_cleanup_close_ int dir = -1;
	int r = lc_cache_open_dir(user_dir, &dir, err);

	if (r < 0 || !entry_exists(dir, name))
		return r;
	return entry_path(user_dir, name, ret_path, err);
}

LC_API int lc_cache_lookup(const char *user_dir, const lc_image *img, uid_t uid, char **ret_path,
			   lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	_cleanup_free_ char *name = NULL;
	int r;

	if (!err)
		err = &local;
	*ret_path = NULL;
	r = entry_name(img, uid, &name, err);
	return r < 0 ? r : lookup_name(user_dir, name, ret_path, err);
}

static int sync_dir(int fd, lc_error *err)
{
	return fsync(fd) < 0 ? lc_fail(err, errno, "fsync: %m") : 0;
}

/* Import into a fresh temporary directory, then rename it to @name. */
static int fill_entry(lc_pull *pull, int dir, const char *user_dir, const char *name,
		      const lc_import_opts *io, lc_import_stats *stats, lc_error *err)
{
	_cleanup_free_ char *tmp = NULL, *image = NULL;
	_cleanup_close_ int tmp_fd = -1, busy = -1;
	int r;

	if (asprintf(&tmp, "%s/" LC_CACHE_TMP_PREFIX "%s.XXXXXX", user_dir, entry_hash(name)) < 0 ||
	    !mkdtemp(tmp))
		return lc_fail(err, errno ? errno : ENOMEM, "cannot make a directory in %s: %m",
			       user_dir);
	r = lc_cache_open_dir(tmp, &tmp_fd, err);
	if (r >= 0 && (r = lc_cache_lock_at(tmp_fd, LC_CACHE_LOCK, LOCK_EX, &busy)) < 0)
		lc_fail(err, -r, "cannot lock %s: %s", tmp, strerror(-r));
	if (r >= 0 && asprintf(&image, "%s/" LC_CACHE_IMAGE, tmp) < 0)
		r = lc_fail(err, ENOMEM, "out of memory");
	if (r >= 0)
		r = lc_import(pull, image, io, stats, err);
	if (r >= 0 && fchmod(tmp_fd, 0755) < 0)
		r = lc_fail(err, errno, "chmod %s: %m", tmp);
	if (r >= 0)
		r = sync_dir(tmp_fd, err);
	if (r >= 0 && renameat(dir, strrchr(tmp, '/') + 1, dir, name) < 0)
		r = lc_fail(err, errno, "cannot rename %s to %s: %m", tmp, name);
	if (r >= 0)
		return sync_dir(dir, err);
	(void)lc_rm_rf_at(dir, strrchr(tmp, '/') + 1);
	return r;
}

LC_API int lc_cache_fill(lc_pull *pull, const char *user_dir, uid_t uid, const lc_import_opts *io,
			 lc_import_stats *ret_stats, char **ret_path, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	_cleanup_close_ int dir = -1;
	_cleanup_(lc_fill_lock_release) int fill_lock = -1;
	_cleanup_free_ char *lock_name = NULL, *name = NULL;
	lc_import_stats *stats = ret_stats;
	lc_import_opts said_opts;
	lc_fill_said said;
	int r;

	if (!err)
		err = &local;
	*ret_path = NULL;
	if (stats)
		*stats = (lc_import_stats){0};
	r = entry_name(pull ? lc_pull_image(pull) : NULL, uid, &name, err);
	if (r >= 0)
		r = lc_cache_open_dir(user_dir, &dir, err);
	if (r < 0)
		return r;
	if (asprintf(&lock_name, LC_CACHE_FILL_PREFIX "%s.lock", entry_hash(name)) < 0)
		return lc_fail(err, ENOMEM, "out of memory");
	/* another job of the user filling the same entry: wait for it, then use its work (a lock
	 * that the GC removed meanwhile is taken again) */
	for (int tries = 0;
	     tries < 10 && (fill_lock < 0 || !lc_fd_is_at(fill_lock, dir, lock_name)); tries++) {
		lc_fill_lock_release(&fill_lock);
		r = lc_fill_lock_take(dir, lock_name, io, &fill_lock);
		if (r < 0)
			return lc_fail(err, -r, "cannot lock %s/%s: %s", user_dir, lock_name,
				       strerror(-r));
	}
	lc_fill_lock_opts(fill_lock, io, &said, &said_opts);
	if (!entry_exists(dir, name))
		r = fill_entry(pull, dir, user_dir, name, &said_opts, stats, err);
	if (r < 0)
		return r;
	return entry_path(user_dir, name, ret_path, err);
}

/* ".pyxis_cache_ref_<hash>" for the canonical form of @reference. */
static int ref_file(const char *reference, char **ret_name, lc_error *err)
{
	lc_ref *ref = NULL;
	char hash[72];
	int r = lc_ref_parse(reference, &ref, err);

	if (r < 0)
		return r;
	lc_sha256_digest(lc_ref_string(ref), strlen(lc_ref_string(ref)), hash);
	lc_ref_free(ref);
	if (asprintf(ret_name, LC_CACHE_REF_PREFIX "%.*s", HASH_HEX, hash + 7) < 0)
		return lc_fail(err, ENOMEM, "out of memory");
	return 0;
}

/* The user's directory and the name of @reference's record in it. */
static int open_ref_file(const char *user_dir, const char *reference, int *ret_dir, char **ret_file,
			 lc_error *err)
{
	int r = ref_file(reference, ret_file, err);

	return r < 0 ? r : lc_cache_open_dir(user_dir, ret_dir, err);
}

/* The record @file under @dir already names @name. */
static bool records(int dir, const char *file, const char *name)
{
	_cleanup_close_ int fd = openat(dir, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	char buf[256];
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));

	return n >= 0 && (size_t)n == strlen(name) && !memcmp(buf, name, (size_t)n);
}

LC_API int lc_cache_remember(const char *user_dir, const char *reference, const lc_image *img,
			     uid_t uid, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	_cleanup_free_ char *file = NULL, *tmp = NULL, *name = NULL;
	_cleanup_close_ int dir = -1, fd = -1;
	int r;

	if (!err)
		err = &local;
	r = entry_name(img, uid, &name, err);
	if (r >= 0)
		r = open_ref_file(user_dir, reference, &dir, &file, err);
	if (r >= 0 && records(dir, file, name))
		return 0; /* the warm path: nothing to write, nothing to sync */
	if (r >= 0 && asprintf(&tmp, "%s.%d", file, (int)getpid()) < 0)
		r = lc_fail(err, ENOMEM, "out of memory");
	if (r < 0)
		return r;
	fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || lc_write_all(fd, name, strlen(name)) < 0 || fsync(fd) < 0 ||
	    renameat(dir, tmp, dir, file) < 0) {
		r = lc_fail(err, errno, "cannot record %s in %s: %m", reference, user_dir);
		(void)unlinkat(dir, tmp, 0);
	}
	return r;
}

LC_API int lc_cache_recall(const char *user_dir, const char *reference, char **ret_path,
			   lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	_cleanup_free_ char *file = NULL;
	_cleanup_close_ int dir = -1, fd = -1;
	char name[256];
	ssize_t n = -1;
	int r;

	if (!err)
		err = &local;
	*ret_path = NULL;
	r = open_ref_file(user_dir, reference, &dir, &file, err);
	if (r < 0)
		return r;
	fd = openat(dir, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		n = read(fd, name, sizeof(name) - 1);
	if (n <= 0)
		return 0; /* never resolved here */
	name[n] = '\0';
	if (strncmp(name, LC_CACHE_ENTRY_PREFIX, strlen(LC_CACHE_ENTRY_PREFIX)) ||
	    strchr(name, '/'))
		return 0;
	return lookup_name(user_dir, name, ret_path, err);
}
