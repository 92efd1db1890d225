/* SPDX-License-Identifier: Apache-2.0 */
/* The node image cache: names shared by the fill, the use and the GC. */
#ifndef LC_CACHE_H
#define LC_CACHE_H

#include <libcontainer/libcontainer.h>

#define LC_CACHE_ENTRY_PREFIX "pyxis_cache_"
#define LC_CACHE_TMP_PREFIX ".pyxis_cache_tmp_"
#define LC_CACHE_FILL_PREFIX ".pyxis_cache_fill_"
#define LC_CACHE_LOCK ".pyxis_cache_lock"
#define LC_CACHE_GC_LOCK "pyxis-container-cache-gc.lock"
#define LC_CACHE_IMAGE "image.sqsh"
#define LC_CACHE_REF_PREFIX ".pyxis_cache_ref_"

/* An entry's name, "pyxis_cache_u<uid>_<hash>" (@hash_len bytes of @hash; 0: the prefix of the
 * user's entries), into @buf; false when it does not fit. */
bool lc_cache_entry_format(char *buf, size_t size, const char *uid, const char *hash,
			   size_t hash_len);
/* The entry directory of @image_path ("<user dir>/<entry>/image.sqsh"), a new string; NULL
 * when it has none or memory runs out. */
char *lc_cache_entry_dir(const char *image_path);

/* Open the directory @path (never through a link); errors name it. */
int lc_cache_open_dir(const char *path, int *ret_fd, lc_error *err);
/* Open (creating it, never through a link) and flock @name under @dir_fd; -errno. */
int lc_cache_lock_at(int dir_fd, const char *name, int how, int *ret_fd);
/* flock(@fd, @how), again when interrupted; -errno. */
int lc_cache_lock_fd(int fd, int how);

/* The fill lock @name under @dir (fill_lock.c): taken, waiting for its holder and telling @io
 * (version 3 and later) what the holder says it does; then this process's line is written. */
int lc_fill_lock_take(int dir, const char *name, const lc_import_opts *io, int *ret_fd);
/* Empty the holder's line and close *@fd (a cleanup). */
void lc_fill_lock_release(int *fd);
/* The import options for the holder's own import: @io's, with its progress written to the
 * line (through @s, which must outlive the import) and then passed on to @io's. */
typedef struct lc_fill_said {
	int fd;
	int64_t written_ms;
	const lc_import_opts *caller;
} lc_fill_said;
void lc_fill_lock_opts(int fd, const lc_import_opts *io, lc_fill_said *s, lc_import_opts *ret);

/* For the GC: BASE/.jobs/<this boot> (removing earlier boots' marks), -1 when none; whether a
 * running job marked the entry @name there (lc_cache_job_hold). */
int lc_cache_jobs_open(int base_fd);
bool lc_cache_jobs_hold(int boot_fd, const char *name);

#endif
