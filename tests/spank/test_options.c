/* SPDX-License-Identifier: Apache-2.0 */
/* The plugin's flags, PYXIS_* variables and plugstack options against a stub of the SPANK API:
 * pyxis's validation and messages, without Slurm. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include <libcontainer/libcontainer.h>

#include "spank-stub.h"
#include "spank/plugin.h"

static void setup(void)
{
	static bool registered;

	args_free();
	stub_messages[0] = '\0';
	stub_job_env[0] = NULL;
	if (!registered)
		ck_assert_int_eq(args_register(NULL), 0);
	registered = true;
}

/* Give --NAME[=VALUE] as srun would. */
static int flag(const char *name, const char *value)
{
	struct spank_option *o = stub_option(name);

	ck_assert_msg(o, "no option --%s", name);
	return o->cb(o->val, value, 0);
}

static void expect_message(const char *text)
{
	ck_assert_msg(strstr(stub_messages, text), "want '%s' in:\n%s", text, stub_messages);
}

START_TEST(every_flag_is_registered_with_help)
{
	static const char *const names[] = {"container-image",         "container-mounts",
					    "container-workdir",       "container-mount-home",
					    "no-container-mount-home", "container-remap-root",
					    "no-container-remap-root", "container-entrypoint",
					    "no-container-entrypoint", "container-entrypoint-log",
					    "container-writable",      "container-readonly",
					    "container-env",           "container-unshare",
					    "container-cache",         "container-save",
					    "container-name",          "container-devices"};

	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		struct spank_option *o = stub_option(names[i]);

		ck_assert_msg(o && o->usage && !strncmp(o->usage, "[libcontainer] ", 15), "%s",
			      names[i]);
	}
}
END_TEST

