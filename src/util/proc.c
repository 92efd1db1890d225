/* SPDX-License-Identifier: Apache-2.0 */
/* Child processes. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

int lc_wait_child(pid_t pid, int *ret_status)
{
	while (waitpid(pid, ret_status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

void lc_oom_score_adj_reset(void)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		(void)!write(fd, "0", 1);
		close(fd);
	}
}

int lc_become_user(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups)
{
	if (uid == (uid_t)-1 || geteuid() != 0)
		return 0;
	if (setgroups(n_groups, groups) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		return -errno;
	return 0;
}
