/* SPDX-License-Identifier: Apache-2.0 */
/* Private helpers shared by every module: errors, logging, strings, files, hashing. */
#ifndef LC_UTIL_H
#define LC_UTIL_H

#include <stdarg.h>
#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libcontainer/libcontainer.h>
#include "cleanup.h"

#define LC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define LC_HIDDEN __attribute__((visibility("hidden")))

/* ---- errors (src/util/error.c) */
/* Fill @err (if non-NULL) and return -code. */
int lc_fail(lc_error *err, int code, const char *fmt, ...) LC_PRINTF(3, 4);
/* Same, with a domain. */
int lc_fail_domain(lc_error *err, int domain, int code, const char *fmt, ...) LC_PRINTF(4, 5);
/* The rule for every public option struct: @opts not NULL, @version from 1 to @current (the
 * fields a newer version added are then not read) and no bit of @flags outside @all. @what names
 * the struct in the message ("lc_pull_opts version 9 is not supported"). */
int lc_opts_check(const void *opts, uint32_t version, uint32_t current, uint32_t flags,
		  uint32_t all, const char *what, lc_error *err);
/* Put "prefix: " before the message already in @err; returns @r unchanged. */
int lc_error_prefix(lc_error *err, int r, const char *fmt, ...) LC_PRINTF(3, 4);

/* ---- context and logging (src/util/ctx.c) */
struct lc_ctx {
	lc_log_fn log_fn;
	void *log_userdata;
	enum lc_log_level log_max;
};
void lc_log(lc_ctx *ctx, enum lc_log_level level, const char *fmt, ...) LC_PRINTF(3, 4);
#define lc_debug(ctx, ...) lc_log(ctx, LC_LOG_DEBUG, __VA_ARGS__)
#define lc_info(ctx, ...) lc_log(ctx, LC_LOG_INFO, __VA_ARGS__)
#define lc_warn(ctx, ...) lc_log(ctx, LC_LOG_WARNING, __VA_ARGS__)

/* ---- growable byte buffer, always NUL-terminated (src/util/str.c) */
typedef struct lc_buf {
	char *data;
	size_t len;
	size_t cap;
} lc_buf;
#define LC_BUF_INIT        \
	{                  \
		NULL, 0, 0 \
	}
int lc_buf_append(lc_buf *b, const void *data, size_t len);
int lc_buf_printf(lc_buf *b, const char *fmt, ...) LC_PRINTF(2, 3);
void lc_buf_free(lc_buf *b);
char *lc_buf_steal(lc_buf *b);

/* Room for one more element in the array *@items_ptr (capacity *@cap, @n used, elements of
 * @elem bytes): doubles it, starting at @first. 0 or -ENOMEM (the array is untouched). */
int lc_array_reserve(void *items_ptr, size_t *cap, size_t n, size_t elem, size_t first);

/* ---- strings (src/util/str.c) */
/* Whether @s is "sha256:" followed by exactly 64 lowercase hex digits. */
bool lc_digest_is_valid(const char *s);
bool lc_str_has_prefix(const char *s, const char *prefix);
/* Case-insensitive prefix test. */
bool lc_str_has_prefix_ci(const char *s, const char *prefix);
/* Free a NULL-terminated string vector (NULL-safe). */
void lc_strv_free(char **v);
/* Copy @s for an error message: control characters become '?', long input is cut with "...". */
void lc_str_sanitize(char *dst, size_t dst_size, const char *s);

/* ---- environments being built (src/util/strvec.c) */
/* A growable NULL-terminated string vector of "K=V". */
typedef struct lc_strvec {
	char **v;
	size_t n, cap;
} lc_strvec;
/* "K=V": set, replacing an existing K. -EINVAL without '=' or key. */
int lc_env_put(lc_strvec *e, const char *kv);
int lc_env_set(lc_strvec *e, const char *key, const char *value);
const char *lc_env_get(const lc_strvec *e, const char *key);
/* The value that the "K=V" array @v (NULL-terminated, may be NULL) gives the variable named by
 * the @len bytes at @name, or NULL. */
const char *lc_strv_lookup(const char *const *v, const char *name, size_t len);
/* The same for the variable @name. */
const char *lc_strv_get(const char *const *v, const char *name);
/* The length of the variable name at @s: letters, digits and '_', not starting with a digit;
 * 0 when @s does not start with one. */
size_t lc_env_name_len(const char *s);
/* 1 when @key was set (and is no more), else 0. */
int lc_env_unset(lc_strvec *e, const char *key);
/* Append a copy of @s (any string). -ENOMEM. */
int lc_strvec_push(lc_strvec *e, const char *s);
void lc_strvec_free(lc_strvec *e);
/* The vector (NULL-terminated, never NULL unless out of memory), now the caller's. */
char **lc_strvec_steal(lc_strvec *e);

/* ---- files (src/util/file.c) */
/* Read a whole regular file of at most @max bytes (NUL-terminated copy in *ret_data); anything
 * else (a FIFO, a device) is refused without waiting on it. */
int lc_file_read_all(const char *path, size_t max, char **ret_data, size_t *ret_len, lc_error *err);
/* The same for the entry @name of the directory @dir_fd, its name never followed as a link. */
int lc_file_read_at(int dir_fd, const char *name, size_t max, char **ret_data, size_t *ret_len,
		    lc_error *err);
