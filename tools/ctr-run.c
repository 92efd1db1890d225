/* SPDX-License-Identifier: Apache-2.0 */
/* ctr-run: run a command in a container started straight from a squashfs image (enroot start). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libcontainer/libcontainer.h>

#include "cli.h"

enum { EXIT_USAGE = 2, EXIT_RUNTIME = 125 };

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ctr-run [OPTIONS] IMAGE.sqsh|IMAGE-REF [CMD [ARGS...]]\n"
	    "Run a command in a container started from a squashfs image (no unpacking).\n\n"
	    "  --rw                   writable root filesystem (changes are gone at exit)\n"
	    "  --remap-root           be uid/gid 0 inside (fake chown/setuid via seccomp)\n"
	    "  -m, --mount SPEC       SRC:DST[:FLAGS], tmpfs:DST or umount:DST; FLAGS joined by "
	    "'+':\n"
	    "                         ro, rw, bind, rbind, nosuid, nodev, noexec, "
	    "[r]private/slave/shared\n"
	    "  -e, --env K=V|K        set K (K alone: the caller's value), over the image's Env\n"
	    "  -w, --workdir DIR      working directory inside (default: the image's)\n"
	    "  --entrypoint           run the image's entrypoint first (the default)\n"
	    "  --no-entrypoint        run the command alone\n"
	    "  --unshare LIST         also unshare net, ipc, uts (comma-separated)\n"
	    "  --mount-home           bind the user's home directory\n"
	    "  --tmpfs-size SIZE      size of the writable layer (default 50%% of memory)\n"
	    "  --sysconf DIR          enroot's site configuration (default $ENROOT_SYSCONF_PATH,\n"
	    "                         else /etc/enroot): enroot.conf, environ.d, mounts.d, "
	    "hooks.d\n"
	    "  --no-site              no site or user (~/.config/enroot) configuration files\n"
	    "                         (the caller's ENROOT_* and NVIDIA_* variables count)\n"
	    "  --device NAME          a device by its CDI name (vendor.com/class=name), "
	    "repeatable:\n"
	    "                         its spec's environment, device nodes and mounts\n"
	    "  --cdi-spec-dir DIR     where CDI specs are (repeatable; default /etc/cdi and\n"
	    "                         /var/run/cdi)\n"
	    "  --cdi-hooks warn|refuse  a spec's hook not done here: a warning (default) or an\n"
	    "                         error\n"
	    "  --nvidia-backend auto|cdi|cli|PATH  what serves NVIDIA_VISIBLE_DEVICES: the CDI\n"
	    "                         spec, else nvidia-container-cli (auto, the default)\n"
	    "  --no-kernel-squashfs   serve the image over FUSE even when root runs a read-only\n"
	    "                         container from a root-owned image in root-owned directories\n"
	    "  --allow-http, --cache DIR   for IMAGE-REF: as for ctr-import; the image is kept "
	    "in\n"
	    "                         DIR/images (default $XDG_CACHE_HOME/libcontainer)\n"
	    "  -v, --verbose          debug log on stderr\n"
	    "  -h, --help             this help\n\n"
	    "Exit status: the command's; 125 when the container cannot start, 126/127 when the\n"
	    "command cannot be executed or found.\n");
}

typedef struct run_opts {
	lc_container_opts co;
	lc_process_opts po;
	const char *env[256];
	size_t n_env;
	const char *devices[64];
	size_t n_devices;
	char *cdi_dirs;
	char *mounts;
	const char *cache;
	const char *sysconf;
	bool no_site;
	bool allow_http;
	bool verbose;
} run_opts;

/* @dir after the others in the ':'-separated *@dirs. */
static int append_dir(char **dirs, const char *dir)
{
	char *d = NULL;

	if (asprintf(&d, "%s%s%s", *dirs ? *dirs : "", *dirs ? ":" : "", dir) < 0)
		return -ENOMEM;
	free(*dirs);
	*dirs = d;
	return 0;
}

static int add_mount(run_opts *o, const char *spec)
{
	size_t old = o->mounts ? strlen(o->mounts) : 0;
	char *m = realloc(o->mounts, old + strlen(spec) + 2);

	if (!m)
		return -ENOMEM;
	if (old)
		m[old++] = ',';
	strcpy(m + old, spec);
	o->mounts = m;
	return 0;
}

static int parse_unshare(run_opts *o, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	int r = copy ? 0 : -ENOMEM;

	for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && !r;
	     t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "net"))
			o->co.flags |= LC_CONTAINER_UNSHARE_NET;
		else if (!strcmp(t, "ipc"))
			o->co.flags |= LC_CONTAINER_UNSHARE_IPC;
		else if (!strcmp(t, "uts"))
			o->co.flags |= LC_CONTAINER_UNSHARE_UTS;
		else
			r = -EINVAL;
	}
	free(copy);
	return r;
}

