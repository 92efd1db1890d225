/* SPDX-License-Identifier: Apache-2.0 */
/* An import's default file name, enroot's: the repository with '/' as '+', then the tag or the
 * digest's first 12 hex digits, ".sqsh" (library/ dropped on Docker Hub). */
#include <errno.h>
#include <string.h>

#include "../registry/registry.h"

LC_API int lc_import_default_name(const char *text, char **ret_name, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	_cleanup_(lc_ref_freep) lc_ref *ref = NULL;
	const char *repo;
	lc_buf b = LC_BUF_INIT;
	int r;

	if (!err)
		err = &local;
	if (!ret_name)
		return lc_fail(err, EINVAL, "lc_import_default_name: NULL argument");
	r = lc_ref_parse(text, &ref, err);
	if (r < 0)
		return r;
	repo = ref->repository;
	if (strcmp(ref->registry, LC_DOCKER_HUB) == 0 && lc_str_has_prefix(repo, "library/"))
		repo += strlen("library/");
	for (const char *p = repo; *p; p++)
		(void)lc_buf_append(&b, *p == '/' ? "+" : p, 1);
	if (ref->tag)
		(void)lc_buf_printf(&b, "+%s", ref->tag);
	else
		(void)lc_buf_printf(&b, "+sha256-%.12s", ref->digest + 7);
	if (lc_buf_printf(&b, ".sqsh") < 0) {
		lc_buf_free(&b);
		return lc_fail(err, ENOMEM, "out of memory");
	}
	*ret_name = lc_buf_steal(&b);
	return 0;
}
