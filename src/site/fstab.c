/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mounts.d/ *.fstab lines (and an image's /etc/fstab), as enroot-mount reads them: fstab's
 * fields with octal escapes, ${VAR} substituted first, enroot's completion of short forms, its
 * option table (flags, propagation, x-create, x-move, x-detach, nofail, silent) and the rest as
 * the filesystem's data. Where the line is mounted, and how, is the runtime's.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "site.h"

#define FIELDS 6

enum opt_kind { OPT_FLAG, OPT_CLEAR, OPT_PROPAGATION, OPT_IGNORED, OPT_SPECIAL };
static const struct {
	const char *name;
	enum opt_kind kind;
	unsigned long flag;
} options[] = {
    {"ro", OPT_FLAG, MS_RDONLY},
    {"rw", OPT_CLEAR, MS_RDONLY},
    {"nosuid", OPT_FLAG, MS_NOSUID},
    {"suid", OPT_CLEAR, MS_NOSUID},
    {"nodev", OPT_FLAG, MS_NODEV},
    {"dev", OPT_CLEAR, MS_NODEV},
    {"noexec", OPT_FLAG, MS_NOEXEC},
    {"exec", OPT_CLEAR, MS_NOEXEC},
    {"bind", OPT_FLAG, MS_BIND},
    {"rbind", OPT_FLAG, MS_BIND | MS_REC},
    {"noatime", OPT_FLAG, MS_NOATIME},
    {"atime", OPT_CLEAR, MS_NOATIME},
    {"nodiratime", OPT_FLAG, MS_NODIRATIME},
    {"diratime", OPT_CLEAR, MS_NODIRATIME},
    {"relatime", OPT_FLAG, MS_RELATIME},
    {"norelatime", OPT_CLEAR, MS_RELATIME},
    {"strictatime", OPT_FLAG, MS_STRICTATIME},
    {"nostrictatime", OPT_CLEAR, MS_STRICTATIME},
    {"sync", OPT_FLAG, MS_SYNCHRONOUS},
    {"async", OPT_CLEAR, MS_SYNCHRONOUS},
    {"dirsync", OPT_FLAG, MS_DIRSYNC},
    {"mand", OPT_FLAG, MS_MANDLOCK},
    {"nomand", OPT_CLEAR, MS_MANDLOCK},
    {"remount", OPT_FLAG, MS_REMOUNT},
    {"private", OPT_PROPAGATION, MS_PRIVATE},
    {"rprivate", OPT_PROPAGATION, MS_PRIVATE | MS_REC},
    {"slave", OPT_PROPAGATION, MS_SLAVE},
    {"rslave", OPT_PROPAGATION, MS_SLAVE | MS_REC},
    {"shared", OPT_PROPAGATION, MS_SHARED},
    {"rshared", OPT_PROPAGATION, MS_SHARED | MS_REC},
    {"unbindable", OPT_PROPAGATION, MS_UNBINDABLE},
    {"runbindable", OPT_PROPAGATION, MS_UNBINDABLE | MS_REC},
    {"defaults", OPT_IGNORED, 0},
    {"auto", OPT_IGNORED, 0},
    {"noauto", OPT_IGNORED, 0},
    {"user", OPT_IGNORED, 0},
    {"nouser", OPT_IGNORED, 0},
    {"users", OPT_IGNORED, 0},
    {"nousers", OPT_IGNORED, 0},
    {"owner", OPT_IGNORED, 0},
    {"noowner", OPT_IGNORED, 0},
    {"group", OPT_IGNORED, 0},
    {"nogroup", OPT_IGNORED, 0},
};

/* The fstab escapes (\040 for a space, \011, \012, \134...): any \ and three octal digits. */
static void decode(char *s)
{
	char *out = s;

	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*out++ = (char)(((p[1] - '0') << 6) | ((p[2] - '0') << 3) | (p[3] - '0'));
			p += 3;
		} else {
			*out++ = *p;
		}
	}
	*out = '\0';
}

