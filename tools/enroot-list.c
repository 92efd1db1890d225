/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctr-enroot list [-f]: the container names, sorted; with -f enroot's table (NAME PID COMM STATE
 * STARTED TIME MNTNS USERNS COMMAND, aligned as `column -t` aligns it) where a running
 * container's row shows its first process: the oldest of the user's processes in its mount
 * namespace other than the holder (the command a start ran, a job's first task), else the
 * holder. `exec PID` joins it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "enroot.h"

#define COLUMNS 9

typedef struct names {
	char **v;
	size_t n;
} names;

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_names(const char *dir, names *out)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return enroot_fail("Could not change directory: %s", dir);
	while ((de = readdir(d))) {
		char **v;

		if (de->d_name[0] == '.' || !lc_named_exists_at(dirfd(d), de->d_name))
			continue;
		v = realloc(out->v, (out->n + 1) * sizeof(*v));
		if (!v || !(v[out->n] = strdup(de->d_name))) {
			out->v = v ? v : out->v;
			closedir(d);
			return enroot_fail("out of memory");
		}
		out->v = v;
		out->n++;
	}
	closedir(d);
	qsort(out->v, out->n, sizeof(*out->v), by_name);
	return ENROOT_OK;
}

/* ---------------------------------------------------------------- a process, as ps shows it */

typedef struct proc_stat {
	char state;
	long pgrp, session, tty, tpgid, nice, threads;
	unsigned long long start_ticks;
} proc_stat;

static int read_text(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, size - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return (int)n;
}

static bool read_stat(pid_t pid, proc_stat *s)
{
	char path[64], buf[1024], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_text(path, buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return false;
	/* after "pid (comm)": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	 * cmajflt utime stime cutime cstime priority nice num_threads itrealvalue starttime */
	return sscanf(p + 2,
		      "%c %*d %ld %ld %ld %ld %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %ld %ld %*d "
		      "%llu",
		      &s->state, &s->pgrp, &s->session, &s->tty, &s->tpgid, &s->nice, &s->threads,
		      &s->start_ticks) == 8;
}

static unsigned long long ns_inode(pid_t pid, const char *ns)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
	return stat(path, &st) == 0 ? (unsigned long long)st.st_ino : 0;
}

/* /proc/stat's btime, read once. The file has a line per CPU and the interrupt counters before
 * it: tens of KiB on a large node, so it is read by lines. */
