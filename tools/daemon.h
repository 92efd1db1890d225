/* SPDX-License-Identifier: Apache-2.0 */
/* dockerd://IMAGE and podman://IMAGE (enroot's): the local daemon's save, run as this user and
 * read as a stream by lc_pull_new_archive. */
#ifndef LC_TOOLS_DAEMON_H
#define LC_TOOLS_DAEMON_H

#include <stdbool.h>
#include <sys/types.h>

#include <libcontainer/libcontainer.h>

typedef struct daemon_save {
	const char *tool; /* "docker" or "podman" */
	const char *name; /* the image, as the daemon knows it */
	char ref[512];    /* the reference the image gets: "dockerd.local/NAME" */
	pid_t pid;
	int out;     /* the archive, read end */
	int err_log; /* the tool's stderr (a memfd) */
} daemon_save;

/* Whether @text is dockerd://NAME or podman://NAME; fills @ds's tool, name and ref. */
bool daemon_ref(const char *text, daemon_save *ds);
/* Start `docker save NAME` or `podman save --format docker-archive NAME` (found in PATH). */
int daemon_save_start(daemon_save *ds, lc_error *err);
/* Wait for it: when it failed, @err says so with the last line it printed (it explains better
 * than what reading its cut archive said); else @r and @err are left as they are. */
int daemon_save_end(daemon_save *ds, int r, lc_error *err);

#endif
