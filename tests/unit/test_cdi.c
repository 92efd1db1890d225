/* SPDX-License-Identifier: Apache-2.0 */
/* CDI specs (src/cdi): JSON and YAML read alike, every field checked, bad specs refused by
 * field; the spec directories (a later one winning, a conflict in one named, specs that are not
 * root's ignored for a root caller); fully qualified names resolved into edits. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdi/cdi.h"
#include "lc-test.h"

/* What nvidia-ctk cdi generate writes, in short. */
static const char nvidia_json[] =
    "{\"cdiVersion\": \"0.5.0\", \"kind\": \"nvidia.com/gpu\",\n"
    " \"devices\": [\n"
    "  {\"name\": \"0\", \"containerEdits\": {\"deviceNodes\": [\n"
    "    {\"path\": \"/dev/nvidia0\", \"type\": \"c\", \"major\": 195, \"minor\": 0}]}},\n"
    "  {\"name\": \"GPU-8e2e-aa\", \"containerEdits\": {\"deviceNodes\": [\n"
    "    {\"path\": \"/dev/nvidia1\", \"hostPath\": \"/host/dev/nvidia1\"}]}},\n"
    "  {\"name\": \"all\", \"containerEdits\": {\"deviceNodes\": [\n"
    "    {\"path\": \"/dev/nvidia0\"}, {\"path\": \"/dev/nvidia1\"}]}}],\n"
    " \"containerEdits\": {\n"
    "  \"env\": [\"NVIDIA_VISIBLE_DEVICES=void\"],\n"
    "  \"deviceNodes\": [{\"path\": \"/dev/nvidiactl\", \"permissions\": \"rw\"}],\n"
    "  \"mounts\": [{\"hostPath\": \"/usr/lib/libcuda.so.550.54\",\n"
    "    \"containerPath\": \"/usr/lib/libcuda.so.550.54\",\n"
    "    \"options\": [\"ro\", \"nosuid\", \"nodev\", \"bind\"]}],\n"
    "  \"hooks\": [{\"hookName\": \"createContainer\", \"path\": \"/usr/bin/nvidia-cdi-hook\",\n"
    "    \"args\": [\"nvidia-cdi-hook\", \"update-ldcache\", \"--folder\", \"/usr/lib\"]}],\n"
    "  \"additionalGids\": [44]}}\n";

static const char nvidia_yaml[] =
    "---\n"
    "cdiVersion: 0.5.0\n"
    "kind: nvidia.com/gpu\n"
    "devices:\n"
    "- name: \"0\"\n"
    "  containerEdits:\n"
    "    deviceNodes:\n"
    "    - path: /dev/nvidia0\n"
    "      type: c\n"
    "      major: 195\n"
    "      minor: 0\n"
    "- name: GPU-8e2e-aa\n"
    "  containerEdits:\n"
    "    deviceNodes:\n"
    "    - {path: /dev/nvidia1, hostPath: /host/dev/nvidia1}\n"
    "- name: all\n"
    "  containerEdits:\n"
    "    deviceNodes: [{path: /dev/nvidia0}, {path: /dev/nvidia1}]\n"
    "containerEdits:\n"
    "  env:\n"
    "  - NVIDIA_VISIBLE_DEVICES=void\n"
    "  deviceNodes:\n"
    "  - path: /dev/nvidiactl\n"
    "    permissions: rw\n"
    "  mounts:\n"
    "  - hostPath: /usr/lib/libcuda.so.550.54\n"
    "    containerPath: /usr/lib/libcuda.so.550.54\n"
    "    options: [ro, nosuid, nodev, bind]\n"
    "  hooks:\n"
    "  - hookName: createContainer\n"
    "    path: /usr/bin/nvidia-cdi-hook\n"
    "    args: [nvidia-cdi-hook, update-ldcache, --folder, /usr/lib]\n"
    "  additionalGids: [44]\n";

