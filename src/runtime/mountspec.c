/* SPDX-License-Identifier: Apache-2.0 */
/*
 * User mount specifications in pyxis's --container-mounts syntax (see runtime.h), with pyxis's
 * messages, and stricter: only known flags (a tmpfs's kernel options with checked values), no
 * ".." in targets, no control characters.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "runtime.h"

static const struct {
	const char *name;
	unsigned long flag;  /* set in flags */
	unsigned long clear; /* cleared from flags */
	unsigned long propagation;
	int recursive; /* 1 rbind, 0 bind, -1 unchanged */
} known_flags[] = {
    {"ro", MS_RDONLY, 0, 0, -1},
    {"rw", 0, MS_RDONLY, 0, -1},
    {"nosuid", MS_NOSUID, 0, 0, -1},
    {"nodev", MS_NODEV, 0, 0, -1},
    {"noexec", MS_NOEXEC, 0, 0, -1},
    {"bind", 0, 0, 0, 0},
    {"rbind", 0, 0, 0, 1},
    {"private", 0, 0, MS_PRIVATE, -1},
    {"rprivate", 0, 0, MS_PRIVATE | MS_REC, -1},
    {"slave", 0, 0, MS_SLAVE, -1},
    {"rslave", 0, 0, MS_SLAVE | MS_REC, -1},
    {"shared", 0, 0, MS_SHARED, -1},
    {"rshared", 0, 0, MS_SHARED | MS_REC, -1},
    {"unbindable", 0, 0, MS_UNBINDABLE, -1},
    {"runbindable", 0, 0, MS_UNBINDABLE | MS_REC, -1},
};

static void spec_clear(lc_mount_spec *m)
{
	free(m->source);
	free(m->target);
	free(m->data);
}

void lc_mount_specs_free(lc_mount_spec *specs, size_t n)
{
	for (size_t i = 0; specs && i < n; i++)
		spec_clear(&specs[i]);
	free(specs);
}

/* ---------------------------------------------------------------- tmpfs options */

/* digits, then at most one of @suffixes */
static bool number_with(const char *v, const char *suffixes)
{
	size_t n = strspn(v, "0123456789");

	return n > 0 && n <= 20 && (!v[n] || (strchr(suffixes, v[n]) && !v[n + 1]));
}

static bool valid_size(const char *v)
{
	return number_with(v, "kKmMgGtTpPeE%");
}

static bool valid_count(const char *v)
{
	return number_with(v, "kKmMgG");
}

static bool valid_mode(const char *v)
{
	size_t n = strspn(v, "01234567");

	return n > 0 && n <= 4 && !v[n];
}

static bool valid_id(const char *v)
{
	return number_with(v, "") && strlen(v) <= 10;
}

static bool valid_huge(const char *v)
{
	static const char *const values[] = {"never", "always", "within_size", "advise",
					     "deny",  "force",  NULL};

	for (const char *const *x = values; *x; x++)
		if (!strcmp(v, *x))
			return true;
	return false;
}

/* MODE[=static|=relative] (a node list would need ':', which ends the entry's fields) */
static bool valid_mpol(const char *v)
{
	static const char *const modes[] = {"default",    "prefer", "bind",
					    "interleave", "local",  NULL};
	size_t n = strcspn(v, "=");

	for (const char *const *x = modes; *x; x++)
		if (strlen(*x) == n && !strncmp(v, *x, n))
			return !v[n] || !strcmp(v + n, "=static") || !strcmp(v + n, "=relative");
	return false;
}

static const struct {
	const char *key;
	bool (*valid)(const char *value); /* NULL: a word without a value */
} tmpfs_options[] = {
    {"size", valid_size}, {"nr_blocks", valid_count}, {"nr_inodes", valid_count},
    {"mode", valid_mode}, {"uid", valid_id},          {"gid", valid_id},
    {"huge", valid_huge}, {"mpol", valid_mpol},       {"noswap", NULL},
    {"inode32", NULL},    {"inode64", NULL},          {"quota", NULL},
    {"usrquota", NULL},   {"grpquota", NULL},
};

/* @f a tmpfs option: 1 when known and valid (added to m->data), 0 when not one, -errno. */
static int tmpfs_option(lc_mount_spec *m, const char *f)
{
	const char *eq = strchr(f, '=');
	size_t klen = eq ? (size_t)(eq - f) : strlen(f);
	lc_buf b = LC_BUF_INIT;

	for (size_t i = 0; i < LC_ELEMENTSOF(tmpfs_options); i++) {
		if (strlen(tmpfs_options[i].key) != klen || strncmp(f, tmpfs_options[i].key, klen))
			continue;
		if (!tmpfs_options[i].valid ? eq != NULL : !eq || !tmpfs_options[i].valid(eq + 1))
			return 0;
		if ((m->data && lc_buf_printf(&b, "%s,", m->data) < 0) ||
		    lc_buf_printf(&b, "%s", f) < 0) {
			lc_buf_free(&b);
			return -ENOMEM;
		}
		free(m->data);
		m->data = lc_buf_steal(&b);
		return 1;
	}
	return 0;
}

