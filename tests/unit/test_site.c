/* SPDX-License-Identifier: Apache-2.0 */
/* enroot's site configuration (src/site): substitution, enroot.conf, environ.d and fstab lines,
 * as tables of what enroot makes of each form, with the bad lines refused. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lc-test.h"
#include "site/site.h"

static const char *const job_env[] = {"HOME=/home/u",
				      "USER=u",
				      "TERM=xterm-256color",
				      "EMPTY=",
				      "SCRATCH=/lus/u",
				      "ENROOT_MOUNT_HOME=n",
				      "NVIDIA_VISIBLE_DEVICES=0",
				      NULL};
static const lc_site_vars vars = {job_env, 1234, 567};

START_TEST(subst_braces_only)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"TERM=${TERM}", "TERM=xterm-256color"},
	    {"${SCRATCH}/data ${HOME}", "/lus/u/data /home/u"},
	    {"$HOME stays", "$HOME stays"},               /* envsubst: braces only */
	    {"${UNSET}x${EMPTY}y", "xy"},                 /* unset and empty: "" */
	    {"${1BAD} ${} ${A-B}", "${1BAD} ${} ${A-B}"}, /* not names: kept */
	    {"trailing ${", "trailing ${"},
	};
	char *out = NULL;

	for (size_t i = 0; i < LC_ELEMENTSOF(cases); i++) {
		ck_assert_int_eq(lc_site_subst(&vars, cases[i].in, &out), 0);
		ck_assert_msg(!strcmp(out, cases[i].out), "'%s' -> '%s'", cases[i].in, out);
		free(out);
	}
}
END_TEST

START_TEST(conf_values_as_eval_echo)
{
	static const struct {
		const char *in, *out;
	} good[] = {
	    {"/run/enroot", "/run/enroot"},
	    {"${HOME}/.cache", "/home/u/.cache"},
	    {"$HOME/x", "/home/u/x"},
	    {"/tmp/enroot-$(id -u)", "/tmp/enroot-1234"},
	    {"/g/$( id -g )", "/g/567"},
	    {"${XDG_RUNTIME_DIR:-/run}/enroot", "/run/enroot"},
	    {"${HOME:-/nohome}", "/home/u"},
	    {"\"-comp zstd   -Xcompression-level 3\"", "-comp zstd   -Xcompression-level 3"},
	    {"-comp   zstd", "-comp zstd"}, /* unquoted blanks: one space, as echo */
	    {"'$HOME is literal'", "$HOME is literal"},
	    {"\"$USER's\"", "u's"},
	    {"a\\ b", "a b"},
	    {"~/x", "/home/u/x"},
	    {"a~b", "a~b"},
	    {"yes", "yes"},
	    {"", ""},
	    {"$", "$"},
	};
	static const struct {
		const char *in, *why;
	} bad[] = {
	    {"$(whoami)", "a command substitution other than $(id -u) and $(id -g)"},
	    {"$(id -u; rm -rf /)", "a command substitution"},
	    {"`id -u`", "a backquote"},
	    {"\"unterminated", "unterminated quote"},
	    {"'unterminated", "unterminated quote"},
	    {"$(id -u", "unterminated $("},
	    {"${HOME/x/y}", "this ${...} form"},
	};
	lc_error err = LC_ERROR_INIT;
	char *out = NULL;

	for (size_t i = 0; i < LC_ELEMENTSOF(good); i++) {
		ck_assert_msg(lc_site_conf_value(&vars, good[i].in, &out, &err) == 0, "%s: %s",
			      good[i].in, err.msg);
		ck_assert_msg(!strcmp(out, good[i].out), "'%s' -> '%s'", good[i].in, out);
		free(out);
	}
	for (size_t i = 0; i < LC_ELEMENTSOF(bad); i++) {
		out = NULL;
		ck_assert_msg(lc_site_conf_value(&vars, bad[i].in, &out, &err) == -EINVAL, "%s",
			      bad[i].in);
		ck_assert_msg(strstr(err.msg, bad[i].why), "'%s': %s", bad[i].in, err.msg);
		ck_assert_ptr_null(out);
	}
}
END_TEST

