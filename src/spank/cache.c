/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --container-cache: the node cache of imported images (the library's lc_cache_*). The warm
 * path is one look at the registry by the helper; the cold path makes room (the GC) and imports
 * into a new entry. The entry is marked for the job and locked shared while the step uses it.
 *
 * Without it, a registry image goes to the job's imports in the same layout (job_image): a
 * later step of the job, or another node with shared_import_path, finds it after one manifest
 * request; concurrent imports of one image wait for the first (the fill's lock). The job's
 * epilog removes them.
 */
#include <errno.h>
#include <stdlib.h>

#include "../pyxis/pyxis.h"
#include "plugin.h"

/* Before a new entry: make room (the GC decides whether it must run). */
static void cache_gc(const plugin_config *c)
{
	lc_cache_gc_result res;
	lc_error err = LC_ERROR_INIT;

	if (lc_cache_gc(c->cache_data_path, c->cache_gc_high, c->cache_gc_low, &res, &err) < 0)
		slurm_info(PLUGIN_NAME ": cache GC failed: %s", lc_error_message(&err));
	else if (res.concurrent)
		slurm_verbose(PLUGIN_NAME ": cache GC: another GC is running");
	else
		slurm_verbose(PLUGIN_NAME
			      ": cache GC: %s, %u%% used, now %u%%; evicted %zu, in use "
			      "%zu, dead fills removed %zu, stale records removed %zu",
			      res.ran ? "ran" : "not needed", res.used_before, res.used_after,
			      res.evicted, res.busy, res.stale_fills, res.stale_records);
}

/* Mark the entry of @image_path (what the helper named: only one of the user's own) in use by
 * the job until its epilog, before the step locks it: the GC keeps it between steps too; then
 * lock it shared for the step. */
static int use_entry(const step_state *s, const char *image_path, int *ret_lock, lc_error *err)
{
	int r = lc_cache_job_hold(s->cfg->cache_data_path, s->jobid, image_path, s->uid, err);

	return r < 0 ? r : lc_cache_use(image_path, s->uid, s->gid, ret_lock, err);
}

/* The cold path: an import into a new entry, which the step then uses. With @ret_lock (the node
 * cache) the GC makes room first and the entry is held for the job and locked for the step; the
 * job's imports need neither (the epilog removes them). */
static int fill_entry(spank_t sp, step_state *s, const char *dir, char **ret_path, int *ret_lock,
		      lc_error *err)
{
	int r;

	if (ret_lock)
		cache_gc(s->cfg);
	slurm_spank_log(PLUGIN_NAME ": importing docker image: %s", args.image);
	r = import_cache_entry(sp, s, dir, false, ret_path, err);
	if (r >= 0 && ret_lock)
		r = use_entry(s, *ret_path, ret_lock, err);
	if (r >= 0)
		slurm_spank_log(PLUGIN_NAME ": imported docker image: %s", args.image);
	return r;
}

/* The image's entry in @dir: one look at the registry, else fill_entry(). */
static int entry_image(spank_t sp, step_state *s, const char *dir, char **ret_path, int *ret_lock,
		       lc_error *err)
{
	char *path = NULL;
	int64_t t0 = plugin_now_ms();
	int r = import_cache_entry(sp, s, dir, true, &path, err);

	if (r >= 0 && path && (!ret_lock || use_entry(s, path, ret_lock, err) == 0)) {
		slurm_verbose(PLUGIN_NAME ": %s: %s (%s)",
			      ret_lock ? "cached image" : "the job's image", args.image, path);
	} else if (r >= 0) {
		free(path);
		path = NULL;
		r = fill_entry(sp, s, dir, &path, ret_lock, err);
	}
	s->import_ms = plugin_now_ms() - t0;
	if (r < 0) {
		free(path);
		return r;
	}
	*ret_path = path;
	return 0;
}

int cache_image(spank_t sp, step_state *s, char **ret_path, int *ret_lock, lc_error *err)
{
	char *dir = NULL;
	int r = lc_pyxis_user_dir(s->cfg->cache_data_path, s->uid, s->gid, &dir, err);

	if (r >= 0)
		r = entry_image(sp, s, dir, ret_path, ret_lock, err);
	free(dir);
	return r;
}

int job_image(spank_t sp, step_state *s, char **ret_path, lc_error *err)
{
	return entry_image(sp, s, s->job_images, ret_path, NULL, err);
}
