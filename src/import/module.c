/* SPDX-License-Identifier: Apache-2.0 */
/* The import module's table (module.h): its only exported symbol. */
#include "module.h"

LC_API extern const lc_import_module lc_import_module_table;

const lc_import_module lc_import_module_table = {
    .abi = LC_IMPORT_MODULE_ABI,
    .pull_new = lc_pull_new,
    .pull_new_archive = lc_pull_new_archive,
    .pull_image = lc_pull_image,
    .pull_start = lc_pull_start,
    .pull_layer_read = lc_pull_layer_read,
    .pull_wait = lc_pull_wait,
    .pull_free = lc_pull_free,
    .image_pull = lc_image_pull,
    .import = lc_import,
    .cache_lookup = lc_cache_lookup,
    .cache_fill = lc_cache_fill,
    .cache_remember = lc_cache_remember,
    .cache_recall = lc_cache_recall,
};