START_TEST(conf_files)
{
	const char *sys = "# a comment\n"
			  "ENROOT_RUNTIME_PATH   /run/enroot/user-$(id -u)\n"
			  "ENROOT_MOUNT_HOME yes\n"
			  "  ENROOT_REMAP_ROOT=true\n"
			  "ENROOT_ROOTFS_WRITABLE = yes\n"
			  "ENROOT_RESTRICT_DEV no\n"
			  "ENROOT_UNSHARE_NET 0\n"
			  "NVIDIA_DRIVER_CAPABILITIES compute,utility\n"
			  "NVIDIA_VISIBLE_DEVICES all\n"
			  "MELLANOX_VISIBLE_DEVICES none\n"
			  "https_proxy http://proxy:3128\n"
			  "PATH /evil\n"
			  "enroot_lower 1\n"
			  "ENROOT_lower 1\n"
			  "#ENROOT_DATA_PATH /commented\n";
	const char *dropin = "ENROOT_REMAP_ROOT no\n"
			     "ENROOT_SQUASH_OPTIONS \"-comp zstd -Xcompression-level 9\"\n";
	lc_strvec conf = {0}, off = {0};
	lc_error err = LC_ERROR_INIT;

	ck_assert_int_eq(lc_site_conf_parse(sys, "enroot.conf", &vars, &conf, &err), 0);
	ck_assert_int_eq(
	    lc_site_conf_parse(dropin, "enroot.conf.d/50-site.conf", &vars, &conf, &err), 0);
	ck_assert_int_eq(lc_site_conf_finish(&conf, &off), 0);
	ck_assert_str_eq(lc_env_get(&conf, "ENROOT_RUNTIME_PATH"), "/run/enroot/user-1234");
	/* the caller's environment beats the file: ENROOT_MOUNT_HOME=n, then n is false */
	ck_assert_ptr_null(lc_env_get(&conf, "ENROOT_MOUNT_HOME"));
	ck_assert(!lc_site_conf_on(&conf, "ENROOT_MOUNT_HOME"));
	ck_assert_ptr_null(lc_env_get(&conf, "NVIDIA_VISIBLE_DEVICES")); /* the job's 0 wins */
	/* a later file wins, and false unsets */
	ck_assert(!lc_site_conf_on(&conf, "ENROOT_REMAP_ROOT"));
	ck_assert(lc_site_conf_on(&conf, "ENROOT_ROOTFS_WRITABLE"));
	ck_assert(!lc_site_conf_on(&conf, "ENROOT_RESTRICT_DEV"));
	ck_assert(!lc_site_conf_on(&conf, "ENROOT_UNSHARE_NET"));
	/* turned off on purpose, not merely unset */
	ck_assert_str_eq(lc_env_get(&off, "ENROOT_RESTRICT_DEV"), "no");
	ck_assert_str_eq(lc_env_get(&off, "ENROOT_UNSHARE_NET"), "0");
	ck_assert_ptr_null(lc_env_get(&off, "ENROOT_DATA_PATH"));
	lc_strvec_free(&off);
	ck_assert_str_eq(lc_env_get(&conf, "ENROOT_SQUASH_OPTIONS"),
			 "-comp zstd -Xcompression-level 9");
	ck_assert_str_eq(lc_env_get(&conf, "NVIDIA_DRIVER_CAPABILITIES"), "compute,utility");
	ck_assert_str_eq(lc_env_get(&conf, "MELLANOX_VISIBLE_DEVICES"), "none"); /* not ENROOT_ */
	ck_assert_str_eq(lc_env_get(&conf, "https_proxy"), "http://proxy:3128");
	/* only the keys enroot reads */
	ck_assert_ptr_null(lc_env_get(&conf, "PATH"));
	ck_assert_ptr_null(lc_env_get(&conf, "enroot_lower"));
	ck_assert_ptr_null(lc_env_get(&conf, "ENROOT_lower"));
	ck_assert_ptr_null(lc_env_get(&conf, "ENROOT_DATA_PATH"));
	ck_assert(lc_site_conf_key("SSL_CERT_FILE") && !lc_site_conf_key("SSL_CERT_X"));
	ck_assert(!lc_site_conf_key("ENROOT_") && lc_site_conf_key("ENROOT_A_B"));
	/* a line that would run a program: refused, named */
	ck_assert_int_eq(
	    lc_site_conf_parse("\nENROOT_DATA_PATH $(curl evil)\n", "x.conf", &vars, &conf, &err),
	    -EINVAL);
	ck_assert_msg(strstr(err.msg, "x.conf, line 2: ENROOT_DATA_PATH: a command substitution"),
		      "%s", err.msg);
	lc_strvec_free(&conf);
}
END_TEST

