/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The injection layer: what a container gets for the host's devices and driver (the mount
 * points of CDI device nodes and mounts, NVIDIA's links, the soname links and library cache that
 * NVIDIA's update-ldcache makes) lives on a tmpfs layer of the overlay between the image and the
 * writable layer. A named container's persistent layer never holds any of it, and each mount
 * point and link carries LC_INJECTED_NSEC, so that a save leaves it out; the next start makes
 * it again for the node's driver of the day.
 *
 * The library cache is rebuilt once per container, before the overlay. Where the image has a
 * cache ldcache.c reads, it is written natively: the image's entries with the driver's
 * libraries in front, the soname links made on the layer (native_cache). Else the host's
 * ldconfig (opened on the host, never the image's) runs chrooted in a probe overlay (the image,
 * the layer, the driver's files bound) with a scratch writable layer; what it wrote there (the
 * cache, the soname links) is copied onto the injection layer. In the container
 * /etc/ld.so.cache is then an ordinary file: ldconfig run there later (apt's triggers) replaces
 * it as usual. It carries LC_REBUILT_NSEC: a save rebuilds the cache of what it saves
 * (lc_inject_saved_cache).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container.h"

#define LAYER LC_SCRATCH "/inject"
#define LOWER LC_SCRATCH "/lower"
#define PROBE LC_SCRATCH "/probe"
#define PROBE_UPPER LC_SCRATCH "/probe-upper"
#define PROBE_WORK LC_SCRATCH "/probe-work"
#define LD_CONF ".lc-ld.so.conf" /* in the probe's root, for ldconfig's -f */
#define LD_CACHE "/etc/ld.so.cache"
#define LD_CACHE_MAX (256u << 20)
#define SAVED_CACHE "ld.so.cache" /* in a tmpfs of its own, for a save */
#define LDCONFIG_TIMEOUT_MS 60000
#define CUDA_COMPAT_DIR "/usr/local/cuda/compat"

#if defined(__x86_64__)
#define MULTIARCH "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define MULTIARCH "aarch64-linux-gnu"
#elif defined(__powerpc64__)
#define MULTIARCH "powerpc64le-linux-gnu"
#else
#define MULTIARCH "unknown-linux-gnu"
#endif

bool lc_inject_wanted(const lc_holder *h)
{
	for (size_t i = 0; i < h->plan.n; i++)
		if (h->plan.steps[i].inject)
			return true;
	return false;
}

static int fail_at(const char *path, int r, lc_error *err)
{
	return lc_fail(err, -r, "cannot set up '%s' in the container: %s", path,
		       r == -EXDEV ? "it resolves outside the container's root filesystem"
				   : strerror(-r));
}

/* The mount points and links of the devices' steps. */
static int add_entries(lc_holder *h, int lower, int layer, lc_error *err)
{
	for (size_t i = 0; i < h->plan.n; i++) {
		const lc_mount_step *s = &h->plan.steps[i];
		enum lc_layer_kind kind = LC_LAYER_SYMLINK;
		struct stat st;
		int r;

		if (!s->inject || (s->kind == LC_STEP_BIND && h->source_fds[i] < 0))
			continue;
		if (s->kind == LC_STEP_BIND) {
			if (fstat(h->source_fds[i], &st) < 0)
				return lc_fail(err, errno, "stat '%s': %m", s->source);
			kind = S_ISDIR(st.st_mode) ? LC_LAYER_DIR : LC_LAYER_FILE;
		}
		r = lc_layer_add(lower, layer, s->target, kind, s->source, false, NULL);
		if (r < 0)
			return fail_at(s->target, r, err);
	}
	return 0;
}

/* ---------------------------------------------------------------- the probe */

/* The devices' files bound in the probe where the container will have them. */
static int probe_binds(lc_holder *h, int probe)
{
	for (size_t i = 0; i < h->plan.n; i++) {
		const lc_mount_step *s = &h->plan.steps[i];
		_cleanup_close_ int tree = -1;
		_cleanup_close_ int target = -1;
		int r;

		if (!s->inject || s->kind != LC_STEP_BIND || h->source_fds[i] < 0)
			continue;
		tree = open_tree(h->source_fds[i], "",
				 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH |
				     (s->recursive ? AT_RECURSIVE : 0));
		if (tree < 0)
			return -errno;
		r = lc_resolve_in_root(probe, s->target, LC_RESOLVE_NONE, &target);
		if (r < 0)
			return r;
		if (move_mount(tree, "", target, "",
			       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
			return -errno;
	}
	return 0;
}

static int version_major(const char *v)
{
	return v && *v >= '0' && *v <= '9' ? atoi(v) : -1;
}

/* NVIDIA's enable-cuda-compat: the image's CUDA forward-compatibility directory (one
 * libcuda.so.X.Y there) when its driver is newer than the host's (by major version), as the
 * path it resolves to; else NULL. */
static char *cuda_compat_dir(int root, const char *root_path, const char *host_driver)
{
	_cleanup_close_ int dir = -1;
	char link[64], path[PATH_MAX], found[NAME_MAX + 1] = "";
	struct dirent *e;
	ssize_t n;
	DIR *d;
	int count = 0;

	if (!host_driver || lc_resolve_in_root(root, CUDA_COMPAT_DIR, LC_RESOLVE_NONE, &dir) < 0)
		return NULL;
	d = lc_opendir_at(dir, ".");
	while (d && (e = readdir(d))) {
		const char *v = e->d_name + strlen("libcuda.so.");

		if (lc_str_has_prefix(e->d_name, "libcuda.so.") && strchr(v, '.') && count++ == 0)
			snprintf(found, sizeof(found), "%s", v);
	}
	if (d)
		closedir(d);
	if (count != 1 || version_major(found) <= version_major(host_driver))
		return NULL;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dir);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= (ssize_t)strlen(root_path))
		return NULL;
	path[n] = '\0';
	return strdup(path + strlen(root_path));
}

/* ldconfig's configuration: the compat directory, the hook's folders, the image's own file,
 * then the system directories (the host's ldconfig may not know the image's). */
static int write_conf(lc_holder *h, int probe)
{
	_cleanup_free_ char *compat = cuda_compat_dir(probe, PROBE, h->devices.host_driver);
	lc_buf b = LC_BUF_INIT;
	int r = 0;

	if (compat)
		r = lc_buf_printf(&b, "%s\n", compat);
	for (size_t i = 0; !r && i < h->devices.ld_folders.n; i++)
		r = lc_buf_printf(&b, "%s\n", h->devices.ld_folders.v[i]);
	if (!r)
		r = lc_buf_printf(&b,
				  "include /etc/ld.so.conf\n/lib/" MULTIARCH "\n/usr/lib/" MULTIARCH
				  "\n/lib64\n/usr/lib64\n/lib\n/usr/lib\n");
	if (!r)
		r = lc_file_replace_at(probe, LD_CONF, b.data, b.len, 0644);
	lc_buf_free(&b);
	return r;
}

/* Async-signal-safe (the holder serves FUSE from a thread): the host's ldconfig @program,
 * chrooted in @root, its output on @out; with @cwd >= 0 its working directory is @cwd (outside
 * the root: where a relative -C writes). */
static _Noreturn void ldconfig_child(int root, int cwd, int program, char *const *argv, int out)
{
	static char *const envp[] = {NULL};
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 ||
	    fchdir(root) < 0 || chroot(".") < 0 || (cwd >= 0 ? fchdir(cwd) : chdir("/")) < 0)
		_exit(125);
	syscall(SYS_execveat, program, "", argv, envp, AT_EMPTY_PATH);
	_exit(126);
}

