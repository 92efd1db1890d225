/* SPDX-License-Identifier: Apache-2.0 */
/* plugstack.conf arguments. An unknown key or a bad value fails the plugin's load. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

#ifndef LC_RUNTIME_PATH /* the build's (meson option runtime_path) */
#define LC_RUNTIME_PATH "/run/libcontainer"
#endif

#ifndef LC_IMPORT_HELPER
#define LC_IMPORT_HELPER "/usr/local/bin/ctr-import"
#endif

static int parse_bool(const char *v, bool *ret)
{
	static const char *const yes[] = {"1", "true", "yes", "y", NULL};
	static const char *const no[] = {"0", "false", "no", "n", NULL};

	for (int i = 0; yes[i]; i++) {
		if (!strcmp(v, yes[i]))
			return *ret = true, 0;
		if (!strcmp(v, no[i]))
			return *ret = false, 0;
	}
	return -EINVAL;
}

static int set_path(const char *v, char **ret)
{
	if (v[0] != '/' || strlen(v) >= PATH_MAX)
		return -EINVAL;
	free(*ret);
	*ret = strdup(v);
	return *ret ? 0 : -ENOMEM;
}

/* Absolute directories separated by ':'. */
static int set_dirs(const char *v, char **ret)
{
	for (const char *p = v;; p++) {
		const char *end = strchrnul(p, ':');

		if (*p != '/' || end - p >= PATH_MAX)
			return -EINVAL;
		if (!*end)
			break;
		p = end;
	}
	free(*ret);
	*ret = strdup(v);
	return *ret ? 0 : -ENOMEM;
}

static int set_string(const char *v, char **ret)
{
	if (!*v)
		return -EINVAL;
	free(*ret);
	*ret = strdup(v);
	return *ret ? 0 : -ENOMEM;
}

static int parse_compression(const char *v, char **ret)
{
	char *end = NULL;
	long level;

	if (!strcmp(v, "none") || !strcmp(v, "zstd"))
		return set_string(v, ret);
	if (strncmp(v, "zstd:", 5))
		return -EINVAL;
	level = strtol(v + 5, &end, 10);
	if (end == v + 5 || *end || level < 1 || level > 22)
		return -EINVAL;
	return set_string(v, ret);
}

/* A whole number in [@lo, @hi]. */
static int parse_range(const char *v, unsigned lo, unsigned hi, unsigned *ret)
{
	char *end = NULL;
	unsigned long n = strtoul(v, &end, 10);

	if (!*v || *end || v[0] == '-' || n < lo || n > hi)
		return -EINVAL;
	*ret = (unsigned)n;
	return 0;
}

