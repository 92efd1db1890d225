/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fake-chown seccomp filter (see runtime.h). With a single-id user namespace, package
 * managers fail on chown/setuid to ids that are not mapped; answering "success" lets apt-get and
 * dpkg work unprivileged (the same trick as pyxis and enroot, whose filter covers only the native
 * ABI: i386 and x32 binaries could call the real syscalls there; here every ABI is filtered).
 * Kernel interface: Documentation/userspace-api/seccomp_filter.rst.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <seccomp.h>

#include "runtime.h"

#define PROG_MAX (64u << 10)

struct lc_seccomp_prog {
	struct sock_fprog fprog;
};

static const char *const faked[] = {
    "chown",       "lchown",      "fchown",      "fchownat",  "setuid",     "setgid",
    "setreuid",    "setregid",    "setresuid",   "setresgid", "setgroups",  "chown32",
    "lchown32",    "fchown32",    "setuid32",    "setgid32",  "setreuid32", "setregid32",
    "setresuid32", "setresgid32", "setgroups32",
};
static const char *const faked_unless_query[] = {"setfsuid", "setfsgid", "setfsuid32",
						 "setfsgid32"};

static void ctx_releasep(scmp_filter_ctx *c)
{
	if (*c)
		seccomp_release(*c);
}

static int add_arches(scmp_filter_ctx ctx, lc_error *err)
{
	static const uint32_t x86_64_compat[] = {SCMP_ARCH_X86, SCMP_ARCH_X32};
	static const uint32_t aarch64_compat[] = {SCMP_ARCH_ARM};
	uint32_t native = seccomp_arch_native();
	const uint32_t *compat = NULL;
	size_t n = 0;
	int r;

	if (native == SCMP_ARCH_X86_64)
		compat = x86_64_compat, n = LC_ELEMENTSOF(x86_64_compat);
	else if (native == SCMP_ARCH_AARCH64)
		compat = aarch64_compat, n = LC_ELEMENTSOF(aarch64_compat);
	for (size_t i = 0; i < n; i++) {
		r = seccomp_arch_add(ctx, compat[i]);
		if (r < 0 && r != -EEXIST)
			return lc_fail(err, -r, "seccomp: add architecture 0x%x: %s", compat[i],
				       strerror(-r));
	}
	return 0;
}

static int add_rules(scmp_filter_ctx ctx, lc_error *err)
{
	for (size_t i = 0; i < LC_ELEMENTSOF(faked) + LC_ELEMENTSOF(faked_unless_query); i++) {
		bool query = i >= LC_ELEMENTSOF(faked);
		const char *name = query ? faked_unless_query[i - LC_ELEMENTSOF(faked)] : faked[i];
		int nr = seccomp_syscall_resolve_name(name);
		int r;

		if (nr == __NR_SCMP_ERROR)
			continue; /* unknown to this libseccomp: no ABI here has it */
		r = query ? seccomp_rule_add(ctx, SCMP_ACT_ERRNO(0), nr, 1,
					     SCMP_A0_32(SCMP_CMP_NE, 0xffffffffu))
			  : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(0), nr, 0);
		if (r < 0)
			return lc_fail(err, -r, "seccomp: rule for %s: %s", name, strerror(-r));
	}
	return 0;
}

static int build(scmp_filter_ctx *ret, lc_error *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	if (!ctx)
		return lc_fail(err, ENOMEM, "seccomp: cannot create a filter");
	r = add_arches(ctx, err);
	if (r >= 0)
		r = add_rules(ctx, err);
	if (r < 0) {
		seccomp_release(ctx);
		return r;
	}
	*ret = ctx;
	return 0;
}

/* Run an export function into a memfd and read the result back. */
static int export_to_buffer(scmp_filter_ctx ctx, int (*fn)(const scmp_filter_ctx, int), char **ret,
			    size_t *ret_len, lc_error *err)
{
	_cleanup_close_ int fd = memfd_create("lc-seccomp", MFD_CLOEXEC);
	off_t len;
	int r;

	if (fd < 0)
		return lc_fail(err, errno, "seccomp: memfd: %m");
	r = fn(ctx, fd);
	if (r < 0)
		return lc_fail(err, -r, "seccomp: export: %s", strerror(-r));
	len = lseek(fd, 0, SEEK_END);
	if (len < 0 || (size_t)len > PROG_MAX)
		return lc_fail(err, E2BIG, "seccomp: filter too large");
	*ret = malloc((size_t)len + 1);
	if (!*ret)
		return lc_fail(err, ENOMEM, "out of memory");
	if (pread(fd, *ret, (size_t)len, 0) != len) {
		free(*ret);
		return lc_fail(err, EIO, "seccomp: read the exported filter");
	}
	(*ret)[len] = '\0';
	*ret_len = (size_t)len;
	return 0;
}

int lc_seccomp_prog_new(lc_seccomp_prog **ret, lc_error *err)
{
	_cleanup_(ctx_releasep) scmp_filter_ctx ctx = NULL;
	lc_seccomp_prog *p;
	char *bpf = NULL;
	size_t len = 0;
	int r = build(&ctx, err);

	if (r >= 0)
		r = export_to_buffer(ctx, seccomp_export_bpf, &bpf, &len, err);
	if (r < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p) {
		free(bpf);
		return lc_fail(err, ENOMEM, "out of memory");
	}
	p->fprog.filter = (struct sock_filter *)bpf;
	p->fprog.len = (unsigned short)(len / sizeof(struct sock_filter));
	*ret = p;
	return 0;
}

lc_seccomp_prog *lc_seccomp_prog_free(lc_seccomp_prog *p)
{
	if (p)
		free(p->fprog.filter);
	free(p);
	return NULL;
}

int lc_seccomp_prog_describe(char **ret_text, lc_error *err)
{
	_cleanup_(ctx_releasep) scmp_filter_ctx ctx = NULL;
	size_t len;
	int r = build(&ctx, err);

	return r < 0 ? r : export_to_buffer(ctx, seccomp_export_pfc, ret_text, &len, err);
}

int lc_seccomp_install(const lc_seccomp_prog *p)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* SPEC_ALLOW: no speculative-store-bypass mitigation forced on (pyxis does the same) */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW,
		    &p->fprog) == 0)
		return 0;
	if (errno != EINVAL)
		return -errno;
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p->fprog) == 0 ? 0 : -errno;
}