/* Run ldconfig_child() and wait for it (killed after LDCONFIG_TIMEOUT_MS: an image or a saved
 * tree may hold a FIFO where a library is); its output's tail in @tail. 0, or the wait status
 * of a failure in *@status (-ECANCELED), or -errno. */
static int run_ldconfig(int root, int cwd, int program, char *const *argv, char *tail, size_t size,
			int *status)
{
	int pipefd[2];
	pid_t pid;

	*status = 0;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid == 0)
		ldconfig_child(root, cwd, program, argv, pipefd[1]);
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		return -errno;
	}
	if (lc_fd_read_tail(pipefd[0], LDCONFIG_TIMEOUT_MS, tail, size) == -ETIMEDOUT)
		kill(pid, SIGKILL);
	close(pipefd[0]);
	if (lc_wait_child(pid, status) < 0)
		return -ECHILD;
	return WIFEXITED(*status) && WEXITSTATUS(*status) == 0 ? 0 : -ECANCELED;
}

/* The probe's cache, by the host's ldconfig with the configuration write_conf() made. */
static int probe_ldconfig(lc_holder *h, int probe, char *tail, size_t size, lc_error *err)
{
	static char *const argv[] = {"ldconfig", "-f", "/" LD_CONF, "-C", LD_CACHE, NULL};
	_cleanup_close_ int program = open(h->devices.ldconfig, O_RDONLY | O_CLOEXEC);
	int status, r;

	if (program < 0)
		return lc_fail(err, errno, "cannot open the host's ldconfig %s: %m",
			       h->devices.ldconfig);
	r = run_ldconfig(probe, -1, program, argv, tail, size, &status);
	if (r == 0 || (r < 0 && r != -ECANCELED))
		return r < 0 ? lc_fail(err, -r, "cannot run ldconfig: %s", strerror(-r)) : 0;
	return lc_fail(
	    err, ECANCELED, "cannot update the container's library cache: %s %s %d%s%s",
	    h->devices.ldconfig, WIFSIGNALED(status) ? "killed by signal" : "exited with",
	    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), *tail ? ": " : "", tail);
}

