/* SPDX-License-Identifier: Apache-2.0 */
/*
 * enroot's 10-shadow, built in: the container's /etc/passwd and /etc/group start with root,
 * nobody and the user (the user as root with remap-root), the image's other lines after them,
 * _apt removed (apt cannot switch to it in a user namespace); the user's shell is their host
 * shell when the image has it, else useradd's default; the home directory is made when
 * login.defs does not say CREATE_HOME no, and filled from SKEL (/etc/skel). Every file is read
 * inside the root without following a link, and only when it is a small regular file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container.h"

#define SHADOW_FILE_MAX ((1 << 22) - 1)
#define SKEL_FILE_MAX (1 << 20)

static bool db_entry_is(const char *line, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(line, name, n) && line[n] == ':';
}

/* The image's entry of @name (its first line "name:..."), else @fallback, added to @out. */
static int db_keep_or(const char *text, const char *name, const char *fallback, lc_buf *out)
{
	for (const char *line = text; line && *line;) {
		const char *next = strchr(line, '\n');

		if (db_entry_is(line, name))
			return lc_buf_printf(out, "%.*s\n",
					     (int)(next ? (size_t)(next - line) : strlen(line)),
					     line);
		line = next ? next + 1 : NULL;
	}
	return lc_buf_printf(out, "%s", fallback);
}

/* enroot's 10-shadow: root, nobody and the user first (the image's root and nobody lines when
 * it has them), then the image's other lines; _apt removed, as apt cannot switch to it. */
static int userdb_text(const lc_user *u, const char *shell, bool passwd, const char *old,
		       lc_buf *text)
{
	const char *nobody = passwd ? "nobody" : "nogroup";
	const char *const drop[] = {"root", nobody, u->in_name, "_apt", NULL};
	_cleanup_free_ char *root = NULL;
	int r;

	if (asprintf(&root, passwd ? "root:x:0:0:root:/root:%s\n" : "root:x:0:\n", shell) < 0)
		return -ENOMEM;
	r = db_keep_or(old, "root", root, text);

	if (r >= 0)
		r = db_keep_or(old, nobody,
			       passwd ? "nobody:x:65534:65534:nobody:/:/sbin/nologin\n"
				      : "nogroup:x:65534:\n",
			       text);
	if (r >= 0 && passwd && u->in_uid != 0)
		r = lc_buf_printf(text, "%s:x:%u:%u:%s:%s:%s\n", u->in_name, (unsigned)u->in_uid,
				  (unsigned)u->in_gid, u->in_name, u->in_home, shell);
	else if (r >= 0 && !passwd && u->in_gid != 0)
		r = lc_buf_printf(text, "%s:x:%u:\n", u->in_name, (unsigned)u->in_gid);
	for (const char *line = old; r >= 0 && line && *line;) {
		const char *next = strchr(line, '\n');
		size_t len = next ? (size_t)(next - line) : strlen(line);
		bool dropped = false;

		for (const char *const *d = drop; *d; d++)
			dropped = dropped || db_entry_is(line, *d);
		if (len && !dropped)
			r = lc_buf_printf(text, "%.*s\n", (int)len, line);
		line = next ? next + 1 : NULL;
	}
	return r;
}

/* The value of @key in a login.defs-style @text ("KEY VALUE" or "KEY=VALUE", # comments), or
 * NULL; a later line wins. */
static char *defs_value(const char *text, const char *key)
{
	size_t klen = strlen(key);
	char *value = NULL;

	for (const char *line = text; line && *line;) {
		const char *next = strchr(line, '\n'), *v;

		line += strspn(line, " \t");
		if (!strncmp(line, key, klen) && strchr(" \t=", line[klen])) {
			v = line + klen + strspn(line + klen, " \t=");
			free(value);
			value = strndup(v, strcspn(v, " \t\n#"));
		}
		line = next ? next + 1 : NULL;
	}
	return value;
}

