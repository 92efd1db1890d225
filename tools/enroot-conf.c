/* SPDX-License-Identifier: Apache-2.0 */
/*
 * enroot start --conf CONFIG: a configuration script, as enroot reads it. Its "#ENROOT_KEY=VALUE"
 * directives are settings; its functions, run by bash as the caller (the user: this tool never
 * runs as root for someone else) with the command and its arguments: environ() prints
 * variables, mounts() fstab lines, hooks() runs before the container starts (a hook, with
 * enroot's ENROOT_PID, ENROOT_ROOTFS, ENROOT_ENVIRON and ENROOT_MOUNTS), rc() is the command
 * script inside the container.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enroot.h"

#define OUTPUT_MAX (1u << 20)

static int push(char ***v, size_t *n, char *s)
{
	char **nv;

	if (!s)
		return -ENOMEM;
	nv = realloc(*v, (*n + 2) * sizeof(**v));
	if (!nv) {
		free(s);
		return -ENOMEM;
	}
	nv[(*n)++] = s;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}

/* "#ENROOT_KEY=VALUE" or "# ENROOT_KEY VALUE": "ENROOT_KEY=VALUE" (one pair of quotes removed),
 * or NULL. */
static char *directive(const char *line)
{
	const char *key, *value;
	size_t klen, vlen;

	if (*line++ != '#')
		return NULL;
	while (*line == ' ' || *line == '\t')
		line++;
	key = line;
	if (strncmp(key, "ENROOT_", 7))
		return NULL;
	while (isupper((unsigned char)*line) || *line == '_')
		line++;
	klen = (size_t)(line - key);
	if (*line != '=' && *line != ' ' && *line != '\t')
		return NULL;
	while (*line == '=' || *line == ' ' || *line == '\t')
		line++;
	value = line;
	vlen = strcspn(value, "\n");
	while (vlen && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
		vlen--;
	if (vlen >= 2 && (*value == '"' || *value == '\'') && value[vlen - 1] == *value) {
		value++;
		vlen -= 2;
	}
	char *kv = NULL;
	return asprintf(&kv, "%.*s=%.*s", (int)klen, key, (int)vlen, value) < 0 ? NULL : kv;
}

static int read_directives(const char *path, enroot_conf *c)
{
	FILE *f = fopen(path, "re");
	char line[4096];
	int r = 0;

	if (!f)
		return enroot_fail("No such file or directory: %s", path);
	while (!r && fgets(line, sizeof(line), f)) {
		char *kv = directive(line);

		if (kv)
			r = push(&c->overrides, &c->n_overrides, kv);
	}
	fclose(f);
	return r < 0 ? enroot_fail("out of memory") : ENROOT_OK;
}

char *enroot_conf_directive(const char *path, const char *key)
{
	enroot_conf c = {0};
	size_t klen = strlen(key);
	char *value = NULL;

	if (read_directives(path, &c))
		return NULL;
	for (size_t i = c.n_overrides; !value && i-- > 0;)
		if (!strncmp(c.overrides[i], key, klen) && c.overrides[i][klen] == '=')
			value = strdup(c.overrides[i] + klen + 1);
	enroot_conf_clear(&c);
	return value;
}

/* Run @script by bash, with $0 the configuration and the arguments @args; its stdout. */
static int run_bash(const char *conf, const char *script, char *const *args, char **ret_out)
{
	size_t n_args = 0, len = 0;
	int pipefd[2], status;
	char *out = malloc(OUTPUT_MAX + 1);
	ssize_t got;
	pid_t pid;

	while (args[n_args])
		n_args++;
	if (!out || pipe2(pipefd, O_CLOEXEC) < 0)
		return free(out), enroot_fail("%s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		const char **argv = calloc(n_args + 7, sizeof(*argv));
		size_t n = 0;

		if (!argv)
			_exit(127);
		argv[n++] = "bash";
		argv[n++] = "--norc";
		argv[n++] = "--noprofile";
		argv[n++] = "-c";
		argv[n++] = script;
		argv[n++] = conf;
		memcpy(argv + n, args, (n_args + 1) * sizeof(*argv));
		dup2(pipefd[1], STDOUT_FILENO);
		execvp("bash", (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	while (pid > 0 && len < OUTPUT_MAX &&
	       ((got = read(pipefd[0], out + len, OUTPUT_MAX - len)) > 0 ||
		(got < 0 && errno == EINTR)))
		len += got > 0 ? (size_t)got : 0;
	close(pipefd[0]);
	out[len] = '\0';
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		free(out);
		return enroot_fail("%s: its configuration functions failed (exit status %d)", conf,
				   pid > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	*ret_out = out;
	return ENROOT_OK;
}

/* environ(): the lines that are variables ("NAME=..."). */
static int add_variables(enroot_conf *c, char *text)
{
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t n = enroot_env_name_len(line);

		if (n && line[n] == '=' && push(&c->env, &c->n_env, strdup(line)) < 0)
			return enroot_fail("out of memory");
	}
	return ENROOT_OK;
}

/* @s in single quotes, for bash */
static void put_quoted(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	fputc('\'', f);
}

/* hooks(): a script that runs the function with the command and its arguments, in a directory
 * of the caller's own. */
static int make_hook(enroot_conf *c, const char *conf, char *const *args)
{
	char dir[] = "/tmp/ctr-enroot-hook.XXXXXX";
	FILE *f;

	if (!mkdtemp(dir) || !(c->hook_dir = strdup(dir)) ||
	    asprintf(&c->hook, "%s/hooks.sh", dir) < 0)
		return enroot_fail("cannot make a hook: %s", strerror(errno));
	f = fopen(c->hook, "we");
	if (!f)
		return enroot_fail("cannot make a hook: %s", strerror(errno));
	fputs("#!/bin/bash\n. ", f);
	put_quoted(f, conf);
	fputs(" || exit 1\nhooks", f);
	for (; *args; args++) {
		fputc(' ', f);
		put_quoted(f, *args);
	}
	fputc('\n', f);
	if (fclose(f) != 0 || chmod(c->hook, 0700) < 0)
		return enroot_fail("cannot make a hook: %s", strerror(errno));
	return ENROOT_OK;
}

int enroot_conf_load(const char *path, char *const *args, enroot_conf *c)
{
	static const char *const probe =
	    ". \"$0\" || exit 1\n"
	    "if declare -F hooks >/dev/null; then echo '#hooks'; fi\n"
	    "if declare -F environ >/dev/null; then echo '#environ-begin'; environ \"$@\"; fi\n"
	    "echo '#environ-end'\n"
	    "if declare -F mounts >/dev/null; then mounts \"$@\"; fi\n"
	    "echo '#mounts-end'\n"
	    "if declare -F rc >/dev/null; then declare -f rc; fi\n";
	char *out = NULL, *env, *env_end, *mounts, *mounts_end, *rc;
	char abs[4096];
	int r;

	if (read_directives(path, c))
		return ENROOT_FAILED;
	/* bash sources it from the container's working directory: an absolute path */
	if (*path != '/' && getcwd(abs, sizeof(abs) - strlen(path) - 2))
		strcat(strcat(abs, "/"), path);
	else
		snprintf(abs, sizeof(abs), "%s", path);
	if (run_bash(abs, probe, args, &out))
		return ENROOT_FAILED;
	env = strstr(out, "#environ-begin\n");
	env_end = strstr(out, "#environ-end\n");
	mounts_end = env_end ? strstr(env_end, "#mounts-end\n") : NULL;
	if (!env_end || !mounts_end) {
		free(out);
		return enroot_fail("%s: unexpected output of its functions", path);
	}
	*env_end = '\0';
	*mounts_end = '\0';
	mounts = env_end + strlen("#environ-end\n");
	rc = mounts_end + strlen("#mounts-end\n");
	r = env ? add_variables(c, env + strlen("#environ-begin\n")) : ENROOT_OK;
	if (!r && *mounts && !(c->fstab = strdup(mounts)))
		r = enroot_fail("out of memory");
	if (!r && *rc && asprintf(&c->rc, "%s\nrc \"$@\"\n", rc) < 0)
		r = enroot_fail("out of memory");
	if (!r && !strncmp(out, "#hooks\n", 7))
		r = make_hook(c, abs, args);
	free(out);
	return r;
}

void enroot_conf_clear(enroot_conf *c)
{
	for (size_t i = 0; i < c->n_overrides; i++)
		free(c->overrides[i]);
	for (size_t i = 0; i < c->n_env; i++)
		free(c->env[i]);
	free(c->overrides);
	free(c->env);
	free(c->fstab);
	free(c->rc);
	if (c->hook)
		unlink(c->hook);
	if (c->hook_dir)
		rmdir(c->hook_dir);
	free(c->hook);
	free(c->hook_dir);
	*c = (enroot_conf){0};
}
