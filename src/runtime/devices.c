/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Devices by their CDI names (lc_container_opts.devices): the specs read (src/cdi), the names
 * resolved into edits, and everything they name checked on the host before anything is
 * mounted. The plan binds the nodes and mounts (plan.c); the environment joins the site's.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"

#define CDI_DEFAULT_DIRS "/etc/cdi:/var/run/cdi"
#define NVIDIA_DRIVER_PROC "/proc/driver/nvidia"
#define PROBE_TIMEOUT_MS 10000

int lc_devices_mount_flags(const lc_cdi_mount *m, unsigned long *flags, bool *recursive)
{
	*flags = 0;
	*recursive = false;
	if (m->type && strcmp(m->type, "bind") && strcmp(m->type, "none"))
		return -EOPNOTSUPP;
	for (size_t i = 0; i < m->options.n; i++) {
		const char *o = m->options.v[i];

		*flags |= !strcmp(o, "ro")       ? MS_RDONLY
			  : !strcmp(o, "nosuid") ? MS_NOSUID
			  : !strcmp(o, "nodev")  ? MS_NODEV
			  : !strcmp(o, "noexec") ? MS_NOEXEC
						 : 0;
		*recursive = *recursive || !strcmp(o, "rbind");
	}
	return 0;
}

/* The action of an NVIDIA hook ("nvidia-cdi-hook ACTION" or "nvidia-ctk hook ACTION"), or
 * NULL; *@args: the index of its first argument after the action. */
static const char *nvidia_action(const lc_cdi_hook *h, size_t *args)
{
	const char *base = strrchr(h->path, '/') ? strrchr(h->path, '/') + 1 : h->path;

	if (!strcmp(base, "nvidia-cdi-hook") && h->args.n >= 2) {
		*args = 2;
		return h->args.v[1];
	}
	if (!strcmp(base, "nvidia-ctk") && h->args.n >= 3 && !strcmp(h->args.v[1], "hook")) {
		*args = 3;
		return h->args.v[2];
	}
	return NULL;
}

/* The value of the option @name ("--name V" or "--name=V") at @args[*i], or NULL. */
static const char *hook_option(const lc_cdi_hook *h, size_t *i, const char *name)
{
	const char *a = h->args.v[*i];
	size_t n = strlen(name);

	if (!strcmp(a, name) && *i + 1 < h->args.n)
		return h->args.v[++*i];
	if (!strncmp(a, name, n) && a[n] == '=')
		return a + n + 1;
	return NULL;
}

/* create-symlinks, done here: each --link TARGET::LINK becomes a link made inside the root. */
static int create_symlinks(const lc_cdi_hook *h, size_t first, lc_devices *d, lc_error *err)
{
	for (size_t i = first; i < h->args.n; i++) {
		const char *v = hook_option(h, &i, "--link"), *sep;
		_cleanup_free_ char *target = NULL;
		char shown[200];

		if (!v)
			continue;
		sep = strstr(v, "::");
		if (!sep || sep == v || sep[2] != '/') {
			lc_str_sanitize(shown, sizeof(shown), v);
			return lc_fail(err, EINVAL, "CDI hook create-symlinks: bad --link '%s'",
				       shown);
		}
		if (!(target = strndup(v, (size_t)(sep - v))) ||
		    lc_strvec_push(&d->link_targets, target) < 0 ||
		    lc_strvec_push(&d->link_paths, sep + 2) < 0)
			return lc_fail(err, ENOMEM, "out of memory");
	}
	return 0;
}

/* update-ldcache: the library cache rebuilt with the host's ldconfig (inject.c), the hook's
 * folders searched first; once, however many specs ask. */
static int update_ldcache(const lc_cdi_hook *h, size_t first, lc_devices *d, lc_error *err)
{
	const char *ldconfig = "/sbin/ldconfig";
	int r = 0;

	for (size_t i = first; !r && i < h->args.n; i++) {
		const char *v = hook_option(h, &i, "--ldconfig-path"), *f;

		if (v) {
			ldconfig = v;
			continue;
		}
		f = hook_option(h, &i, "--folder");
		if (f && f[0] == '/' && lc_strvec_push(&d->ld_folders, f) < 0)
			r = lc_fail(err, ENOMEM, "out of memory");
	}
	if (!r && !d->ldconfig && (r = lc_host_ldconfig(ldconfig, &d->ldconfig, err)) < 0)
		r = lc_error_prefix(err, r, "CDI hook update-ldcache");
	return r;
}