/* The same from an open @fd, from its position (@name for messages). */
int lc_fd_read_all(int fd, const char *name, size_t max, char **ret_data, size_t *ret_len,
		   lc_error *err);
/* Replace @name under @dir_fd with a new file (@mode) holding @data: the old one is unlinked
 * first, and the new one created exclusively, so nothing is written through a link. -errno. */
int lc_file_replace_at(int dir_fd, const char *name, const void *data, size_t len, unsigned mode);
/* mkdir -p with mode for the created components. */
int lc_mkdir_p(const char *path, unsigned mode, lc_error *err);
/* The file of @fd (an O_PATH one, or a detached tree) opened anew with @flags (O_CLOEXEC
 * added; a link is never followed: @fd is the file). A new fd, or -errno. */
int lc_fd_reopen(int fd, int flags);
/* @name under @dir_fd as a directory stream, never through a link; NULL with errno. */
DIR *lc_opendir_at(int dir_fd, const char *name);
/* Remove everything inside the directory @dir_fd but @keep (NULL: nothing kept), never
 * following symbolic links (each level is opened with O_NOFOLLOW relative to its parent).
 * Directories get u+rwx first, so read-only ones can be emptied. Best effort: returns the first
 * error, goes on with the rest. */
int lc_rm_rf_children(int dir_fd, const char *keep);
/* Remove @name under @dir_fd and everything below it; symlinks are removed, never followed. */
int lc_rm_rf_at(int dir_fd, const char *name);
/* @fd is still the file named @name under @dir_fd (a lock file nobody replaced or removed while
 * we waited for its lock). */
bool lc_fd_is_at(int fd, int dir_fd, const char *name);
/* What the runtime adds to a container for the host (device mount points, a driver's links and
 * library cache) carries this mark, a modification time of 0 s and this many ns, so that a save
 * leaves it out. */
#define LC_INJECTED_NSEC 271828182
/* ... and the library cache it rebuilt over the image's (0 s and this many ns): a save puts in
 * its place the cache of what it saves. */
#define LC_REBUILT_NSEC 271828183
struct stat;
bool lc_injected(const struct stat *st);
bool lc_rebuilt(const struct stat *st);
/* Give @name under @dir_fd (never followed) one of those marks (@nsec). -errno. */
int lc_mark_at(int dir_fd, const char *name, long nsec);
/* ---- processes (src/util/proc.c) */
/* waitpid(@pid) until it answers (EINTR retried); @ret_status may be NULL. -errno. */
int lc_wait_child(pid_t pid, int *ret_status);
/* In a child that works for a user (async-signal-safe): oom_score_adj back to 0, so that
 * slurmstepd's -1000 is not inherited. */
void lc_oom_score_adj_reset(void);
/* A root caller becomes @uid/@gid with @groups; nothing when @uid is (uid_t)-1 or the caller is
 * not root (async-signal-safe). -errno. */
int lc_become_user(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups);

/* ---- acting for a user on files (src/util/file.c) */
/* A root caller acting for a user: file-system ids become @uid/@gid (the kernel then drops the
 * file-system capabilities), true when switched; lc_fsids_restore() switches back. */
bool lc_fsids_become(uid_t uid, gid_t gid);
void lc_fsids_restore(bool switched);
/* Open the image file @path as @uid/@gid (lc_fsids_become: a root caller never follows a user's
 * path as root); it must be a regular file. */
int lc_image_open_as(uid_t uid, gid_t gid, const char *path, int *ret_fd, lc_error *err);
/* write all of @len bytes at the fd's position, retrying on EINTR and short writes (file.c). */
int lc_write_all(int fd, const void *data, size_t len);
/* ---- passing fds (src/util/fdpass.c) */
/* Send @fd over the unix socket @sock in a message of one byte @tag (async-signal-safe). */
int lc_fd_send(int sock, int fd, char tag, int flags);
/* Receive a message carrying exactly one fd, made close-on-exec. -errno, -EIO without one. */
int lc_fd_recv(int sock, int *ret_fd, int flags);

/* ---- time (src/util/time.c) */
int64_t lc_now_ms(void); /* CLOCK_MONOTONIC */
int64_t lc_now_us(void);
void lc_sleep_ms(long ms);

/* ---- hashing (src/util/crypto.c, OpenSSL EVP: in the import module, import/module.h) */
typedef struct lc_sha256 lc_sha256;
lc_sha256 *lc_sha256_new(void);
void lc_sha256_free(lc_sha256 *h);
LC_DEFINE_CLEANUP(lc_sha256 *, lc_sha256_free)
void lc_sha256_update(lc_sha256 *h, const void *data, size_t len);
/* Writes "sha256:" + 64 lowercase hex digits and NUL (72 bytes). Resets nothing: call once. */
void lc_sha256_final_digest(lc_sha256 *h, char out[72]);
/* One-shot "sha256:<hex>" of a buffer. */
void lc_sha256_digest(const void *data, size_t len, char out[72]);

/* ---- base64 (src/util/crypto.c) */
/* Standard base64 with padding; NULL on ENOMEM. */
char *lc_base64_encode(const void *data, size_t len);
/* Decode standard base64 (padding optional); NUL-terminated result. NULL on error. */
char *lc_base64_decode(const char *text, size_t *ret_len);

#endif
