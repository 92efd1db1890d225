/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctr-enroot: enroot's command line on libcontainer, for scripts and people used to it, also on
 * login nodes without Slurm. The verbs, their options, messages ("[ERROR] File already exists:
 * X") and outputs are enroot's; containers are the library's named containers (a directory with
 * the image and a persistent writable layer, never an unpacked copy), in the Slurm plugin's
 * directory when this node has one, so that `list` shows a job's named containers
 * (pyxis_NAME), `exec` joins them and `create --name pyxis_NAME` makes one that
 * `srun --container-name=NAME` starts.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "enroot.h"

#ifndef LC_RUNTIME_PATH
#define LC_RUNTIME_PATH "/run/libcontainer"
#endif

int enroot_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("[ERROR] ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return ENROOT_FAILED;
}

static const struct {
	const char *verb;
	const char *text;
} usages[] = {
    {"batch", "Usage: %s batch [options] [--] CONFIG [COMMAND] [ARG...]\n\n"
	      "Shorthand version of \"%s start -c CONFIG\" where the root filesystem is\n"
	      "taken from the configuration file using the special directive ENROOT_ROOTFS.\n"},
    {"create", "Usage: %s create [options] [--] IMAGE\n\n"
	       "Create a container root filesystem from a container image.\n\n"
	       " Options:\n"
	       "   -n, --name   Name of the container (defaults to \"IMAGE\")\n"
	       "   -f, --force  Overwrite an existing root filesystem\n"},
    {"digest", "Usage: %s digest [options] [--] URI\n\n"
	       "Print the SHA256 digest of a container image.\n\n"
	       " Schemes:\n"
	       "   docker://[USER@][REGISTRY#]IMAGE[:TAG]  Get digest of a Docker image from a "
	       "registry\n\n"
	       " Options:\n"
	       "   -a, --arch    Architecture of the image (defaults to host architecture)\n"},
    {"exec", "Usage: %s exec [options] [--] PID COMMAND [ARG...]\n\n"
	     "Execute a command inside an existing container.\n\n"
	     " Options:\n"
	     "   -e, --env KEY[=VAL]  Export an environment variable inside the container\n"},
    {"export", "Usage: %s export [options] [--] NAME\n\n"
	       "Create a container image from a container root filesystem.\n\n"
	       " Options:\n"
	       "   -o, --output  Name of the output image file (defaults to \"NAME.sqsh\")\n"
	       "   -f, --force   Overwrite an existing container image\n"},
    {"import", "Usage: %s import [options] [--] URI\n\n"
	       "Import a container image from a specific location.\n\n"
	       " Schemes:\n"
	       "   docker://[USER@][REGISTRY#]IMAGE[:TAG]  Import a Docker image from a registry\n"
	       "   dockerd://IMAGE[:TAG]                   Import a Docker image from the Docker "
	       "daemon\n"
	       "   podman://IMAGE[:TAG]                    Import a Docker image from a local "
	       "podman repository\n\n"
	       " Options:\n"
	       "   -a, --arch    Architecture of the image (defaults to host architecture)\n"
	       "   -o, --output  Name of the output image file (defaults to \"URI.sqsh\")\n"},
    {"list", "Usage: %s list [options]\n\n"
	     "List all the container root filesystems on the system.\n\n"
	     " Options:\n"
	     "   -f, --fancy  Display more information in tabular format\n"},
    {"load", "Usage: %s load [options] [--] URI\n\n"
	     "Load a container root filesystem directly from a container image.\n\n"
	     " Schemes:\n"
	     "   docker://[USER@][REGISTRY#]IMAGE[:TAG]  Load a Docker image from a registry\n\n"
	     " Options:\n"
	     "   -a, --arch    Architecture of the image (defaults to host architecture)\n"
	     "   -n, --name    Name of the container (defaults to \"URI\")\n"
	     "   -f, --force   Overwrite an existing root filesystem\n"},
    {"remove", "Usage: %s remove [options] [--] NAME...\n\n"
	       "Delete one or multiple container root filesystems.\n\n"
	       " Options:\n"
	       "   -f, --force  Do not prompt for confirmation\n"},
    {"start",
     "Usage: %s start [options] [--] NAME|IMAGE [COMMAND] [ARG...]\n\n"
     "Start a container and invoke the command script within its root filesystem.\n"
     "Command and arguments are passed to the script as input parameters.\n\n"
     "In the absence of a command script and if a command was given, it will be executed "
     "directly.\n"
     "Otherwise, an interactive shell will be started within the container.\n\n"
     " Options:\n"
     "   -c, --conf CONFIG    Specify a configuration script to run before the container "
     "starts\n"
     "   -e, --env KEY[=VAL]  Export an environment variable inside the container\n"
     "       --rc SCRIPT      Override the command script inside the container\n"
     "   -r, --root           Ask to be remapped to root inside the container\n"
     "   -w, --rw             Make the container root filesystem writable\n"
     "   -m, --mount FSTAB    Perform a mount from the host inside the container "
     "(colon-separated)\n"
     "       --pid            Run the container in a new PID namespace\n"
     "       --net            Run the container in a new network namespace (loopback only)\n"
     "       --ipc            Run the container in a new IPC namespace and restrict /dev\n"
     "       --uts            Run the container in a new UTS namespace\n"},
    {"version", "Usage: %s version\n\nPrint the release version.\n"},
    {NULL, "Usage: %s COMMAND [ARG...]\n\n"
	   "Command line utility for manipulating container sandboxes.\n\n"
	   " Commands:\n"
	   "   batch  [options] [--] CONFIG [COMMAND] [ARG...]\n"
	   "   create [options] [--] IMAGE\n"
	   "   digest [options] [--] URI\n"
	   "   exec   [options] [--] PID COMMAND [ARG...]\n"
	   "   export [options] [--] NAME\n"
	   "   import [options] [--] URI\n"
	   "   list   [options]\n"
	   "   load   [options] [--] URI\n"
	   "   remove [options] [--] NAME...\n"
	   "   start  [options] [--] NAME|IMAGE [COMMAND] [ARG...]\n"
	   "   version\n"},
};