static void check_nvidia(const lc_cdi_spec *s)
{
	ck_assert_str_eq(s->version, "0.5.0");
	ck_assert_str_eq(s->kind, "nvidia.com/gpu");
	ck_assert_uint_eq(s->n_devices, 3);
	ck_assert_str_eq(s->devices[0].name, "0");
	ck_assert_uint_eq(s->devices[0].edits.n_nodes, 1);
	ck_assert_str_eq(s->devices[0].edits.nodes[0].path, "/dev/nvidia0");
	ck_assert_str_eq(s->devices[0].edits.nodes[0].host_path, "/dev/nvidia0");
	ck_assert_int_eq(s->devices[0].edits.nodes[0].type, 'c');
	ck_assert_int_eq(s->devices[0].edits.nodes[0].major, 195);
	ck_assert_int_eq(s->devices[0].edits.nodes[0].minor, 0);
	ck_assert_int_eq(s->devices[0].edits.nodes[0].file_mode, -1);
	ck_assert_str_eq(s->devices[1].name, "GPU-8e2e-aa");
	ck_assert_str_eq(s->devices[1].edits.nodes[0].host_path, "/host/dev/nvidia1");
	ck_assert_int_eq(s->devices[1].edits.nodes[0].major, -1);
	ck_assert_uint_eq(s->devices[2].edits.n_nodes, 2);
	ck_assert_str_eq(s->edits.env.v[0], "NVIDIA_VISIBLE_DEVICES=void");
	ck_assert_str_eq(s->edits.nodes[0].permissions, "rw");
	ck_assert_uint_eq(s->edits.n_mounts, 1);
	ck_assert_str_eq(s->edits.mounts[0].container_path, "/usr/lib/libcuda.so.550.54");
	ck_assert_uint_eq(s->edits.mounts[0].options.n, 4);
	ck_assert_str_eq(s->edits.mounts[0].options.v[3], "bind");
	ck_assert_ptr_null(s->edits.mounts[0].type);
	ck_assert_uint_eq(s->edits.n_hooks, 1);
	ck_assert_str_eq(s->edits.hooks[0].hook_name, "createContainer");
	ck_assert_str_eq(s->edits.hooks[0].args.v[1], "update-ldcache");
	ck_assert_uint_eq(s->edits.n_gids, 1);
	ck_assert_uint_eq(s->edits.gids[0], 44);
}

START_TEST(json_and_yaml_alike)
{
	lc_cdi_spec *s = NULL;
	lc_error err = LC_ERROR_INIT;

	ck_assert_int_eq(
	    lc_cdi_spec_parse(nvidia_json, strlen(nvidia_json), "nvidia.json", &s, &err), 0);
	check_nvidia(s);
	s = lc_cdi_spec_free(s);
	ck_assert_int_eq(
	    lc_cdi_spec_parse(nvidia_yaml, strlen(nvidia_yaml), "nvidia.yaml", &s, &err), 0);
	check_nvidia(s);
	s = lc_cdi_spec_free(s);
}
END_TEST

START_TEST(bad_specs_name_the_field)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"{\"cdiVersion\": \"9.9.9\", \"kind\": \"a.com/b\", \"devices\": []}", "cdiVersion"},
	    {"{\"kind\": \"a.com/b\"}", "cdiVersion: missing"},
	    {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"nokind\", \"devices\": []}",
	     "kind: not vendor/class"},
	    {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"-a.com/b\", \"devices\": []}", "kind"},
	    {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"a.com/b/c\", \"devices\": []}", "kind"},
	    {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"a.com/b\", \"devices\": []}",
	     "devices: no device"},
	    {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"a.com/b\", \"devices\": [{\"name\": \"x\"}]}",
	     "devices.containerEdits: missing"},
	    {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"a.com/b\", \"devices\": [{\"name\": \"x y\", "
	     "\"containerEdits\": {}}]}",
	     "devices.name: not a valid device name"},
	    {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"a.com/b\", \"devices\": [{\"name\": \"x\", "
	     "\"containerEdits\": {}}, {\"name\": \"x\", \"containerEdits\": {}}]}",
	     "x: a device named twice"},
	    {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"a.com/b\", \"devices\": [{\"name\": \"x\", "
	     "\"containerEdits\": {\"deviceNodes\": [{\"path\": \"dev/x\"}]}}]}",
	     "deviceNodes.path: not an absolute path"},
	    {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"a.com/b\", \"devices\": [{\"name\": \"x\", "
	     "\"containerEdits\": {\"deviceNodes\": [{\"path\": \"/dev/x\", \"major\": -1}]}}]}",
	     "deviceNodes.major: not a number in range"},
	    {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"a.com/b\", \"devices\": [{\"name\": \"x\", "
	     "\"containerEdits\": {\"deviceNodes\": [{\"path\": \"/dev/x\", \"type\": \"z\"}]}}]}",
	     "deviceNodes.type"},
	    {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"a.com/b\", \"devices\": [{\"name\": \"x\", "
	     "\"containerEdits\": {\"env\": [\"=x\"]}}]}",
	     "containerEdits.env: not NAME=VALUE"},
	    {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"a.com/b\", \"devices\": [{\"name\": \"x\", "
	     "\"containerEdits\": {\"mounts\": [{\"hostPath\": \"/a\"}]}}]}",
	     "mounts.containerPath: missing"},
	    {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"a.com/b\", \"devices\": [{\"name\": \"x\", "
	     "\"containerEdits\": {\"mounts\": [{\"hostPath\": \"/a\\u0000/b\", \"containerPath\": "
	     "\"/b\"}]}}]}",
	     "line 1"}, /* jansson refuses a NUL in a string */
	    {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"a.com/b\", \"devices\": [{\"name\": \"x\", "
	     "\"containerEdits\": {\"hooks\": [{\"path\": \"/bin/x\"}]}}]}",
	     "hooks.hookName: missing"},
	    {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"a.com/b\", \"devices\": [{\"name\": \"x\", "
	     "\"containerEdits\": {\"additionalGids\": [\"wheel\"]}}]}",
	     "additionalGids: not a list of group ids"},
	    {"{\"cdiVersion\": \"0.6.0\", \"cdiVersion\": \"0.6.0\"}", "duplicate"},
	    {"[1, 2]", "the spec: not an object"},
	    {"cdiVersion: 0.6.0\nkind: &k a.com/b\n", "an anchor"},
	    {"cdiVersion: 0.6.0\nkind: *k\n", "line"},
	    {"a: [\n", "line"},
	    {"", "no document"},
	};
	lc_error err = LC_ERROR_INIT;
	lc_cdi_spec *s = NULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		ck_assert_msg(
		    lc_cdi_spec_parse(cases[i].text, strlen(cases[i].text), "t.json", &s, &err) < 0,
		    "case %zu accepted", i);
		ck_assert_ptr_null(s);
		ck_assert_msg(strstr(err.msg, cases[i].want) && strstr(err.msg, "t.json"),
			      "case %zu: %s", i, err.msg);
	}
}
END_TEST