/* ---------------------------------------------------------------- what ldconfig made */

/* The links ldconfig made under the probe's writable layer @dir (at @path), onto the layer. */
static int copy_links(int dir, lc_buf *path, int lower, int layer)
{
	DIR *d = lc_opendir_at(dir, ".");
	size_t len = path->len;
	struct dirent *e;
	int r = 0;

	if (!d)
		return -errno;
	while (!r && (e = readdir(d))) {
		char target[PATH_MAX];
		ssize_t n;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		path->len = len;
		r = lc_buf_printf(path, "/%s", e->d_name);
		if (!r && e->d_type == DT_DIR) {
			_cleanup_close_ int sub =
			    openat(dir, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			r = sub < 0 ? -errno : copy_links(sub, path, lower, layer);
		} else if (!r && e->d_type == DT_LNK) {
			n = readlinkat(dir, e->d_name, target, sizeof(target) - 1);
			if (n < 0)
				r = -errno;
			else
				target[n] = '\0';
			if (!r)
				r = lc_layer_add(lower, layer, path->data, LC_LAYER_SYMLINK, target,
						 true, NULL);
		}
	}
	path->len = len;
	if (path->data)
		path->data[len] = '\0';
	closedir(d);
	return r;
}

/* @data onto the layer at /etc/ld.so.cache. */
static int keep_cache(int lower, int layer, const char *data, size_t len)
{
	_cleanup_close_ int dir = -1;
	int r = lc_layer_add(lower, layer, LD_CACHE, LC_LAYER_FILE, NULL, true, &dir);

	if (r >= 0)
		r = lc_file_replace_at(dir, "ld.so.cache", data, len, 0644);
	/* a save puts the cache of what it saves in its place (lc_inject_saved_cache) */
	return r < 0 ? r : lc_mark_at(dir, "ld.so.cache", LC_REBUILT_NSEC);
}

/* The tree @root's /etc/ld.so.cache (a regular file, never through a link). -errno. */
static int read_cache(int root, char **ret, size_t *ret_len)
{
	_cleanup_close_ int etc = -1;
	int r = lc_resolve_in_root(root, "/etc", LC_RESOLVE_NONE, &etc);

	return r < 0 ? r : lc_file_read_at(etc, "ld.so.cache", LD_CACHE_MAX, ret, ret_len, NULL);
}

/* The cache ldconfig wrote, onto the layer. */
static int copy_cache(int probe, int lower, int layer)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = read_cache(probe, &data, &len);

	return r < 0 ? r : keep_cache(lower, layer, data, len);
}