/* One "key=value". */
static int config_set(plugin_config *cfg, const char *key, const char *v)
{
	if (!strcmp(key, "runtime_path"))
		return set_path(v, &cfg->runtime_path);
	if (!strcmp(key, "execute_entrypoint"))
		return parse_bool(v, &cfg->execute_entrypoint);
	if (!strcmp(key, "sbatch_support"))
		return parse_bool(v, &cfg->sbatch_support);
	if (!strcmp(key, "cache_path"))
		return set_path(v, &cfg->cache_path);
	if (!strcmp(key, "import_connections"))
		return parse_range(v, 1, 64, &cfg->connections);
	if (!strcmp(key, "compression"))
		return parse_compression(v, &cfg->compression);
	if (!strcmp(key, "allow_http"))
		return set_string(v, &cfg->http_registries);
	if (!strcmp(key, "import_helper"))
		return set_path(v, &cfg->import_helper);
	if (!strcmp(key, "importer"))
		return set_path(v, &cfg->importer);
	if (!strcmp(key, "kernel_squashfs"))
		return parse_bool(v, &cfg->kernel_squashfs);
	if (!strcmp(key, "container_cache_data_path"))
		return set_path(v, &cfg->cache_data_path);
	if (!strcmp(key, "container_cache_offline"))
		return parse_bool(v, &cfg->cache_offline);
	if (!strcmp(key, "container_cache_gc_high"))
		return parse_range(v, 1, 100, &cfg->cache_gc_high);
	if (!strcmp(key, "container_cache_gc_low"))
		return parse_range(v, 1, 100, &cfg->cache_gc_low);
	if (!strcmp(key, "container_scope")) {
		if (strcmp(v, "job") && strcmp(v, "global"))
			return -EINVAL;
		cfg->scope_job = !strcmp(v, "job");
		return 0;
	}
	if (!strcmp(key, "use_squashfuse"))
		return parse_bool(v, &cfg->use_squashfuse);
	if (!strcmp(key, "enroot_sysconf_path"))
		return set_path(v, &cfg->sysconf_path);
	if (!strcmp(key, "cdi_spec_dirs"))
		return set_dirs(v, &cfg->cdi_spec_dirs);
	if (!strcmp(key, "nvidia_backend")) {
		if (strcmp(v, "auto") && strcmp(v, "cdi") && strcmp(v, "cli") && v[0] != '/')
			return -EINVAL;
		return v[0] == '/' ? set_path(v, &cfg->nvidia_backend)
				   : set_string(v, &cfg->nvidia_backend);
	}
	if (!strcmp(key, "cdi_hooks")) {
		if (strcmp(v, "warn") && strcmp(v, "refuse"))
			return -EINVAL;
		cfg->refuse_cdi_hooks = !strcmp(v, "refuse");
		return 0;
	}
	if (!strcmp(key, "shared_import_path"))
		return set_path(v, &cfg->shared_import_path);
	if (!strcmp(key, "enroot_standard_hooks")) {
		if (strcmp(v, "builtin") && strcmp(v, "script"))
			return -EINVAL;
		cfg->standard_hook_scripts = !strcmp(v, "script");
		return 0;
	}
	return -ENOENT;
}

int config_parse(int argc, char **argv, plugin_config *cfg)
{
	*cfg = (plugin_config){.sbatch_support = true,
			       .kernel_squashfs = true,
			       .cache_gc_high = 85,
			       .cache_gc_low = 80};
	if (set_path(LC_RUNTIME_PATH, &cfg->runtime_path) < 0 ||
	    set_path("/etc/enroot", &cfg->sysconf_path) < 0 ||
	    set_path(LC_IMPORT_HELPER, &cfg->import_helper) < 0)
		return -1;
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		char key[64];
		int r;

		if (!eq || eq == argv[i] || (size_t)(eq - argv[i]) >= sizeof(key)) {
			slurm_error(PLUGIN_NAME ": unknown configuration option: %s", argv[i]);
			return -1;
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - argv[i]), argv[i]);
		r = config_set(cfg, key, eq + 1);
		if (r == -ENOENT) {
			slurm_error(PLUGIN_NAME ": unknown configuration option: %s", key);
			return -1;
		}
		if (r < 0) {
			slurm_error(PLUGIN_NAME ": %s: invalid value: %s", key, eq + 1);
			return -1;
		}
	}
	if (cfg->cache_gc_low >= cfg->cache_gc_high) {
		slurm_error(PLUGIN_NAME
			    ": container_cache_gc_low: invalid value: %u (must be below "
			    "container_cache_gc_high, %u)",
			    cfg->cache_gc_low, cfg->cache_gc_high);
		return -1;
	}
	return 0;
}

void config_free(plugin_config *cfg)
{
	free(cfg->runtime_path);
	free(cfg->cache_path);
	free(cfg->compression);
	free(cfg->http_registries);
	free(cfg->import_helper);
	free(cfg->importer);
	free(cfg->cache_data_path);
	free(cfg->sysconf_path);
	free(cfg->cdi_spec_dirs);
	free(cfg->nvidia_backend);
	free(cfg->shared_import_path);
	*cfg = (plugin_config){0};
}
