/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctr-enroot start and exec. An image file starts as ctr-run starts it; a name starts as the
 * Slurm plugin starts --container-name: its running instance is joined (the mounts and options
 * it started with stay), else it is started as the name's instance, which others (a job's srun,
 * exec) can join while this command runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "enroot.h"

#define MAX_ENV 256
#define TEXT_MAX (1 << 20) /* of a --rc script, of a process's environment */

typedef struct start_opts {
	const char *env[MAX_ENV];
	size_t n_env;
	char *fstab;          /* the --mount lines, as a mounts.d file */
	const char *flags[8]; /* the options' settings ("ENROOT_REMAP_ROOT=y") */
	size_t n_flags;
	char *rc; /* the --rc script's text */
	const char *rc_path;
	const char *conf_path; /* --conf */
	bool pid_ns;           /* --pid */
	enroot_conf conf;
} start_opts;

/* enroot's check of -e: a name, then '=' or nothing. */
static int add_env(const char **env, size_t *n, const char *e)
{
	size_t len = enroot_env_name_len(e);

	if (!len || (e[len] && e[len] != '='))
		return enroot_fail("Invalid argument: %s", e);
	if (*n + 1 >= MAX_ENV)
		return enroot_fail("Too many --env");
	env[(*n)++] = e;
	return ENROOT_OK;
}

/* "SRC:DST[:TYPE[:OPTIONS...]]" -> an fstab line; a relative source is the current
 * directory's (enroot's "--mount .:mnt"). */
static int add_mount(start_opts *o, const char *spec)
{
	char cwd[PATH_MAX], *line = NULL, *p;
	size_t old = o->fstab ? strlen(o->fstab) : 0;
	bool relative = *spec != '/' && strncmp(spec, "tmpfs:", 6) && strcmp(spec, "tmpfs");

	if (relative && !getcwd(cwd, sizeof(cwd)))
		return enroot_fail("Could not read the current directory: %s", strerror(errno));
	if (asprintf(&line, "%s%s%s\n", relative ? cwd : "", relative ? "/" : "", spec) < 0)
		return enroot_fail("out of memory");
	for (p = line; *p; p++)
		if (*p == ':')
			*p = ' ';
	p = realloc(o->fstab, old + strlen(line) + 1);
	if (!p) {
		free(line);
		return enroot_fail("out of memory");
	}
	strcpy(p + old, line);
	o->fstab = p;
	free(line);
	return ENROOT_OK;
}

static int read_rc(start_opts *o, const char *path)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return enroot_fail("No such file or directory: %s", path);
	o->rc = malloc(TEXT_MAX + 1);
	n = o->rc ? fread(o->rc, 1, TEXT_MAX + 1, f) : 0;
	fclose(f);
	if (!o->rc || n > TEXT_MAX)
		return enroot_fail("%s: %s", path, o->rc ? "too large" : "out of memory");
	o->rc[n] = '\0';
	o->rc_path = path;
	return ENROOT_OK;
}

static int set_override(start_opts *o, const char *kv)
{
	o->flags[o->n_flags++] = kv;
	return ENROOT_OK;
}

/* 0 and optind at NAME|IMAGE; else -1 and *@ret_status the status to return. */
static int parse_start(int argc, char **argv, start_opts *o, int *ret_status)
{
	static const struct option longopts[] = {{"conf", required_argument, NULL, 'c'},
						 {"env", required_argument, NULL, 'e'},
						 {"rc", required_argument, NULL, 'R'},
						 {"root", no_argument, NULL, 'r'},
						 {"rw", no_argument, NULL, 'w'},
						 {"mount", required_argument, NULL, 'm'},
						 {"pid", no_argument, NULL, 'P'},
						 {"net", no_argument, NULL, 'N'},
						 {"ipc", no_argument, NULL, 'I'},
						 {"uts", no_argument, NULL, 'U'},
						 HELP_OPTION,
						 END_OPTIONS};
	int c, r = 0;

	while (!r && (c = enroot_next_option(argc, argv, "+c:e:rwm:h", longopts, "start",
					     ret_status)) != -1) {
		switch (c) {
		case -2:
			return -1;
		case 'c':
			o->conf_path = optarg;
			break;
		case 'e':
			r = add_env(o->env, &o->n_env, optarg);
			break;
		case 'R':
			r = read_rc(o, optarg);
			break;
		case 'r':
			r = set_override(o, "ENROOT_REMAP_ROOT=y");
			break;
		case 'w':
			r = set_override(o, "ENROOT_ROOTFS_WRITABLE=y");
			break;
		case 'm':
			r = add_mount(o, optarg);
			break;
		case 'P':
			o->pid_ns = true;
			break;
		case 'N':
			r = set_override(o, "ENROOT_UNSHARE_NET=y");
			break;
		case 'I':
			r = set_override(o, "ENROOT_UNSHARE_IPC=y");
			break;
		case 'U':
			r = set_override(o, "ENROOT_UNSHARE_UTS=y");
			break;
		}
	}
	if (!r && optind >= argc)
		r = enroot_usage("start", ENROOT_FAILED);
	*ret_status = r;
	return r ? -1 : 0;
}

