/* SPDX-License-Identifier: Apache-2.0 */
/* Printing an image description, shared by the CLIs. */
#ifndef LC_TOOLS_IMAGE_PRINT_H
#define LC_TOOLS_IMAGE_PRINT_H

#include <stdio.h>

#include <libcontainer/libcontainer.h>

/* "key: value" lines: reference, digests, platform, layers, env, entrypoint, cmd, workdir,
 * user, labels (what is set). */
void print_image(FILE *f, const lc_image *img);

#endif