/* enable-cuda-compat: the host driver's version, against the image's CUDA compat libraries. */
static int cuda_compat(const lc_cdi_hook *h, size_t first, lc_devices *d, lc_error *err)
{
	for (size_t i = first; i < h->args.n; i++) {
		const char *v = hook_option(h, &i, "--host-driver-version");

		if (v && *v && !d->host_driver && !(d->host_driver = strdup(v)))
			return lc_fail(err, ENOMEM, "out of memory");
	}
	return 0;
}

/* disable-device-node-modification: the driver's parameters as the container reads them say
 * ModifyDeviceFiles: 0, so that CUDA in the container never tries to make device nodes. */
static int device_node_modification(lc_devices *d, lc_error *err)
{
	_cleanup_free_ char *text = NULL;
	char *at;

	if (d->nvidia_params ||
	    lc_file_read_all(NVIDIA_DRIVER_PROC "/params", 1u << 20, &text, NULL, NULL) < 0)
		return 0; /* no driver: nothing to hide */
	at = strstr(text, "ModifyDeviceFiles: 1\n");
	if (!at || (at != text && at[-1] != '\n'))
		return 0;
	at[strlen("ModifyDeviceFiles: ")] = '0';
	d->nvidia_params = text;
	text = NULL;
	return d->nvidia_params ? 0 : lc_fail(err, ENOMEM, "out of memory");
}

/* The hooks: what NVIDIA's nvidia-cdi-hook does is done here; no hook is ever run (a warning). */
static int native_hooks(lc_ctx *ctx, lc_devices *d, bool refuse, lc_error *err)
{
	const lc_cdi_edits *e = &d->edits;

	for (size_t i = 0; i < e->n_hooks; i++) {
		const lc_cdi_hook *h = &e->hooks[i];
		size_t first = 0;
		const char *action = nvidia_action(h, &first);
		int r = 0;

		if (action && !strcmp(action, "create-symlinks"))
			r = create_symlinks(h, first, d, err);
		else if (action && !strcmp(action, "update-ldcache"))
			r = update_ldcache(h, first, d, err);
		else if (action && !strcmp(action, "enable-cuda-compat"))
			r = cuda_compat(h, first, d, err);
		else if (action && !strcmp(action, "disable-device-node-modification"))
			r = device_node_modification(d, err);
		else if (refuse)
			r = lc_fail(err, EPERM,
				    "CDI hook %s (%s%s%s) refused: this site does not start a "
				    "container whose spec asks for a program",
				    h->hook_name, h->path, action ? " " : "", action ? action : "");
		else
			lc_warn(ctx, "CDI hook %s (%s%s%s) not run: specs never run programs here",
				h->hook_name, h->path, action ? " " : "", action ? action : "");
		if (r < 0)
			return r;
	}
	return 0;
}

void lc_devices_clear(lc_devices *d)
{
	lc_cdi_edits_clear(&d->edits);
	lc_strvec_free(&d->link_targets);
	lc_strvec_free(&d->link_paths);
	lc_strvec_free(&d->ld_folders);
	lc_strvec_free(&d->nvidia_requires);
	free(d->libcuda);
	free(d->libnvml);
	free(d->nvidia_cli);
	lc_strvec_free(&d->nvidia_cli_args);
	free(d->ldconfig);
	free(d->host_driver);
	free(d->nvidia_params);
	*d = (lc_devices){0};
}

static int check_edits(lc_ctx *ctx, const lc_cdi_edits *e, lc_error *err)
{
	struct stat st;

	for (size_t i = 0; i < e->n_nodes; i++) {
		if (stat(e->nodes[i].host_path, &st) < 0)
			return lc_fail(err, errno, "CDI device node %s: %m", e->nodes[i].host_path);
		if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode) && !S_ISFIFO(st.st_mode))
			return lc_fail(err, EINVAL, "CDI device node %s: not a device",
				       e->nodes[i].host_path);
	}
	for (size_t i = 0; i < e->n_mounts; i++) {
		unsigned long flags;
		bool rec;

		if (lc_devices_mount_flags(&e->mounts[i], &flags, &rec) < 0)
			return lc_fail(err, EOPNOTSUPP,
				       "CDI mount on %s: type '%s' is not supported",
				       e->mounts[i].container_path, e->mounts[i].type);
		if (stat(e->mounts[i].host_path, &st) < 0)
			return lc_fail(err, errno, "CDI mount %s: %m", e->mounts[i].host_path);
	}
	if (e->n_gids)
		lc_warn(ctx,
			"CDI: %zu additional group id%s not given: the container's user "
			"namespace maps the user's group alone",
			e->n_gids, e->n_gids > 1 ? "s" : "");
	return 0;
}