static unsigned long long boot_time(void)
{
	static unsigned long long btime;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	FILE *f;

	if (btime || !(f = fopen("/proc/stat", "re")))
		return btime;
	while (getline(&line, &cap, f) > 0)
		if (!strncmp(line, "btime ", 6)) {
			btime = strtoull(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return btime;
}

/* ps's STAT: the state, then < N s l + */
static void stat_text(pid_t pid, const proc_stat *s, char *buf, size_t size)
{
	snprintf(buf, size, "%c%s%s%s%s%s", s->state, s->nice < 0 ? "<" : "",
		 s->nice > 0 ? "N" : "", s->session == pid ? "s" : "", s->threads > 1 ? "l" : "",
		 s->tty && s->tpgid == s->pgrp ? "+" : "");
}

/* ps's STIME: HH:MM today (within 24 h), else MonDD, else the year */
static void stime_text(time_t started, time_t now, char *buf, size_t size)
{
	struct tm tm;

	localtime_r(&started, &tm);
	strftime(buf, size,
		 now - started < 24 * 3600     ? "%H:%M"
		 : now - started < 365 * 86400 ? "%b%d"
					       : "%Y",
		 &tm);
}

/* ps's ELAPSED: [[DD-]hh:]mm:ss */
static void etime_text(long secs, char *buf, size_t size)
{
	long d = secs / 86400, h = secs / 3600 % 24, m = secs / 60 % 60, s = secs % 60;

	if (d)
		snprintf(buf, size, "%ld-%02ld:%02ld:%02ld", d, h, m, s);
	else if (h)
		snprintf(buf, size, "%02ld:%02ld:%02ld", h, m, s);
	else
		snprintf(buf, size, "%02ld:%02ld", m, s);
}

/* The command line, arguments joined by spaces ("[comm]" when it has none). */
static void command_text(pid_t pid, const char *comm, char *buf, size_t size)
{
	char path[64], name[64];
	int n;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	n = read_text(path, buf, size);
	if (n <= 0) {
		snprintf(name, sizeof(name), "%s", comm);
		snprintf(buf, size, "[%s]", name);
		return;
	}
	for (int i = 0; i < n - 1; i++)
		if (!buf[i])
			buf[i] = ' ';
}

/* The row of the process @pid: PID COMM STATE STARTED TIME MNTNS USERNS COMMAND. */
static bool process_row(pid_t pid, char cells[COLUMNS][512])
{
	char path[64];
	proc_stat s;
	long hz = sysconf(_SC_CLK_TCK);
	time_t now = time(NULL), started;

	if (!read_stat(pid, &s))
		return false;
	started = (time_t)(boot_time() + s.start_ticks / (unsigned long long)(hz > 0 ? hz : 100));
	snprintf(cells[1], 512, "%d", (int)pid);
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (read_text(path, cells[2], 512) > 0)
		cells[2][strcspn(cells[2], "\n")] = '\0';
	stat_text(pid, &s, cells[3], 512);
	stime_text(started, now, cells[4], 512);
	etime_text(now > started ? (long)(now - started) : 0, cells[5], 512);
	snprintf(cells[6], 512, "%llu", ns_inode(pid, "mnt"));
	snprintf(cells[7], 512, "%llu", ns_inode(pid, "user"));
	command_text(pid, cells[2], cells[8], 512);
	return true;
}

/* The container's first process: the oldest of the user's in the holder's mount namespace,
 * other than the holder; the holder when there is none. */
static pid_t first_process(pid_t holder)
{
	unsigned long long mnt = ns_inode(holder, "mnt"), best_start = ~0ull;
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t best = holder;

	while (d && mnt && (de = readdir(d))) {
		pid_t pid = (pid_t)strtol(de->d_name, NULL, 10);
		char path[64];
		struct stat st;
		proc_stat s;

		snprintf(path, sizeof(path), "/proc/%d", (int)pid);
		if (pid <= 0 || pid == holder || stat(path, &st) < 0 || st.st_uid != getuid() ||
		    ns_inode(pid, "mnt") != mnt || !read_stat(pid, &s) ||
		    s.start_ticks >= best_start)
			continue;
		best = pid;
		best_start = s.start_ticks;
	}
	if (d)
		closedir(d);
	return best;
}

/* ---------------------------------------------------------------- the table */

typedef struct table {
	char (*rows)[COLUMNS][512];
	size_t n;
} table;

static char (*add_row(table *t))[512]
{
	char(*rows)[COLUMNS][512] = realloc(t->rows, (t->n + 1) * sizeof(*rows));

	if (!rows)
		return NULL;
	t->rows = rows;
	memset(rows[t->n], 0, sizeof(*rows));
	return rows[t->n++];
}

/* As `column -t`: each column as wide as its widest cell, two spaces between; a row's empty
 * trailing cells are left out. */
static void print_table(const table *t)
{
	size_t width[COLUMNS] = {0};

	for (size_t r = 0; r < t->n; r++)
		for (size_t c = 0; c < COLUMNS; c++)
			if (strlen(t->rows[r][c]) > width[c])
				width[c] = strlen(t->rows[r][c]);
	for (size_t r = 0; r < t->n; r++) {
		size_t last = COLUMNS;

		while (last > 1 && !*t->rows[r][last - 1])
			last--;
		for (size_t c = 0; c < last; c++)
			printf(c + 1 < last ? "%-*s  " : "%.*s\n",
			       c + 1 < last ? (int)width[c] : 512, t->rows[r][c]);
	}
}

static int list_fancy(const enroot_cli *cli, const names *ns)
{
	static const char *const header[COLUMNS] = {"NAME", "PID",   "COMM",   "STATE",  "STARTED",
						    "TIME", "MNTNS", "USERNS", "COMMAND"};
	table t = {0};
	char(*row)[512] = add_row(&t);

	for (size_t c = 0; row && c < COLUMNS; c++)
		snprintf(row[c], 512, "%s", header[c]);
	for (size_t i = 0; row && i < ns->n; i++) {
		char *dir = NULL;
		pid_t holder = 0;

		if (asprintf(&dir, "%s/%s", cli->data_path, ns->v[i]) >= 0)
			holder = lc_named_peek(dir, NULL);
		free(dir);
		row = add_row(&t);
		if (!row)
			break;
		snprintf(row[0], 512, "%s", ns->v[i]);
		if (holder > 0 && !process_row(first_process(holder), row))
			(void)process_row(holder, row);
	}
	if (row)
		print_table(&t);
	free(t.rows);
	return row ? ENROOT_OK : enroot_fail("out of memory");
}

int enroot_list(enroot_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"fancy", no_argument, NULL, 'f'}, HELP_OPTION, END_OPTIONS};
	names ns = {0};
	bool fancy = false;
	int c, status = 0;

	while ((c = enroot_next_option(argc, argv, "+fh", longopts, "list", &status)) != -1) {
		if (c == -2)
			return status;
		fancy = true;
	}
	if (optind != argc)
		return enroot_usage("list", ENROOT_FAILED);
	status = read_names(cli->data_path, &ns);
	if (!status && fancy)
		status = list_fancy(cli, &ns);
	for (size_t i = 0; !status && !fancy && i < ns.n; i++)
		printf("%s\n", ns.v[i]);
	for (size_t i = 0; i < ns.n; i++)
		free(ns.v[i]);
	free(ns.v);
	return status;
}
