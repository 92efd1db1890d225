/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The environment of a task that a batch system starts in a container: the job's variables plus
 * the container's (pyxis's rules), the PMIx client's names for the server's settings, and the
 * variables PyTorch's launcher would have set.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../site/site.h"
#include "../util/util.h"
#include "pyxis.h"

/* The host's locale often does not exist in the image ("Setting locale failed"). */
static const char *const locale_vars[] = {"LANG", "LANGUAGE", "LC_ALL", NULL};

static bool strv_has(const char *const *v, const char *s, size_t len)
{
	for (; v && *v; v++)
		if (strlen(*v) == len && !strncmp(*v, s, len))
			return true;
	return false;
}

static size_t name_len(const char *kv)
{
	const char *eq = strchr(kv, '=');

	return eq ? (size_t)(eq - kv) : 0;
}

static int add_job_env(lc_strvec *e, const char *const *job_env, const char *const *host_wins)
{
	int r = 0;

	for (; !r && job_env && *job_env; job_env++) {
		size_t len = name_len(*job_env);

		if (!len ||
		    (strv_has(locale_vars, *job_env, len) && !strv_has(host_wins, *job_env, len)))
			continue;
		r = lc_env_put(e, *job_env);
	}
	return r;
}

typedef struct env_sources {
	const char *const *job_env;
	const char *const *container_env;
	const char *const *host_wins;
} env_sources;

/* The container's variables win, except for the names in host_wins that the job sets. */
static int add_container_env(lc_strvec *e, const env_sources *src)
{
	int r = 0;

	for (const char *const *kv = src->container_env; !r && kv && *kv; kv++) {
		size_t len = name_len(*kv);

		if (!len ||
		    (strv_has(src->host_wins, *kv, len) && lc_strv_lookup(src->job_env, *kv, len)))
			continue;
		r = lc_env_put(e, *kv);
	}
	return r;
}

/* Set @name to @value unless the image set it, or the job did and the user listed it. */
static int set_unless_given(lc_strvec *e, const env_sources *src, const char *name,
			    const char *value)
{
	if (!value || lc_strv_get(src->container_env, name) ||
	    (strv_has(src->host_wins, name, strlen(name)) && lc_strv_get(src->job_env, name)))
		return 0;
	return lc_env_set(e, name, value);
}

static int add_pytorch_env(lc_strvec *e, const env_sources *src)
{
	const char *procid = lc_env_get(e, "SLURM_PROCID");
	const char *localid = lc_env_get(e, "SLURM_LOCALID");
	const char *nodes = lc_env_get(e, "SLURM_STEP_NODELIST");
	const char *jobid = lc_env_get(e, "SLURM_JOB_ID");
	const char *ntasks = lc_env_get(e, "SLURM_STEP_NUM_TASKS");
	const char *nnodes = lc_env_get(e, "SLURM_STEP_NUM_NODES");
	_cleanup_free_ char *master = NULL;
	char port[16] = "";
	int r = 0;

	if (!lc_env_get(e, "PYTORCH_VERSION"))
		return 0;
	nodes = nodes ? nodes : lc_env_get(e, "SLURM_JOB_NODELIST");
	ntasks = ntasks ? ntasks : lc_env_get(e, "SLURM_NTASKS");
	nnodes = nnodes ? nnodes : lc_env_get(e, "SLURM_NNODES");
	if (procid)
		r = lc_env_set(e, "RANK", procid);
	if (!r && localid)
		r = lc_env_set(e, "LOCAL_RANK", localid);
	if (!r && nodes && lc_pyxis_hostlist_first(nodes, &master, NULL) < 0)
		master = NULL;
	if (jobid)
		snprintf(port, sizeof(port), "%lu", 61000 + strtoul(jobid, NULL, 10) % 4536);
	if (!r)
		r = set_unless_given(e, src, "MASTER_ADDR", master);
	if (!r)
		r = set_unless_given(e, src, "MASTER_PORT", *port ? port : NULL);
	if (!r)
		r = set_unless_given(e, src, "WORLD_SIZE", ntasks);
	if (!r && ntasks && nnodes && strtoul(ntasks, NULL, 10) > strtoul(nnodes, NULL, 10))
		r = set_unless_given(e, src, "OMP_NUM_THREADS", "1");
	return r;
}

int lc_pyxis_task_env(const char *const *job_env, const char *const *container_env,
		      const char *const *host_wins, char ***ret_env, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	const env_sources src = {job_env, container_env, host_wins};
	lc_strvec e = {0};
	int r = add_job_env(&e, job_env, host_wins);

	if (!r)
		r = add_container_env(&e, &src);
	/* Slurm sets a task's PMIx variables after its container exists: enroot's 50-slurm-pmi */
	if (!r)
		r = lc_site_slurm_pmi_env(job_env, &e);
	if (!r)
		r = add_pytorch_env(&e, &src);
	if (r < 0) {
		lc_strvec_free(&e);
		return lc_fail(err ? err : &local, -r, "building the task environment: %s",
			       strerror(-r));
	}
	*ret_env = lc_strvec_steal(&e);
	return *ret_env ? 0 : lc_fail(err ? err : &local, ENOMEM, "out of memory");
}

/* "prefix[a-b,c]suffix" -> prefix + a (zero padding kept) + suffix. */
static int first_of_range(const char *host, size_t len, char **ret)
{
	const char *open = memchr(host, '[', len), *close;
	size_t digits = 0;

	if (!open)
		return (*ret = strndup(host, len)) ? 0 : -ENOMEM;
	close = memchr(open, ']', len - (size_t)(open - host));
	while (open + 1 + digits < host + len && isdigit((unsigned char)open[1 + digits]))
		digits++;
	if (!close || !digits)
		return -EINVAL;
	return asprintf(ret, "%.*s%.*s%.*s", (int)(open - host), host, (int)digits, open + 1,
			(int)(host + len - close - 1), close + 1) < 0
		   ? -ENOMEM
		   : 0;
}

int lc_pyxis_hostlist_first(const char *hostlist, char **ret_host, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	size_t len = 0;
	int depth = 0, r;

	for (; hostlist && hostlist[len] && (depth || hostlist[len] != ','); len++)
		depth += hostlist[len] == '[' ? 1 : hostlist[len] == ']' ? -1 : 0;
	r = len ? first_of_range(hostlist, len, ret_host) : -EINVAL;
	if (r < 0)
		return lc_fail(err ? err : &local, -r, "bad host list '%s'",
			       hostlist ? hostlist : "");
	return 0;
}