/* Each bad input gives exactly pyxis's message and fails. */
START_TEST(bad_flags_table)
{
	static const struct {
		const char *first, *first_value, *name, *value, *message;
	} cases[] = {
	    {NULL, NULL, "container-image", "", "--container-image: argument required"},
	    {"container-image", "a", "container-image", "b",
	     "--container-image: specified multiple times"},
	    {"container-workdir", "/a", "container-workdir", "/b",
	     "--container-workdir: specified multiple times"},
	    {NULL, NULL, "container-workdir", "", "--container-workdir: argument required"},
	    {"container-mount-home", NULL, "no-container-mount-home", NULL,
	     "both --container-mount-home and --no-container-mount-home were specified"},
	    {"no-container-remap-root", NULL, "container-remap-root", NULL,
	     "both --container-remap-root and --no-container-remap-root were specified"},
	    {"container-entrypoint", NULL, "no-container-entrypoint", NULL,
	     "both --container-entrypoint and --no-container-entrypoint were specified"},
	    {"container-readonly", NULL, "container-writable", NULL,
	     "both --container-writable and --container-readonly were specified"},
	    {NULL, NULL, "container-unshare", "net,pid",
	     "--container-unshare: unknown namespace 'pid'"},
	    {NULL, NULL, "container-unshare", "net,,ipc",
	     "--container-unshare: empty namespace argument"},
	    {NULL, NULL, "container-unshare", "", "--container-unshare: empty namespace argument"},
	    {NULL, NULL, "container-devices", "nvidia.com/gpu",
	     "--container-devices: 'nvidia.com/gpu' is not a CDI device name "
	     "(vendor.com/class=name)"},
	    {NULL, NULL, "container-devices", "gpu=0",
	     "--container-devices: 'gpu=0' is not a CDI device name (vendor.com/class=name)"},
	    {NULL, NULL, "container-devices", "amd.com/gpu=0,,x",
	     "--container-devices: '' is not a CDI device name (vendor.com/class=name)"},
	    {NULL, NULL, "container-devices", "", "--container-devices: empty device list"},
	    {NULL, NULL, "container-env", "A,", "--container-env: invalid format"},
	    {NULL, NULL, "container-env", "", "--container-env: invalid format"},
	    {NULL, NULL, "container-env", "1A", "--container-env: invalid format"},
	    {NULL, NULL, "container-mounts", "/a:b",
	     "--container-mounts: mount target must be a relative path or an absolute path"},
	    {NULL, NULL, "container-mounts", "x:/b", "--container-mounts: mount source must be"},
	    {NULL, NULL, "container-mounts", "/a::", "--container-mounts: invalid format"},
	    {NULL, NULL, "container-save", "", "--container-save: argument required"},
	    {NULL, NULL, "container-save", "./out/", "--container-save: target is a directory"},
	    {"container-save", "a.sqsh", "container-save", "b.sqsh",
	     "--container-save: specified multiple times"},
	    {NULL, NULL, "container-name", "", "--container-name: empty name"},
	    {NULL, NULL, "container-name", ":exec", "--container-name: empty name"},
	    {NULL, NULL, "container-name", "a:run",
	     "--container-name: flag must be \"auto\", \"create\", \"exec\" or \"no_exec\""},
	    {NULL, NULL, "container-name", "a:", "--container-name: flag must be"},
	    {NULL, NULL, "container-name", "../x", "--container-name: invalid name '../x'"},
	    {NULL, NULL, "container-name", ".hidden", "--container-name: invalid name"},
	    {"container-name", "a", "container-name", "b",
	     "--container-name: specified multiple times"},
	    {"container-name", "a", "container-name", "a:exec",
	     "--container-name: specified multiple times"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		setup();
		if (cases[i].first)
			ck_assert_int_eq(flag(cases[i].first, cases[i].first_value), 0);
		ck_assert_msg(flag(cases[i].name, cases[i].value) < 0, "case %zu accepted", i);
		expect_message(cases[i].message);
	}
}
END_TEST

START_TEST(good_flags_accumulate)
{
	setup();
	ck_assert_int_eq(flag("container-image", "nvcr.io#nvidia/pytorch:25.09-py3"), 0);
	ck_assert_int_eq(flag("container-image", "nvcr.io#nvidia/pytorch:25.09-py3"),
			 0); /* twice */
	ck_assert_int_eq(flag("container-mounts", "/a:/b:ro+nosuid,/c"), 0);
	ck_assert_int_eq(flag("container-mounts", "tmpfs:/scratch"), 0);
	ck_assert_str_eq(args.mounts, "/a:/b:ro+nosuid,/c,tmpfs:/scratch");
	ck_assert_int_eq(flag("container-env", "A,B"), 0);
	ck_assert_int_eq(flag("container-env", "B,C_1"), 0);
	ck_assert_str_eq(args.env_names[0], "A");
	ck_assert_str_eq(args.env_names[2], "C_1");
	ck_assert_ptr_null(args.env_names[3]);
	ck_assert_int_eq(flag("container-unshare", "net,uts"), 0);
	ck_assert_uint_eq(args.unshare, LC_CONTAINER_UNSHARE_NET | LC_CONTAINER_UNSHARE_UTS);
	ck_assert_int_eq(flag("container-devices", "nvidia.com/gpu=0,amd.com/gpu=all"), 0);
	ck_assert_int_eq(flag("container-devices", "intel.com/gpu=card1"), 0);
	ck_assert_str_eq(args.devices[1], "amd.com/gpu=all");
	ck_assert_str_eq(args.devices[2], "intel.com/gpu=card1");
	ck_assert_ptr_null(args.devices[3]);
	ck_assert_int_eq(flag("container-writable", NULL), 0);
	ck_assert_int_eq(flag("container-writable", NULL), 0);
	ck_assert_int_eq(args.writable, 1);
	ck_assert(args_check_enabled());
	ck_assert_str_eq(stub_messages, "");
}
END_TEST

/* NAME[:FLAG]: the flag defaults to auto; a name alone turns the plugin on. */
START_TEST(container_name_flags)
{
	static const struct {
		const char *value, *name;
		int flag;
	} good[] = {{"mine", "mine", NAME_AUTO},
		    {"mine:auto", "mine", NAME_AUTO},
		    {"mine:create", "mine", NAME_CREATE},
		    {"mine:exec", "mine", NAME_EXEC},
		    {"mine:no_exec", "mine", NAME_NO_EXEC},
		    {"12.0", "12.0", NAME_AUTO},
		    {"a:b:exec", "a:b", NAME_EXEC}};

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		setup();
		ck_assert_int_eq(flag("container-name", good[i].value), 0);
		ck_assert_int_eq(flag("container-name", good[i].value), 0); /* the same twice */
		ck_assert_str_eq(args.name, good[i].name);
		ck_assert_int_eq(args.name_flag, good[i].flag);
		ck_assert(args_check_enabled());
	}
	setup();
	stub_job_env[0] = "PYXIS_CONTAINER_NAME=fromenv:create";
	stub_job_env[1] = NULL;
	ck_assert_int_eq(args_apply_env((spank_t)1), 0);
	ck_assert_str_eq(args.name, "fromenv");
	ck_assert_int_eq(args.name_flag, NAME_CREATE);
	setup();
	ck_assert_int_eq(flag("container-name", "flagged"), 0);
	ck_assert_int_eq(args_apply_env((spank_t)1), 0); /* the flag wins */
	ck_assert_str_eq(args.name, "flagged");
	ck_assert_str_eq(stub_messages, "");
}
END_TEST

