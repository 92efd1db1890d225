/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node cache's garbage collection: when the cache's filesystem is above the high watermark,
 * entries of every user (BASE/<uid>/pyxis_cache_*) go, least recently used first, until it is
 * below the low one. A victim's lock is taken exclusively without waiting: an entry in use is
 * skipped, and so is one that a running job marked (jobs.c). Fills that died (their temporary
 * directory's lock is free) are removed too, and the fill locks and reference records of entries
 * that are not there. One GC
 * at a time: BASE/pyxis-container-cache-gc.lock. A root caller's GC runs in a child that keeps
 * only what removing other users' files needs: uid nobody with CAP_DAC_OVERRIDE,
 * CAP_DAC_READ_SEARCH and CAP_FOWNER.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "../util/util.h"
#include "cache.h"

#define NOBODY 65534

typedef struct victim {
	char user[32];
	char name[128];
	struct timespec used;
} victim;

typedef struct victims {
	victim *v;
	size_t n, cap;
} victims;

static int used_percent(int fd, unsigned *ret)
{
	struct statfs s;
	unsigned long long used, total;

	if (fstatfs(fd, &s) < 0)
		return -errno;
	used = (unsigned long long)(s.f_blocks - s.f_bfree);
	total = used + s.f_bavail;
	*ret = total ? (unsigned)((used * 100 + total - 1) / total) : 0;
	return 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* A fill whose lock is free died: remove what it left. */
static void remove_if_stale(int user_fd, const char *name, lc_cache_gc_result *res)
{
	_cleanup_close_ int dir =
	    openat(user_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int lock = -1;

	if (dir < 0 || lc_cache_lock_at(dir, LC_CACHE_LOCK, LOCK_EX | LOCK_NB, &lock) < 0)
		return;
	if (lc_rm_rf_at(user_fd, name) == 0)
		res->stale_fills++;
}

/* The entry BASE/<user>/pyxis_cache_u<user>_<hash> is there. */
static bool entry_there(int user_fd, const char *user, const char *hash, size_t hash_len)
{
	char name[NAME_MAX + 1];
	struct stat st;

	if (!lc_cache_entry_format(name, sizeof(name), user, hash, hash_len))
		return false;
	return fstatat(user_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* A fill lock (.pyxis_cache_fill_<hash>.lock) of an entry that is not there, and free. A filler
 * that opened it before it went locks again (lc_cache_fill checks it still has the name). */
static void remove_if_orphan_lock(int user_fd, const char *user, const char *name,
				  lc_cache_gc_result *res)
{
	const char *hash = name + strlen(LC_CACHE_FILL_PREFIX), *dot = strchr(hash, '.');
	_cleanup_close_ int lock = -1;

	if (!dot || strcmp(dot, ".lock") ||
	    entry_there(user_fd, user, hash, (size_t)(dot - hash)) ||
	    lc_cache_lock_at(user_fd, name, LOCK_EX | LOCK_NB, &lock) < 0)
		return;
	if (unlinkat(user_fd, name, 0) == 0)
		res->stale_records++;
}

/* A reference record (lc_cache_remember) that names no entry that is there. One being written
 * (".<pid>" after the name) goes only when it is an hour old: its writer died. */
static void remove_if_orphan_record(int user_fd, const char *name, lc_cache_gc_result *res)
{
	_cleanup_close_ int fd = -1;
	char target[NAME_MAX + 1];
	struct stat st;
	ssize_t n = 0;

	if (fstatat(user_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (strchr(name + strlen(LC_CACHE_REF_PREFIX), '.')) {
		if (st.st_mtime > time(NULL) - 3600)
			return;
	} else if (S_ISREG(st.st_mode)) {
		fd = openat(user_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		n = fd < 0 ? 0 : read(fd, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		if (n > 0 && has_prefix(target, LC_CACHE_ENTRY_PREFIX) && !strchr(target, '/') &&
		    fstatat(user_fd, target, &st, AT_SYMLINK_NOFOLLOW) == 0)
			return;
	}
	if (unlinkat(user_fd, name, 0) == 0)
		res->stale_records++;
}

static int collect_user(int base_fd, const char *user, victims *vs, lc_cache_gc_result *res)
{
	DIR *d = lc_opendir_at(base_fd, user);
	struct dirent *e;

	if (!d)
		return 0; /* not a user's directory */
	while ((e = readdir(d))) {
		struct stat st;

		if (has_prefix(e->d_name, LC_CACHE_TMP_PREFIX)) {
			remove_if_stale(dirfd(d), e->d_name, res);
			continue;
		}
		if (has_prefix(e->d_name, LC_CACHE_FILL_PREFIX)) {
			remove_if_orphan_lock(dirfd(d), user, e->d_name, res);
			continue;
		}
		if (has_prefix(e->d_name, LC_CACHE_REF_PREFIX)) {
			remove_if_orphan_record(dirfd(d), e->d_name, res);
			continue;
		}
		if (!has_prefix(e->d_name, LC_CACHE_ENTRY_PREFIX) ||
		    strlen(e->d_name) >= sizeof(vs->v->name) ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		if (lc_array_reserve(&vs->v, &vs->cap, vs->n + 1, sizeof(victim), 64) < 0) {
			closedir(d);
			return -ENOMEM;
		}
		vs->v[vs->n] = (victim){.used = st.st_mtim};
		memcpy(vs->v[vs->n].user, user, strlen(user) + 1);
		memcpy(vs->v[vs->n].name, e->d_name, strlen(e->d_name) + 1);
		vs->n++;
	}
	closedir(d);
	return 0;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Every entry of every user (directories named by a uid). */
static int collect(int base_fd, victims *vs, lc_cache_gc_result *res)
{
	DIR *d = lc_opendir_at(base_fd, ".");
	struct dirent *e;
	int r = 0;

	if (!d)
		return -errno;
	while (r >= 0 && (e = readdir(d)))
		if (all_digits(e->d_name) && strlen(e->d_name) < sizeof(vs->v->user))
			r = collect_user(base_fd, e->d_name, vs, res);
	closedir(d);
	return r;
}

static int by_last_use(const void *a, const void *b)
{
	const struct timespec *x = &((const victim *)a)->used, *y = &((const victim *)b)->used;

	if (x->tv_sec != y->tv_sec)
		return x->tv_sec < y->tv_sec ? -1 : 1;
	return x->tv_nsec < y->tv_nsec ? -1 : x->tv_nsec > y->tv_nsec;
}

/* Evict @v unless it is in use (its lock, or a running job's mark in @jobs_fd): rename it out of
 * the entries' names under its lock, remove it (a job waiting for the lock then sees it gone),
 * and its fill lock. */
static int evict(int base_fd, int jobs_fd, const victim *v)
{
	_cleanup_close_ int user =
	    openat(base_fd, v->user, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int entry = -1, lock = -1, fill = -1;
	const char *hash = strchr(v->name + strlen(LC_CACHE_ENTRY_PREFIX), '_');
	char doomed[192], fill_name[192];
	int r;

	if (user < 0)
		return -errno;
	entry = openat(user, v->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (entry < 0)
		return -errno;
	r = lc_cache_lock_at(entry, LC_CACHE_LOCK, LOCK_EX | LOCK_NB, &lock);
	if (r < 0)
		return r; /* -EWOULDBLOCK: in use */
	if (lc_cache_jobs_hold(jobs_fd, v->name))
		return -EWOULDBLOCK; /* a job marks before it locks: a later one finds it gone */
	snprintf(doomed, sizeof(doomed), LC_CACHE_TMP_PREFIX "evicted_%s", v->name);
	if (renameat(user, v->name, user, doomed) < 0)
		return -errno;
	r = lc_rm_rf_at(user, doomed);
	snprintf(fill_name, sizeof(fill_name), LC_CACHE_FILL_PREFIX "%s.lock",
		 hash ? hash + 1 : "");
	if (lc_cache_lock_at(user, fill_name, LOCK_EX | LOCK_NB, &fill) == 0)
		(void)unlinkat(user, fill_name, 0);
	return r;
}

static int gc_locked(int base_fd, unsigned high, unsigned low, lc_cache_gc_result *res,
		     lc_error *err)
{
	_cleanup_close_ int jobs = -1;
	victims vs = {0};
	int r = used_percent(base_fd, &res->used_before);

	res->used_after = res->used_before;
	if (r < 0)
		return lc_fail(err, -r, "statfs: %s", strerror(-r));
	if (res->used_before < high)
		return 0;
	res->ran = true;
	jobs = lc_cache_jobs_open(base_fd);
	r = collect(base_fd, &vs, res);
	if (r < 0) {
		free(vs.v);
		return lc_fail(err, -r, "cannot list the cache: %s", strerror(-r));
	}
	qsort(vs.v, vs.n, sizeof(victim), by_last_use);
	for (size_t i = 0; i < vs.n && res->used_after >= low; i++) {
		r = evict(base_fd, jobs, &vs.v[i]);
		if (r == -EWOULDBLOCK)
			res->busy++;
		else if (r == 0)
			res->evicted++;
		(void)used_percent(base_fd, &res->used_after);
	}
	free(vs.v);
	return 0;
}

static int gc(const char *base, unsigned high, unsigned low, lc_cache_gc_result *res, lc_error *err)
{
	_cleanup_close_ int base_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int lock = -1;
	int r;

	if (base_fd < 0)
		return lc_fail(err, errno, "cannot open %s: %m", base);
	r = lc_cache_lock_at(base_fd, LC_CACHE_GC_LOCK, LOCK_EX | LOCK_NB, &lock);
	if (r == -EWOULDBLOCK) {
		res->concurrent = true; /* another GC is running */
		return 0;
	}
	if (r < 0)
		return lc_fail(err, -r, "cannot lock %s/" LC_CACHE_GC_LOCK ": %s", base,
			       strerror(-r));
	return gc_locked(base_fd, high, low, res, err);
}

/* uid and gid nobody, no groups, and only the file capabilities a GC needs. */
static int confine(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {{0}};
	uint32_t keep = (1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH) | (1u << CAP_FOWNER);

	if (prctl(PR_SET_KEEPCAPS, 1) < 0 || setgroups(0, NULL) < 0 ||
	    setresgid(NOBODY, NOBODY, NOBODY) < 0 || setresuid(NOBODY, NOBODY, NOBODY) < 0)
		return -errno;
	d[0].effective = d[0].permitted = keep;
	if (syscall(SYS_capset, &h, d) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

/* A root caller's GC: in a confined child that writes its result and error to a pipe. */
static int gc_confined(const char *base, unsigned high, unsigned low, lc_cache_gc_result *res,
		       lc_error *err)
{
	struct {
		lc_cache_gc_result res;
		int r;
		lc_error err;
	} out = {0};
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return lc_fail(err, errno, "pipe: %m");
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		out.err = (lc_error)LC_ERROR_INIT;
		out.r = confine();
		out.r = out.r < 0 ? lc_fail(&out.err, -out.r, "cannot confine the GC: %s",
					    strerror(-out.r))
				  : gc(base, high, low, &out.res, &out.err);
		_exit(lc_write_all(p[1], &out, sizeof(out)) < 0);
	}
	close(p[1]);
	if (pid > 0 && read(p[0], &out, sizeof(out)) != (ssize_t)sizeof(out))
		out.r = lc_fail(&out.err, ECHILD, "the cache GC died");
	close(p[0]);
	if (pid < 0)
		return lc_fail(err, errno, "fork: %m");
	(void)lc_wait_child(pid, NULL);
	*res = out.res;
	if (out.r < 0)
		*err = out.err;
	return out.r;
}

LC_API int lc_cache_gc(const char *base, unsigned high, unsigned low,
		       lc_cache_gc_result *ret_result, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;

	if (!err)
		err = &local;
	if (!ret_result)
		return lc_fail(err, EINVAL, "lc_cache_gc: NULL argument");
	*ret_result = (lc_cache_gc_result){0};
	if (low >= high || high > 100)
		return lc_fail(err, EINVAL, "lc_cache_gc: bad watermarks %u/%u", high, low);
	return geteuid() == 0 ? gc_confined(base, high, low, ret_result, err)
			      : gc(base, high, low, ret_result, err);
}