/* --conf: its settings before the options', its variables before -e's, its mounts before
 * -m's, its rc() unless --rc. */
static int apply_conf(start_opts *o, char *const *args)
{
	enroot_conf *c = &o->conf;
	char *fstab = NULL;

	if (enroot_conf_load(o->conf_path, args, c))
		return ENROOT_FAILED;
	for (size_t i = 0; i < c->n_env; i++)
		if (add_env(o->env, &o->n_env, c->env[i]))
			return ENROOT_FAILED;
	if (c->fstab && asprintf(&fstab, "%s\n%s", c->fstab, o->fstab ? o->fstab : "") < 0)
		return enroot_fail("out of memory");
	if (fstab) {
		free(o->fstab);
		o->fstab = fstab;
	}
	if (!o->rc && c->rc) {
		if (!(o->rc = strdup(c->rc)))
			return enroot_fail("out of memory");
		o->rc_path = "rc";
	}
	return ENROOT_OK;
}

/* The site configuration again, with the options' settings, mounts and hooks. */
static int reload_site(enroot_cli *cli, start_opts *o)
{
	extern char **environ;
	lc_site_opts so = LC_SITE_OPTS_INIT;
	lc_error err = LC_ERROR_INIT;
	const char *overrides[MAX_ENV + 8 + 1];
	const char *hooks[] = {o->conf.hook, NULL};
	lc_site *site = NULL;
	size_t n = 0;

	for (size_t i = 0; i < o->conf.n_overrides && n < MAX_ENV; i++)
		overrides[n++] = o->conf.overrides[i];
	for (size_t i = 0; i < o->n_flags; i++)
		overrides[n++] = o->flags[i];
	overrides[n] = NULL;
	so.env = (const char *const *)environ;
	so.overrides = overrides;
	so.mounts = o->fstab;
	so.hooks = o->conf.hook ? hooks : NULL;
	if (lc_site_load(cli->ctx, &so, &site, &err) < 0)
		return enroot_fail("%s", lc_error_message(&err));
	lc_site_free(cli->site);
	cli->site = site;
	return ENROOT_OK;
}

/* The command: --rc's script run by /bin/sh with the arguments; else the arguments, after the
 * image's entrypoint; else the image's Cmd after it; else a shell. *@ret_argv is malloc'd (its
 * strings borrowed). */
