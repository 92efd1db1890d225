/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pull, import and cache-fill entry points of the shared library and the plugin: each loads
 * the import module (module.h) once and calls it. The module is looked for beside the object
 * that holds these stubs (the library in a build tree), in its libcontainer/ directory (the
 * library installed), then in LC_MODULE_DIR (the plugin, installed elsewhere): the installer's
 * directories, never a path from the environment. A module whose version or layout differs is
 * refused with an error that names it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "module.h"

static pthread_mutex_t module_lock = PTHREAD_MUTEX_INITIALIZER;
static const lc_import_module *module_table;

/* The module beside this code's object (a build tree), or in its libcontainer/ directory (an
 * install, relocated or not), in @ret_path, if it is there. */
static bool module_beside_us(char ret_path[PATH_MAX])
{
	static const char *const places[] = {"", "libcontainer/"};
	Dl_info info;
	const char *slash;

	if (!dladdr((void *)module_beside_us, &info) || !info.dli_fname ||
	    !(slash = strrchr(info.dli_fname, '/')))
		return false;
	for (size_t i = 0; i < LC_ELEMENTSOF(places); i++)
		if (snprintf(ret_path, PATH_MAX, "%.*s/%s%s", (int)(slash - info.dli_fname),
			     info.dli_fname, places[i], LC_IMPORT_MODULE_NAME) < PATH_MAX &&
		    access(ret_path, F_OK) == 0)
			return true;
	return false;
}

static bool abi_matches(const lc_import_module_abi *abi)
{
	static const lc_import_module_abi ours = LC_IMPORT_MODULE_ABI;

	return abi->version && !strcmp(abi->version, ours.version) &&
	       abi->table_size == ours.table_size && abi->image_size == ours.image_size &&
	       abi->ctx_size == ours.ctx_size;
}

static int module_open(const char *path, const lc_import_module **ret, lc_error *err)
{
	void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	const lc_import_module *m;

	if (!handle)
		return lc_fail(err, ENOENT, "cannot load the import module: %s", dlerror());
	m = dlsym(handle, LC_IMPORT_MODULE_SYMBOL);
	if (!m || !abi_matches(&m->abi)) {
		(void)dlclose(handle);
		return lc_fail(err, ENOEXEC,
			       "the import module %s is not of this build of libcontainer (%s)",
			       path, LC_VERSION_STRING);
	}
	*ret = m; /* never closed: pulls and images of it may live until the process ends */
	return 0;
}

/* The module's table, loaded on the first call. */
static int module_get(const lc_import_module **ret, lc_error *err)
{
	char path[PATH_MAX];
	int r = 0;

	pthread_mutex_lock(&module_lock);
	if (!module_table) {
		if (!module_beside_us(path))
			snprintf(path, sizeof(path), "%s/%s", LC_MODULE_DIR, LC_IMPORT_MODULE_NAME);
		r = module_open(path, &module_table, err);
	}
	*ret = module_table;
	pthread_mutex_unlock(&module_lock);
	return r;
}

/* For calls on a pull, which only the module makes: it is loaded. */
static const lc_import_module *module_loaded(void)
{
	const lc_import_module *m;

	pthread_mutex_lock(&module_lock);
	m = module_table;
	pthread_mutex_unlock(&module_lock);
	return m;
}

LC_API int lc_pull_new(lc_ctx *ctx, const char *ref, const lc_pull_opts *opts, lc_pull **ret_pull,
		       lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	const lc_import_module *m;
	int r = module_get(&m, err ? err : &local);

	return r < 0 ? r : m->pull_new(ctx, ref, opts, ret_pull, err);
}

LC_API int lc_pull_new_archive(lc_ctx *ctx, int fd, const char *ref, const char *tag,
			       const lc_pull_opts *opts, lc_pull **ret_pull, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	const lc_import_module *m;
	int r = module_get(&m, err ? err : &local);

	return r < 0 ? r : m->pull_new_archive(ctx, fd, ref, tag, opts, ret_pull, err);
}

LC_API const lc_image *lc_pull_image(const lc_pull *pull)
{
	const lc_import_module *m = pull ? module_loaded() : NULL;

	return m ? m->pull_image(pull) : NULL;
}

LC_API int lc_pull_start(lc_pull *pull, lc_error *err)
{
	const lc_import_module *m = pull ? module_loaded() : NULL;

	return m ? m->pull_start(pull, err) : lc_fail(err, EINVAL, "lc_pull_start: NULL argument");
}

LC_API int lc_pull_layer_read(lc_pull *pull, size_t index, void *buf, size_t len, size_t *ret_n,
			      lc_error *err)
{
	const lc_import_module *m = pull ? module_loaded() : NULL;

	return m ? m->pull_layer_read(pull, index, buf, len, ret_n, err)
		 : lc_fail(err, EINVAL, "lc_pull_layer_read: NULL argument");
}

LC_API int lc_pull_wait(lc_pull *pull, lc_error *err)
{
	const lc_import_module *m = pull ? module_loaded() : NULL;

	return m ? m->pull_wait(pull, err) : lc_fail(err, EINVAL, "lc_pull_wait: NULL argument");
}

LC_API lc_pull *lc_pull_free(lc_pull *pull)
{
	const lc_import_module *m = pull ? module_loaded() : NULL;

	return m ? m->pull_free(pull) : NULL;
}

LC_API int lc_image_pull(lc_ctx *ctx, const char *ref, const lc_pull_opts *opts,
			 lc_image **ret_image, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	const lc_import_module *m;
	int r = module_get(&m, err ? err : &local);

	return r < 0 ? r : m->image_pull(ctx, ref, opts, ret_image, err);
}

LC_API int lc_import(lc_pull *pull, const char *output, const lc_import_opts *opts,
		     lc_import_stats *ret_stats, lc_error *err)
{
	const lc_import_module *m = pull ? module_loaded() : NULL;

	return m ? m->import(pull, output, opts, ret_stats, err)
		 : lc_fail(err, EINVAL, "lc_import: NULL argument");
}

LC_API int lc_cache_lookup(const char *user_dir, const lc_image *img, uid_t uid, char **ret_path,
			   lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	const lc_import_module *m;
	int r = module_get(&m, err ? err : &local);

	return r < 0 ? r : m->cache_lookup(user_dir, img, uid, ret_path, err);
}

LC_API int lc_cache_fill(lc_pull *pull, const char *user_dir, uid_t uid, const lc_import_opts *io,
			 lc_import_stats *ret_stats, char **ret_path, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	const lc_import_module *m;
	int r = module_get(&m, err ? err : &local);

	return r < 0 ? r : m->cache_fill(pull, user_dir, uid, io, ret_stats, ret_path, err);
}

LC_API int lc_cache_remember(const char *user_dir, const char *reference, const lc_image *img,
			     uid_t uid, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	const lc_import_module *m;
	int r = module_get(&m, err ? err : &local);

	return r < 0 ? r : m->cache_remember(user_dir, reference, img, uid, err);
}

LC_API int lc_cache_recall(const char *user_dir, const char *reference, char **ret_path,
			   lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	const lc_import_module *m;
	int r = module_get(&m, err ? err : &local);

	return r < 0 ? r : m->cache_recall(user_dir, reference, ret_path, err);
}
