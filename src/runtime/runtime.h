/* SPDX-License-Identifier: Apache-2.0 */
/* Private interface of the runtime module. */
#ifndef LC_RUNTIME_H
#define LC_RUNTIME_H

#include "../cdi/cdi.h"
#include "../site/site.h"
#include "../util/util.h"

/* ================================================================ seccomp (seccomp.c) */
/*
 * The fake-chown filter: chown, lchown, fchown, fchownat, setuid, setgid, setreuid, setregid,
 * setresuid, setresgid, setgroups (and their 32-bit-id variants) return 0 without acting;
 * setfsuid/setfsgid too, except for the query form (argument -1). Built with libseccomp for
 * every ABI the machine runs (x86_64: also i386 and x32; aarch64: also arm), then kept as raw BPF
 * so that installing it does not allocate (a child of a multi-threaded process may do it).
 */
typedef struct lc_seccomp_prog lc_seccomp_prog;
int lc_seccomp_prog_new(lc_seccomp_prog **ret, lc_error *err);
lc_seccomp_prog *lc_seccomp_prog_free(lc_seccomp_prog *p);
/* The rules in libseccomp's readable form (for tests and debugging); caller frees. */
int lc_seccomp_prog_describe(char **ret_text, lc_error *err);
/* Async-signal-safe: no_new_privs, then the filter (SPEC_ALLOW, retried without it). -errno. */
int lc_seccomp_install(const lc_seccomp_prog *p);

/* ================================================================ mount specs (mountspec.c) */
/*
 * User mounts in pyxis's syntax: "SRC:DST[:FLAGS][,SRC:DST[:FLAGS]...]", flags joined by '+'.
 * SRC is a path (starts with '/' or '.'), "tmpfs" or "umount"; SRC alone means DST = SRC.
 * DST starts with '/' or '.' (relative to the container's root) and may not contain "..".
 * A tmpfs also takes the kernel's tmpfs options as flags (size=, nr_blocks=, nr_inodes=, mode=,
 * uid=, gid=, huge=, mpol=, noswap, inode32, inode64, quota, usrquota, grpquota), each value
 * checked.
 */
enum lc_mount_kind { LC_MOUNT_BIND, LC_MOUNT_TMPFS, LC_MOUNT_UMOUNT };
typedef struct lc_mount_spec {
	enum lc_mount_kind kind;
	char *source;        /* bind: host path as given; NULL otherwise */
	char *target;        /* inside the container */
	bool recursive;      /* rbind (the default) or bind */
	unsigned long flags; /* MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC */
	unsigned long
	    propagation; /* 0, or MS_PRIVATE/MS_SLAVE/MS_SHARED/MS_UNBINDABLE [| MS_REC] */
	char *data;      /* tmpfs: the kernel's options given (size=, mode=, ...); NULL: none */
} lc_mount_spec;
/* Parse @text, appending to *@specs (n entries); identical entries are kept once. */
int lc_mount_specs_parse(const char *text, lc_mount_spec **specs, size_t *n, lc_error *err);
void lc_mount_specs_free(lc_mount_spec *specs, size_t n);

/* ================================================================ paths in the rootfs (resolve.c)
 */
enum lc_resolve_create { LC_RESOLVE_NONE, LC_RESOLVE_DIR, LC_RESOLVE_FILE };
/*
 * Open (O_PATH) @path inside the tree at @root_fd as the container sees it: symlinks followed
 * relative to @root_fd, ".." above it is -EXDEV. Missing components are created as directories,
 * the last one as @create says (NONE: -ENOENT). Returns -errno.
 */
int lc_resolve_in_root(int root_fd, const char *path, enum lc_resolve_create create, int *ret_fd);
/* The image's file @dir/@name as the container sees it (@dir resolved inside the root, @name
 * never followed), when it is a regular file of at most @max bytes; "" when it is not (absent,
 * a link, a FIFO, too large). NULL when out of memory. */
char *lc_root_read_file(int root_fd, const char *dir, const char *name, size_t max);

