/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The container's holder, watched from slurmstepd while the step's tasks run. The holder also
 * serves the image's files (its FUSE server is a thread of it): when it dies (killed, the OOM
 * killer), the tasks are left in a container whose filesystem is gone, so they are ended with
 * SIGKILL and the step fails, saying why. A thread of the plugin's in slurmstepd; the tasks are
 * known by pidfds (slurm_spank_task_post_fork), never by pid numbers that could be reused.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "plugin.h"

#define TASKS_MAX 4096
#define POLL_MS 50 /* while no task has made or joined the container yet */

static struct {
	pthread_mutex_t lock;
	pthread_t thread;
	bool running;
	int stop; /* an eventfd */
	lc_group *group;
	int tasks[TASKS_MAX]; /* pidfds */
	size_t n_tasks;
} w = {.lock = PTHREAD_MUTEX_INITIALIZER, .stop = -1};

static void kill_tasks(void)
{
	size_t killed = 0;

	pthread_mutex_lock(&w.lock);
	for (size_t i = 0; i < w.n_tasks; i++)
		killed += pidfd_send_signal(w.tasks[i], SIGKILL, NULL, 0) == 0;
	pthread_mutex_unlock(&w.lock);
	if (killed)
		slurm_error(PLUGIN_NAME
			    ": the container's holder ended while the step ran (killed?): "
			    "its files are gone; ending %zu task%s",
			    killed, killed == 1 ? "" : "s");
}

static void *watch(void *arg)
{
	int holder = -1;

	(void)arg;
	for (;;) {
		struct pollfd p[2] = {{.fd = w.stop, .events = POLLIN},
				      {.fd = holder, .events = POLLIN}};
		lc_error err = LC_ERROR_INIT;

		if (holder < 0 && lc_group_holder(w.group, &holder, &err) < 0)
			break; /* never made: the tasks fail on their own */
		p[1].fd = holder;
		if (poll(p, 2, holder < 0 ? POLL_MS : -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break; /* the step ends */
		if (p[1].revents) {
			kill_tasks();
			break;
		}
	}
	if (holder >= 0)
		close(holder);
	return NULL;
}

void watch_task(lc_group *group, pid_t pid)
{
	int fd = pidfd_open(pid, 0);

	if (fd < 0)
		return;
	pthread_mutex_lock(&w.lock);
	if (w.n_tasks < TASKS_MAX)
		w.tasks[w.n_tasks++] = fd;
	else
		close(fd);
	if (!w.running) {
		w.group = group;
		if (w.stop < 0)
			w.stop = eventfd(0, EFD_CLOEXEC);
		w.running = w.stop >= 0 && pthread_create(&w.thread, NULL, watch, NULL) == 0;
	}
	pthread_mutex_unlock(&w.lock);
}

void watch_end(void)
{
	pthread_mutex_lock(&w.lock);
	bool running = w.running;

	w.running = false;
	pthread_mutex_unlock(&w.lock);
	if (running) {
		(void)eventfd_write(w.stop, 1);
		pthread_join(w.thread, NULL);
	}
	if (w.stop >= 0)
		close(w.stop);
	w.stop = -1;
	for (size_t i = 0; i < w.n_tasks; i++)
		close(w.tasks[i]);
	w.n_tasks = 0;
}