static int parse_args(int argc, char **argv, run_opts *o)
{
	static const struct option longopts[] = {{"rw", no_argument, NULL, 'W'},
						 {"remap-root", no_argument, NULL, 'R'},
						 {"mount", required_argument, NULL, 'm'},
						 {"env", required_argument, NULL, 'e'},
						 {"workdir", required_argument, NULL, 'w'},
						 {"entrypoint", no_argument, NULL, 'E'},
						 {"no-entrypoint", no_argument, NULL, 'N'},
						 {"unshare", required_argument, NULL, 'U'},
						 {"mount-home", no_argument, NULL, 'H'},
						 {"tmpfs-size", required_argument, NULL, 'T'},
						 {"no-kernel-squashfs", no_argument, NULL, 'K'},
						 {"allow-http", no_argument, NULL, 'A'},
						 {"cache", required_argument, NULL, 'c'},
						 {"sysconf", required_argument, NULL, 'S'},
						 {"no-site", no_argument, NULL, 'P'},
						 {"device", required_argument, NULL, 'D'},
						 {"cdi-spec-dir", required_argument, NULL, 'C'},
						 {"cdi-hooks", required_argument, NULL, 'X'},
						 {"nvidia-backend", required_argument, NULL, 'B'},
						 {"verbose", no_argument, NULL, 'v'},
						 {"help", no_argument, NULL, 'h'},
						 {NULL, 0, NULL, 0}};
	int c;

	o->po.flags = LC_PROCESS_ENTRYPOINT;
	o->co.flags |= LC_CONTAINER_KERNEL_SQUASHFS;
	while ((c = getopt_long(argc, argv, "+m:e:w:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'W':
			o->co.flags |= LC_CONTAINER_RW;
			break;
		case 'R':
			o->co.flags |= LC_CONTAINER_REMAP_ROOT;
			break;
		case 'm':
			if (add_mount(o, optarg) < 0)
				return -ENOMEM;
			break;
		case 'e':
			if (o->n_env + 1 >= sizeof(o->env) / sizeof(*o->env))
				return fprintf(stderr, "ctr-run: too many --env\n"), -EINVAL;
			o->env[o->n_env++] = optarg;
			break;
		case 'w':
			o->po.workdir = optarg;
			break;
		case 'E':
			o->po.flags |= LC_PROCESS_ENTRYPOINT;
			break;
		case 'N':
			o->po.flags &= ~(uint32_t)LC_PROCESS_ENTRYPOINT;
			break;
		case 'U':
			if (parse_unshare(o, optarg) < 0)
				return fprintf(stderr, "ctr-run: bad --unshare '%s'\n", optarg),
				       -EINVAL;
			break;
		case 'H':
			o->co.flags |= LC_CONTAINER_MOUNT_HOME;
			break;
		case 'T':
			o->co.tmpfs_size = optarg;
			break;
		case 'K':
			o->co.flags &= ~(uint32_t)LC_CONTAINER_KERNEL_SQUASHFS;
			break;
		case 'A':
			o->allow_http = true;
			break;
		case 'S':
			o->sysconf = optarg;
			break;
		case 'P':
			o->no_site = true;
			break;
		case 'D':
			if (o->n_devices + 1 >= sizeof(o->devices) / sizeof(*o->devices))
				return fprintf(stderr, "ctr-run: too many --device\n"), -EINVAL;
			o->devices[o->n_devices++] = optarg;
			break;
		case 'C':
			if (append_dir(&o->cdi_dirs, optarg) < 0)
				return -ENOMEM;
			break;
		case 'X':
			if (strcmp(optarg, "warn") && strcmp(optarg, "refuse"))
				return fprintf(stderr, "ctr-run: bad --cdi-hooks '%s'\n", optarg),
				       -EINVAL;
			if (!strcmp(optarg, "refuse"))
				o->co.flags |= LC_CONTAINER_REFUSE_CDI_HOOKS;
			break;
		case 'B':
			o->co.nvidia_backend = optarg;
			break;
		case 'c':
			o->cache = optarg;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

static char *default_cache(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char *p = NULL;

	if (xdg && *xdg)
		return asprintf(&p, "%s/libcontainer", xdg) < 0 ? NULL : p;
	return asprintf(&p, "%s/.cache/libcontainer", home && *home ? home : "/tmp") < 0 ? NULL : p;
}

/* An image reference becomes CACHE/images/sha256-HEX.sqsh, imported once per manifest digest. */
static int image_from_ref(lc_ctx *ctx, const run_opts *o, const char *ref, char **ret_path)
{
	lc_pull_opts po = LC_PULL_OPTS_INIT;
	lc_import_opts io = LC_IMPORT_OPTS_INIT;
	lc_error err = LC_ERROR_INIT;
	char *cache = o->cache ? strdup(o->cache) : default_cache();
	char *dir = NULL, *path = NULL;
	lc_pull *pull = NULL;
	struct stat st;
	int r;

	po.flags = LC_PULL_USE_ENV | (o->allow_http ? LC_PULL_ALLOW_HTTP : 0);
	po.cache_dir = cache;
	io.squash_options = getenv("ENROOT_SQUASH_OPTIONS");
	if (!cache || asprintf(&dir, "%s/images", cache) < 0) {
		free(cache);
		return -ENOMEM;
	}
	r = lc_pull_new(ctx, ref, &po, &pull, &err);
	if (r >= 0 && asprintf(&path, "%s/%s.sqsh", dir,
			       lc_image_digest(lc_pull_image(pull)) + strlen("sha256:")) < 0)
		r = -ENOMEM;
	if (r >= 0 && stat(path, &st) < 0) {
		(void)mkdir(cache, 0700);
		(void)mkdir(dir, 0700);
		r = lc_pull_start(pull, &err);
		if (r >= 0)
			r = lc_import(pull, path, &io, NULL, &err);
	}
	lc_pull_free(pull);
	free(cache);
	free(dir);
	if (r < 0) {
		fprintf(stderr, "ctr-run: %s\n", lc_error_message(&err));
		free(path);
		return r;
	}
	*ret_path = path;
	return 0;
}

static bool looks_like_file(const char *arg)
{
	struct stat st;

	return arg[0] == '/' || arg[0] == '.' || stat(arg, &st) == 0;
}

int main(int argc, char **argv)
{
	run_opts o = {.co = LC_CONTAINER_OPTS_INIT, .po = LC_PROCESS_OPTS_INIT};
	lc_error err = LC_ERROR_INIT;
	char *image = NULL;
	lc_container *c = NULL;
	lc_site *site = NULL;
	lc_ctx *ctx = NULL;
	char **env = NULL;
	pid_t pid;
	int r, status = EXIT_RUNTIME;

	if (parse_args(argc, argv, &o) < 0)
		return EXIT_USAGE;
	r = lc_ctx_new(&ctx, &err);
	if (r < 0)
		return fprintf(stderr, "ctr-run: %s\n", lc_error_message(&err)), EXIT_RUNTIME;
	lc_ctx_set_log(ctx, cli_log, o.verbose ? LC_LOG_DEBUG : LC_LOG_WARNING, "ctr-run");
	/* enroot's site configuration and the user's, with this process's environment */
	/* --no-site: no files, the environment still (NVIDIA_*, ENROOT_* as enroot's caller's) */
	r = cli_load_site(ctx, o.sysconf,
			  o.no_site ? LC_SITE_NO_SITE_CONFIG | LC_SITE_NO_USER_CONFIG : 0, &site,
			  &err);
	if (r < 0) {
		fprintf(stderr, "ctr-run: %s\n", lc_error_message(&err));
		goto out;
	}
	cli_site_import_env(site);
	if (looks_like_file(argv[optind]))
		image = strdup(argv[optind]);
	else if (image_from_ref(ctx, &o, argv[optind], &image) < 0)
		goto out;
	o.co.image_path = image;
	o.co.mounts = o.mounts;
	o.env[o.n_env] = NULL;
	o.po.argv = (const char *const *)argv + optind + 1;
	o.co.site = site;
	o.devices[o.n_devices] = NULL;
	o.co.devices = o.n_devices ? o.devices : NULL;
	o.co.cdi_spec_dirs = o.cdi_dirs;
	r = lc_container_create(ctx, &o.co, &c, &err);
	if (r >= 0)
		r = lc_container_env(c, o.env, &env, &err);
	if (r < 0) {
		fprintf(stderr, "ctr-run: %s\n", lc_error_message(&err));
		goto out;
	}
	o.po.env = (const char *const *)env;
	r = lc_container_spawn(c, &o.po, &pid, &err);
	if (r < 0) {
		fprintf(stderr, "ctr-run: %s\n", lc_error_message(&err));
		status = r == -ENOENT ? 127 : 126;
		goto out;
	}
	status = cli_wait_command(pid);
out:
	lc_strv_free(env);
	lc_container_free(c);
	lc_site_free(site);
	lc_ctx_free(ctx);
	free(o.mounts);
	free(o.cdi_dirs);
	free(image);
	return status;
}
