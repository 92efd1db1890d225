/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The import module: pulls, imports and the node cache's fill, the only code that needs the
 * network, archive and hash stacks (libcurl, libarchive, libcrypto, ISA-L, zlib: some forty shared
 * libraries with theirs). It is built as a
 * private module, LC_IMPORT_MODULE_NAME, that the library loads on the first pull or import
 * (stubs.c), so that starting a container loads none of them. Its one exported symbol is the
 * table below; everything else in it is local. Tests link the code directly, without stubs.
 */
#ifndef LC_IMPORT_MODULE_H
#define LC_IMPORT_MODULE_H

#include <libcontainer/libcontainer.h>

#include "../image/image.h"
#include "../util/util.h"
#include "lc-config.h"

#define LC_IMPORT_MODULE_NAME "libcontainer-import.so"
#define LC_IMPORT_MODULE_SYMBOL "lc_import_module_table"

/* What a module and the library must agree on besides the table: the version, and the layout
 * of what crosses between them (images the module makes and the library reads, contexts the
 * library makes and the module logs through). */
#define LC_IMPORT_MODULE_ABI                                                          \
	{                                                                             \
		LC_VERSION_STRING, sizeof(lc_import_module), sizeof(struct lc_image), \
		    sizeof(struct lc_ctx)                                             \
	}
typedef struct lc_import_module_abi {
	const char *version;
	size_t table_size, image_size, ctx_size;
} lc_import_module_abi;

typedef struct lc_import_module {
	lc_import_module_abi abi; /* LC_IMPORT_MODULE_ABI of its build: the library's must match */
	int (*pull_new)(lc_ctx *ctx, const char *ref, const lc_pull_opts *opts, lc_pull **ret_pull,
			lc_error *err);
	int (*pull_new_archive)(lc_ctx *ctx, int fd, const char *ref, const char *tag,
				const lc_pull_opts *opts, lc_pull **ret_pull, lc_error *err);
	const lc_image *(*pull_image)(const lc_pull *pull);
	int (*pull_start)(lc_pull *pull, lc_error *err);
	int (*pull_layer_read)(lc_pull *pull, size_t index, void *buf, size_t len, size_t *ret_n,
			       lc_error *err);
	int (*pull_wait)(lc_pull *pull, lc_error *err);
	lc_pull *(*pull_free)(lc_pull *pull);
	int (*image_pull)(lc_ctx *ctx, const char *ref, const lc_pull_opts *opts,
			  lc_image **ret_image, lc_error *err);
	int (*import)(lc_pull *pull, const char *output, const lc_import_opts *opts,
		      lc_import_stats *ret_stats, lc_error *err);
	int (*cache_lookup)(const char *user_dir, const lc_image *img, uid_t uid, char **ret_path,
			    lc_error *err);
	int (*cache_fill)(lc_pull *pull, const char *user_dir, uid_t uid, const lc_import_opts *io,
			  lc_import_stats *ret_stats, char **ret_path, lc_error *err);
	int (*cache_remember)(const char *user_dir, const char *reference, const lc_image *img,
			      uid_t uid, lc_error *err);
	int (*cache_recall)(const char *user_dir, const char *reference, char **ret_path,
			    lc_error *err);
} lc_import_module;

#endif
