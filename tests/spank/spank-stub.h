/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LC_SPANK_STUB_H
#define LC_SPANK_STUB_H

#include <slurm/spank.h>

extern char stub_messages[8192];     /* every message, "level: text\n" */
extern const char *stub_job_env[32]; /* "K=V" entries, NULL-terminated */
struct spank_option *stub_option(const char *name);

#endif