int enroot_usage(const char *verb, int status)
{
	size_t i = 0;

	while (usages[i].verb && (!verb || strcmp(usages[i].verb, verb)))
		i++;
	fprintf(status ? stderr : stdout, usages[i].text, program_invocation_short_name,
		program_invocation_short_name);
	return status;
}

/* ---------------------------------------------------------------- where containers are */

static int make_dirs(const char *path)
{
	char buf[PATH_MAX];
	int n = snprintf(buf, sizeof(buf), "%s", path);

	if (n <= 0 || (size_t)n >= sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(buf, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

/* The Slurm plugin's directory of this user on this node, when there is one (the user's). */
static char *plugin_dir(void)
{
	const char *runtime = getenv("PYXIS_RUNTIME_PATH");
	struct stat st;
	char *dir = NULL;

	if (asprintf(&dir, "%s/%u", runtime && *runtime == '/' ? runtime : LC_RUNTIME_PATH,
		     (unsigned)getuid()) < 0)
		return NULL;
	if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid())
		return dir;
	free(dir);
	return NULL;
}

/*
 * ENROOT_DATA_PATH from the environment; else the plugin's directory on this node; else
 * ENROOT_DATA_PATH of enroot.conf; else $XDG_DATA_HOME/enroot, ~/.local/share/enroot.
 */
static int find_data_path(enroot_cli *cli)
{
	const char *env = getenv("ENROOT_DATA_PATH"), *conf, *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	int r;

	if (env && *env)
		cli->data_path = strdup(env);
	else if (!(cli->data_path = plugin_dir())) {
		conf = lc_site_setting(cli->site, "ENROOT_DATA_PATH");
		if (conf && *conf)
			cli->data_path = strdup(conf);
		else if (asprintf(&cli->data_path, "%s%s/enroot", xdg && *xdg ? xdg : home,
				  xdg && *xdg ? "" : "/.local/share") < 0)
			cli->data_path = NULL;
	}
	if (!cli->data_path)
		return enroot_fail("out of memory");
	r = make_dirs(cli->data_path);
	if (r < 0)
		return enroot_fail("Could not create directory: %s: %s", cli->data_path,
				   strerror(-r));
	return ENROOT_OK;
}

int enroot_name_dir(const enroot_cli *cli, const char *name, char **ret_dir)
{
	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return enroot_fail("Invalid argument: %s", name);
	if (asprintf(ret_dir, "%s/%s", cli->data_path, name) < 0)
		return enroot_fail("out of memory");
	return ENROOT_OK;
}

int enroot_existing_name_dir(const enroot_cli *cli, const char *name, char **ret_dir)
{
	if (enroot_name_dir(cli, name, ret_dir))
		return ENROOT_FAILED;
	if (!lc_named_exists_at(AT_FDCWD, *ret_dir)) {
		enroot_fail("No such file or directory: %s", *ret_dir);
		free(*ret_dir);
		*ret_dir = NULL;
		return ENROOT_FAILED;
	}
	return ENROOT_OK;
}

/* ---------------------------------------------------------------- option parsing */

int enroot_next_option(int argc, char **argv, const char *shortopts, const struct option *longopts,
		       const char *verb, int *ret_status)
{
	int c = getopt_long(argc, argv, shortopts, longopts, NULL);

	if (c == 'h')
		*ret_status = enroot_usage(verb, 0);
	else if (c == '?' || c == ':')
		*ret_status = enroot_usage(verb, ENROOT_FAILED);
	else
		return c;
	return -2;
}

size_t enroot_env_name_len(const char *s)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_0123456789");

	return n && !(*s >= '0' && *s <= '9') ? n : 0;
}

/* ---------------------------------------------------------------- import */

/* ctr-import beside this program (the build tree, bindir), else from the PATH. */
static void exec_importer(char **args)
{
	char self[PATH_MAX], path[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		snprintf(path, sizeof(path), "%s/ctr-import", dirname(self));
		if (access(path, X_OK) == 0)
			execv(path, args);
	}
	execvp("ctr-import", args);
}

/* Ends ctr-import's arguments @args (@n of them so far): --arch ARCH when given, -- URI. */
static void importer_args_end(char **args, size_t n, const char *arch, const char *uri)
{
	if (arch) {
		args[n++] = "--arch";
		args[n++] = (char *)arch;
	}
	args[n++] = "--";
	args[n++] = (char *)uri;
	args[n] = NULL;
}

static int cmd_import(enroot_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {{"arch", required_argument, NULL, 'a'},
						 {"output", required_argument, NULL, 'o'},
						 HELP_OPTION,
						 END_OPTIONS};
	const char *arch = NULL, *output = NULL, *uri;
	char *args[12];
	size_t n = 0;
	int c, status = 0;

	while ((c = enroot_next_option(argc, argv, "+a:o:h", longopts, "import", &status)) != -1) {
		if (c == -2)
			return status;
		if (c == 'a')
			arch = optarg;
		else
			output = optarg;
	}
	if (argc - optind != 1)
		return enroot_usage("import", ENROOT_FAILED);
	uri = argv[optind];
	if (strncmp(uri, "docker://", 9) && strncmp(uri, "dockerd://", 10) &&
	    strncmp(uri, "podman://", 9))
		return enroot_fail("Invalid argument: %s", uri);
	if (output && !cli->force && access(output, F_OK) == 0)
		return enroot_fail("File already exists: %s", output);
	args[n++] = "ctr-import";
	if (output) {
		args[n++] = "--output";
		args[n++] = (char *)output;
	}
	if (cli->force)
		args[n++] = "--force";
	importer_args_end(args, n, arch, uri);
	fflush(NULL);
	exec_importer(args);
	return enroot_fail("Command not found: ctr-import: %s", strerror(errno));
}

/* ctr-import with @args in a child; its exit status (128 + N when signal N ended it). With @out,
 * its stdout is collected there (at most @size - 1 bytes, NUL-terminated); else it goes to
 * /dev/null. */
static int run_importer(char **args, char *out, size_t size)
{
	int pipefd[2] = {-1, -1};
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	fflush(NULL);
	if (pipe2(pipefd, O_CLOEXEC) < 0 || (pid = fork()) < 0)
		return enroot_fail("cannot run ctr-import: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (dup2(out ? pipefd[1] : null, STDOUT_FILENO) < 0)
			_exit(127);
		exec_importer(args);
		fprintf(stderr, "[ERROR] Command not found: ctr-import: %s\n", strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	while (out && len + 1 < size && (n = read(pipefd[0], out + len, size - 1 - len)) != 0)
		if (n > 0)
			len += (size_t)n;
		else if (errno != EINTR)
			break;
	if (out)
		out[len] = '\0';
	close(pipefd[0]);
	/* a signal for this program is passed on: the import ends, and its caller cleans up */
	return cli_wait_command(pid);
}

/* enroot's -a/--arch option, the one URI, which must be docker://: 0 and the URI in *@ret_uri;
 * else -1 and *@ret_status the status to return. */
static int parse_registry_verb(int argc, char **argv, const char *verb, const char *shortopts,
			       const struct option *longopts, enroot_cli *cli, char **ret_arch,
			       char **ret_name, const char **ret_uri, int *ret_status)
{
	int c;

	*ret_status = 0;
	while ((c = enroot_next_option(argc, argv, shortopts, longopts, verb, ret_status)) != -1) {
		if (c == -2)
			return -1;
		if (c == 'a')
			*ret_arch = optarg;
		else if (c == 'n')
			*ret_name = optarg;
		else if (c == 'f')
			cli->force = true;
	}
	if (argc - optind != 1) {
		*ret_status = enroot_usage(verb, ENROOT_FAILED);
		return -1;
	}
	*ret_uri = argv[optind];
	if (strncmp(*ret_uri, "docker://", 9)) {
		*ret_status = enroot_fail("Invalid argument: %s", *ret_uri);
		return -1;
	}
	return 0;
}

/* enroot digest [-a ARCH] docker://...: the image's manifest digest, as the registry has it. */
static int cmd_digest(enroot_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"arch", required_argument, NULL, 'a'}, HELP_OPTION, END_OPTIONS};
	char *arch = NULL, *name = NULL, out[4096], *line, *args[8];
	const char *uri;
	size_t n = 0;
	int status;

	if (parse_registry_verb(argc, argv, "digest", "+a:h", longopts, cli, &arch, &name, &uri,
				&status) < 0)
		return status;
	args[n++] = "ctr-import";
	args[n++] = "--digest";
	importer_args_end(args, n, arch, uri);
	status = run_importer(args, out, sizeof(out));
	if (status)
		return ENROOT_FAILED; /* ctr-import said why */
	line = strstr(out, "digest=");
	if (line != out && (!line || line[-1] != '\n'))
		return enroot_fail("Could not retrieve digest of %s", uri);
	printf("%.*s\n", (int)strcspn(line + 7, "\n"), line + 7);
	return ENROOT_OK;
}

/* ---------------------------------------------------------------- create, load, remove */

/* "ubuntu+18.04.sqsh" -> "ubuntu+18.04" */
static char *default_name(const char *image)
{
	const char *base = strrchr(image, '/') ? strrchr(image, '/') + 1 : image;
	size_t len = strlen(base);

	if (len > 5 && !strcmp(base + len - 5, ".sqsh"))
		len -= 5;
	return strndup(base, len);
}

/* A name that is there already, with --force: emptied, unless it runs. */
static int replace_existing(lc_named *n, const char *dir, lc_error *err)
{
	int state = lc_named_state(n, err);

	if (state < 0)
		return state;
	if (state == LC_NAMED_RUNNING)
		return lc_error_set(err, EBUSY, "Container is running: %s", dir);
	return lc_named_reset(n, err);
}

/* The name @name opened for a creation (emptied when it is there and -f was given): 0, or
 * "[ERROR] ..." and ENROOT_FAILED. */
static int open_for_creation(enroot_cli *cli, const char *name, char **ret_dir, lc_named **ret)
{
	lc_error err = LC_ERROR_INIT;
	bool existed;
	int r;

	if (enroot_name_dir(cli, name, ret_dir))
		return ENROOT_FAILED;
	existed = access(*ret_dir, F_OK) == 0;
	if (existed && !lc_named_exists_at(AT_FDCWD, *ret_dir))
		return enroot_fail("File already exists: %s (not a container)", *ret_dir);
	if (existed && !cli->force)
		return enroot_fail("File already exists: %s", *ret_dir);
	r = lc_named_open(*ret_dir, (uid_t)-1, (gid_t)-1, ret, &err);
	if (r >= 0 && existed && (r = replace_existing(*ret, *ret_dir, &err)) < 0)
		*ret = lc_named_free(*ret); /* a running one is left as it is */
	return r < 0 ? enroot_fail("%s", lc_error_message(&err)) : ENROOT_OK;
}

/* A creation that failed leaves nothing half-made. */
static int abandon_creation(lc_named *n)
{
	(void)lc_named_remove(n, NULL);
	lc_named_free(n);
	return ENROOT_FAILED;
}

static int cmd_create(enroot_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {{"name", required_argument, NULL, 'n'},
						 {"force", no_argument, NULL, 'f'},
						 HELP_OPTION,
						 END_OPTIONS};
	_cleanup_free_ char *name = NULL, *dir = NULL;
	lc_error err = LC_ERROR_INIT;
	lc_image *img = NULL;
	lc_named *n = NULL;
	const char *image;
	struct stat st;
	int c, status = 0;

	while ((c = enroot_next_option(argc, argv, "+n:fh", longopts, "create", &status)) != -1) {
		if (c == -2)
			return status;
		if (c == 'f')
			cli->force = true;
		else if (!(name = strdup(optarg)))
			return enroot_fail("out of memory");
	}
	if (argc - optind != 1)
		return enroot_usage("create", ENROOT_FAILED);
	image = argv[optind];
	if (stat(image, &st) < 0 || !S_ISREG(st.st_mode))
		return enroot_fail("No such file or directory: %s", image);
	if (lc_squash_image_config(image, &img, &err) < 0)
		return enroot_fail("Invalid image format: %s: %s", image, lc_error_message(&err));
	lc_image_free(img);
	if (!name && !(name = default_name(image)))
		return enroot_fail("out of memory");
	if (open_for_creation(cli, name, &dir, &n))
		return ENROOT_FAILED;
	if (lc_named_copy_image(n, image, NULL, &err) < 0) {
		enroot_fail("%s", lc_error_message(&err));
		return abandon_creation(n);
	}
	lc_named_free(n);
	return ENROOT_OK;
}

/* enroot load [-a ARCH] [-n NAME] [-f] docker://...: the image imported straight into a
 * name's image file (no file in the current directory), named as import names its file. */
static int cmd_load(enroot_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {{"arch", required_argument, NULL, 'a'},
						 {"name", required_argument, NULL, 'n'},
						 {"force", no_argument, NULL, 'f'},
						 HELP_OPTION,
						 END_OPTIONS};
	_cleanup_free_ char *dir = NULL, *file = NULL, *default_file_name = NULL;
	char *arch = NULL, *name = NULL, *args[10];
	lc_error err = LC_ERROR_INIT;
	lc_named *n = NULL;
	const char *uri;
	size_t k = 0;
	int status;

	if (parse_registry_verb(argc, argv, "load", "+a:n:fh", longopts, cli, &arch, &name, &uri,
				&status) < 0)
		return status;
	if (!name && lc_import_default_name(uri, &default_file_name, &err) < 0)
		return enroot_fail("Invalid argument: %s: %s", uri, lc_error_message(&err));
	if (!name && !(name = file = default_name(default_file_name)))
		return enroot_fail("out of memory");
	if (open_for_creation(cli, name, &dir, &n))
		return ENROOT_FAILED;
	args[k++] = "ctr-import"; /* its progress on stderr, as enroot's */
	args[k++] = "--force";
	args[k++] = "--output";
	args[k++] = (char *)lc_named_image_path(n);
	importer_args_end(args, k, arch, uri);
	if (run_importer(args, NULL, 0) != 0)
		return abandon_creation(n); /* ctr-import said why */
	lc_named_free(n);
	return ENROOT_OK;
}

static bool confirm(const char *dir)
{
	char line[16];

	fprintf(stderr, "Do you really want to delete %s? [y/N] ", dir);
	fflush(stderr);
	return fgets(line, sizeof(line), stdin) && (line[0] == 'y' || line[0] == 'Y') &&
	       (line[1] == '\n' || line[1] == '\0');
}

static int remove_one(enroot_cli *cli, const char *name)
{
	_cleanup_free_ char *dir = NULL;
	lc_error err = LC_ERROR_INIT;
	lc_named *n = NULL;
	int r;

	if (enroot_existing_name_dir(cli, name, &dir))
		return ENROOT_FAILED;
	if (!cli->force && !confirm(dir))
		return ENROOT_OK;
	r = lc_named_open(dir, (uid_t)-1, (gid_t)-1, &n, &err);
	if (r >= 0 && (r = lc_named_state(n, &err)) == LC_NAMED_RUNNING)
		r = lc_error_set(&err, EBUSY, "Container is running: %s", dir);
	if (r >= 0)
		r = lc_named_remove(n, &err);
	lc_named_free(n);
	return r < 0 ? enroot_fail("%s", lc_error_message(&err)) : ENROOT_OK;
}

static int cmd_remove(enroot_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"force", no_argument, NULL, 'f'}, HELP_OPTION, END_OPTIONS};
	int c, status = 0;

	while ((c = enroot_next_option(argc, argv, "+fh", longopts, "remove", &status)) != -1) {
		if (c == -2)
			return status;
		cli->force = true;
	}
	if (optind >= argc)
		return enroot_usage("remove", ENROOT_FAILED);
	for (int i = optind; i < argc; i++)
		status |= remove_one(cli, argv[i]);
	return status;
}

