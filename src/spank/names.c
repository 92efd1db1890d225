/* SPDX-License-Identifier: Apache-2.0 */
/* The plugin's pure string helpers: no Slurm call, no file, unit-tested (tests/spank). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

bool helper_env_denied(const char *kv)
{
	static const char *const denied[] = {
	    "PATH=",           "LD_LIBRARY_PATH=",    "LD_PRELOAD=",        "LD_AUDIT=",
	    "SLURM_PROCID=",   "SLURM_LOCALID=",      "SLURM_TASK_PID=",    "PMIX_RANK=",
	    "PMI_FD=",         "ENROOT_ALLOW_HTTP=",  "ENROOT_CACHE_PATH=", "ENROOT_TEMP_PATH=",
	    "XDG_CACHE_HOME=", "PYXIS_RUNTIME_PATH=", "PYXIS_VERSION=",     "SLURM_JOB_UID=",
	    "SLURM_JOB_GID=",  "SLURM_JOB_ID=",       "SLURM_STEP_ID=",     NULL};

	for (int i = 0; denied[i]; i++)
		if (!strncmp(kv, denied[i], strlen(denied[i])))
			return true;
	return false;
}

int save_path_resolve(const char *save, const char *cwd, char **ret_path)
{
	const char *rel = save;
	size_t len = cwd ? strlen(cwd) : 0;

	if (save[0] == '/')
		return (*ret_path = strdup(save)) ? 0 : -ENOMEM;
	if (!len)
		return -EINVAL;
	while (rel[0] == '.' && rel[1] == '/')
		rel += 2;
	if (asprintf(ret_path, "%s%s%s", cwd, cwd[len - 1] == '/' ? "" : "/", rel) < 0)
		return -ENOMEM;
	return 0;
}

int importer_uri(const char *image, char **ret_uri)
{
	bool scheme = !strncmp(image, "docker://", 9) || !strncmp(image, "dockerd://", 10);

	return asprintf(ret_uri, "%s%s", scheme ? "" : "docker://", image) < 0 ? -ENOMEM : 0;
}

/* Whether @env sets the variable named by the first @len bytes of @name. */
static bool env_sets(char *const *env, const char *name, size_t len)
{
	for (char *const *e = env; e && *e; e++)
		if (!strncmp(*e, name, len) && (*e)[len] == '=')
			return true;
	return false;
}

char **env_names_dropped(char *const *job_env, char *const *env)
{
	size_t n = 0, k = 0;
	char **drop;

	while (job_env && job_env[n])
		n++;
	drop = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; drop && i < n; i++) {
		const char *eq = strchr(job_env[i], '=');
		size_t len = eq ? (size_t)(eq - job_env[i]) : strlen(job_env[i]);

		if (env_sets(env, job_env[i], len))
			continue;
		if (!(drop[k++] = strndup(job_env[i], len))) {
			lc_strv_free(drop);
			return NULL;
		}
	}
	return drop;
}