/* The node's specs, read when first needed: most starts ask for no device. */
static int registry(lc_ctx *ctx, const char *dirs, lc_cdi_registry **reg, lc_error *err)
{
	return *reg ? 0 : lc_cdi_registry_load(ctx, dirs, geteuid() == 0, reg, err);
}

/* ---------------------------------------------------------------- NVIDIA_VISIBLE_DEVICES */

#define CLI_NAME "nvidia-container-cli"
#define SYSTEM_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* @name on the PATH @path (then the system's directories): a new string, or NULL. */
static char *find_program(const char *path, const char *name)
{
	_cleanup_free_ char *dirs = NULL;
	char *save = NULL, *found = NULL;

	if (asprintf(&dirs, "%s:" SYSTEM_PATH, path ? path : "") < 0)
		return NULL;
	for (char *dir = strtok_r(dirs, ":", &save); dir && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		if (dir[0] != '/' || asprintf(&found, "%s/%s", dir, name) < 0)
			continue;
		if (access(found, X_OK) < 0) {
			free(found);
			found = NULL;
		}
	}
	return found;
}

/* enroot's 98-nvidia: "--user configure" and these, then --pid and the root (hooks.c). */
static int cli_args(const lc_nvidia_request *req, const char *visible, lc_strvec *a)
{
	static const char *const caps[] = {"--compute",  "--compat32", "--display",
					   "--graphics", "--utility",  "--video"};
	_cleanup_free_ char *ldconfig = find_program("/usr/sbin:/sbin", "ldconfig.real");
	char arg[4096];
	int r;

	if (!ldconfig)
		ldconfig = find_program("/usr/sbin:/sbin", "ldconfig");
	snprintf(arg, sizeof(arg), "--ldconfig=@%s", ldconfig ? ldconfig : "/sbin/ldconfig");
	r = lc_strvec_push(a, "--no-cgroups") < 0 || lc_strvec_push(a, arg) < 0 ? -ENOMEM : 0;
	if (!r && strcmp(visible, "none")) {
		snprintf(arg, sizeof(arg), "--device=%s", visible);
		r = lc_strvec_push(a, arg);
	}
	if (!r && req->mig_config) {
		snprintf(arg, sizeof(arg), "--mig-config=%s", req->mig_config);
		r = lc_strvec_push(a, arg);
	}
	if (!r && req->mig_monitor) {
		snprintf(arg, sizeof(arg), "--mig-monitor=%s", req->mig_monitor);
		r = lc_strvec_push(a, arg);
	}
	for (size_t i = 0; !r && i < LC_ELEMENTSOF(caps); i++)
		if (req->caps & (1u << i))
			r = lc_strvec_push(a, caps[i]);
	for (size_t i = 0; !r && i < req->requires.n; i++) {
		_cleanup_free_ char *req_arg = NULL;

		r = asprintf(&req_arg, "--require=%s", req->requires.v[i]) < 0
			? -ENOMEM
			: lc_strvec_push(a, req_arg);
	}
	return r < 0 ? -ENOMEM : 0;
}

/* The backend: the node's CDI spec for nvidia.com/gpu (its names added to @names, the
 * requirements kept for the holder), else nvidia-container-cli (which checks them itself). */
