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

/* For the GC: BASE/.jobs/<this boot> (removing earlier boots' marks), -1 when none; whether a
 * running job marked the entry @name there (lc_cache_job_hold). */
int lc_cache_jobs_open(int base_fd);
bool lc_cache_jobs_hold(int boot_fd, const char *name);

#endif