static void put(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static const char *const amd_yaml =
    "cdiVersion: 0.6.0\nkind: amd.com/gpu\ndevices:\n"
    "- name: \"0\"\n  containerEdits:\n"
    "    deviceNodes: [{path: /dev/dri/renderD128}, {path: /dev/kfd}]\n";

START_TEST(directories_and_names)
{
	char *root = lc_test_tmpdir(), a[4096], b[4096], dirs[8300];
	lc_cdi_registry *reg = NULL;
	lc_cdi_edits e = {0};
	lc_error err = LC_ERROR_INIT;

	snprintf(a, sizeof(a), "%s/etc-cdi", root);
	snprintf(b, sizeof(b), "%s/run-cdi", root);
	ck_assert_int_eq(mkdir(a, 0755), 0);
	ck_assert_int_eq(mkdir(b, 0755), 0);
	put(a, "nvidia.json", nvidia_json, 0644);
	put(a, "amd.yaml", amd_yaml, 0644);
	put(a, "README", "not a spec", 0644);
	put(a, "broken.json", "{", 0644); /* a warning, not an error */
	/* the later directory's device 0 wins */
	put(b, "nvidia.yml",
	    "cdiVersion: 1.1.0\nkind: nvidia.com/gpu\ndevices:\n- name: \"0\"\n  containerEdits:\n"
	    "    deviceNodes: [{path: /dev/nvidia9}]\n",
	    0644);
	snprintf(dirs, sizeof(dirs), "%s:%s:/nonexistent", a, b);
	if (geteuid() != 0) /* the root-only rules need root's files */
		return;
	ck_assert_int_eq(lc_cdi_registry_load(NULL, dirs, true, &reg, &err), 0);
	ck_assert_uint_eq(reg->n_specs, 3);
	ck_assert(lc_cdi_has_kind(reg, "amd.com/gpu") && !lc_cdi_has_kind(reg, "intel.com/gpu"));
	ck_assert_int_eq(
	    lc_cdi_resolve(reg, (const char *const[]){"nvidia.com/gpu=0", NULL}, &e, &err), 0);
	ck_assert_uint_eq(e.n_nodes, 1); /* run-cdi's spec has no spec-level edits */
	ck_assert_str_eq(e.nodes[0].path, "/dev/nvidia9");
	lc_cdi_edits_clear(&e);
	/* two devices of one spec: its own edits once, then each device's */
	ck_assert_int_eq(
	    lc_cdi_resolve(reg,
			   (const char *const[]){"nvidia.com/gpu=GPU-8e2e-aa", "nvidia.com/gpu=all",
						 "amd.com/gpu=0", NULL},
			   &e, &err),
	    0);
	ck_assert_uint_eq(e.n_nodes, 1 + 1 + 2 + 2);
	ck_assert_str_eq(e.nodes[0].path, "/dev/nvidiactl");
	ck_assert_str_eq(e.nodes[5].path, "/dev/kfd");
	ck_assert_uint_eq(e.n_mounts, 1);
	ck_assert_uint_eq(e.n_hooks, 1);
	ck_assert_uint_eq(e.n_gids, 1);
	ck_assert_str_eq(e.env.v[0], "NVIDIA_VISIBLE_DEVICES=void");
	lc_cdi_edits_clear(&e);
	/* names: unknown, malformed */
	ck_assert_int_eq(
	    lc_cdi_resolve(reg, (const char *const[]){"nvidia.com/gpu=7", NULL}, &e, &err),
	    -ENOENT);
	ck_assert_str_eq(err.msg, "CDI device nvidia.com/gpu=7: no spec defines it");
	for (const char *const *n =
		 (const char *const[]){"gpu=0", "nvidia.com/gpu",
				       "nvidia.com/gpu=", "nvidia.com/gpu=a b", NULL};
	     *n; n++) {
		ck_assert_int_eq(lc_cdi_resolve(reg, (const char *const[]){*n, NULL}, &e, &err),
				 -EINVAL);
		ck_assert_msg(strstr(err.msg, "is not a CDI device name"), "%s", err.msg);
	}
	reg = lc_cdi_registry_free(reg);
	/* two specs of one directory with one device: a conflict, named */
	put(b, "other.json",
	    "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\", \"devices\": [{\"name\": "
	    "\"0\", \"containerEdits\": {}}]}",
	    0644);
	ck_assert_int_eq(lc_cdi_registry_load(NULL, dirs, true, &reg, &err), 0);
	ck_assert_int_eq(
	    lc_cdi_resolve(reg, (const char *const[]){"nvidia.com/gpu=0", NULL}, &e, &err),
	    -EINVAL);
	ck_assert_msg(strstr(err.msg, "is defined twice") && strstr(err.msg, "other.json") &&
			  strstr(err.msg, "nvidia.yml"),
		      "%s", err.msg);
	reg = lc_cdi_registry_free(reg);
	/* a root caller ignores a spec others may write, and a link; a user reads both */
	ck_assert_int_eq(unlink(strcat(strcpy(dirs, b), "/other.json")), 0);
	put(b, "nvidia.yml",
	    "cdiVersion: 1.1.0\nkind: nvidia.com/gpu\ndevices:\n- name: \"0\"\n  containerEdits:\n"
	    "    deviceNodes: [{path: /dev/nvidia9}]\n",
	    0666);
	snprintf(dirs, sizeof(dirs), "%s/amd-link.yaml", b);
	snprintf(a + strlen(a), sizeof(a) - strlen(a), "/amd.yaml");
	ck_assert_int_eq(symlink(a, dirs), 0);
	snprintf(dirs, sizeof(dirs), "%s", b);
	ck_assert_int_eq(lc_cdi_registry_load(NULL, dirs, true, &reg, &err), 0);
	ck_assert_uint_eq(reg->n_specs, 0);
	reg = lc_cdi_registry_free(reg);
	ck_assert_int_eq(lc_cdi_registry_load(NULL, dirs, false, &reg, &err), 0);
	ck_assert_uint_eq(reg->n_specs, 2);
	reg = lc_cdi_registry_free(reg);
	/* a directory others may write: ignored for root */
	ck_assert_int_eq(chmod(b, 0777), 0);
	put(b, "nvidia.yml",
	    "cdiVersion: 1.1.0\nkind: a.com/b\ndevices:\n- name: x\n  containerEdits: {}\n", 0644);
	ck_assert_int_eq(lc_cdi_registry_load(NULL, dirs, true, &reg, &err), 0);
	ck_assert_uint_eq(reg->n_specs, 0);
	reg = lc_cdi_registry_free(reg);
	free(root);
}
END_TEST

START_TEST(nvidia_requests)
{
	const char *cuda_image[] = {
	    "NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=compute,utility",
	    "NVIDIA_REQUIRE_CUDA=cuda>=12.4 brand=tesla,driver>=470,driver<471",
	    "NVIDIA_REQUIRE_ARCH=arch>=8.0", NULL};
	const char *job_one[] = {"NVIDIA_VISIBLE_DEVICES=0", "NVIDIA_REQUIRE_ARCH=arch>=9.0", NULL};
	lc_nvidia_request r;
	lc_strvec names = {0};
	lc_error err = LC_ERROR_INIT;

	/* the image asks: all GPUs, its capabilities, both requirements */
	ck_assert_int_eq(lc_nvidia_request_parse(NULL, cuda_image, &r, &err), 0);
	ck_assert(r.wanted && r.all && !r.explicit_request);
	ck_assert_uint_eq(r.caps, LC_NVIDIA_CAP_COMPUTE | LC_NVIDIA_CAP_UTILITY);
	ck_assert_uint_eq(r.requires.n, 2);
	ck_assert_int_eq(lc_nvidia_cdi_names(&r, &names), 0);
	ck_assert_str_eq(names.v[0], "nvidia.com/gpu=all");
	lc_strvec_free(&names);
	lc_nvidia_request_clear(&r);
	/* the job's value wins, and its requirement replaces the image's of that name */
	ck_assert_int_eq(lc_nvidia_request_parse(job_one, cuda_image, &r, &err), 0);
	ck_assert(r.wanted && !r.all && r.explicit_request);
	ck_assert_uint_eq(r.devices.n, 1);
	ck_assert_uint_eq(r.requires.n, 2);
	ck_assert_str_eq(r.requires.v[0], "arch>=9.0");
	ck_assert_str_eq(r.requires.v[1], "cuda>=12.4 brand=tesla,driver>=470,driver<471");
	ck_assert_int_eq(lc_nvidia_cdi_names(&r, &names), 0);
	ck_assert_str_eq(names.v[0], "nvidia.com/gpu=0");
	lc_strvec_free(&names);
	lc_nvidia_request_clear(&r);
	/* selectors, none, void, the default capability, all capabilities, MIG */
	ck_assert_int_eq(
	    lc_nvidia_request_parse((const char *[]){"NVIDIA_VISIBLE_DEVICES=0, GPU-8e2e-aa,1:2,"
						     "MIG-GPU-8e2e/1/0",
						     "NVIDIA_DRIVER_CAPABILITIES=all",
						     "NVIDIA_MIG_CONFIG_DEVICES=all", NULL},
				    NULL, &r, &err),
	    0);
	ck_assert_uint_eq(r.devices.n, 4);
	ck_assert_str_eq(r.devices.v[1], "GPU-8e2e-aa");
	ck_assert_uint_eq(r.caps, LC_NVIDIA_CAP_ALL);
	ck_assert_str_eq(r.mig_config, "all");
	lc_nvidia_request_clear(&r);
	ck_assert_int_eq(lc_nvidia_request_parse(
			     (const char *[]){"NVIDIA_VISIBLE_DEVICES=none", NULL}, NULL, &r, &err),
			 0);
	ck_assert(r.wanted && !r.all && !r.devices.n);
	ck_assert_uint_eq(r.caps, LC_NVIDIA_CAP_UTILITY);
	lc_nvidia_request_clear(&r);
	/* the job's void beats the image's all: nothing */
	ck_assert_int_eq(
	    lc_nvidia_request_parse((const char *[]){"NVIDIA_VISIBLE_DEVICES=void", NULL},
				    cuda_image, &r, &err),
	    0);
	ck_assert(!r.wanted);
	lc_nvidia_request_clear(&r);
	ck_assert_int_eq(lc_nvidia_request_parse(NULL, NULL, &r, &err), 0);
	ck_assert(!r.wanted);
	/* refused, named */
	ck_assert_int_eq(lc_nvidia_request_parse(
			     (const char *[]){"NVIDIA_VISIBLE_DEVICES=all",
					      "NVIDIA_DRIVER_CAPABILITIES=compute,gaming", NULL},
			     NULL, &r, &err),
			 -EINVAL);
	ck_assert_str_eq(err.msg, "Unknown NVIDIA driver capability: gaming");
	for (const char *const *bad =
		 (const char *const[]){"NVIDIA_VISIBLE_DEVICES=gpu0", "NVIDIA_VISIBLE_DEVICES=0:",
				       "NVIDIA_VISIBLE_DEVICES=GPU-xyz", "NVIDIA_VISIBLE_DEVICES=,",
				       NULL};
	     *bad; bad++) {
		ck_assert_int_eq(
		    lc_nvidia_request_parse((const char *[]){*bad, NULL}, NULL, &r, &err), -EINVAL);
		ck_assert_msg(strstr(err.msg, "NVIDIA_VISIBLE_DEVICES"), "%s", err.msg);
	}
	/* NVIDIA_DISABLE_REQUIRE: none */
	ck_assert_int_eq(lc_nvidia_request_parse((const char *[]){"NVIDIA_DISABLE_REQUIRE=1", NULL},
						 cuda_image, &r, &err),
			 0);
	ck_assert_uint_eq(r.requires.n, 0);
	lc_nvidia_request_clear(&r);
}
END_TEST

START_TEST(nvidia_requirements)
{
	static const struct {
		const char *req;
		int want; /* 0 met, -EPERM unmet, -EINVAL malformed */
	} cases[] = {
	    {"cuda>=12.4", 0},
	    {"cuda>=12.5", -EPERM},
	    {"cuda>12.3.9", 0},
	    {"cuda=12.4", 0},
	    {"cuda=12.4.0", 0},
	    {"cuda!=12.4", -EPERM},
	    {"driver>=550.9", 0}, /* 54 > 9: by components, not as text */
	    {"driver<550.54.15", -EPERM},
	    {"driver<=550.54.15", 0},
	    {"arch>=9.0", -EPERM},
	    {"arch>=8.0", 0},
	    {"brand=Tesla", 0},
	    {"brand!=tesla", -EPERM},
	    {"cuda>=13.0 brand=tesla,driver>=550", 0}, /* the second alternative */
	    {"cuda>=13.0 brand=tesla,driver>=560", -EPERM},
	    {"cuda>=12.0,cuda<12.4", -EPERM},
	    {"cuda>=12.0,cuda<12.5", 0},
	    {"cuda", -EINVAL},
	    {"gpu>=1", -EINVAL},
	    {"brand>tesla", -EINVAL},
	    {"cuda>=", -EINVAL},
	};
	static const struct {
		const char *req;
		int want;
		bool undecided; /* worth reading brand and arch */
	} unknown[] = {
	    {"brand=tesla", 0, true},
	    {"arch>=9.0,cuda>=13.0", -EPERM, false},         /* the known half fails it */
	    {"cuda>=13.0 brand=tesla,driver>=550", 0, true}, /* undecided: allowed */
	    {"cuda>=13.0 brand=tesla,driver>=560", -EPERM, false},
	    {"cuda>=12.0 brand=tesla", 0, false}, /* met without them */
	};
	const lc_nvidia_host host = {"550.54.15", "12.4", "8.6", "tesla"};
	lc_error err = LC_ERROR_INIT;

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		lc_nvidia_request r = {0};

		ck_assert_int_eq(lc_strvec_push(&r.requires, cases[i].req), 0);
		ck_assert_msg(lc_nvidia_check_requires(&r, &host, &err) == cases[i].want,
			      "case %zu (%s): %s", i, cases[i].req, err.msg);
		if (cases[i].want == -EPERM)
			ck_assert_msg(strstr(err.msg, "unsatisfied NVIDIA requirement: ") &&
					  strstr(err.msg,
						 "driver 550.54.15, CUDA 12.4, brand tesla, "
						 "arch 8.6)"),
				      "%s", err.msg);
		lc_nvidia_request_clear(&r);
	}
	/* brand and arch unknown (no NVML): undecided alternatives do not refuse */
	for (size_t i = 0; i < LC_ELEMENTSOF(unknown); i++) {
		const lc_nvidia_host partial = {"550.54.15", "12.4", NULL, NULL};
		lc_nvidia_request r = {0};

		ck_assert_int_eq(lc_strvec_push(&r.requires, unknown[i].req), 0);
		ck_assert_msg(lc_nvidia_check_requires(&r, &partial, &err) == unknown[i].want,
			      "unknown case %zu (%s): %s", i, unknown[i].req, err.msg);
		ck_assert_msg(lc_nvidia_requires_undecided(&r, &partial) == unknown[i].undecided,
			      "undecided case %zu (%s)", i, unknown[i].req);
		lc_nvidia_request_clear(&r);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cdi");
	TCase *tc = tcase_create("cdi");

	tcase_add_test(tc, json_and_yaml_alike);
	tcase_add_test(tc, bad_specs_name_the_field);
	tcase_add_test(tc, directories_and_names);
	tcase_add_test(tc, nvidia_requests);
	tcase_add_test(tc, nvidia_requirements);
	suite_add_tcase(s, tc);
	return lc_test_run(s);
}