static int nvidia_backend(lc_ctx *ctx, lc_cdi_registry **reg, const char *dirs,
			  const lc_devices_request *q, const lc_nvidia_request *req,
			  const char *visible, lc_strvec *names, lc_devices *d, lc_error *err)
{
	const char *b = q->nvidia_backend && *q->nvidia_backend ? q->nvidia_backend : "auto";
	bool cdi = strcmp(b, "cli") && b[0] != '/', cli = strcmp(b, "cdi");
	_cleanup_free_ char *program = NULL;
	char shown[80];
	int r = 0;

	if (strcmp(b, "auto") && strcmp(b, "cdi") && strcmp(b, "cli") && b[0] != '/')
		return lc_fail(err, EINVAL,
			       "unknown NVIDIA backend '%s' (auto, cdi, cli or a path)", b);
	lc_str_sanitize(shown, sizeof(shown), visible);
	if (cdi && (r = registry(ctx, dirs, reg, err)) < 0)
		return r;
	if (cdi && lc_cdi_has_kind(*reg, "nvidia.com/gpu")) {
		if (lc_nvidia_cdi_names(req, names) < 0)
			return lc_fail(err, ENOMEM, "out of memory");
		for (size_t i = 0; i < req->requires.n; i++)
			if (lc_strvec_push(&d->nvidia_requires, req->requires.v[i]) < 0)
				return lc_fail(err, ENOMEM, "out of memory");
		return 0;
	}
	if (cli)
		program = b[0] == '/' ? (access(b, X_OK) == 0 ? strdup(b) : NULL)
				      : find_program(getenv("PATH"), CLI_NAME);
	if (program) {
		lc_debug(ctx, "NVIDIA_VISIBLE_DEVICES=%s: served by %s", shown, program);
		d->nvidia_cli = program;
		program = NULL;
		return cli_args(req, visible, &d->nvidia_cli_args) < 0
			   ? lc_fail(err, ENOMEM, "out of memory")
			   : 0;
	}
	if (!cli)
		return lc_fail(err, ENODEV,
			       "NVIDIA_VISIBLE_DEVICES=%s: no CDI spec for nvidia.com/gpu in %s "
			       "(nvidia-ctk cdi generate writes one)",
			       shown, dirs);
	if (!cdi)
		return lc_fail(err, ENODEV, "NVIDIA_VISIBLE_DEVICES=%s: %s is not a program", shown,
			       b[0] == '/' ? b : CLI_NAME " on the PATH");
	return lc_fail(err, ENODEV,
		       "NVIDIA_VISIBLE_DEVICES=%s: no CDI spec for nvidia.com/gpu in %s "
		       "(nvidia-ctk cdi generate writes one) and no " CLI_NAME " on the PATH",
		       shown, dirs);
}

/* NVIDIA_VISIBLE_DEVICES and the rest, as enroot's 98-nvidia hook reads them (the caller's
 * value of each wins over the image's), served by a backend; none: *@driver_only (the spec's
 * own edits alone). A node without NVIDIA's driver serves a request that only the image made
 * as a CPU container (CUDA images must keep running on CPU nodes); the caller's own request is
 * an error there. */
static int nvidia_names(lc_ctx *ctx, lc_cdi_registry **reg, const char *dirs,
			const lc_devices_request *q, lc_strvec *names, bool *driver_only,
			lc_devices *d, lc_error *err)
{
	lc_nvidia_request req;
	const char *mine = lc_strv_get(q->caller_env, "NVIDIA_VISIBLE_DEVICES");
	const char *visible = mine ? mine : lc_strv_get(q->image_env, "NVIDIA_VISIBLE_DEVICES");
	bool driver = access(NVIDIA_DRIVER_PROC, F_OK) == 0;
	char shown[80];
	int r;

	if (!visible || !*visible || !strcmp(visible, "void"))
		return 0;
	lc_str_sanitize(shown, sizeof(shown), visible);
	if (!driver && !mine) {
		lc_debug(ctx,
			 "NVIDIA_VISIBLE_DEVICES=%s from the image, but this node has no NVIDIA "
			 "driver (%s): a CPU container",
			 shown, NVIDIA_DRIVER_PROC);
		return 0;
	}
	if (!driver)
		return lc_fail(err, ENODEV,
			       "NVIDIA_VISIBLE_DEVICES=%s: this node has no NVIDIA driver (%s)",
			       shown, NVIDIA_DRIVER_PROC);
	r = lc_nvidia_request_parse(q->caller_env, q->image_env, &req, err);
	if (r >= 0 && req.wanted)
		r = nvidia_backend(ctx, reg, dirs, q, &req, visible, names, d, err);
	*driver_only = r >= 0 && req.wanted && !req.all && !req.devices.n && !d->nvidia_cli;
	lc_nvidia_request_clear(&req);
	return r;
}

static bool nvidia_named(const lc_strvec *names)
{
	for (size_t i = 0; i < names->n; i++)
		if (lc_str_has_prefix(names->v[i], "nvidia.com/gpu="))
			return true;
	return false;
}