/* An entry the overlay shows at @path (as the container sees it) made on the layer @layer_fd that
 * lies over the image @image_fd: the image's directories on the way are repeated on the layer,
 * links followed inside the root (the last one too for a file or directory), and what is made
 * carries LC_INJECTED_NSEC. Nothing is made where the image or the layer shows the entry
 * already, unless @shadow (the layer's then hides the image's: a link or file replaced). With
 * @ret_dir_fd, the layer's directory of the entry. -errno (-EXDEV: out of the root). */
enum lc_layer_kind { LC_LAYER_FILE, LC_LAYER_DIR, LC_LAYER_SYMLINK };
int lc_layer_add(int image_fd, int layer_fd, const char *path, enum lc_layer_kind kind,
		 const char *link, bool shadow, int *ret_dir_fd);

/* ================================================================ squashfs FUSE server (sqfuse.c)
 */
#define LC_SQFUSE_MAX_READ (1024u * 1024) /* the largest read the kernel asks for */
typedef struct lc_sqfs_server lc_sqfs_server;
/* Open the image (takes @image_fd); every inode is reported as owned by @uid:@gid. */
int lc_sqfs_server_new(int image_fd, const char *name, uid_t uid, gid_t gid, lc_sqfs_server **ret,
		       lc_error *err);
/* Serve the mount made with "fd=@fuse_fd" in a thread (takes @fuse_fd). */
int lc_sqfs_server_start(lc_sqfs_server *s, int fuse_fd, lc_error *err);
lc_sqfs_server *lc_sqfs_server_free(lc_sqfs_server *s);
/* What the server answers the kernel, without a FUSE session (tests, fuzzing): the entry @name
 * of directory @parent (a node id; FUSE's root is 1) with one more lookup reference, which
 * lc_sqfs_server_forget drops; a read of a file, clamped as the kernel's are (bytes, 0 past the
 * end); a listing of a directory, read in readdir calls of @chunk bytes, each entry given to @cb
 * with its dirent type (a nonzero return stops it and is returned). -errno. */
int lc_sqfs_server_lookup(lc_sqfs_server *s, uint64_t parent, const char *name, uint64_t *ret_node,
			  struct stat *ret_st);
void lc_sqfs_server_forget(lc_sqfs_server *s, uint64_t node, uint64_t nlookup);
ssize_t lc_sqfs_server_read(lc_sqfs_server *s, uint64_t node, uint64_t off, void *buf, size_t size);
int lc_sqfs_server_list(lc_sqfs_server *s, uint64_t dir, size_t chunk,
			int (*cb)(void *u, const char *name, unsigned type), void *u);

/* ================================================================ users and environments (env.c)
 */
/* The user a container is for, resolved once by the caller. */
typedef struct lc_user {
	uid_t uid; /* on the host */
	gid_t gid;
	uid_t in_uid; /* inside: 0 with remap-root, else uid */
	gid_t in_gid;
	char *name;    /* host user name ("uid" when unknown) */
	char *in_name; /* name inside: "root" with remap-root */
	char *home;    /* host home directory; "/root" inside with remap-root */
	char *in_home;
	char *shell;
	gid_t *groups; /* supplementary groups, for a root caller that drops to the user */
	int n_groups;
} lc_user;
/* @flags: LC_CONTAINER_REMAP_ROOT and LC_CONTAINER_MOUNT_HOME decide the names inside. */
int lc_user_lookup(uid_t uid, gid_t gid, uint32_t flags, lc_user *u, lc_error *err);
void lc_user_free(lc_user *u);
/* A root caller becomes the user (async-signal-safe); nothing for root's own containers. */
int lc_user_become(const lc_user *u);