/* ---------------------------------------------------------------- the cache, natively
 *
 * Where the image has a cache ldcache.c reads, the container's is that one with the driver's
 * libraries in front (the compat directory's, then the hook's folders' in their order), the
 * soname links made on the layer as ldconfig makes them: what ldconfig writes for the
 * container with these directories searched first, without reading the image's libraries. */

typedef struct native {
	lc_holder *h;
	lc_ldcache *cache;
	int lower, layer;
	lc_strvec links; /* the soname links made: path, then target, each */
} native;

static bool library_name(const char *name)
{
	return (lc_str_has_prefix(name, "lib") || lc_str_has_prefix(name, "ld-")) &&
	       strstr(name, ".so");
}

/* The image has a file (not a link) at @path, which ldconfig leaves in place. */
static bool image_file(int lower, const char *dir, const char *name)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	return lc_resolve_in_root(lower, dir, LC_RESOLVE_NONE, &fd) >= 0 &&
	       fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISLNK(st.st_mode);
}

/* The device step that puts something at @path, or -1. */
static ssize_t injected_at(const lc_holder *h, const char *path)
{
	for (size_t i = 0; i < h->plan.n; i++)
		if (h->plan.steps[i].inject && !strcmp(h->plan.steps[i].target, path))
			return (ssize_t)i;
	return -1;
}

/* The library @name of the directory @dir, open at @fd, as ldconfig enters it: a link
 * (@link) by its own name; a file by its soname, at @dir/soname, with the soname link beside
 * it. Not a library ldconfig knows: skipped. */
static int add_library(native *n, const char *dir, const char *name, int fd, bool link)
{
	_cleanup_free_ char *soname = NULL, *path = NULL;
	const char *key;
	int32_t flags;
	int r = lc_elf_library(fd, &soname, &flags);

	if (r == -ENOEXEC)
		return 0;
	key = soname && !link ? soname : name;
	if (r < 0 || asprintf(&path, "%s/%s", strcmp(dir, "/") ? dir : "", key) < 0)
		return r < 0 ? r : -ENOMEM;
	if (!link && strcmp(key, name) && injected_at(n->h, path) < 0 &&
	    !image_file(n->lower, dir, key)) {
		r = lc_layer_add(n->lower, n->layer, path, LC_LAYER_SYMLINK, name, true, NULL);
		if (r >= 0 &&
		    (lc_strvec_push(&n->links, path) < 0 || lc_strvec_push(&n->links, name) < 0))
			r = -ENOMEM;
		if (r < 0)
			return r;
	}
	return lc_ldcache_add(n->cache, flags, key, path);
}

/* The image's CUDA compat directory (@dir), when enable-cuda-compat chose it: its libraries,
 * then its links to them. */
static int add_compat(native *n, const char *dir)
{
	_cleanup_close_ int fd = -1;
	int r = lc_resolve_in_root(n->lower, dir, LC_RESOLVE_NONE, &fd);

	for (int links = 0; r >= 0 && links < 2; links++) {
		DIR *d = lc_opendir_at(fd, ".");
		struct dirent *e;

		if (!d)
			return -errno;
		while (r >= 0 && (e = readdir(d))) {
			_cleanup_free_ char *path = NULL;
			_cleanup_close_ int lib = -1;
			_cleanup_close_ int fd_file = -1;
			struct stat st;

			if (!library_name(e->d_name) ||
			    fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    S_ISLNK(st.st_mode) != links ||
			    asprintf(&path, "%s/%s", dir, e->d_name) < 0)
				continue;
			if (lc_resolve_in_root(n->lower, path, LC_RESOLVE_NONE, &lib) < 0 ||
			    fstat(lib, &st) < 0 || !S_ISREG(st.st_mode))
				continue; /* ldconfig skips what leads nowhere */
			fd_file = lc_fd_reopen(lib, O_RDONLY | O_NONBLOCK);
			if (fd_file < 0)
				continue;
			r = add_library(n, dir, e->d_name, fd_file, links);
		}
		closedir(d);
	}
	return r;
}

