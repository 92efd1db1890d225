/* SPDX-License-Identifier: Apache-2.0 */
/*
 * enroot's extra hook 50-slurm-pmi, built in: what a Slurm step's MPI needs in the container.
 * The job's SLURM_*, PMIX_* and PMI_* variables (PMI-2's PMI_FD with them) reach the tasks from
 * the job's environment; this adds what the hook adds for PMIx steps (SLURM_MPI_TYPE unset or
 * pmix*): the client's names for the server's settings, and the server's directories.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "site.h"

static bool pmix_step(const char *const *env)
{
	const char *mpi = lc_strv_get(env, "SLURM_MPI_TYPE");

	return lc_strv_get(env, "SLURM_JOB_ID") && lc_strv_get(env, "SLURM_STEP_ID") &&
	       (!mpi || !*mpi || lc_str_has_prefix(mpi, "pmix"));
}

int lc_site_slurm_pmi_env(const char *const *env, lc_strvec *out)
{
	static const char *const derived[][2] = {{"PMIX_PTL_MODULE", "PMIX_MCA_ptl"},
						 {"PMIX_SECURITY_MODE", "PMIX_MCA_psec"},
						 {"PMIX_GDS_MODULE", "PMIX_MCA_gds"}};
	int r = 0;

	if (!pmix_step(env))
		return 0;
	for (size_t i = 0; !r && i < LC_ELEMENTSOF(derived); i++) {
		const char *value = lc_strv_get(env, derived[i][0]);

		if (value && *value && !lc_strv_get(env, derived[i][1]))
			r = lc_env_set(out, derived[i][1], value);
	}
	return r;
}

/* @dir bound read-write at its own path, created there, skipped when missing. A path with
 * blanks is no fstab line: skipped, as enroot's hook would fail on it. */
static void bind_own_path(const char *dir, lc_fstab_list *mounts)
{
	_cleanup_free_ char *line = NULL;
	lc_error ignored = LC_ERROR_INIT;

	if (dir[0] != '/' ||
	    asprintf(&line, "%s x-create=dir,bind,rw,nosuid,noexec,nodev,private,nofail,silent",
		     dir) < 0)
		return;
	(void)lc_fstab_parse(line, "50-slurm-pmi", NULL, mounts, &ignored);
}

void lc_site_slurm_pmi_mounts(const char *const *env, lc_fstab_list *mounts)
{
	const char *tmpdir = lc_strv_get(env, "PMIX_SERVER_TMPDIR");
	const char *uid = lc_strv_get(env, "SLURM_JOB_UID");
	_cleanup_free_ char *appdir = NULL;

	if (!pmix_step(env) || !tmpdir)
		return;
	bind_own_path(tmpdir, mounts);
	/* Slurm 22.05's client directory, in TmpFS (default /tmp): the step's PMIX_TMPDIR */
	if (uid &&
	    asprintf(&appdir, "/tmp/spmix_appdir_%s_%s.%s", uid, lc_strv_get(env, "SLURM_JOB_ID"),
		     lc_strv_get(env, "SLURM_STEP_ID")) >= 0)
		bind_own_path(appdir, mounts);
}
