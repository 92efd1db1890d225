/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the CLIs. */
#ifndef LC_TOOLS_CLI_H
#define LC_TOOLS_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <libcontainer/libcontainer.h>

/* "key: value" lines: reference, digests, platform, layers, env, entrypoint, cmd, workdir,
 * user, labels (what is set). */
void print_image(FILE *f, const lc_image *img);

/* Log sink for lc_ctx_set_log: "PROGRAM: LEVEL: message" on stderr. */
void cli_log(void *userdata, enum lc_log_level level, const char *msg);

/* A size such as 131072, 128K or 1M, at most @max; false if malformed. */
bool cli_parse_size(const char *text, uint32_t max, uint32_t *ret);

#endif