/* Whether enroot takes @s, in the place of a target or a type, for options. */
static bool is_option(const char *s)
{
	if (strchr(s, ','))
		return true;
	if (!strcmp(s, "nofail") || !strcmp(s, "silent") || !strcmp(s, "loud") ||
	    lc_str_has_prefix(s, "x-"))
		return true;
	for (size_t i = 0; i < LC_ELEMENTSOF(options); i++)
		if (!strcmp(s, options[i].name))
			return true;
	return false;
}

static int special_option(lc_fstab_entry *e, const char *opt)
{
	if (!strcmp(opt, "x-create=dir"))
		e->create = LC_FSTAB_CREATE_DIR;
	else if (!strcmp(opt, "x-create=file"))
		e->create = LC_FSTAB_CREATE_FILE;
	else if (!strcmp(opt, "x-create=auto"))
		e->create = LC_FSTAB_CREATE_AUTO;
	else if (!strcmp(opt, "x-move"))
		e->move = true;
	else if (!strcmp(opt, "x-detach"))
		e->detach = true;
	else if (!strcmp(opt, "nofail"))
		e->nofail = true;
	else if (!strcmp(opt, "silent"))
		e->silent = true;
	else if (!strcmp(opt, "loud"))
		e->silent = false;
	else
		return 0;
	return 1;
}

/* One option; 0, or -EINVAL for an x- option enroot does not know. */
static int add_option(lc_fstab_entry *e, const char *opt, lc_buf *data)
{
	for (size_t i = 0; i < LC_ELEMENTSOF(options); i++) {
		if (strcmp(opt, options[i].name))
			continue;
		if (options[i].kind == OPT_FLAG)
			e->flags |= options[i].flag;
		else if (options[i].kind == OPT_CLEAR)
			e->flags &= ~options[i].flag;
		else if (options[i].kind == OPT_PROPAGATION)
			e->propagation = options[i].flag;
		return 0;
	}
	if (special_option(e, opt))
		return 0;
	if (lc_str_has_prefix(opt, "x-"))
		return -EINVAL;
	if ((data->len && lc_buf_append(data, ",", 1) < 0) ||
	    lc_buf_append(data, opt, strlen(opt)) < 0)
		return -ENOMEM;
	return 0;
}

static int parse_options(lc_fstab_entry *e, const char *opts, lc_error *err)
{
	_cleanup_free_ char *copy = strdup(opts);
	lc_buf data = LC_BUF_INIT;
	char *save = NULL;
	int r = copy && lc_buf_append(&data, "", 0) >= 0 ? 0 : -ENOMEM;

	for (char *o = copy ? strtok_r(copy, ",", &save) : NULL; r >= 0 && o;
	     o = strtok_r(NULL, ",", &save))
		if ((r = add_option(e, o, &data)) == -EINVAL)
			lc_fail(err, EINVAL, "unknown option '%s'", o);
	if (r == -ENOMEM)
		lc_fail(err, ENOMEM, "out of memory");
	if (r < 0) {
		lc_buf_free(&data);
		return r;
	}
	e->data = lc_buf_steal(&data); /* MS_REC comes with rbind only: propagation is apart */
	return 0;
}

/* enroot-mount's completion of the short forms, on the fields (NULL: missing). */
static void complete(char **f)
{
	if (f[1] && !f[2] && !f[3] && is_option(f[1])) { /* "/src bind" */
		f[3] = f[1];
		f[2] = "none";
		f[1] = "";
	}
	if (f[2] && !f[3] && is_option(f[2])) { /* "/src /dst bind" */
		f[3] = f[2];
		f[2] = "none";
		if (f[1] && !strcmp(f[1], "none"))
			f[1] = "";
	}
	if (!strcmp(f[0], "tmpfs")) {
		if (!f[2] || !strcmp(f[2], "none"))
			f[2] = "tmpfs";
		return;
	}
	if (!f[1] || !*f[1])
		f[1] = f[0];
	if (!f[2] || !strcmp(f[2], "none")) {
		f[2] = "none";
		if (!f[3] || !*f[3])
			f[3] = "rbind,x-create=auto";
	}
}