static int command_of(const start_opts *o, const lc_image *img, char **args, bool entrypoint,
		      char ***ret_argv)
{
	const char *const *ep = entrypoint && img ? lc_image_entrypoint(img) : NULL;
	const char *const *cmd = img ? lc_image_cmd(img) : NULL;
	size_t n = 0, n_args = 0, n_ep = 0, n_cmd = 0;
	char **v;

	while (args[n_args])
		n_args++;
	while (ep && ep[n_ep])
		n_ep++;
	while (!n_args && cmd && cmd[n_cmd])
		n_cmd++;
	v = calloc(n_ep + n_args + n_cmd + 5, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (o->rc) {
		v[n++] = "/bin/sh";
		v[n++] = "-c";
		v[n++] = o->rc;
		v[n++] = (char *)o->rc_path;
		n_ep = n_cmd = 0;
	}
	for (size_t i = 0; i < n_ep; i++)
		v[n++] = (char *)ep[i];
	for (size_t i = 0; i < n_args; i++)
		v[n++] = args[i];
	for (size_t i = 0; i < n_cmd; i++)
		v[n++] = (char *)cmd[i];
	if (!n)
		v[n++] = "/bin/sh";
	*ret_argv = v;
	return 0;
}

static lc_container_opts container_opts(const enroot_cli *cli, const char *image)
{
	lc_container_opts co = LC_CONTAINER_OPTS_INIT;

	co.image_path = image;
	co.site = cli->site;
	co.flags = LC_CONTAINER_KERNEL_SQUASHFS;
	return co;
}

/* --pid: the command is PID 1 of a new PID namespace, with its own /proc; this process passes
 * signals on to it and ends with it. */
static void new_pid_namespace(void)
{
	pid_t pid;

	if (unshare(CLONE_NEWPID | CLONE_NEWNS) < 0) {
		enroot_fail("cannot make a PID namespace: %s", strerror(errno));
		_exit(ENROOT_FAILED);
	}
	pid = fork();
	if (pid < 0) {
		enroot_fail("fork: %s", strerror(errno));
		_exit(ENROOT_FAILED);
	}
	if (pid > 0)
		_exit(cli_wait_command(pid));
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* its processes in /proc: a new proc mount, in a mount namespace of its own */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		fprintf(stderr, "[WARN] /proc shows the node's processes: %s\n", strerror(errno));
}

/* In the child: enter the group's container and run the command. */
static _Noreturn void run_in_group(lc_group *g, char **argv, bool pid_ns)
{
	extern char **environ;
	lc_error err = LC_ERROR_INIT;
	char **env = NULL;

	if (lc_group_lock(g, &err) < 0 || lc_group_enter(g, NULL, &err) < 0 ||
	    lc_group_env(g, &env, &err) < 0) {
		enroot_fail("%s", lc_error_message(&err));
		_exit(ENROOT_FAILED);
	}
	if (pid_ns)
		new_pid_namespace();
	environ = env;
	execvp(argv[0], argv);
	enroot_fail("%s: %s", argv[0], errno == ENOENT ? "command not found" : strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* The group's container: the name's running instance, joined, or a new one (the name's
 * instance, or one of the image file). */
static int make_group(enroot_cli *cli, const start_opts *o, const char *image, lc_named *n,
		      lc_group *g, lc_error *err)
{
	lc_container_opts co = container_opts(cli, image);
	lc_group_opts go = LC_GROUP_OPTS_INIT;
	int state = n ? lc_named_state(n, err) : LC_NAMED_STOPPED, r;

	if (state < 0)
		return state;
	if (state == LC_NAMED_ABSENT)
		return lc_error_set(err, ENOENT, "%s has no image", image);
	go.env_overrides = o->env;
	co.named = n;
	r = lc_group_lock(g, err);
	if (r == 1)
		r = state == LC_NAMED_RUNNING ? lc_group_attach(cli->ctx, g, n, &co, &go, err)
					      : lc_group_create(cli->ctx, g, &co, &go, NULL, err);
	return r;
}

/* Start the image file @file or the name @name (its directory) and run the command. */
static int start_container(enroot_cli *cli, start_opts *o, const char *file, const char *dir,
			   char **args)
{
	lc_error err = LC_ERROR_INIT;
	lc_named *n = NULL;
	lc_group *g = NULL;
	lc_image *img = NULL;
	const char *image = file;
	char **argv = NULL;
	int status = ENROOT_FAILED, r = 0;
	pid_t pid = -1;

	o->env[o->n_env] = NULL;
	if (dir && (r = lc_named_open(dir, (uid_t)-1, (gid_t)-1, &n, &err)) >= 0)
		image = lc_named_image_path(n);
	if (r >= 0)
		r = lc_group_new(&g, &err);
	if (r >= 0)
		r = make_group(cli, o, image, n, g, &err);
	/* an image a running instance serves without a file (a step's own name) has no config */
	if (r >= 0 && access(image, F_OK) == 0)
		r = lc_squash_image_config(image, &img, &err);
	if (r >= 0 && command_of(o, img, args, true, &argv) < 0)
		r = lc_error_set(&err, ENOMEM, "out of memory");
	n = lc_named_free(n); /* others may join now */
	if (r >= 0 && (pid = fork()) < 0)
		r = lc_error_set(&err, errno, "fork: %s", strerror(errno));
	if (pid == 0)
		run_in_group(g, argv, o->pid_ns);
	if (r < 0)
		enroot_fail("%s", lc_error_message(&err));
	else
		status = cli_wait_command(pid);
	(void)lc_group_release(g, NULL); /* waits for those who joined */
	lc_group_free(g);
	lc_image_free(img);
	free(argv);
	return status;
}

/* enroot: an existing file is an image, anything else a name. */
static int start_target(enroot_cli *cli, start_opts *o, const char *target, char **args)
{
	_cleanup_free_ char *dir = NULL;
	struct stat st;
	int r = o->conf_path ? apply_conf(o, args) : 0;

	if (!r)
		r = reload_site(cli, o);
	if (!r && stat(target, &st) == 0 && S_ISREG(st.st_mode))
		r = start_container(cli, o, target, NULL, args);
	else if (!r)
		r = enroot_existing_name_dir(cli, target, &dir)
			? ENROOT_FAILED
			: start_container(cli, o, NULL, dir, args);
	return r;
}

static void start_opts_clear(start_opts *o)
{
	free(o->fstab);
	free(o->rc);
	enroot_conf_clear(&o->conf);
}

int enroot_start(enroot_cli *cli, int argc, char **argv)
{
	start_opts o = {0};
	int r = 0;

	if (parse_start(argc, argv, &o, &r) == 0)
		r = start_target(cli, &o, argv[optind], argv + optind + 1);
	start_opts_clear(&o);
	return r;
}

/* enroot's batch: the container is the configuration's ENROOT_ROOTFS directive (or the
 * environment's), so that a configuration with "#!/usr/bin/enroot batch" runs as a program. */
int enroot_batch(enroot_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {HELP_OPTION, END_OPTIONS};
	_cleanup_free_ char *rootfs = NULL;
	start_opts o = {0};
	int c, r = 0;

	while ((c = enroot_next_option(argc, argv, "+h", longopts, "batch", &r)) != -1)
		if (c == -2)
			return r;
	if (optind >= argc)
		return enroot_usage("batch", ENROOT_FAILED);
	o.conf_path = argv[optind];
	if (access(o.conf_path, R_OK) == 0) /* enroot: a missing file has no directive */
		rootfs = enroot_conf_directive(o.conf_path, "ENROOT_ROOTFS");
	if (!rootfs && getenv("ENROOT_ROOTFS") && !(rootfs = strdup(getenv("ENROOT_ROOTFS"))))
		return enroot_fail("out of memory");
	if (!rootfs || !*rootfs)
		return enroot_fail("Missing directive ENROOT_ROOTFS in %s", o.conf_path);
	r = start_target(cli, &o, rootfs, argv + optind + 1);
	start_opts_clear(&o);
	return r;
}

/* ---------------------------------------------------------------- exec */

/* -e sets the variable of @entry ("NAME=VALUE"). */
static bool set_by_option(const char *entry, const char *const *extra, size_t n_extra)
{
	size_t len = strcspn(entry, "=");

	for (size_t i = 0; i < n_extra; i++)
		if (strcspn(extra[i], "=") == len && !strncmp(extra[i], entry, len))
			return true;
	return false;
}

/* The process's environment (enroot exec's), then -e's, which replace its values.
 * NULL-terminated, malloc'd. */
static char **exec_env(pid_t pid, const char *const *extra, size_t n_extra)
{
	char path[64], *buf = malloc(TEXT_MAX + 1), **v = NULL;
	size_t len = 0, n = 0, count = n_extra + 1;
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	while (buf && fd >= 0 && len < TEXT_MAX && (got = read(fd, buf + len, TEXT_MAX - len)) > 0)
		len += (size_t)got;
	if (fd >= 0)
		close(fd);
	if (!buf)
		return NULL;
	buf[len] = '\0';
	for (size_t i = 0; i < len; i++)
		count += buf[i] == '\0';
	v = calloc(count + 1, sizeof(*v));
	for (size_t i = 0; v && i < len; i += strlen(buf + i) + 1)
		if (strchr(buf + i, '=') && !set_by_option(buf + i, extra, n_extra))
			v[n++] = buf + i; /* buf stays: the process execs */
	for (size_t i = 0; v && i < n_extra; i++) {
		const char *value = getenv(extra[i]);

		if (strchr(extra[i], '='))
			v[n++] = (char *)extra[i];
		else if (asprintf(&v[n], "%s=%s", extra[i], value ? value : "") >= 0)
			n++;
	}
	return v;
}

int enroot_exec(enroot_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"env", required_argument, NULL, 'e'}, HELP_OPTION, END_OPTIONS};
	extern char **environ;
	const char *env[MAX_ENV];
	lc_error err = LC_ERROR_INIT;
	size_t n_env = 0;
	char path[64], *end = NULL, **child_env;
	long pid;
	int c, cwd_fd, status = 0;

	(void)cli;
	while ((c = enroot_next_option(argc, argv, "+e:h", longopts, "exec", &status)) != -1) {
		if (c == -2)
			return status;
		if (add_env(env, &n_env, optarg))
			return ENROOT_FAILED;
	}
	if (argc - optind < 2)
		return enroot_usage("exec", ENROOT_FAILED);
	errno = 0;
	pid = strtol(argv[optind], &end, 10);
	if (errno || *end || pid <= 0 || pid > INT_MAX || kill((pid_t)pid, 0) < 0)
		return enroot_fail("Process not found: %s", argv[optind]);
	/* its working directory, taken before joining: fchdir() to it once inside */
	snprintf(path, sizeof(path), "/proc/%ld/cwd", pid);
	cwd_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	child_env = exec_env((pid_t)pid, env, n_env);
	if (!child_env)
		return enroot_fail("out of memory");
	if (lc_container_enter_pid((pid_t)pid, "/", &err) < 0)
		return enroot_fail("%s", lc_error_message(&err));
	if (cwd_fd >= 0)
		(void)!fchdir(cwd_fd);
	environ = child_env;
	execvp(argv[optind + 1], argv + optind + 1);
	enroot_fail("%s: %s", argv[optind + 1],
		    errno == ENOENT ? "command not found" : strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
