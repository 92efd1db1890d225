/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the CLIs. */
#ifndef LC_TOOLS_CLI_H
#define LC_TOOLS_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <libcontainer/libcontainer.h>

/* "key: value" lines: reference, digests, platform, layers, env, entrypoint, cmd, workdir,
 * user, labels (what is set). */
void print_image(FILE *f, const lc_image *img);

/* Log sink for lc_ctx_set_log: "PROGRAM: LEVEL: message" on stderr. */
void cli_log(void *userdata, enum lc_log_level level, const char *msg);

/* A size such as 131072, 128K or 1M (also G, T, P; lower case too), at most @max; false if
 * malformed. */
bool cli_parse_size(const char *text, uint32_t max, uint32_t *ret);
bool cli_parse_size64(const char *text, uint64_t max, uint64_t *ret);

/* enroot's site configuration (@sysconf, else $ENROOT_SYSCONF_PATH or /etc/enroot) with this
 * process's environment, the user's directory too; @flags: LC_SITE_* (what not to read). */
int cli_load_site(lc_ctx *ctx, const char *sysconf, uint32_t flags, lc_site **ret, lc_error *err);
/* enroot's import keys that @site sets (ENROOT_ALLOW_HTTP, ENROOT_MAX_CONNECTIONS,
 * ENROOT_SQUASH_OPTIONS) into this process's environment where it lacks them, as enroot's
 * import reads enroot.conf. */
void cli_site_import_env(const lc_site *site);

/* Wait for the command @pid, passing on the signals a terminal or a batch system sends (INT,
 * TERM, HUP, QUIT, USR1, USR2): its exit status, 128 + N when killed by signal N, 125 when it
 * cannot be waited for. */
int cli_wait_command(pid_t pid);

#endif