/* fs_freq and fs_passno; fs_freq serves as the pass when fs_passno is 0. */
static int parse_pass(char **f, int *ret, lc_error *err)
{
	long n[2] = {0, 0};

	for (int i = 0; i < 2; i++) {
		char *end = NULL;

		if (!f[4 + i])
			continue;
		n[i] = strtol(f[4 + i], &end, 10);
		if (end == f[4 + i] || *end || n[i] < INT_MIN || n[i] > INT_MAX)
			return lc_fail(err, EINVAL, "bad number '%s'", f[4 + i]);
	}
	*ret = (int)(n[1] ? n[1] : n[0]);
	return 0;
}

static int fill_entry(lc_fstab_entry *e, char **f, lc_error *err)
{
	int r = parse_pass(f, &e->pass, err);

	if (r < 0)
		return r;
	e->source = strdup(f[0]);
	e->target = strdup(f[1]);
	e->type = strdup(f[2]);
	if (!e->source || !e->target || !e->type)
		return lc_fail(err, ENOMEM, "out of memory");
	return parse_options(e, f[3] ? f[3] : "", err);
}

int lc_fstab_parse_line(const char *line, const char *name, unsigned lineno, const lc_site_vars *v,
			lc_fstab_entry *e, lc_error *err)
{
	_cleanup_free_ char *text = NULL;
	char *f[FIELDS + 1] = {0}, *save = NULL, *p;
	int n = 0, r;

	*e = (lc_fstab_entry){0};
	if (lc_site_subst(v, line, &text) < 0)
		return lc_fail(err, ENOMEM, "out of memory");
	for (p = text; isspace((unsigned char)*p); p++)
		;
	if (!*p || *p == '#')
		return 0;
	for (char *t = strtok_r(p, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == FIELDS)
			return lc_fail(err, EINVAL, "%s, line %u: too many fields", name, lineno);
		decode(t);
		f[n++] = t;
	}
	complete(f);
	if (!f[0] || !*f[0] || !f[1] || !*f[1] || !f[2] || !*f[2])
		return lc_fail(err, EINVAL, "%s, line %u: invalid fstab entry", name, lineno);
	r = fill_entry(e, f, err);
	if (r < 0) {
		lc_fstab_entry_clear(e);
		return lc_error_prefix(err, r, "%s, line %u", name, lineno);
	}
	return 1;
}

void lc_fstab_entry_clear(lc_fstab_entry *e)
{
	free(e->source);
	free(e->target);
	free(e->type);
	free(e->data);
	*e = (lc_fstab_entry){0};
}

int lc_fstab_parse(const char *text, const char *name, const lc_site_vars *v, lc_fstab_list *list,
		   lc_error *err)
{
	_cleanup_free_ char *copy = strdup(text);
	char *next;
	unsigned lineno = 0;
	int r = copy ? 0 : lc_fail(err, ENOMEM, "out of memory");

	for (char *line = copy; r >= 0 && line; line = next) {
		lc_fstab_entry e;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		r = lc_fstab_parse_line(line, name, ++lineno, v, &e, err);
		if (r > 0 &&
		    lc_array_reserve(&list->v, &list->cap, list->n + 1, sizeof(e), 8) < 0) {
			lc_fstab_entry_clear(&e);
			r = lc_fail(err, ENOMEM, "out of memory");
		}
		if (r > 0)
			list->v[list->n++] = e;
	}
	return r < 0 ? r : 0;
}

void lc_fstab_list_clear(lc_fstab_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		lc_fstab_entry_clear(&list->v[i]);
	free(list->v);
	*list = (lc_fstab_list){0};
}