START_TEST(pyxis_variables_fill_what_flags_left)
{
	setup();
	stub_job_env[0] = "PYXIS_CONTAINER_IMAGE=debian";
	stub_job_env[1] = "PYXIS_CONTAINER_WORKDIR=/var";
	stub_job_env[2] = "PYXIS_CONTAINER_REMAP_ROOT=yes";
	stub_job_env[3] = "PYXIS_CONTAINER_READONLY=false";
	stub_job_env[4] = "PYXIS_CONTAINER_MOUNT_HOME=maybe"; /* ignored, as pyxis does */
	stub_job_env[5] = "PYXIS_CONTAINER_UNSHARE=ipc";
	stub_job_env[6] = "PYXIS_CONTAINER_ENV=X,Y";
	stub_job_env[7] = "PYXIS_CONTAINER_SAVE=/shared/out.sqsh";
	stub_job_env[8] = "PYXIS_CONTAINER_DEVICES=example.com/gpu=1";
	stub_job_env[9] = NULL;
	ck_assert_int_eq(flag("container-workdir", "/etc"), 0);
	ck_assert_int_eq(args_apply_env((spank_t)1), 0);
	ck_assert_str_eq(args.image, "debian");
	ck_assert_str_eq(args.workdir, "/etc"); /* the flag wins */
	ck_assert_int_eq(args.remap_root, 1);
	ck_assert_int_eq(args.writable, 1);
	ck_assert_int_eq(args.mount_home, UNSET);
	ck_assert_uint_eq(args.unshare, LC_CONTAINER_UNSHARE_IPC);
	ck_assert_str_eq(args.env_names[1], "Y");
	ck_assert_str_eq(args.save, "/shared/out.sqsh");
	ck_assert_str_eq(args.devices[0], "example.com/gpu=1");
	/* a bad value in a variable is checked like the flag */
	setup();
	stub_job_env[0] = "PYXIS_CONTAINER_UNSHARE=pid";
	stub_job_env[1] = NULL;
	ck_assert_int_lt(args_apply_env((spank_t)1), 0);
	expect_message("--container-unshare: unknown namespace 'pid'");
}
END_TEST

START_TEST(flags_without_image_are_noted)
{
	setup();
	ck_assert_int_eq(flag("container-workdir", "/a"), 0);
	ck_assert_int_eq(flag("container-readonly", NULL), 0);
	ck_assert_int_eq(flag("container-env", "A"), 0);
	ck_assert_int_eq(flag("container-save", "x.sqsh"), 0);
	ck_assert(!args_check_enabled());
	expect_message("ignoring --container-save because");
	expect_message("info: libcontainer: ignoring --container-workdir because neither "
		       "--container-image nor --container-name is set");
	expect_message("ignoring --container-readonly because");
	ck_assert(!strstr(stub_messages, "--container-env because"));
}
END_TEST