START_TEST(environ_files)
{
	const char *text = "TERM=${TERM}\n"
			   "   INDENTED=yes\n"
			   "# comment\n"
			   "\n"
			   "QUOTED=\"a b\"\n"
			   "SINGLE='c d'  \n"
			   "HALF=\"kept\n"
			   "ENROOT_ROOTFS=/evil\n"
			   "1BAD=x\n"
			   "no equals sign\n"
			   "SCRATCH=${SCRATCH}/job\n"
			   "TERM=override\n";
	lc_strvec env = {0};
	lc_error err = LC_ERROR_INIT;

	ck_assert_int_eq(lc_site_environ_parse(text, &vars, &env, &err), 0);
	ck_assert_str_eq(lc_env_get(&env, "TERM"), "override"); /* later lines win */
	ck_assert_str_eq(lc_env_get(&env, "INDENTED"), "yes");
	ck_assert_str_eq(lc_env_get(&env, "QUOTED"), "a b");
	ck_assert_str_eq(lc_env_get(&env, "SINGLE"), "c d");
	ck_assert_str_eq(lc_env_get(&env, "HALF"), "\"kept");
	ck_assert_str_eq(lc_env_get(&env, "SCRATCH"), "/lus/u/job");
	ck_assert_ptr_null(lc_env_get(&env, "ENROOT_ROOTFS"));
	ck_assert_ptr_null(lc_env_get(&env, "1BAD"));
	ck_assert_uint_eq(env.n, 6);
	lc_strvec_free(&env);
	/* enroot's own 10-terminal.env */
	ck_assert_int_eq(lc_site_environ_parse("TERM=${TERM}\n", &vars, &env, &err), 0);
	ck_assert_str_eq(lc_env_get(&env, "TERM"), "xterm-256color");
	lc_strvec_free(&env);
}
END_TEST