/* The host's @prefix VERSION library among the mounts (libcuda, libnvidia-ml: what
 * requirements ask the driver) in *@ret. */
static int find_library(const lc_devices *d, const char *prefix, char **ret)
{
	for (size_t i = 0; !*ret && i < d->edits.n_mounts; i++) {
		const char *p = d->edits.mounts[i].container_path, *base = strrchr(p, '/');

		if (base && lc_str_has_prefix(base + 1, prefix) &&
		    strchr(base + 1 + strlen(prefix), '.') &&
		    !(*ret = strdup(d->edits.mounts[i].host_path)))
			return -ENOMEM;
	}
	return 0;
}

int lc_devices_resolve(lc_ctx *ctx, const lc_devices_request *q, lc_devices *d, lc_error *err)
{
	lc_cdi_edits *edits = &d->edits;
	const char *dirs = q->dirs ? q->dirs : CDI_DEFAULT_DIRS;
	lc_cdi_registry *reg = NULL;
	lc_strvec names = {0};
	bool driver_only = false;
	int r = 0;

	*d = (lc_devices){0};
	for (const char *const *n = q->names; !r && n && *n; n++)
		r = lc_strvec_push(&names, *n) < 0 ? lc_fail(err, ENOMEM, "out of memory") : 0;
	if (r >= 0)
		r = nvidia_names(ctx, &reg, dirs, q, &names, &driver_only, d, err);
	if (r >= 0 && names.n)
		r = registry(ctx, dirs, &reg, err);
	if (r >= 0 && names.n)
		r = lc_cdi_resolve(reg, (const char *const *)names.v, edits, err);
	if (r >= 0 && driver_only && reg && lc_cdi_has_kind(reg, "nvidia.com/gpu") &&
	    !nvidia_named(&names))
		r = lc_cdi_resolve_spec_of(reg, "nvidia.com/gpu=all", edits, err);
	if (r >= 0 && (find_library(d, "libcuda.so.", &d->libcuda) < 0 ||
		       find_library(d, "libnvidia-ml.so.", &d->libnvml) < 0))
		r = lc_fail(err, ENOMEM, "out of memory");
	lc_cdi_registry_free(reg);
	lc_strvec_free(&names);
	if (r >= 0)
		r = check_edits(ctx, edits, err);
	if (r >= 0)
		r = native_hooks(ctx, d, q->refuse_hooks, err);
	if (r < 0)
		lc_devices_clear(d);
	return r;
}

/* ---------------------------------------------------------------- requirements, in the holder */

/* The driver's version: "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  ...", the
 * first word after "Module" that starts with a digit. "" when unknown. */
static void driver_version(char *buf, size_t size)
{
	_cleanup_free_ char *text = NULL;
	const char *p;

	buf[0] = '\0';
	if (lc_file_read_all(NVIDIA_DRIVER_PROC "/version", 65536, &text, NULL, NULL) < 0 ||
	    !(p = strstr(text, "Module")))
		return;
	for (p += strlen("Module"); *p && *p != '\n'; p++)
		if (*p >= '0' && *p <= '9' && p[-1] == ' ') {
			snprintf(buf, size, "%.*s", (int)strcspn(p, " \t\n"), p);
			return;
		}
}

/* NVML's brand names, as NVIDIA's requirements spell them (nvmlBrandType_t). */
static const char *const nvml_brands[] = {
    NULL,        "quadro",      "tesla",     "nvs",        "grid",      "geforce",
    "titan",     "nvidiavapps", "nvidiavpc", "nvidiavcs",  "nvidiavws", "nvidiacloudgaming",
    "quadrortx", "nvidiartx",   "nvidia",    "geforcertx", "titanrtx"};

#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR 75
#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR 76

/* In the probe's child: the first GPU's compute capability, from libcuda (@lib). */
static void print_arch(void *lib, int out)
{
	int (*init)(unsigned) = (int (*)(unsigned))dlsym(lib, "cuInit");
	int (*get)(int *, int) = (int (*)(int *, int))dlsym(lib, "cuDeviceGet");
	int (*attr)(int *, int, int) = (int (*)(int *, int, int))dlsym(lib, "cuDeviceGetAttribute");
	int dev, major, minor;

	if (init && get && attr && init(0) == 0 && get(&dev, 0) == 0 &&
	    attr(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev) == 0 &&
	    attr(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev) == 0)
		dprintf(out, "arch=%d.%d ", major, minor);
}

