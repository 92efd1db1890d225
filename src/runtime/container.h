/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the files of one container: container.c (its lifecycle: options, preparation,
 * create, free, getters), holder.c (the holder process: its start, namespaces and life),
 * rootfs.c (the holder's root filesystem: image, overlay, mount plan, root switch) and spawn.c
 * (processes started in it).
 */
#ifndef LC_CONTAINER_H
#define LC_CONTAINER_H

#include <limits.h>
#include <sys/types.h>

#include "runtime.h"

/* Where the holder builds the root, on a tmpfs of its own mount namespace. */
#define LC_SCRATCH "/tmp"
/* The longest message the holder or a spawned child reports. */
#define LC_REPORT_MAX 512

struct lc_container {
	lc_ctx *ctx;
	uint32_t flags;
	pid_t pid;
	int pidfd;
	int control_fd; /* the holder ends when this closes (unless detached) */
	bool detached;  /* the holder is not our child and ends with its lifeline */
	lc_user user;
	lc_image *img;
	lc_seccomp_prog *seccomp;
	lc_strvec site_env; /* the site's variables; after its hooks, their environment file */
	/* what runs a program the kernel cannot (a script without "#!", as enroot's /etc/rc):
	 * ENROOT_LOGIN_SHELL, else /bin/sh */
	char login_shell[128];
};

/* The phases of a container's start, each timed (CLOCK_MONOTONIC, µs) at its end; the holder
 * reports its own with its success, the caller logs them all at debug level (container.c). */
enum lc_start_phase {
	LC_PHASE_PREPARE,    /* caller: user, image and its config, devices, plan, seccomp */
	LC_PHASE_FORK,       /* caller: the holder forked and running */
	LC_PHASE_NAMESPACES, /* holder: user, namespaces, id maps */
	LC_PHASE_FUSE,       /* holder: /dev/fuse opened (for root, through a helper) */
	LC_PHASE_SOURCES,    /* holder: device checks, bind sources opened */
	LC_PHASE_ROOTFS,     /* holder: scratch tmpfs, the image (FUSE or kernel), overlay */
	LC_PHASE_MOUNTS,     /* holder: the mount plan, hooks and injection included */
	LC_PHASE_PIVOT,      /* holder: read-only remount, pivot_root */
	LC_PHASE_REPORT,     /* caller: the holder's success received */
	LC_PHASES
};

/* Everything the holder needs, prepared by the caller before fork(). */
typedef struct lc_holder {
	const lc_container *c;
	int image_fd;
	int fuse_fd;
	int kernel_fd; /* the image mounted by the kernel's driver (detached), else -1 */
	int hold_fd;   /* the caller's, kept open for the holder's life; -1: none */
	int sock;     /* SOCK_SEQPACKET to the caller: reports, the /dev/fuse fd, then EOF to end */
	int lifeline; /* detached: a pipe's read end; the holder ends at its hangup. Else -1 */
	bool fuse_from_caller;
	pid_t parent;
	const char *image_name;
	const char *tmpfs_size;
	lc_mount_plan plan;
	int *source_fds; /* per step: a detached tree for BIND steps, else -1 */
	int root_fd;
	/* a named container: its directory (O_PATH) and path, whether its writable layer is
	 * there (else on the tmpfs), the separate instance's id (NULL: the name's own), and
	 * whether this holder serves the name (others join it through its socket) */
	int named_fd;
	const char *named_path;
	bool named_upper;
	const char *named_instance;
	bool serve;
	lc_named_server server;
	const lc_site *site;       /* the site's configuration; NULL: none */
	int hook_env_fd;           /* the environment file after the site's hooks; -1: none ran */
	int hook_mounts_fd;        /* the hooks' fstab file, while they run */
	int host_tmp_fd;           /* the host's /tmp (O_PATH), under the scratch tmpfs */
	lc_fstab_list image_fstab; /* the image's /etc/fstab, read once before the hooks */
	lc_devices devices;        /* the CDI devices' edits and NVIDIA's hooks (done here) */
	bool injected;             /* the injection layer is under the writable one (inject.c) */
	int64_t at[LC_PHASES];     /* when each phase ended (lc_now_us()) */
} lc_holder;
#define LC_HOLDER_INIT                                                                         \
	{                                                                                      \
		.image_fd = -1, .fuse_fd = -1, .kernel_fd = -1, .hold_fd = -1, .sock = -1,     \
		.lifeline = -1, .root_fd = -1, .named_fd = -1, .server = LC_NAMED_SERVER_INIT, \
		.hook_env_fd = -1, .hook_mounts_fd = -1, .host_tmp_fd = -1                     \
	}

/* hooks.c: nvidia-container-cli on the root (LC_STEP_NVIDIA_CLI). */
int lc_hooks_run_nvidia_cli(lc_holder *h, const char *program, lc_error *err);

/* inject.c, in the holder before the overlay: whether the plan has device steps, and their
 * injection layer (mount points, links, the library cache) made at LC_SCRATCH/inject. */
bool lc_inject_wanted(const lc_holder *h);
int lc_inject_build(lc_holder *h, lc_error *err);

/* holder.c: fork the holder (detached when @h has a lifeline) and wait until it reports its
 * container ready, or its error. */
int lc_holder_start(lc_container *c, lc_holder *h, lc_error *err);

/* rootfs.c, in the holder: a private tmpfs at LC_SCRATCH with the image (FUSE or the kernel's
 * mount), the writable layer and the overlay root (h->root_fd). */
int lc_rootfs_mount(lc_holder *h, lc_error *err);
/* Every step of the mount plan, targets resolved inside the root. */
int lc_rootfs_apply_plan(lc_holder *h, lc_error *err);
/* A site's fstab entry on the root at @root_fd, its bind source @source_fd (-1: none);
 * -errno. */
int lc_rootfs_fstab_entry(int root_fd, const lc_fstab_entry *e, int source_fd);
/* The bind source of @e opened (a detached tree) as the caller; *@ret_fd -1 when it needs
 * none (or on error: -errno). A source under /tmp is taken from @host_tmp_fd (the host's /tmp
 * under the holder's scratch tmpfs) when it is not -1. */
int lc_rootfs_fstab_source(int host_tmp_fd, const lc_fstab_entry *e, int *ret_fd);
/* Read-only unless LC_CONTAINER_RW, pivot_root() into it, the host's tree detached. */
int lc_rootfs_enter(lc_holder *h, lc_error *err);

/* hooks.c, in the holder, at the plan's LC_STEP_HOOKS: the standard hooks the runtime does,
 * then the site's and the user's hooks.d scripts with enroot's contract; their mounts are
 * applied and their environment kept (h->hook_env). */
int lc_hooks_run(lc_holder *h, lc_error *err);
/* hooks.c: the image's own /etc/fstab, as enroot reads it before the site's mounts.d (${VAR}
 * from the site's environment): read at @pass -1, which mounts its lines of pass -1; @pass 0
 * mounts the others. Each target inside the root, sources opened as the user. */
int lc_image_fstab_apply(lc_holder *h, int pass, lc_error *err);
/* enroot's 10-shadow (shadow.c), for @target /etc/passwd or /etc/group of the root: the image's
 * file with root, nobody and the user first; for passwd also the user's home directory. */
int lc_shadow_userdb(lc_holder *h, const char *target);

#endif