START_TEST(fstab_lines)
{
	static const struct {
		const char *line, *source, *target, *type, *data;
		unsigned long flags, propagation;
		enum lc_fstab_create create;
		int pass;
		bool nofail, silent, detach, move;
	} cases[] = {
	    /* enroot's own 10-system.fstab and 20-config.fstab lines */
	    {"/proc /proc none x-create=dir,bind,rw,nosuid,nodev,noexec,rprivate 0 -1", "/proc",
	     "/proc", "none", "", MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC, MS_PRIVATE | MS_REC,
	     LC_FSTAB_CREATE_DIR, -1},
	    {"tmpfs /tmp tmpfs x-create=dir,rw,nosuid,nodev,mode=1777 0 -1", "tmpfs", "/tmp",
	     "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV, 0, LC_FSTAB_CREATE_DIR, -1},
	    {"/etc/hosts /etc/hosts none x-create=file,bind,ro,nosuid,nodev,noexec,nofail,silent",
	     "/etc/hosts", "/etc/hosts", "none", "",
	     MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, LC_FSTAB_CREATE_FILE, 0,
	     true, true},
	    /* the short forms */
	    {"tmpfs /dst", "tmpfs", "/dst", "tmpfs", "", 0, 0, LC_FSTAB_CREATE_NONE, 0},
	    {"/src", "/src", "/src", "none", "", MS_BIND | MS_REC, 0, LC_FSTAB_CREATE_AUTO, 0},
	    {"/src bind", "/src", "/src", "none", "", MS_BIND, 0, LC_FSTAB_CREATE_NONE, 0},
	    {"/src /dst", "/src", "/dst", "none", "", MS_BIND | MS_REC, 0, LC_FSTAB_CREATE_AUTO, 0},
	    {"/src /dst bind", "/src", "/dst", "none", "", MS_BIND, 0, LC_FSTAB_CREATE_NONE, 0},
	    {"/src /dst rbind,ro", "/src", "/dst", "none", "", MS_BIND | MS_REC | MS_RDONLY, 0,
	     LC_FSTAB_CREATE_NONE, 0},
	    {"none /dev/pts devpts x-create=dir,newinstance,ptmxmode=0666", "none", "/dev/pts",
	     "devpts", "newinstance,ptmxmode=0666", 0, 0, LC_FSTAB_CREATE_DIR, 0},
	    /* escapes, substitution, fs_freq as the pass, the rest */
	    {"/a\\040b /c\\011d none bind 0 0", "/a b", "/c\td", "none", "", MS_BIND, 0,
	     LC_FSTAB_CREATE_NONE, 0},
	    {"${SCRATCH} /scratch none rbind,x-create=dir", "/lus/u", "/scratch", "none", "",
	     MS_BIND | MS_REC, 0, LC_FSTAB_CREATE_DIR, 0},
	    {"/x /y none bind -1", "/x", "/y", "none", "", MS_BIND, 0, LC_FSTAB_CREATE_NONE, -1},
	    {"/x /y none bind,rw,ro,suid 0 0", "/x", "/y", "none", "", MS_BIND | MS_RDONLY, 0,
	     LC_FSTAB_CREATE_NONE, 0},
	    {"/home /home none x-detach,nofail", "/home", "/home", "none", "", 0, 0,
	     LC_FSTAB_CREATE_NONE, 0, true, false, true},
	    {"/old /new none x-move", "/old", "/new", "none", "", 0, 0, LC_FSTAB_CREATE_NONE, 0,
	     false, false, false, true},
	    {"/x /y none bind,rshared,defaults,noauto", "/x", "/y", "none", "", MS_BIND,
	     MS_SHARED | MS_REC, LC_FSTAB_CREATE_NONE, 0},
	    {"/x /y none bind,nofail,silent,loud", "/x", "/y", "none", "", MS_BIND, 0,
	     LC_FSTAB_CREATE_NONE, 0, true, false},
	};
	lc_error err = LC_ERROR_INIT;
	lc_fstab_entry e;

	for (size_t i = 0; i < LC_ELEMENTSOF(cases); i++) {
		ck_assert_msg(lc_fstab_parse_line(cases[i].line, "t.fstab", 1, &vars, &e, &err) ==
				  1,
			      "%s: %s", cases[i].line, err.msg);
		ck_assert_msg(
		    !strcmp(e.source, cases[i].source) && !strcmp(e.target, cases[i].target) &&
			!strcmp(e.type, cases[i].type) && !strcmp(e.data, cases[i].data),
		    "%s -> '%s' '%s' '%s' '%s'", cases[i].line, e.source, e.target, e.type, e.data);
		ck_assert_msg(e.flags == cases[i].flags && e.propagation == cases[i].propagation,
			      "%s: flags 0x%lx propagation 0x%lx", cases[i].line, e.flags,
			      e.propagation);
		ck_assert_msg(e.create == cases[i].create && e.pass == cases[i].pass, "%s",
			      cases[i].line);
		ck_assert_msg(e.nofail == cases[i].nofail && e.silent == cases[i].silent &&
				  e.detach == cases[i].detach && e.move == cases[i].move,
			      "%s", cases[i].line);
		lc_fstab_entry_clear(&e);
	}
}
END_TEST

START_TEST(fstab_comments_and_bad_lines)
{
	static const struct {
		const char *line, *message;
	} bad[] = {
	    {"/x /y none bind,x-frobnicate", "t.fstab, line 7: unknown option 'x-frobnicate'"},
	    {"/x /y none bind 0 zero", "t.fstab, line 7: bad number 'zero'"},
	    {"/x /y none bind 0 0 extra", "t.fstab, line 7: too many fields"},
	    {"tmpfs", "t.fstab, line 7: invalid fstab entry"},
	};
	lc_error err = LC_ERROR_INIT;
	lc_fstab_entry e;

	ck_assert_int_eq(lc_fstab_parse_line("   # a comment", "t.fstab", 1, &vars, &e, &err), 0);
	ck_assert_int_eq(lc_fstab_parse_line("", "t.fstab", 1, &vars, &e, &err), 0);
	ck_assert_int_eq(lc_fstab_parse_line("${EMPTY}", "t.fstab", 1, &vars, &e, &err), 0);
	for (size_t i = 0; i < LC_ELEMENTSOF(bad); i++) {
		ck_assert_msg(lc_fstab_parse_line(bad[i].line, "t.fstab", 7, &vars, &e, &err) < 0,
			      "%s", bad[i].line);
		ck_assert_msg(!strcmp(err.msg, bad[i].message), "%s: %s", bad[i].line, err.msg);
		ck_assert_ptr_null(e.source);
	}
}
END_TEST

/* ---------------------------------------------------------------- lc_site_load on directories */

static void put(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static void make_tree(const char *root)
{
	static const char *const dirs[] = {
	    "",      "/enroot.conf.d",  "/environ.d",    "/mounts.d",     "/hooks.d",
	    "/user", "/user/environ.d", "/user/hooks.d", "/user/mounts.d"};
	char path[512];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
		snprintf(path, sizeof(path), "%s%s", root, dirs[i]);
		ck_assert_int_eq(mkdir(path, 0755), 0);
	}
}

START_TEST(slurm_pmi)
{
	const char *pmix[] = {"SLURM_JOB_ID=7",
			      "SLURM_STEP_ID=1",
			      "SLURM_JOB_UID=1001",
			      "SLURM_MPI_TYPE=pmix_v4",
			      "PMIX_SECURITY_MODE=native",
			      "PMIX_GDS_MODULE=ds21,hash",
			      "PMIX_MCA_ptl=tcp",
			      "PMIX_PTL_MODULE=usock",
			      "PMIX_SERVER_TMPDIR=/var/spool/slurmd/pmix.7.1/",
			      NULL};
	const char *pmi2[] = {"SLURM_JOB_ID=7",        "SLURM_STEP_ID=1",
			      "SLURM_MPI_TYPE=pmi2",   "PMIX_GDS_MODULE=ds21",
			      "PMIX_SERVER_TMPDIR=/x", NULL};
	const char *no_step[] = {"PMIX_GDS_MODULE=ds21", "PMIX_SERVER_TMPDIR=/x", NULL};
	lc_strvec env = {0};
	lc_fstab_list mounts = {0};

	/* the client's names for the server's settings, unless the job set them */
	ck_assert_int_eq(lc_site_slurm_pmi_env(pmix, &env), 0);
	ck_assert_uint_eq(env.n, 2);
	ck_assert_str_eq(lc_env_get(&env, "PMIX_MCA_psec"), "native");
	ck_assert_str_eq(lc_env_get(&env, "PMIX_MCA_gds"), "ds21,hash");
	ck_assert_ptr_null(lc_env_get(&env, "PMIX_MCA_ptl"));
	/* the server's directory, then 22.05's client directory, at their own paths */
	lc_site_slurm_pmi_mounts(pmix, &mounts);
	ck_assert_uint_eq(mounts.n, 2);
	ck_assert_str_eq(mounts.v[0].source, "/var/spool/slurmd/pmix.7.1/");
	ck_assert_str_eq(mounts.v[0].target, "/var/spool/slurmd/pmix.7.1/");
	ck_assert_str_eq(mounts.v[1].target, "/tmp/spmix_appdir_1001_7.1");
	for (size_t i = 0; i < mounts.n; i++) {
		ck_assert(mounts.v[i].nofail && mounts.v[i].silent);
		ck_assert_uint_eq(mounts.v[i].flags & (MS_BIND | MS_RDONLY | MS_NOSUID),
				  MS_BIND | MS_NOSUID);
		ck_assert_int_eq(mounts.v[i].create, LC_FSTAB_CREATE_DIR);
	}
	lc_fstab_list_clear(&mounts);
	/* not for another MPI type, nor outside a step */
	for (const char *const *const *e = (const char *const *const[]){pmi2, no_step, NULL}; *e;
	     e++) {
		lc_strvec_free(&env);
		ck_assert_int_eq(lc_site_slurm_pmi_env(*e, &env), 0);
		ck_assert_uint_eq(env.n, 0);
		lc_site_slurm_pmi_mounts(*e, &mounts);
		ck_assert_uint_eq(mounts.n, 0);
	}
	lc_strvec_free(&env);
}
END_TEST

START_TEST(load_directories)
{
	char root[] = "/tmp/lc-site-XXXXXX", user[64], hook[128];
	const char *env[] = {"HOME=/home/u",
			     "TERM=vt220",
			     "SCRATCH=/lus",
			     "ENROOT_REMAP_ROOT=y",
			     "SLURM_JOB_ID=7",
			     "SLURM_STEP_ID=0",
			     "PMIX_PTL_MODULE=tcp",
			     "PMIX_MCA_gds=hash",
			     "PMIX_GDS_MODULE=ds21",
			     "PMIX_SERVER_TMPDIR=/var/spool/pmix.7.0",
			     NULL};
	lc_site_opts o = LC_SITE_OPTS_INIT;
	lc_error err = LC_ERROR_INIT;
	lc_site *site = NULL;

	ck_assert_ptr_nonnull(mkdtemp(root));
	rmdir(root);
	make_tree(root);
	put(root, "enroot.conf",
	    "ENROOT_ROOTFS_WRITABLE yes\nENROOT_REMAP_ROOT no\nENROOT_MOUNT_HOME=yes\n"
	    "ENROOT_RESTRICT_DEV y\nUNKNOWN_KEY 1\n",
	    0644);
	put(root, "enroot.conf.d/20-later.conf", "ENROOT_RESTRICT_DEV no\n", 0644);
	put(root, "environ.d/50-site.env", "SITE_VAR=${SCRATCH}/x\nENROOT_NO=1\n", 0644);
	put(root, "environ.d/60-later.env", "SITE_VAR=later\n", 0644);
	put(root, "mounts.d/10-system.fstab", "/proc /proc none rbind\n", 0644);
	put(root, "mounts.d/50-site.fstab", "${SCRATCH} /scratch none x-create=dir,bind 0 -1\n",
	    0644);
	put(root, "hooks.d/10-shadow.sh", "#!/bin/sh\n", 0755);
	put(root, "hooks.d/50-site.sh", "#!/bin/sh\n", 0755);
	put(root, "hooks.d/60-not-executable.sh", "#!/bin/sh\n", 0644);
	snprintf(user, sizeof(user), "%s/user", root);
	put(user, "environ.d/90-user.env", "USER_VAR='quoted'\n", 0644);
	put(user, "hooks.d/90-user.sh", "#!/bin/sh\n", 0755);
	o.sysconf_path = root;
	o.config_path = user;
	o.env = env;
	o.overrides = (const char *[]){"ENROOT_MOUNT_HOME=n", NULL};
	ck_assert_int_eq(lc_site_load(NULL, &o, &site, &err), 0);
	/* the caller's environment beats the file, the overrides beat both, false unsets */
	ck_assert_str_eq(lc_site_setting(site, "ENROOT_REMAP_ROOT"), "y");
	ck_assert_str_eq(lc_site_setting(site, "ENROOT_ROOTFS_WRITABLE"), "yes");
	ck_assert_ptr_null(lc_site_setting(site, "ENROOT_MOUNT_HOME"));
	ck_assert_ptr_null(lc_site_setting(site, "ENROOT_RESTRICT_DEV")); /* conf.d is later */
	ck_assert_ptr_null(lc_site_setting(site, "UNKNOWN_KEY"));
	/* ENROOT_RESTRICT_DEV said no: the host's /dev, as enroot (unset, it stays restricted) */
	ck_assert_uint_eq(lc_site_container_flags(site),
			  LC_CONTAINER_RW | LC_CONTAINER_REMAP_ROOT | LC_CONTAINER_HOST_DEV);
	/* TERM first (enroot's 10-terminal.env), the files in order, PMIx's names (50-slurm-pmi) */
	ck_assert_str_eq(lc_env_get(&site->environ, "TERM"), "vt220");
	ck_assert_str_eq(lc_env_get(&site->environ, "SITE_VAR"), "later");
	ck_assert_str_eq(lc_env_get(&site->environ, "USER_VAR"), "quoted");
	ck_assert_ptr_null(lc_env_get(&site->environ, "ENROOT_NO"));
	ck_assert_str_eq(lc_env_get(&site->environ, "PMIX_MCA_ptl"), "tcp");
	ck_assert_ptr_null(lc_env_get(&site->environ, "PMIX_MCA_gds")); /* the job set it */
	/* enroot's 10-system.fstab is built in: not read; the PMIx directory is bound */
	ck_assert_uint_eq(site->mounts.n, 2);
	ck_assert_str_eq(site->mounts.v[0].source, "/lus");
	ck_assert_int_eq(site->mounts.v[0].pass, -1);
	ck_assert_str_eq(site->mounts.v[1].target, "/var/spool/pmix.7.0");
	ck_assert(site->mounts.v[1].nofail && (site->mounts.v[1].flags & MS_BIND));
	/* executable hooks, the site's then the user's, enroot's own names skipped */
	ck_assert_uint_eq(lc_site_hook_count(site), 2);
	snprintf(hook, sizeof(hook), "%s/hooks.d/50-site.sh", root);
	ck_assert_str_eq(site->hooks.v[0], hook);
	snprintf(hook, sizeof(hook), "%s/hooks.d/90-user.sh", user);
	ck_assert_str_eq(site->hooks.v[1], hook);
	site = lc_site_free(site);
	/* a site that patched the standard hooks runs them */
	o.flags = LC_SITE_RUN_STANDARD_HOOKS | LC_SITE_NO_USER_CONFIG;
	ck_assert_int_eq(lc_site_load(NULL, &o, &site, &err), 0);
	ck_assert_uint_eq(lc_site_hook_count(site), 2);
	snprintf(hook, sizeof(hook), "%s/hooks.d/10-shadow.sh", root);
	ck_assert_str_eq(site->hooks.v[0], hook);
	ck_assert_ptr_null(lc_env_get(&site->environ, "USER_VAR"));
	site = lc_site_free(site);
	/* a front-end's mounts (enroot start --mount) come after the files' (PMIx's last) */
	o.mounts = "/data /mnt none bind,ro\ntmpfs /scratch tmpfs size=1m\n";
	ck_assert_int_eq(lc_site_load(NULL, &o, &site, &err), 0);
	ck_assert_uint_eq(site->mounts.n, 4);
	ck_assert_str_eq(site->mounts.v[1].source, "/data");
	ck_assert_str_eq(site->mounts.v[1].target, "/mnt");
	ck_assert(site->mounts.v[1].flags & MS_RDONLY);
	ck_assert_str_eq(site->mounts.v[2].type, "tmpfs");
	site = lc_site_free(site);
	/* and its hooks after the files' */
	o.hooks = (const char *[]){"/front/end-hook", NULL};
	ck_assert_int_eq(lc_site_load(NULL, &o, &site, &err), 0);
	ck_assert_uint_eq(lc_site_hook_count(site), 3);
	ck_assert_str_eq(site->hooks.v[2], "/front/end-hook");
	site = lc_site_free(site);
	o.hooks = NULL;
	o.mounts = "/data /mnt none bind\n/a /b none x-bogus\n";
	ck_assert_int_eq(lc_site_load(NULL, &o, &site, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "--mount, line 2"), "%s", err.msg);
	o.mounts = NULL;
	/* a bad line names its file and line, and gives nothing */
	put(root, "mounts.d/70-bad.fstab", "\n/a /b none x-bogus\n", 0644);
	ck_assert_int_eq(lc_site_load(NULL, &o, &site, &err), -EINVAL);
	ck_assert_ptr_null(site);
	ck_assert_msg(strstr(err.msg, "mounts.d/70-bad.fstab, line 2") &&
			  strstr(err.msg, "unknown option 'x-bogus'"),
		      "%s", err.msg);
	put(root, "mounts.d/70-bad.fstab", "\n", 0644);
	put(root, "enroot.conf", "ENROOT_DATA_PATH $(rm -rf /)\n", 0644);
	ck_assert_int_eq(lc_site_load(NULL, &o, &site, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "enroot.conf, line 1"), "%s", err.msg);
	/* no directory at all: an empty configuration */
	o.sysconf_path = "/nonexistent/enroot";
	o.env = NULL;
	ck_assert_int_eq(lc_site_load(NULL, &o, &site, &err), 0);
	ck_assert_uint_eq(lc_site_container_flags(site), 0);
	ck_assert_uint_eq(lc_site_hook_count(site), 0);
	lc_site_free(site);
	o.flags = LC_SITE_ALL + 1;
	ck_assert_int_eq(lc_site_load(NULL, &o, &site, &err), -EINVAL);
	ck_assert_int_eq(lc_rm_rf_at(AT_FDCWD, root), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("site");
	TCase *tc = tcase_create("site");

	tcase_add_test(tc, subst_braces_only);
	tcase_add_test(tc, conf_values_as_eval_echo);
	tcase_add_test(tc, conf_files);
	tcase_add_test(tc, environ_files);
	tcase_add_test(tc, fstab_lines);
	tcase_add_test(tc, fstab_comments_and_bad_lines);
	tcase_add_test(tc, slurm_pmi);
	tcase_add_test(tc, load_directories);
	suite_add_tcase(s, tc);
	return lc_test_run(s);
}