/* In the probe's child: the first GPU's brand, from NVML (@path). */
static void print_brand(const char *path, int out)
{
	void *lib = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
	int (*init)(void) = lib ? (int (*)(void))dlsym(lib, "nvmlInit_v2") : NULL;
	int (*handle)(unsigned, void **) =
	    lib ? (int (*)(unsigned, void **))dlsym(lib, "nvmlDeviceGetHandleByIndex_v2") : NULL;
	int (*brand)(void *, int *) =
	    lib ? (int (*)(void *, int *))dlsym(lib, "nvmlDeviceGetBrand") : NULL;
	void *dev = NULL;
	int b = 0;

	if (init && handle && brand && init() == 0 && handle(0, &dev) == 0 && brand(dev, &b) == 0 &&
	    b > 0 && b < (int)LC_ELEMENTSOF(nvml_brands))
		dprintf(out, "brand=%s ", nvml_brands[b]);
}

/* The child: what the host's driver tells, as "cuda=12040 arch=9.0 brand=tesla " (arch and
 * brand only with @details: they initialize the driver). */
static _Noreturn void probe_child(const lc_devices *d, bool details, int out)
{
	void *lib = dlopen(d->libcuda, RTLD_NOW | RTLD_LOCAL);
	int (*version)(int *) = lib ? (int (*)(int *))dlsym(lib, "cuDriverGetVersion") : NULL;
	int v;

	if (version && version(&v) == 0)
		dprintf(out, "cuda=%d ", v);
	if (details && lib)
		print_arch(lib, out);
	if (details)
		print_brand(d->libnvml, out);
	_exit(0);
}

typedef struct driver_facts {
	char driver[64], cuda[32], arch[32], brand[32];
	bool hung; /* the child was killed: not asked again */
} driver_facts;

/* What the host's libcuda (and NVML, with @details) tell, from a child that loads them: the
 * libraries never stay in the holder, and a driver that hangs is killed after
 * PROBE_TIMEOUT_MS. What it cannot tell stays "". */
static void probe_driver(const lc_devices *d, bool details, driver_facts *f)
{
	char text[256] = "", *save = NULL;
	int pipefd[2];
	pid_t pid;

	if (!d->libcuda || pipe2(pipefd, O_CLOEXEC) < 0)
		return;
	pid = fork();
	if (pid == 0)
		probe_child(d, details, pipefd[1]);
	close(pipefd[1]);
	f->hung = pid > 0 &&
		  lc_fd_read_tail(pipefd[0], PROBE_TIMEOUT_MS, text, sizeof(text)) == -ETIMEDOUT;
	if (f->hung)
		kill(pid, SIGKILL);
	close(pipefd[0]);
	if (pid > 0)
		(void)lc_wait_child(pid, NULL);
	for (char *t = strtok_r(text, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		int v = lc_str_has_prefix(t, "cuda=") ? atoi(t + 5) : 0;

		if (v > 0)
			snprintf(f->cuda, sizeof(f->cuda), "%d.%d", v / 1000, v % 1000 / 10);
		else if (lc_str_has_prefix(t, "arch="))
			snprintf(f->arch, sizeof(f->arch), "%s", t + 5);
		else if (lc_str_has_prefix(t, "brand="))
			snprintf(f->brand, sizeof(f->brand), "%s", t + 6);
	}
}

static lc_nvidia_host host_of(const driver_facts *f)
{
	return (lc_nvidia_host){*f->driver ? f->driver : NULL, *f->cuda ? f->cuda : NULL,
				*f->arch ? f->arch : NULL, *f->brand ? f->brand : NULL};
}

int lc_devices_check_requires(const lc_devices *d, lc_error *err)
{
	lc_nvidia_request req = {.requires = d->nvidia_requires};
	driver_facts f = {0};
	lc_nvidia_host h;

	if (!d->nvidia_requires.n)
		return 0;
	driver_version(f.driver, sizeof(f.driver));
	probe_driver(d, false, &f);
	h = host_of(&f);
	/* the GPU's brand and architecture only when they decide (the driver's init costs) */
	if (!f.hung && lc_nvidia_requires_undecided(&req, &h)) {
		probe_driver(d, true, &f);
		h = host_of(&f);
	}
	return lc_nvidia_check_requires(&req, &h, err);
}
