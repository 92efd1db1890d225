/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "cli.h"

void cli_log(void *userdata, enum lc_log_level level, const char *msg)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};

	(void)userdata;
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, names[level], msg);
}

bool cli_parse_size64(const char *text, uint64_t max, uint64_t *ret)
{
	static const char units[] = "KMGTP";
	char *end = NULL;
	unsigned long long v;
	const char *u;

	if (*text < '0' || *text > '9')
		return false;
	v = strtoull(text, &end, 10);
	if (*end && (u = strchr(units, *end & ~0x20)) && u < units + 5) {
		unsigned shift = 10 * (unsigned)(u - units + 1);

		if (v > (~0ull >> shift))
			return false;
		v <<= shift;
		end++;
	}
	if (*end || v > max)
		return false;
	*ret = v;
	return true;
}

bool cli_parse_size(const char *text, uint32_t max, uint32_t *ret)
{
	uint64_t v;

	if (!cli_parse_size64(text, max, &v))
		return false;
	*ret = (uint32_t)v;
	return true;
}

static void print_strv(FILE *f, const char *key, const char *const *v)
{
	for (; v && *v; v++)
		fprintf(f, "%s: %s\n", key, *v);
}

static void print_str(FILE *f, const char *key, const char *value)
{
	if (value && *value)
		fprintf(f, "%s: %s\n", key, value);
}

void print_image(FILE *f, const lc_image *img)
{
	print_str(f, "reference", lc_image_reference(img));
	print_str(f, "digest", lc_image_digest(img));
	print_str(f, "index", lc_image_index_digest(img));
	print_str(f, "config", lc_image_config_digest(img));
	if (lc_image_os(img) || lc_image_architecture(img))
		fprintf(f, "platform: %s/%s\n", lc_image_os(img) ? lc_image_os(img) : "?",
			lc_image_architecture(img) ? lc_image_architecture(img) : "?");
	for (size_t i = 0; i < lc_image_layer_count(img); i++)
		fprintf(f, "layer: %s %" PRIu64 " %s %s\n", lc_image_layer_digest(img, i),
			lc_image_layer_size(img, i), lc_image_layer_media_type(img, i),
			lc_image_layer_path(img, i) ? lc_image_layer_path(img, i) : "");
	print_strv(f, "env", lc_image_env(img));
	print_strv(f, "entrypoint", lc_image_entrypoint(img));
	print_strv(f, "cmd", lc_image_cmd(img));
	print_str(f, "workdir", lc_image_workdir(img));
	print_str(f, "user", lc_image_user(img));
	for (size_t i = 0; i < lc_image_label_count(img); i++)
		fprintf(f, "label: %s=%s\n", lc_image_label_key(img, i),
			lc_image_label(img, lc_image_label_key(img, i)));
}

int cli_load_site(lc_ctx *ctx, const char *sysconf, uint32_t flags, lc_site **ret, lc_error *err)
{
	extern char **environ;
	lc_site_opts so = LC_SITE_OPTS_INIT;

	so.flags = flags;
	so.sysconf_path = sysconf;
	so.env = (const char *const *)environ;
	return lc_site_load(ctx, &so, ret, err);
}

void cli_site_import_env(const lc_site *site)
{
	static const char *const keys[] = {"ENROOT_ALLOW_HTTP", "ENROOT_MAX_CONNECTIONS",
					   "ENROOT_SQUASH_OPTIONS", NULL};

	for (const char *const *k = keys; site && *k; k++) {
		const char *v = lc_site_setting(site, *k);

		if (v && !getenv(*k))
			setenv(*k, v, 0);
	}
}

/* Wait for the command, passing on the signals a terminal or a batch system sends. */
static pid_t command_pid;

static void forward(int sig)
{
	if (command_pid > 0)
		kill(command_pid, sig);
}

int cli_wait_command(pid_t pid)
{
	int status;

	command_pid = pid;
	for (const int *s = (const int[]){SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, 0};
	     *s; s++)
		signal(*s, forward);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 125;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