/* ---------------------------------------------------------------- export */

/* The container's filesystem (its image with its writes) to @output, through a container of
 * it: its running instance, joined, or a new one (whose name is unlocked before it ends: an
 * ending instance takes the lock). */
static int save_named(enroot_cli *cli, const char *dir, const char *output, lc_error *err)
{
	lc_container_opts co = LC_CONTAINER_OPTS_INIT;
	lc_import_opts io = LC_IMPORT_OPTS_INIT;
	lc_save_opts so = LC_SAVE_OPTS_INIT;
	lc_named *n = NULL;
	lc_group *g = NULL;
	int state = 0, r = lc_named_open(dir, (uid_t)-1, (gid_t)-1, &n, err);

	if (r >= 0 && (state = r = lc_named_state(n, err)) == LC_NAMED_ABSENT)
		r = lc_error_set(err, ENOENT, "%s has no image", dir);
	if (r >= 0)
		r = lc_group_new(&g, err);
	if (r >= 0)
		r = lc_group_lock(g, err);
	co.image_path = n ? lc_named_image_path(n) : NULL;
	co.named = n;
	if (r == 1)
		r = state == LC_NAMED_RUNNING ? lc_group_attach(cli->ctx, g, n, &co, NULL, err)
					      : lc_group_create(cli->ctx, g, &co, NULL, NULL, err);
	lc_named_free(n);
	io.flags = LC_IMPORT_ALL_ROOT | (cli->force ? LC_IMPORT_FORCE : 0);
	io.squash_options = lc_site_setting(cli->site, "ENROOT_SQUASH_OPTIONS");
	so.squash = &io;
	if (r >= 0)
		r = lc_group_save(cli->ctx, g, output, &so, err);
	(void)lc_group_release(g, NULL);
	lc_group_free(g);
	return r;
}