/* Cache mode's conditions, each with its message; the variable enables it too. */
START_TEST(cache_policy)
{
	plugin_config with = {.cache_data_path = (char *)"/var/cache/lc"}, without = {0};
	static const struct {
		const char *image;
		bool writable;
		const char *message;
	} refused[] = {
	    {NULL, false, "--container-cache requires --container-image"},
	    {"./x.sqsh", false, "--container-cache requires a registry image, not a squashfs file"},
	    {"/p/x.sqsh", false, "requires a registry image"},
	    {"debian", true, "--container-cache cannot be used with --container-writable"},
	    {"debian", false, "--container-cache cannot be used with --container-save"},
	    {"debian", false, "--container-cache cannot be used with --container-name"},
	};

	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		setup();
		ck_assert_int_eq(flag("container-cache", NULL), 0);
		if (refused[i].image)
			ck_assert_int_eq(flag("container-image", refused[i].image), 0);
		if (refused[i].writable)
			ck_assert_int_eq(flag("container-writable", NULL), 0);
		if (strstr(refused[i].message, "--container-save"))
			ck_assert_int_eq(flag("container-save", "x.sqsh"), 0);
		if (strstr(refused[i].message, "--container-name"))
			ck_assert_int_eq(flag("container-name", "n"), 0);
		ck_assert_int_lt(args_refuse_cache(&with), 0);
		expect_message(refused[i].message);
	}
	setup();
	ck_assert_int_eq(flag("container-image", "debian"), 0);
	ck_assert_int_eq(args_refuse_cache(&without), 0); /* not asked for */
	ck_assert_int_eq(flag("container-cache", NULL), 0);
	ck_assert_int_eq(args_refuse_cache(&with), 0);
	ck_assert_int_lt(args_refuse_cache(&without), 0);
	expect_message("--container-cache needs container_cache_data_path in plugstack.conf");
	with.importer = (char *)"/opt/site/importer";
	ck_assert_int_lt(args_refuse_cache(&with), 0);
	expect_message("--container-cache cannot be used on this cluster: its importer");
	setup();
	stub_job_env[0] = "PYXIS_CONTAINER_CACHE=1";
	stub_job_env[1] = NULL;
	ck_assert_int_eq(args_apply_env((spank_t)1), 0);
	ck_assert(args.cache);
}
END_TEST

/* The flag (or its variable) wins over the plugstack's execute_entrypoint. */
START_TEST(entrypoint_flag_then_config)
{
	plugin_config off = {.execute_entrypoint = false}, on = {.execute_entrypoint = true};

	setup();
	ck_assert(!args_run_entrypoint(&off) && args_run_entrypoint(&on));
	ck_assert_int_eq(flag("no-container-entrypoint", NULL), 0);
	ck_assert(!args_run_entrypoint(&on));
	setup();
	ck_assert_int_eq(flag("container-entrypoint", NULL), 0);
	ck_assert(args_run_entrypoint(&off));
	setup();
	stub_job_env[0] = "PYXIS_CONTAINER_ENTRYPOINT=0";
	stub_job_env[1] = NULL;
	ck_assert_int_eq(args_apply_env((spank_t)1), 0);
	ck_assert(!args_run_entrypoint(&on));
	setup();
	stub_job_env[0] = "PYXIS_CONTAINER_ENTRYPOINT=maybe"; /* ignored, as pyxis does */
	stub_job_env[1] = NULL;
	ck_assert_int_eq(args_apply_env((spank_t)1), 0);
	ck_assert(args_run_entrypoint(&on));
}
END_TEST

