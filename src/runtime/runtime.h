/* SPDX-License-Identifier: Apache-2.0 */
/* Private interface of the runtime module. */
#ifndef LC_RUNTIME_H
#define LC_RUNTIME_H

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
} lc_mount_spec;
/* Parse @text, appending to *@specs (n entries); identical entries are kept once. */
int lc_mount_specs_parse(const char *text, lc_mount_spec **specs, size_t *n, lc_error *err);
void lc_mount_specs_free(lc_mount_spec *specs, size_t n);

#endif