/* The device steps' file at @dir/@name, following their links and the soname links made:
 * open, or -1. */
static int folder_file(native *n, const char *dir, const char *name, int depth)
{
	_cleanup_free_ char *path = NULL;
	const lc_mount_step *s;
	const char *next = NULL;
	ssize_t i;
	int fd;

	if (depth > 8 || asprintf(&path, "%s/%s", dir, name) < 0)
		return -1;
	for (size_t k = 0; k + 1 < n->links.n; k += 2)
		if (!strcmp(n->links.v[k], path))
			next = n->links.v[k + 1];
	i = injected_at(n->h, path);
	s = i >= 0 ? &n->h->plan.steps[i] : NULL;
	if (!next && s && s->kind == LC_STEP_SYMLINK)
		next = lc_str_has_prefix(s->source, dir) && s->source[strlen(dir)] == '/'
			   ? s->source + strlen(dir) + 1
			   : s->source;
	if (next)
		return strchr(next, '/') ? -1 : folder_file(n, dir, next, depth + 1);
	if (!s || s->kind != LC_STEP_BIND || n->h->source_fds[i] < 0)
		return -1;
	fd = lc_fd_reopen(n->h->source_fds[i], O_RDONLY | O_NONBLOCK);
	return fd < 0 ? -1 : fd;
}

/* The device steps' libraries in @folder (as the container sees them), then their links. */
static int add_folder(native *n, const char *folder)
{
	_cleanup_free_ char *dir = strdup(folder);
	size_t len = dir ? strlen(dir) : 0;
	int r = dir ? 0 : -ENOMEM;

	while (len > 1 && dir[len - 1] == '/')
		dir[--len] = '\0';
	for (int links = 0; r >= 0 && links < 2; links++)
		for (size_t i = 0; r >= 0 && i < n->h->plan.n; i++) {
			const lc_mount_step *s = &n->h->plan.steps[i];
			const char *name = strrchr(s->target, '/');
			_cleanup_close_ int fd = -1;

			if (!s->inject || s->kind != (links ? LC_STEP_SYMLINK : LC_STEP_BIND) ||
			    !name || (size_t)(name - s->target) != len ||
			    strncmp(s->target, dir, len) || !library_name(++name))
				continue;
			fd = folder_file(n, dir, name, 0);
			if (fd >= 0)
				r = add_library(n, dir, name, fd, links);
		}
	return r;
}

/* 1: the image has no cache this can read (ldconfig makes one). */
static int native_cache(lc_holder *h, int lower, int layer)
{
	native n = {.h = h, .lower = lower, .layer = layer};
	_cleanup_free_ char *data = NULL, *out = NULL, *compat = NULL;
	size_t len = 0, out_len = 0;
	int r;

	if (read_cache(lower, &data, &len) < 0 || lc_ldcache_parse(data, len, &n.cache) < 0)
		return 1;
	compat = cuda_compat_dir(lower, LOWER, h->devices.host_driver);
	r = compat ? add_compat(&n, compat) : 0;
	for (size_t i = 0; r >= 0 && i < h->devices.ld_folders.n; i++)
		r = add_folder(&n, h->devices.ld_folders.v[i]);
	if (r >= 0)
		r = lc_ldcache_write(n.cache, &out, &out_len);
	if (r >= 0)
		r = keep_cache(lower, layer, out, out_len);
	lc_ldcache_free(n.cache);
	lc_strvec_free(&n.links);
	return r;
}

