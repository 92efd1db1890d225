/* SPDX-License-Identifier: Apache-2.0 */
/* File descriptors over unix sockets (SCM_RIGHTS), one per message with a one-byte tag. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

typedef union fd_control {
	struct cmsghdr align;
	char space[CMSG_SPACE(sizeof(int))];
} fd_control;

int lc_fd_send(int sock, int fd, char tag, int flags)
{
	fd_control control = {0};
	struct iovec iov = {&tag, 1};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control.space,
			     .msg_controllen = sizeof(control.space)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, flags | MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

int lc_fd_recv(int sock, int *ret_fd, int flags)
{
	fd_control control;
	char tag;
	struct iovec iov = {&tag, 1};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control.space,
			     .msg_controllen = sizeof(control.space)};
	struct cmsghdr *cm;
	ssize_t n = recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);

	if (n < 0)
		return -errno;
	cm = CMSG_FIRSTHDR(&msg);
	if (n != 1 || !cm || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return -EIO;
	memcpy(ret_fd, CMSG_DATA(cm), sizeof(int));
	return 0;
}
