/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spank_libcontainer.so: a drop-in for pyxis. This file only dispatches on the SPANK context:
 * srun/sbatch/salloc validate the flags, slurmstepd (remote.c) runs the job in the container.
 */
#include <stdlib.h>

#include "plugin.h"

SPANK_PLUGIN(libcontainer, 1);

static plugin_config config;

int slurm_spank_init(spank_t sp, int ac, char **av)
{
	spank_context_t ctx = spank_context();

	if (config_parse(ac, av, &config) < 0)
		return -1;
	if (ctx == S_CTX_SLURMD || ctx == S_CTX_JOB_SCRIPT)
		return 0;
	if (ctx == S_CTX_ALLOCATOR && !config.sbatch_support)
		return 0;
	return args_register(sp);
}

int slurm_spank_init_post_opt(spank_t sp, int ac, char **av)
{
	(void)ac, (void)av;
	switch (spank_context()) {
	case S_CTX_LOCAL:
	case S_CTX_ALLOCATOR:
		if (args_apply_env(NULL) < 0 || args_refuse_cache(&config) < 0)
			return -1;
		args_check_enabled();
		return 0;
	case S_CTX_REMOTE:
		return remote_post_opt(sp, &config);
	default:
		return 0;
	}
}

int slurm_spank_user_init(spank_t sp, int ac, char **av)
{
	(void)ac, (void)av;
	return spank_context() == S_CTX_REMOTE ? remote_user_init(sp) : 0;
}

int slurm_spank_task_init_privileged(spank_t sp, int ac, char **av)
{
	(void)ac, (void)av;
	return spank_context() == S_CTX_REMOTE ? remote_task_init_privileged(sp) : 0;
}

int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
	(void)ac, (void)av;
	return spank_context() == S_CTX_REMOTE ? remote_task_init(sp) : 0;
}

int slurm_spank_task_post_fork(spank_t sp, int ac, char **av)
{
	(void)ac, (void)av;
	return spank_context() == S_CTX_REMOTE ? remote_task_post_fork(sp) : 0;
}

int slurm_spank_task_exit(spank_t sp, int ac, char **av)
{
	(void)ac, (void)av;
	return spank_context() == S_CTX_REMOTE ? remote_task_exit(sp) : 0;
}

/* slurmd calls this one without slurm_spank_init(). */
int slurm_spank_job_epilog(spank_t sp, int ac, char **av)
{
	int r = config_parse(ac, av, &config);

	if (r >= 0)
		r = remote_job_epilog(sp, &config);
	config_free(&config);
	return r;
}

int slurm_spank_exit(spank_t sp, int ac, char **av)
{
	(void)ac, (void)av;
	if (spank_context() == S_CTX_REMOTE)
		(void)remote_exit(sp);
	args_free();
	config_free(&config);
	return 0;
}
