/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --container-name: under the name's lock (another step creating it is waited for), join the
 * running instance, start on the stopped one's filesystem, or create it; pyxis's flags
 * (auto, create, exec, no_exec) and messages. The layout is the library's (lc_named_*).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>

#include "../pyxis/pyxis.h"
#include "plugin.h"

/* The image of a new named container, in its directory. */
static int named_image(spank_t sp, step_state *s, lc_named *n, lc_error *err)
{
	char *imported = NULL;
	int r;

	if (!args.image)
		return lc_error_set(err, ENOENT,
				    "error: a container with name \"%s\" does not exist, and "
				    "--container-image is not set",
				    s->ename);
	r = lc_named_reset(n, err);
	if (r >= 0 && args_image_is_file())
		return lc_named_copy_image(n, args.image, s->cwd, err);
	if (r >= 0)
		r = import_image(sp, s, lc_named_image_path(n), &imported, err);
	if (r >= 0 && import_by_importer(s))
		r = lc_named_copy_image(n, imported, NULL, err);
	free(imported);
	return r;
}

/* What --container-name's flag allows in @state; the message is pyxis's. */
static int check_flag(int state, lc_error *err)
{
	if (args.name_flag == NAME_CREATE && state != LC_NAMED_ABSENT)
		return lc_error_set(err, EEXIST,
				    "error: \"create\" flag was passed to --container-name but the "
				    "container already exists");
	if (args.name_flag == NAME_EXEC && state != LC_NAMED_RUNNING)
		return lc_error_set(err, ESRCH,
				    "error: \"exec\" flag was passed to --container-name but the "
				    "container is not running");
	return 0;
}

/* Joining a running container: the namespaces asked for must be there. */
static int check_attach(const step_state *s, lc_named *n, lc_error *err)
{
	static const struct {
		uint32_t flag;
		int clone;
		const char *ns, *what;
	} unshare[] = {{LC_CONTAINER_UNSHARE_NET, CLONE_NEWNET, "net", "network"},
		       {LC_CONTAINER_UNSHARE_IPC, CLONE_NEWIPC, "ipc", "IPC"},
		       {LC_CONTAINER_UNSHARE_UTS, CLONE_NEWUTS, "uts", "UTS"}};

	for (size_t i = 0; i < sizeof(unshare) / sizeof(*unshare); i++)
		if ((args.unshare & unshare[i].flag) && !(lc_named_ns_flags(n) & unshare[i].clone))
			return lc_error_set(err, EINVAL,
					    "--container-unshare=%s requested but the container is "
					    "not in a separate %s namespace",
					    unshare[i].ns, unshare[i].what);
	if (args.mounts)
		slurm_spank_log(
		    PLUGIN_NAME
		    ": ignoring --container-mounts when attaching to a running container");
	slurm_verbose(PLUGIN_NAME ": reusing existing container namespaces: %s", s->ename);
	return 0;
}

int named_container(spank_t sp, step_state *s, lc_error *err)
{
	lc_named *n = NULL;
	enum start_mode mode;
	int r = lc_named_open(s->named_dir, s->uid, s->gid, &n, err), state = 0;

	if (r >= 0)
		r = state = lc_named_state(n, err);
	if (r >= 0)
		r = check_flag(state, err);
	mode = state != LC_NAMED_RUNNING        ? START_NEW
	       : args.name_flag == NAME_NO_EXEC ? START_SEPARATE
						: START_JOIN;
	if (r >= 0 && mode == START_JOIN)
		r = check_attach(s, n, err);
	else if (r >= 0 && state == LC_NAMED_ABSENT)
		r = named_image(sp, s, n, err);
	else if (r >= 0)
		slurm_verbose(PLUGIN_NAME ": reusing existing container filesystem: %s", s->ename);
	if (r >= 0)
		r = start_container(sp, s, lc_named_image_path(n), -1, n, mode, err);
	else
		group_fail(s->group, err);
	if (r < 0 && state == LC_NAMED_ABSENT && n) /* a failed creation leaves nothing */
		(void)lc_named_remove(n, NULL);
	if (state == LC_NAMED_ABSENT && import_by_importer(s))
		importer_release(sp, s);
	lc_named_free(n); /* unlocks the name */
	return r;
}

void named_step_end(const step_state *s)
{
	lc_error err = LC_ERROR_INIT;
	int r = 0;

	if (!s->named_dir)
		return;
	if (args.name) /* a no_exec instance's overlay work directory, if it was one */
		r = lc_named_remove_instance(s->named_dir, s->step_name, &err);
	else if (lc_named_is_volatile_at(AT_FDCWD, s->named_dir))
		/* the step's own name holds only that; else it is a container the user named so */
		r = lc_pyxis_remove_under(s->user_dir, s->ename, &err);
	if (r < 0)
		slurm_info(PLUGIN_NAME ": %s", lc_error_message(&err));
}