/* PATH of a process whose image sets none, and of hooks whose caller sets none. */
#define LC_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* Login defaults < the image's Env < @site_env (the site's variables, "K=V") < @overrides
 * ("K=V", or "K": the caller's value if set). */
int lc_env_build(const lc_user *u, const lc_image *img, const char *const *site_env,
		 const char *const *overrides, lc_strvec *ret, lc_error *err);
/* [Entrypoint] + (@argv if not empty, else Cmd); -EINVAL when that is empty. */
int lc_command_build(const lc_image *img, bool entrypoint, const char *const *argv, char ***ret,
		     lc_error *err);

/* ================================================================ mount plan (plan.c) */
enum lc_step_kind {
	LC_STEP_BIND,    /* source (host path) onto target */
	LC_STEP_TMPFS,   /* data: mount options */
	LC_STEP_DEVPTS,  /* a new devpts instance */
	LC_STEP_CGROUP2, /* the container's cgroup namespace */
	LC_STEP_SYSFS,   /* a new sysfs (for a new network namespace) */
	LC_STEP_SYMLINK, /* source: link text */
	LC_STEP_USERDB,  /* target /etc/passwd or /etc/group: the image's, plus the user */
	LC_STEP_MKDIR,
	LC_STEP_UMOUNT,
	LC_STEP_FSTAB,       /* a site's fstab entry (fstab) */
	LC_STEP_HOOKS,       /* the standard hooks, then the site's (hooks.c) */
	LC_STEP_IMAGE_FSTAB, /* the image's /etc/fstab; data "-1" (before the hooks) or "0" */
	LC_STEP_FILE,        /* data: a file's text, bound read-only on target (which exists) */
	LC_STEP_NVIDIA_CLI,  /* nvidia-container-cli on the root (hooks.c) */
};
typedef struct lc_mount_step {
	enum lc_step_kind kind;
	char *source;
	char *target;
	char *data;
	bool recursive;
	bool optional;       /* a missing source or a failure is skipped (logged at debug level) */
	bool user;           /* from the user's mount specs: errors say so */
	bool inject;         /* for a device: its mount point or link is on the injection layer */
	unsigned long flags; /* MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC */
	unsigned long propagation;   /* MS_PRIVATE... [| MS_REC] */
	const lc_fstab_entry *fstab; /* LC_STEP_FSTAB: borrowed from the site */
} lc_mount_step;
typedef struct lc_mount_plan {
	lc_mount_step *steps;
	size_t n, cap;
} lc_mount_plan;
typedef struct lc_plan_input {
	uint32_t flags; /* LC_CONTAINER_* */
	const lc_user *user;
	const lc_mount_spec *specs;
	size_t n_specs;
	const char *cwd;     /* for relative bind sources */
	const char *workdir; /* the image's WorkingDir, created when missing; may be NULL */
	const char *dev_dir; /* where host devices are listed: "/dev" (tests change it) */
	const lc_site *site; /* mounts.d and hooks.d; NULL: none */
	/* where "cgroup" and "mountinfo" are read: NULL for /proc/self, and the host's layout
	 * decides; tests set it, and a cgroup v1 host is assumed */
	const char *cgroup_proc;
	bool cgroup_parent;   /* a Slurm task: its step's cgroup (enroot: SLURM_STEP_ID set) */
	const char *mellanox; /* MELLANOX_VISIBLE_DEVICES; NULL: unset */
	const struct lc_devices *devices; /* CDI devices (devices.c); NULL: none */
	const char *sys_dir;              /* the host's sysfs: "/sys" (tests change it) */
} lc_plan_input;
/* ---- CDI devices (devices.c) */
typedef struct lc_devices_request {
	const char *const *names;      /* CDI names the caller asked for; NULL: none */
	const char *dirs;              /* spec directories; NULL: /etc/cdi:/var/run/cdi */
	const char *const *caller_env; /* NVIDIA_* of the caller (a job), which win */
	const char *const *image_env;  /* ... and of the image */
	const char *nvidia_backend;    /* lc_container_opts.nvidia_backend */
	bool refuse_hooks;             /* a hook not done here fails (else a warning) */
} lc_devices_request;
/* The edits the names and NVIDIA_VISIBLE_DEVICES (as nvidia.com/gpu=... of the node's CDI spec)
 * ask for, from the specs (a root caller reads root's only), every host node and mount source
 * checked first. No hook runs: NVIDIA's create-symlinks is done natively, the others are
 * warnings, as are additional gids (not mappable). An image's
 * GPU request on a node without NVIDIA's driver is a CPU container; the caller's is an error. */
typedef struct lc_devices {
	lc_cdi_edits edits;
	lc_strvec link_targets, link_paths; /* NVIDIA's create-symlinks, done natively */
	/* update-ldcache: the host's ldconfig (NULL: no cache asked for) and the folders it
	 * searches first; enable-cuda-compat: the host driver's version (NULL: not asked) */
	char *ldconfig;
	lc_strvec ld_folders;
	char *host_driver;
	/* disable-device-node-modification: the driver's parameters as the container reads
	 * them (ModifyDeviceFiles: 0); NULL: not asked, or no change needed */
	char *nvidia_params;
	/* NVIDIA_REQUIRE_* (unless NVIDIA_DISABLE_REQUIRE), checked in the holder against the
	 * driver, the CUDA version of the host's libcuda and, where they decide, the first
	 * GPU's architecture (libcuda) and brand (libnvidia-ml) (lc_devices_check_requires) */
	lc_strvec nvidia_requires;
	char *libcuda, *libnvml;
	/* the nvidia-container-cli backend (no CDI spec): the program and its arguments before
	 * --pid and the root (enroot's 98-nvidia); NULL: not used */
	char *nvidia_cli;
	lc_strvec nvidia_cli_args;
} lc_devices;
int lc_devices_resolve(lc_ctx *ctx, const lc_devices_request *q, lc_devices *d, lc_error *err);
void lc_devices_clear(lc_devices *d);
/* ================================================================ the library cache (ldcache.c)
 *
 * glibc's /etc/ld.so.cache: an image's, parsed (-EINVAL: not one; -ENOTSUP: it has entries of
 * glibc-hwcaps subdirectories, left to ldconfig), libraries added (ranked before the image's of
 * the same name and flags, in the order added; one entry per name, path and flags), written
 * back in ldconfig's order.
 */
typedef struct lc_ldcache lc_ldcache;
int lc_ldcache_parse(const char *data, size_t len, lc_ldcache **ret);
int lc_ldcache_add(lc_ldcache *c, int32_t flags, const char *name, const char *path);
int lc_ldcache_write(lc_ldcache *c, char **ret, size_t *ret_len);
lc_ldcache *lc_ldcache_free(lc_ldcache *c);
/* What ldconfig reads of the shared library open at @fd: its DT_SONAME (NULL: none) and the
 * cache flags of its class and machine. -ENOEXEC: not a shared library of a kind it knows. */
int lc_elf_library(int fd, char **ret_soname, int32_t *ret_flags);

/* The host's ldconfig at @path ("@" first: NVIDIA's mark of a host path), Debian's
 * ldconfig.real where /sbin/ldconfig is its wrapper script: it must be an ELF program, never a
 * script, for it runs chrooted in a container's root (inject.c). */
int lc_host_ldconfig(const char *path, char **ret, lc_error *err);
/* The library cache of the tree @root_fd, by the host's ldconfig (@ldconfig_fd) chrooted there,
 * written in a tmpfs of its own: what a save puts where the runtime's rebuilt cache was (the
 * injected libraries are empty mount points in a clone of the root, so ldconfig skips them).
 * -errno. */
int lc_inject_saved_cache(int root_fd, int ldconfig_fd, char **ret, size_t *ret_len);
/* NVIDIA_REQUIRE_* against the node's driver (/proc/driver/nvidia/version), the CUDA version
 * of the host's libcuda and, only where the requirements are otherwise undecided, the first
 * GPU's compute capability (cuDeviceGetAttribute) and NVML brand (libraries loaded in a child,
 * killed after 10 s), in the holder before the first mount: one line naming an unmet
 * requirement (lc_nvidia_check_requires). */
int lc_devices_check_requires(const lc_devices *d, lc_error *err);
/* A CDI mount's options as mount flags (ro, nosuid, nodev, noexec), *@recursive for rbind;
 * -EOPNOTSUPP for a type other than a bind. */
int lc_devices_mount_flags(const lc_cdi_mount *m, unsigned long *flags, bool *recursive);

/* ---- InfiniBand (mellanox.c): enroot's 99-mellanox */
/* Whether MELLANOX_VISIBLE_DEVICES=@visible selects devices (not unset, "", void or none). */
bool lc_mellanox_selects(const char *visible);
typedef struct lc_mellanox {
	lc_strvec nodes;        /* "infiniband/uverbsN" (under /dev) of the selected devices */
	lc_strvec link_paths;   /* "/sys/class/infiniband{,_verbs}/NAME" to recreate... */
	lc_strvec link_targets; /* ... as links to "/sys/devices/..." */
} lc_mellanox;
/* The devices @visible ("all" or indices, comma-separated) selects among the mlx4/mlx5 verbs
 * devices of the sysfs at @sys ("/sys"); an unknown id is an error naming it. */
int lc_mellanox_select(const char *sys, const char *visible, lc_mellanox *m, lc_error *err);
void lc_mellanox_clear(lc_mellanox *m);

/* ---- cgroups (cgroups.c): enroot's 10-cgroups */
/* Whether the host's /sys/fs/cgroup is the unified (cgroup2) hierarchy. */
bool lc_cgroup_unified(void);
/* For each line of @proc_self/cgroup, the caller's subtree of that hierarchy (its @parent's:
 * one level up, never above the root) (@sources) and the hierarchy's mount point (@targets),
 * from @proc_self/mountinfo. Hierarchies not mounted are skipped. -ENOMEM. */
int lc_cgroup_subtrees(const char *proc_self, bool parent, lc_strvec *sources, lc_strvec *targets);
/* Every step of a container's filesystem, in order: system mounts, the site's mounts of pass
 * -1, the hooks, the site's other mounts, home, user mounts (enroot's order). */
int lc_mount_plan_build(const lc_plan_input *in, lc_mount_plan *plan, lc_error *err);
void lc_mount_plan_free(lc_mount_plan *plan);

/* ================================================================ containers (container.c,
 * spawn.c) */
/*
 * A container whose holder is not the caller's child (a grandchild, in its own session): it
 * ignores termination and job-control signals and ends when @lifeline_fd, the read end of a
 * pipe, reports hangup, i.e. when every write end is closed. lc_container_free() then only
 * closes the caller's handles.
 */
/* The caller's options as the current version: what an older version lacks takes its default,
 * nothing past the caller's struct is read, and the site's flags are added. -EINVAL for an
 * unknown version or flag. */
int lc_container_opts_read(const lc_container_opts *in, lc_container_opts *o, lc_error *err);
int lc_container_create_detached(lc_ctx *ctx, const lc_container_opts *opts, int lifeline_fd,
				 lc_container **ret_container, lc_error *err);
int lc_container_pidfd(const lc_container *c);
/* CLONE_NEW* of the namespaces a process joins: of a container, and for LC_CONTAINER_* @flags. */
int lc_container_ns_flags(const lc_container *c);
int lc_ns_flags(uint32_t flags);
/* Async-signal-safe: the permitted capabilities (in the process's user namespace) made
 * inheritable and ambient, so that they survive execve for a uid that is not 0 there. -errno. */
int lc_keep_capabilities(void);
/* Move the calling process into a container (it is the container's user already): join the
 * namespaces @ns_flags of the holder @pidfd (keeping the capabilities that gives in its user
 * namespace), chdir to @workdir, no_new_privs and the filter @prog. Errors: "couldn't join the
 * container's namespaces: ...", "couldn't chdir to X: ...". Allocates nothing (a child of a
 * multi-threaded process may call it). */
int lc_container_join(int pidfd, int ns_flags, const char *workdir, const lc_seccomp_prog *prog,
		      lc_error *err);

#define LC_SPAWN_FDS 4
/*
 * lc_container_spawn() with a built @argv and @env (@workdir NULL: the image's). @fds (may be
 * NULL): what the child gets as fds 0..3, -1 for "as inherited"; each must be >= LC_SPAWN_FDS.
 */
int lc_container_spawn_fds(lc_container *c, char *const *argv, char *const *env,
			   const char *workdir, const int fds[LC_SPAWN_FDS], pid_t *ret_pid,
			   lc_error *err);

/* ================================================================ named containers (named.c) */
/* The caller's side. */
/* The name's directory (O_PATH), for the holder. */
int lc_named_dir_fd(const lc_named *n);
const char *lc_named_dir(const lc_named *n);
/* The image's config: that of the running instance (lc_named_state), else read from the image
 * file opened as the user. */
int lc_named_image_config(const lc_named *n, lc_image **ret_image, lc_error *err);
/* Give the running instance (lc_named_state) the read end of a group's lifeline; on success
 * *@ret_pidfd is the instance's pidfd (moved out of @n). */
int lc_named_join(lc_named *n, int lifeline, int *ret_pidfd, lc_error *err);

/* The holder's side, on the name's directory @dir_fd. */
/* In the holder's new mount namespace: @dir_fd again from @path (overlay takes its upper layer
 * only from a mount of the holder's namespace), checked to be the same directory. */
int lc_named_dir_reopen(int dir_fd, const char *path, lc_error *err);
/* "upperdir=...,workdir=..." of the name's persistent layer, for the name's own instance
 * (@instance NULL) or a separate one; the directories are made when missing. */
int lc_named_overlay_layers(int dir_fd, const char *instance, char *buf, size_t size,
			    lc_error *err);
/* The name's own instance serves it: others join through its socket. */
typedef struct lc_named_server {
	int dir_fd; /* borrowed */
	int listen_fd;
	int lock_fd;  /* the holder's own handle on the name's lock */
	int share_fd; /* the image joiners read the config from */
} lc_named_server;
#define LC_NAMED_SERVER_INIT   \
	{                      \
		-1, -1, -1, -1 \
	}
/* As the user, before the namespaces: listen on the name's socket (a stale one of a killed
 * instance is replaced: the caller holds the name's lock), with a copy of @image_fd. */
int lc_named_server_listen(lc_named_server *s, int dir_fd, int image_fd, lc_error *err);
/* Hand each connection the holder's pidfd, @ns_flags and the image, take its group's lifeline;
 * return once @lifeline and every taken one have hung up, under the name's lock (so nobody is
 * deciding to join meanwhile), the socket removed. */
void lc_named_server_run(lc_named_server *s, int lifeline, int ns_flags);

/* ================================================================ kernel squashfs (kmount.c) */
/* 0 when the kernel's squashfs driver may read @image_fd, opened from @path (absolute): root
 * calls, and the file and every directory above it are root's and writable by root only, not on
 * FUSE. Else < 0, the error saying why. */
int lc_image_trust_check(int image_fd, const char *path, lc_error *err);
/* A detached read-only mount of the image over a loop device, idmapped: the image's root is
 * @uid/@gid. */
int lc_kernel_squashfs_mount(int image_fd, uid_t uid, gid_t gid, int *ret_fd, lc_error *err);

/* ================================================================ entrypoint (entrypoint.c) */
typedef struct lc_entrypoint_result {
	bool ran;   /* false: the image has no Entrypoint */
	char **env; /* the environment the Entrypoint handed to the command */
	char *cwd;  /* and its working directory */
	char **log; /* its output (stdout and stderr), also when it failed */
} lc_entrypoint_result;
/*
 * Run the image's Entrypoint once in @c with @env, the way enroot's /etc/rc does, in front of a
 * command that reports what the tasks need. Errors: "container start failed with error code:
 * N", "container exited too soon" (the Entrypoint did not run its arguments).
 */
int lc_entrypoint_run(lc_container *c, char *const *env, lc_entrypoint_result *res, lc_error *err);
void lc_entrypoint_result_free(lc_entrypoint_result *res);

/* ================================================================ helpers (helper.c) */
/* An fd >= 4: @fd itself, or a CLOEXEC copy (@fd is then closed). */
int lc_fd_above_stdio(int fd);
/* A memfd (close-on-exec, >= 4) for a child's output. */
int lc_memfd_new(const char *name, int *ret_fd, lc_error *err);
/* What a child writes on the pipe @fd until it closes (or @timeout_ms passes: -ETIMEDOUT; -1:
 * none), its last @size - 1 bytes on one line in @tail. */
int lc_fd_read_tail(int fd, int timeout_ms, char *tail, size_t size);
/* The text in @fd (from offset 0; the last @max bytes when longer) as lines. */
int lc_fd_read_lines(int fd, size_t max, char ***ret_lines);

#endif
