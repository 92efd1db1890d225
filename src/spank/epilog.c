/* SPDX-License-Identifier: Apache-2.0 */
/*
 * slurmd's job epilog (it runs in slurmd, without slurm_spank_init): the job's marks in the
 * node cache go, and what the job left in the user's runtime directory: its imports, its named
 * containers with container_scope=job, and what killed steps left
 * (lc_pyxis_remove_job_leftovers); its imports in shared_import_path too.
 */
#include "../pyxis/pyxis.h"
#include "plugin.h"

int remote_job_epilog(spank_t sp, const plugin_config *cfg)
{
	lc_error err = LC_ERROR_INIT;
	size_t failed = 0;
	uint32_t jobid;
	uid_t uid;

	if (spank_get_item(sp, S_JOB_UID, &uid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_ID, &jobid) != ESPANK_SUCCESS) {
		slurm_error(PLUGIN_NAME ": job epilog: cannot read the job's ids");
		return -1;
	}
	/* the GC may take the job's cache entries now (a failure only keeps them longer) */
	if (cfg->cache_data_path && lc_cache_job_done(cfg->cache_data_path, jobid, &err) < 0)
		slurm_info(PLUGIN_NAME ": %s", lc_error_message(&err));
	/* the job's imports on the shared filesystem (another node's epilog may be first) */
	if (cfg->shared_import_path && lc_pyxis_remove_job_leftovers(cfg->shared_import_path, uid,
								     jobid, false, NULL, &err) < 0)
		slurm_error(PLUGIN_NAME ": %s", lc_error_message(&err));
	if (lc_pyxis_remove_job_leftovers(cfg->runtime_path, uid, jobid, cfg->scope_job, &failed,
					  &err) >= 0)
		return 0;
	slurm_error(PLUGIN_NAME ": %s", lc_error_message(&err));
	if (failed)
		slurm_error(PLUGIN_NAME ": couldn't cleanup containers for job %u", jobid);
	return -1;
}