/* Whether @path is an executable regular file of the root (links resolved inside it). */
static bool root_executable(lc_holder *h, const char *path)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	return path[0] == '/' && lc_resolve_in_root(h->root_fd, path, LC_RESOLVE_NONE, &fd) >= 0 &&
	       fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

/* The host user's shell when the image has it, else useradd's SHELL, else /bin/sh. */
static char *user_shell(lc_holder *h)
{
	_cleanup_free_ char *useradd = NULL;
	char *shell;

	if (root_executable(h, h->c->user.shell))
		return strdup(h->c->user.shell);
	useradd = lc_root_read_file(h->root_fd, "/etc/default", "useradd", SHADOW_FILE_MAX);
	shell = useradd ? defs_value(useradd, "SHELL") : NULL;
	if (shell && *shell == '/')
		return shell;
	free(shell);
	return strdup("/bin/sh");
}

/* Copy SKEL's regular files (not links, not directories) into the new home @home_fd. */
static void copy_skel(lc_holder *h, const char *skel, int home_fd)
{
	_cleanup_close_ int path_fd = -1;
	_cleanup_close_ int to = -1;
	DIR *d = NULL;
	struct dirent *e;
	int from;

	if (lc_resolve_in_root(h->root_fd, skel, LC_RESOLVE_NONE, &path_fd) < 0 ||
	    (from = openat(path_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	to = openat(home_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (to < 0 || !(d = fdopendir(from))) {
		close(from);
		return;
	}
	while ((e = readdir(d))) {
		_cleanup_close_ int in = -1;
		_cleanup_free_ char *data = NULL;
		size_t len = 0;
		struct stat st;

		if (e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, "..")))
			continue;
		in = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (in < 0 || fstat(in, &st) < 0 || !S_ISREG(st.st_mode) ||
		    lc_fd_read_all(in, e->d_name, SKEL_FILE_MAX, &data, &len, NULL) < 0)
			continue;
		_cleanup_close_ int out =
		    openat(to, e->d_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			   st.st_mode & 0777);
		if (out >= 0)
			(void)lc_write_all(out, data, len);
	}
	closedir(d);
}

/* The user's home inside, unless it exists or login.defs says CREATE_HOME no. */
static void make_home(lc_holder *h)
{
	_cleanup_free_ char *defs =
	    lc_root_read_file(h->root_fd, "/etc", "login.defs", SHADOW_FILE_MAX);
	_cleanup_free_ char *create = defs ? defs_value(defs, "CREATE_HOME") : NULL;
	_cleanup_free_ char *skel = defs ? defs_value(defs, "SKEL") : NULL;
	_cleanup_close_ int home = -1;
	const char *path = h->c->user.in_home;

	if (lc_resolve_in_root(h->root_fd, path, LC_RESOLVE_NONE, &home) >= 0 ||
	    (create && strcasecmp(create, "yes")) ||
	    lc_resolve_in_root(h->root_fd, path, LC_RESOLVE_DIR, &home) < 0)
		return;
	copy_skel(h, skel && *skel == '/' ? skel : "/etc/skel", home);
}

int lc_shadow_userdb(lc_holder *h, const char *target)
{
	bool passwd = !strcmp(target, "/etc/passwd");
	_cleanup_close_ int dir = -1;
	_cleanup_free_ char *old = NULL, *shell = NULL;
	lc_buf text = LC_BUF_INIT;
	int r = lc_resolve_in_root(h->root_fd, "/etc", LC_RESOLVE_DIR, &dir);
	const char *name = passwd ? "passwd" : "group";

	if (r < 0)
		return r;
	old = lc_root_read_file(h->root_fd, "/etc", name, SHADOW_FILE_MAX);
	shell = passwd ? user_shell(h) : strdup("");
	r = old && shell ? userdb_text(&h->c->user, shell, passwd, old, &text) : -ENOMEM;
	if (r >= 0)
		r = lc_file_replace_at(dir, name, text.data, text.len, 0644);
	lc_buf_free(&text);
	if (r >= 0 && passwd)
		make_home(h);
	return r < 0 ? r : 0;
}