static int spec_fail(lc_error *err, const char *entry, const char *why)
{
	char shown[200];

	lc_str_sanitize(shown, sizeof(shown), entry);
	return lc_fail(err, EINVAL, "%s: %s", why, shown);
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static bool has_dotdot(const char *path)
{
	for (const char *p = path; (p = strstr(p, "..")); p += 2)
		if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return true;
	return false;
}

static int apply_flags(lc_mount_spec *m, char *flags, const char *entry, lc_error *err)
{
	char *save = NULL;

	for (char *f = strtok_r(flags, "+", &save); f; f = strtok_r(NULL, "+", &save)) {
		size_t i = 0;
		int r = m->kind == LC_MOUNT_TMPFS ? tmpfs_option(m, f) : 0;

		if (r != 0) {
			if (r < 0)
				return lc_fail(err, -r, "out of memory");
			continue;
		}
		while (i < LC_ELEMENTSOF(known_flags) && strcmp(known_flags[i].name, f))
			i++;
		if (i == LC_ELEMENTSOF(known_flags)) {
			char why[96];
			(void)snprintf(why, sizeof(why), "unknown mount flag '%.40s' in", f);
			return spec_fail(err, entry, why);
		}
		m->flags = (m->flags | known_flags[i].flag) & ~known_flags[i].clear;
		if (known_flags[i].propagation)
			m->propagation = known_flags[i].propagation;
		if (known_flags[i].recursive >= 0)
			m->recursive = known_flags[i].recursive;
	}
	return 0;
}

/* One "SRC[:DST[:FLAGS]]" entry (modified in place). */
static int parse_entry(char *entry, const char *shown, lc_mount_spec *m, lc_error *err)
{
	char *src = entry, *dst, *flags = NULL;

	dst = strchr(src, ':');
	if (dst) {
		*dst++ = '\0';
		flags = strchr(dst, ':');
		if (flags)
			*flags++ = '\0';
		if (flags && strchr(flags, ':'))
			return spec_fail(err, shown, "invalid format");
	} else {
		dst = src;
	}
	if (!*src || !*dst || (flags && !*flags))
		return spec_fail(err, shown, "invalid format");
	if (has_control(entry) || has_control(dst) || (flags && has_control(flags)))
		return spec_fail(err, shown, "control character in mount entry");
	memset(m, 0, sizeof(*m));
	m->recursive = true;
	if (!strcmp(src, "tmpfs"))
		m->kind = LC_MOUNT_TMPFS;
	else if (!strcmp(src, "umount"))
		m->kind = LC_MOUNT_UMOUNT;
	else if (src[0] != '/' && src[0] != '.')
		return spec_fail(err, shown,
				 "mount source must be a relative path, an absolute path, "
				 "\"tmpfs\" or \"umount\"");
	if (dst[0] != '/' && dst[0] != '.')
		return spec_fail(err, shown,
				 "mount target must be a relative path or an absolute path");
	if (has_dotdot(dst))
		/* enroot's wording for what leaves the root, which scripts look for */
		return spec_fail(err, shown,
				 "mount target may not contain '..' (Invalid cross-device link)");
	if (flags && apply_flags(m, flags, shown, err) < 0) {
		spec_clear(m);
		return -EINVAL;
	}
	m->source = m->kind == LC_MOUNT_BIND ? strdup(src) : NULL;
	m->target = strdup(dst);
	if ((m->kind == LC_MOUNT_BIND && !m->source) || !m->target) {
		spec_clear(m);
		return lc_fail(err, ENOMEM, "out of memory");
	}
	return 0;
}

static bool same_spec(const lc_mount_spec *a, const lc_mount_spec *b)
{
	return a->kind == b->kind && !strcmp(a->target, b->target) &&
	       (a->source == b->source ||
		(a->source && b->source && !strcmp(a->source, b->source))) &&
	       a->recursive == b->recursive && a->flags == b->flags &&
	       a->propagation == b->propagation &&
	       (a->data == b->data || (a->data && b->data && !strcmp(a->data, b->data)));
}

static int add_spec(lc_mount_spec **specs, size_t *n, size_t *cap, lc_mount_spec *m, lc_error *err)
{
	for (size_t i = 0; i < *n; i++) {
		if (same_spec(&(*specs)[i], m)) {
			spec_clear(m);
			return 0;
		}
	}
	if (lc_array_reserve(specs, cap, *n, sizeof(**specs), 8) < 0) {
		spec_clear(m);
		return lc_fail(err, ENOMEM, "out of memory");
	}
	(*specs)[(*n)++] = *m;
	return 0;
}

int lc_mount_specs_parse(const char *text, lc_mount_spec **specs, size_t *n, lc_error *err)
{
	_cleanup_free_ char *copy = strdup(text ? text : "");
	size_t cap = *n;
	char *save = NULL;

	if (!copy)
		return lc_fail(err, ENOMEM, "out of memory");
	if (!*copy)
		return spec_fail(err, "", "invalid format");
	for (char *e = strtok_r(copy, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
		_cleanup_free_ char *shown = strdup(e);
		lc_mount_spec m;
		int r;

		if (!shown)
			return lc_fail(err, ENOMEM, "out of memory");
		r = parse_entry(e, shown, &m, err);
		if (r >= 0)
			r = add_spec(specs, n, &cap, &m, err);
		if (r < 0)
			return r;
	}
	return 0;
}

LC_API int lc_mounts_check(const char *mounts, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	lc_mount_spec *specs = NULL;
	size_t n = 0;
	int r = lc_mount_specs_parse(mounts ? mounts : "", &specs, &n, err ? err : &local);

	lc_mount_specs_free(specs, n);
	return r;
}
