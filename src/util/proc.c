/* SPDX-License-Identifier: Apache-2.0 */
/* Child processes. */
#include <errno.h>
#include <sys/wait.h>

#include "util.h"

int lc_wait_child(pid_t pid, int *ret_status)
{
	while (waitpid(pid, ret_status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}