static int ldcache(lc_holder *h, int lower, int layer, lc_error *err)
{
	_cleanup_close_ int probe = -1;
	_cleanup_close_ int upper = -1;
	lc_buf path = LC_BUF_INIT;
	char tail[512] = "";
	int r = 0;

	for (const char *const *d = (const char *const[]){PROBE, PROBE_UPPER, PROBE_WORK, NULL}; *d;
	     d++)
		if (mkdir(*d, 0755) < 0)
			return lc_fail(err, errno, "mkdir %s: %m", *d);
	if (mount("overlay", PROBE, "overlay", MS_NOSUID | MS_NODEV,
		  "lowerdir=" LAYER ":" LOWER ",upperdir=" PROBE_UPPER ",workdir=" PROBE_WORK
		  ",userxattr") < 0)
		return lc_fail(err, errno, "cannot mount the library cache's overlay: %m");
	probe = open(PROBE, O_PATH | O_DIRECTORY | O_CLOEXEC);
	r = probe < 0 ? -errno : probe_binds(h, probe);
	if (r >= 0)
		r = write_conf(h, probe);
	if (r < 0)
		r = lc_fail(err, -r, "cannot prepare the container's library cache: %s",
			    strerror(-r));
	else
		r = probe_ldconfig(h, probe, tail, sizeof(tail), err);
	if (r >= 0) {
		r = copy_cache(probe, lower, layer);
		upper = r >= 0 ? open(PROBE_UPPER, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
		if (r >= 0)
			r = upper < 0 ? -errno : copy_links(upper, &path, lower, layer);
		if (r < 0)
			r = lc_fail(err, -r, "cannot keep the container's library cache: %s",
				    strerror(-r));
	}
	lc_buf_free(&path);
	(void)umount2(PROBE, MNT_DETACH);
	return r;
}

int lc_inject_build(lc_holder *h, lc_error *err)
{
	_cleanup_close_ int lower = -1;
	_cleanup_close_ int layer = -1;
	int r;

	if (mkdir(LAYER, 0755) < 0)
		return lc_fail(err, errno, "mkdir %s: %m", LAYER);
	lower = open(LOWER, O_PATH | O_DIRECTORY | O_CLOEXEC);
	layer = open(LAYER, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (lower < 0 || layer < 0)
		return lc_fail(err, errno, "open the injection layer: %m");
	r = add_entries(h, lower, layer, err);
	if (r >= 0 && h->devices.ldconfig) {
		r = native_cache(h, lower, layer);
		if (r < 0)
			r = lc_fail(err, -r, "cannot write the container's library cache: %s",
				    strerror(-r));
		else if (r == 1)
			r = ldcache(h, lower, layer, err);
	}
	if (r >= 0)
		h->injected = true;
	return r;
}

/* ---------------------------------------------------------------- ldconfig, for devices.c and
 * saves */

int lc_host_ldconfig(const char *path, char **ret, lc_error *err)
{
	_cleanup_free_ char *real = NULL;
	_cleanup_close_ int fd = -1;
	char magic[4];

	path += path[0] == '@'; /* a host path, in NVIDIA's configuration */
	if (asprintf(&real, "%s.real", path) < 0)
		return lc_fail(err, ENOMEM, "out of memory");
	if (access(real, X_OK) == 0)
		path = real;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lc_fail(err, errno, "the host's ldconfig %s: %m", path);
	if (read(fd, magic, 4) != 4 || memcmp(magic, "\177ELF", 4))
		return lc_fail(err, ENOEXEC, "the host's ldconfig %s is not a program", path);
	*ret = strdup(path);
	return *ret ? 0 : lc_fail(err, ENOMEM, "out of memory");
}

int lc_inject_saved_cache(int root_fd, int ldconfig_fd, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	static char *const argv[] = {"ldconfig", "-X", "-i", "-C", SAVED_CACHE, NULL};
	_cleanup_close_ int mnt = -1;
	char tail[256];
	int status, r;

	*ret = NULL;
	if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "size", "256m", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 ||
	    (mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0)) < 0)
		return -errno;
	/* chrooted in the saved tree (read-only besides), writing in the tmpfs, its cwd */
	r = run_ldconfig(root_fd, mnt, ldconfig_fd, argv, tail, sizeof(tail), &status);
	if (r < 0)
		return r;
	return lc_file_read_at(mnt, SAVED_CACHE, LD_CACHE_MAX, ret, ret_len, NULL);
}