static int cmd_export(enroot_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {{"output", required_argument, NULL, 'o'},
						 {"force", no_argument, NULL, 'f'},
						 HELP_OPTION,
						 END_OPTIONS};
	_cleanup_free_ char *dir = NULL, *output = NULL;
	lc_error err = LC_ERROR_INIT;
	int c, status = 0;

	while ((c = enroot_next_option(argc, argv, "+o:fh", longopts, "export", &status)) != -1) {
		if (c == -2)
			return status;
		if (c == 'f')
			cli->force = true;
		else if (!(output = strdup(optarg)))
			return enroot_fail("out of memory");
	}
	if (argc - optind != 1)
		return enroot_usage("export", ENROOT_FAILED);
	if (enroot_existing_name_dir(cli, argv[optind], &dir))
		return ENROOT_FAILED;
	if (!output && asprintf(&output, "%s.sqsh", argv[optind]) < 0)
		return enroot_fail("out of memory");
	if (!cli->force && access(output, F_OK) == 0)
		return enroot_fail("File already exists: %s", output);
	if (save_named(cli, dir, output, &err) < 0)
		return enroot_fail("%s", lc_error_message(&err));
	return ENROOT_OK;
}

/* ---------------------------------------------------------------- main */

static int load_site(enroot_cli *cli)
{
	lc_error err = LC_ERROR_INIT;
	const char *force;

	if (cli_load_site(cli->ctx, NULL, 0, &cli->site, &err) < 0)
		return enroot_fail("%s", lc_error_message(&err));
	cli_site_import_env(cli->site);
	force = lc_site_setting(cli->site, "ENROOT_FORCE_OVERRIDE");
	cli->force = force != NULL;
	return ENROOT_OK;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *verb;
		int (*run)(enroot_cli *cli, int argc, char **argv);
	} verbs[] = {{"batch", enroot_batch},
		     {"create", cmd_create},
		     {"digest", cmd_digest},
		     {"exec", enroot_exec},
		     {"export", cmd_export},
		     {"import", cmd_import},
		     {"list", enroot_list},
		     {"load", cmd_load},
		     {"remove", cmd_remove},
		     {"start", enroot_start},
		     {NULL, NULL}};
	enroot_cli cli = {0};
	lc_error err = LC_ERROR_INIT;
	int status = ENROOT_FAILED;
	size_t i = 0;

	if (argc < 2)
		return enroot_usage(NULL, ENROOT_FAILED);
	if (!strcmp(argv[1], "version"))
		return printf("%s\n", lc_version()), ENROOT_OK;
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return enroot_usage(NULL, ENROOT_OK);
	while (verbs[i].verb && strcmp(verbs[i].verb, argv[1]))
		i++;
	if (!verbs[i].verb)
		return enroot_usage(NULL, ENROOT_FAILED);
	if (lc_ctx_new(&cli.ctx, &err) < 0)
		return enroot_fail("%s", lc_error_message(&err));
	lc_ctx_set_log(cli.ctx, cli_log, getenv("CTR_ENROOT_DEBUG") ? LC_LOG_DEBUG : LC_LOG_WARNING,
		       NULL);
	if (load_site(&cli) == ENROOT_OK && find_data_path(&cli) == ENROOT_OK)
		status = verbs[i].run(&cli, argc - 1, argv + 1);
	free(cli.data_path);
	lc_site_free(cli.site);
	lc_ctx_free(cli.ctx);
	return status;
}