START_TEST(plugstack_options)
{
	char *good[] = {"runtime_path=/var/run/x",
			"execute_entrypoint=1",
			"sbatch_support=no",
			"cache_path=/var/cache/lc",
			"import_connections=4",
			"compression=zstd:9",
			"allow_http=reg:5000",
			"import_helper=/opt/lc/ctr-import",
			"kernel_squashfs=0",
			"container_cache_data_path=/var/cache/lcc",
			"container_cache_gc_high=90",
			"container_cache_gc_low=50",
			"container_cache_offline=1",
			"use_squashfuse=1",
			"importer=/opt/site/importer",
			"container_scope=job",
			"cdi_spec_dirs=/etc/cdi:/run/cdi",
			"shared_import_path=/lustre/imports"};
	static const struct {
		const char *arg, *message;
	} bad[] = {
	    {"foo=1", "unknown configuration option: foo"},
	    {"remap_root=1", "unknown configuration option: remap_root"},
	    {"novalue", "unknown configuration option: novalue"},
	    {"runtime_path=relative", "runtime_path: invalid value: relative"},
	    {"execute_entrypoint=maybe", "execute_entrypoint: invalid value: maybe"},
	    {"compression=zstd:99", "compression: invalid value: zstd:99"},
	    {"compression=lzo", "compression: invalid value: lzo"},
	    {"import_connections=0", "import_connections: invalid value: 0"},
	    {"allow_http=", "allow_http: invalid value: "},
	    {"kernel_squashfs=2", "kernel_squashfs: invalid value: 2"},
	    {"use_squashfuse=x", "use_squashfuse: invalid value: x"},
	    {"container_scope=step", "container_scope: invalid value: step"},
	    {"importer=importer.sh", "importer: invalid value: importer.sh"},
	    {"container_cache_gc_high=101", "container_cache_gc_high: invalid value: 101"},
	    {"container_cache_gc_low=-5", "container_cache_gc_low: invalid value: -5"},
	    {"container_cache_gc_low=85", "container_cache_gc_low: invalid value: 85 (must be "
					  "below container_cache_gc_high, 85)"},
	    {"container_cache_data_path=rel", "container_cache_data_path: invalid value: rel"},
	    {"cdi_spec_dirs=/etc/cdi:run/cdi", "cdi_spec_dirs: invalid value: /etc/cdi:run/cdi"},
	    {"cdi_spec_dirs=", "cdi_spec_dirs: invalid value: "},
	    {"shared_import_path=imports", "shared_import_path: invalid value: imports"}};
	plugin_config cfg;

	ck_assert_int_eq(config_parse(0, NULL, &cfg), 0);
	ck_assert_str_eq(cfg.runtime_path, "/run/libcontainer");
	ck_assert(cfg.sbatch_support && !cfg.execute_entrypoint && !cfg.cache_path);
	ck_assert(cfg.kernel_squashfs && !cfg.cache_data_path && !cfg.cache_offline);
	ck_assert(cfg.cache_gc_high == 85 && cfg.cache_gc_low == 80);
	ck_assert(!cfg.scope_job); /* global, as pyxis since 0.18 */
	ck_assert_ptr_null(cfg.shared_import_path);
	config_free(&cfg);
	ck_assert_int_eq(config_parse(18, good, &cfg), 0);
	ck_assert_str_eq(cfg.shared_import_path, "/lustre/imports");
	ck_assert(cfg.use_squashfuse && cfg.scope_job);
	ck_assert_str_eq(cfg.cdi_spec_dirs, "/etc/cdi:/run/cdi");
	ck_assert_str_eq(cfg.importer, "/opt/site/importer");
	ck_assert(cfg.cache_offline);
	ck_assert(!cfg.kernel_squashfs);
	ck_assert_str_eq(cfg.cache_data_path, "/var/cache/lcc");
	ck_assert(cfg.cache_gc_high == 90 && cfg.cache_gc_low == 50);
	ck_assert_str_eq(cfg.runtime_path, "/var/run/x");
	ck_assert(cfg.execute_entrypoint && !cfg.sbatch_support);
	ck_assert_uint_eq(cfg.connections, 4);
	ck_assert_str_eq(cfg.compression, "zstd:9");
	ck_assert_str_eq(cfg.http_registries, "reg:5000");
	ck_assert_str_eq(cfg.import_helper, "/opt/lc/ctr-import");
	config_free(&cfg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char *argv[] = {(char *)bad[i].arg};

		stub_messages[0] = '\0';
		ck_assert_int_lt(config_parse(1, argv, &cfg), 0);
		expect_message(bad[i].message);
		config_free(&cfg);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("spank-options");
	TCase *tc = tcase_create("options");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, every_flag_is_registered_with_help);
	tcase_add_test(tc, bad_flags_table);
	tcase_add_test(tc, good_flags_accumulate);
	tcase_add_test(tc, container_name_flags);
	tcase_add_test(tc, pyxis_variables_fill_what_flags_left);
	tcase_add_test(tc, flags_without_image_are_noted);
	tcase_add_test(tc, entrypoint_flag_then_config);
	tcase_add_test(tc, cache_policy);
	tcase_add_test(tc, plugstack_options);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
