/* SPDX-License-Identifier: Apache-2.0 */
/* The runtime's pure parts: in-root path resolution, the mount plan, environment and command. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lc-test.h"
#include "runtime/runtime.h"

static char *root;
static int root_fd = -1;

static void mkfile(const char *rel)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

static void mklink(const char *target, const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	ck_assert_int_eq(symlink(target, p), 0);
}

static void mkd(const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	ck_assert_int_eq(mkdir(p, 0755), 0);
}

static void setup(void)
{
	root = lc_test_tmpdir();
	root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	mkd("etc");
	mkfile("etc/hosts");
	mkd("usr");
	mkd("usr/lib");
	mklink("usr/lib", "lib");            /* relative, inside */
	mklink("/usr/lib", "abs");           /* absolute: restarts at the root */
	mklink("../../../../etc", "escape"); /* ".." above the root */
	mklink("/../../etc", "absescape");   /* absolute, then ".." above the root */
	mklink("loop2", "loop1");
	mklink("loop1", "loop2");
	mklink("/run/systemd/resolve/x", "etc/resolv.conf"); /* dangling, created on demand */
}

static void teardown(void)
{
	close(root_fd);
	lc_test_rmtree(root);
	free(root);
}

/* The path of @fd relative to the test root ("" for the root itself). */
static const char *where(int fd)
{
	static char buf[PATH_MAX];
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_msg(!strncmp(buf, root, strlen(root)), "%s is outside %s", buf, root);
	return buf + strlen(root);
}

static const struct {
	const char *path;
	enum lc_resolve_create create;
	int ret;
	const char *at;
} cases[] = {
    {"/etc/hosts", LC_RESOLVE_NONE, 0, "/etc/hosts"},
    {"etc//hosts", LC_RESOLVE_NONE, 0, "/etc/hosts"},
    {"/", LC_RESOLVE_NONE, 0, ""},
    {"/lib", LC_RESOLVE_NONE, 0, "/usr/lib"},
    {"/abs/x", LC_RESOLVE_DIR, 0, "/usr/lib/x"},
    {"/usr/../etc/hosts", LC_RESOLVE_NONE, 0, "/etc/hosts"},
    {"/escape/passwd", LC_RESOLVE_FILE, -EXDEV, NULL},
    {"/absescape", LC_RESOLVE_DIR, -EXDEV, NULL},
    {"/..", LC_RESOLVE_NONE, -EXDEV, NULL},
    {"/loop1", LC_RESOLVE_NONE, -ELOOP, NULL},
    {"/missing", LC_RESOLVE_NONE, -ENOENT, NULL},
    {"/etc/hosts/x", LC_RESOLVE_DIR, -ENOTDIR, NULL},
    {"/new/deep/dir", LC_RESOLVE_DIR, 0, "/new/deep/dir"},
    {"/new/file", LC_RESOLVE_FILE, 0, "/new/file"},
    {"/etc/resolv.conf", LC_RESOLVE_FILE, 0, "/run/systemd/resolve/x"},
};

START_TEST(resolve_table)
{
	int fd = -1, r = lc_resolve_in_root(root_fd, cases[_i].path, cases[_i].create, &fd);

	ck_assert_msg(r == cases[_i].ret, "%s: got %d, want %d", cases[_i].path, r, cases[_i].ret);
	if (r == 0) {
		ck_assert_str_eq(where(fd), cases[_i].at);
		close(fd);
	}
}
END_TEST

START_TEST(resolve_escape_creates_nothing)
{
	int fd = -1;
	struct stat st;

	ck_assert_int_eq(lc_resolve_in_root(root_fd, "/escape/lc-unit-test", LC_RESOLVE_FILE, &fd),
			 -EXDEV);
	ck_assert_int_ne(stat("/etc/lc-unit-test", &st), 0);
}
END_TEST

static lc_user test_user(uint32_t flags)
{
	lc_user u;
	lc_error err = LC_ERROR_INIT;

	ck_assert_int_eq(lc_user_lookup(getuid(), getgid(), flags, &u, &err), 0);
	return u;
}

static const lc_mount_step *find_step(const lc_mount_plan *p, const char *target)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->steps[i].target, target))
			return &p->steps[i];
	return NULL;
}

START_TEST(plan_system_and_user_mounts)
{
	lc_user u = test_user(LC_CONTAINER_MOUNT_HOME);
	lc_mount_spec *specs = NULL;
	size_t n = 0;
	lc_mount_plan p;
	lc_error err = LC_ERROR_INIT;
	const lc_mount_step *s;
	char dev[PATH_MAX];

	/* a fake /dev with a GPU and InfiniBand */
	snprintf(dev, sizeof(dev), "%s/dev", root);
	mkd("dev");
	mkfile("dev/nvidia0");
	mkfile("dev/nvidiactl");
	mkd("dev/infiniband");
	mkfile("dev/gdrdrv");
	mkfile("dev/cxi0");
	mkfile("dev/kfd");
	mkd("dev/dri");
	mkd("dev/hugepages");
	mkfile("dev/sda");
	mkfile("dev/sda");
	ck_assert_int_eq(lc_mount_specs_parse("./rel:/data:ro,tmpfs:/scratch", &specs, &n, &err),
			 0);
	lc_plan_input in = {.flags = LC_CONTAINER_MOUNT_HOME,
			    .user = &u,
			    .specs = specs,
			    .n_specs = n,
			    .cwd = "/work/dir",
			    .workdir = "/w",
			    .dev_dir = dev};
	ck_assert_int_eq(lc_mount_plan_build(&in, &p, &err), 0);
	ck_assert_ptr_nonnull(s = find_step(&p, "/proc"));
	ck_assert_int_eq(s->kind, LC_STEP_BIND);
	ck_assert_ptr_nonnull(s = find_step(&p, "/sys"));
	ck_assert(s->flags & MS_RDONLY);
	ck_assert_ptr_nonnull(s = find_step(&p, "/dev/nvidia0"));
	ck_assert(s->optional);
	ck_assert_ptr_nonnull(find_step(&p, "/dev/nvidiactl"));
	ck_assert_ptr_nonnull(find_step(&p, "/dev/infiniband"));
	for (const char *const *d = (const char *const[]){"/dev/gdrdrv", "/dev/cxi0", "/dev/kfd",
							  "/dev/dri", "/dev/hugepages", NULL};
	     *d; d++)
		ck_assert_msg(find_step(&p, *d), "%s", *d);
	ck_assert_ptr_null(find_step(&p, "/dev/sda"));
	ck_assert_ptr_null(find_step(&p, "/dev/sda"));
	ck_assert_ptr_nonnull(s = find_step(&p, "/dev/pts"));
	ck_assert_int_eq(s->kind, LC_STEP_DEVPTS);
	ck_assert_ptr_nonnull(s = find_step(&p, "/tmp"));
	ck_assert_int_eq(s->kind, LC_STEP_TMPFS);
	ck_assert_ptr_nonnull(s = find_step(&p, u.home));
	ck_assert_str_eq(s->source, u.home);
	ck_assert_ptr_nonnull(s = find_step(&p, "/data"));
	ck_assert_str_eq(s->source, "/work/dir/./rel");
	ck_assert(s->user && (s->flags & MS_RDONLY) && !s->optional);
	ck_assert_ptr_nonnull(s = find_step(&p, "/scratch"));
	ck_assert_int_eq(s->kind, LC_STEP_TMPFS);
	/* user mounts come after the system ones, the workdir last */
	ck_assert(find_step(&p, "/data") > find_step(&p, "/tmp"));
	ck_assert_str_eq(p.steps[p.n - 1].target, "/w");
	ck_assert_ptr_nonnull(find_step(&p, "/etc/passwd")); /* 10-shadow, always */
	/* the image's /etc/fstab: its pass -1 before the hooks, the rest after them */
	ck_assert_ptr_nonnull(s = find_step(&p, "/etc/fstab"));
	ck_assert_int_eq(s->kind, LC_STEP_IMAGE_FSTAB);
	ck_assert_str_eq(s->data, "-1");
	ck_assert(s < find_step(&p, "/"));
	ck_assert_str_eq(s[2].data, "0"); /* hooks in between */
	ck_assert_int_eq(s[1].kind, LC_STEP_HOOKS);
	/* the hooks come after the system mounts, before the user's */
	ck_assert(find_step(&p, "/") > find_step(&p, "/tmp"));
	ck_assert(find_step(&p, "/") < find_step(&p, "/data"));
	lc_mount_plan_free(&p);
	lc_mount_specs_free(specs, n);
	lc_user_free(&u);
}
END_TEST

START_TEST(plan_unshare_net_mounts_new_sysfs)
{
	lc_user u = test_user(LC_CONTAINER_REMAP_ROOT);
	lc_plan_input in = {.flags = LC_CONTAINER_UNSHARE_NET | LC_CONTAINER_REMAP_ROOT,
			    .user = &u};
	lc_mount_plan p;
	lc_error err = LC_ERROR_INIT;

	ck_assert_int_eq(lc_mount_plan_build(&in, &p, &err), 0);
	ck_assert_int_eq(find_step(&p, "/sys")->kind, LC_STEP_SYSFS);
	ck_assert_int_eq(find_step(&p, "/etc/passwd")->kind, LC_STEP_USERDB); /* 10-shadow */
	ck_assert_str_eq(u.in_name, "root");
	ck_assert_str_eq(u.in_home, "/root");
	lc_mount_plan_free(&p);
	lc_user_free(&u);
}
END_TEST

START_TEST(plan_host_dev)
{
	lc_user u = test_user(0);
	lc_plan_input in = {.flags = LC_CONTAINER_HOST_DEV, .user = &u, .dev_dir = "/dev"};
	lc_mount_plan p;
	lc_error err = LC_ERROR_INIT;
	const lc_mount_step *s;

	/* ENROOT_RESTRICT_DEV=no: the host's /dev, whole, and nothing built over it */
	ck_assert_int_eq(lc_mount_plan_build(&in, &p, &err), 0);
	ck_assert_ptr_nonnull(s = find_step(&p, "/dev"));
	ck_assert_int_eq(s->kind, LC_STEP_BIND);
	ck_assert_str_eq(s->source, "/dev");
	ck_assert(s->recursive && (s->flags & MS_NOSUID) && (s->flags & MS_NOEXEC));
	ck_assert(!(s->flags & MS_NODEV));
	ck_assert_ptr_null(find_step(&p, "/dev/pts"));
	ck_assert_ptr_null(find_step(&p, "/dev/null"));
	ck_assert_ptr_null(find_step(&p, "/dev/fd"));
	lc_mount_plan_free(&p);
	/* a private IPC namespace restricts /dev, as enroot's 10-devices does */
	in.flags |= LC_CONTAINER_UNSHARE_IPC;
	ck_assert_int_eq(lc_mount_plan_build(&in, &p, &err), 0);
	ck_assert_int_eq(find_step(&p, "/dev")->kind, LC_STEP_TMPFS);
	ck_assert_int_eq(find_step(&p, "/dev/shm")->kind, LC_STEP_TMPFS);
	ck_assert_ptr_nonnull(find_step(&p, "/dev/pts"));
	lc_mount_plan_free(&p);
	lc_user_free(&u);
}
END_TEST

static void put_text(const char *rel, const char *text)
{
	char p[PATH_MAX];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	ck_assert_ptr_nonnull(f = fopen(p, "we"));
	fputs(text, f);
	fclose(f);
}

START_TEST(plan_cgroup_v1_subtrees)
{
	lc_user u = test_user(0);
	lc_plan_input in = {.user = &u, .dev_dir = "/dev"};
	lc_mount_plan p;
	lc_error err = LC_ERROR_INIT;
	const lc_mount_step *s;
	char proc[PATH_MAX];

	/* a Slurm task's cgroups on a hybrid host, as /proc/self shows them */
	mkd("proc");
	put_text("proc/cgroup", "9:name=systemd:/outside\n"
				"4:memory:/slurm/uid_1/job_2/step_0/task_0\n"
				"2:cpu,cpuacct:/slurm/uid_1/job_2\n"
				"3:freezer:/not/mounted\n"
				"0::/unified/path\n"
				"garbage\n");
	put_text("proc/mountinfo",
		 "25 1 0:20 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
		 "26 25 0:21 /slurm /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n"
		 "27 25 0:22 / /sys/fs/cgroup/memory rw,nosuid shared:9 - cgroup cgroup rw,memory\n"
		 "28 25 0:23 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
		 "29 25 0:24 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n"
		 "30 25 0:25 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n");
	snprintf(proc, sizeof(proc), "%s/proc", root);
	in.cgroup_proc = proc;
	ck_assert_int_eq(lc_mount_plan_build(&in, &p, &err), 0);
	ck_assert_ptr_null(find_step(&p, "/sys/fs/cgroup")); /* /sys's own, no cgroup2 mount */
	ck_assert_ptr_nonnull(s = find_step(&p, "/sys/fs/cgroup/memory"));
	ck_assert_int_eq(s->kind, LC_STEP_BIND);
	ck_assert_str_eq(s->source, "/sys/fs/cgroup/memory/slurm/uid_1/job_2/step_0/task_0");
	ck_assert(s->optional && !s->recursive && (s->flags & MS_RDONLY));
	ck_assert_str_eq(find_step(&p, "/sys/fs/cgroup/cpu,cpuacct")->source,
			 "/sys/fs/cgroup/cpu,cpuacct/slurm/uid_1/job_2");
	ck_assert_str_eq(find_step(&p, "/sys/fs/cgroup/unified")->source,
			 "/sys/fs/cgroup/unified/unified/path");
	ck_assert_ptr_null(find_step(&p, "/sys/fs/cgroup/systemd")); /* outside its root */
	ck_assert_ptr_null(find_step(&p, "/sys/fs/cgroup/cpuset"));  /* not ours */
	lc_mount_plan_free(&p);
	/* a Slurm task: its step's cgroup, one level up (never above a hierarchy's root) */
	in.cgroup_parent = true;
	ck_assert_int_eq(lc_mount_plan_build(&in, &p, &err), 0);
	ck_assert_str_eq(find_step(&p, "/sys/fs/cgroup/memory")->source,
			 "/sys/fs/cgroup/memory/slurm/uid_1/job_2/step_0");
	ck_assert_str_eq(find_step(&p, "/sys/fs/cgroup/unified")->source,
			 "/sys/fs/cgroup/unified/unified");
	lc_mount_plan_free(&p);
	in.cgroup_parent = false;
	/* in a new sysfs, on a tmpfs made for them */
	in.flags = LC_CONTAINER_UNSHARE_NET;
	ck_assert_int_eq(lc_mount_plan_build(&in, &p, &err), 0);
	ck_assert_int_eq(find_step(&p, "/sys/fs/cgroup")->kind, LC_STEP_TMPFS);
	ck_assert(find_step(&p, "/sys/fs/cgroup") < find_step(&p, "/sys/fs/cgroup/memory"));
	lc_mount_plan_free(&p);
	lc_user_free(&u);
}
END_TEST

/* A node's sysfs with two ConnectX (mlx5) ports, as the kernel lays it out. A stand-in: this
 * machine has no InfiniBand. */
static void fake_ib_sysfs(void)
{
	static const char *const dirs[] = {"sys",
					   "sys/bus",
					   "sys/bus/pci",
					   "sys/bus/pci/drivers",
					   "sys/bus/pci/drivers/mlx5_core",
					   "sys/class",
					   "sys/class/infiniband",
					   "sys/class/infiniband_verbs",
					   "dev",
					   "dev/infiniband"};
	char rel[PATH_MAX], text[128];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++)
		mkd(dirs[i]);
	for (int n = 0; n < 2; n++) {
		snprintf(rel, sizeof(rel), "sys/bus/pci/drivers/mlx5_core/0000:0%d:00.0", n + 1);
		mkd(rel);
		snprintf(rel, sizeof(rel), "sys/bus/pci/drivers/mlx5_core/0000:0%d:00.0/infiniband",
			 n + 1);
		mkd(rel);
		snprintf(rel, sizeof(rel),
			 "sys/bus/pci/drivers/mlx5_core/0000:0%d:00.0/infiniband/mlx5_%d", n + 1,
			 n);
		mkd(rel);
		strcat(rel, "/uevent");
		snprintf(text, sizeof(text), "NAME=mlx5_%d\n", n);
		put_text(rel, text);
		snprintf(rel, sizeof(rel),
			 "sys/bus/pci/drivers/mlx5_core/0000:0%d:00.0/infiniband_verbs", n + 1);
		mkd(rel);
		snprintf(rel, sizeof(rel),
			 "sys/bus/pci/drivers/mlx5_core/0000:0%d:00.0/infiniband_verbs/uverbs%d",
			 n + 1, n);
		mkd(rel);
		strcat(rel, "/uevent");
		snprintf(text, sizeof(text), "MAJOR=231\nMINOR=%d\nDEVNAME=infiniband/uverbs%d\n",
			 192 + n, n);
		put_text(rel, text);
		snprintf(text, sizeof(text),
			 "../../bus/pci/drivers/mlx5_core/0000:0%d:00.0/infiniband/mlx5_%d", n + 1,
			 n);
		snprintf(rel, sizeof(rel), "sys/class/infiniband/mlx5_%d", n);
		mklink(text, rel);
		snprintf(text, sizeof(text),
			 "../../bus/pci/drivers/mlx5_core/0000:0%d:00.0/infiniband_verbs/uverbs%d",
			 n + 1, n);
		snprintf(rel, sizeof(rel), "sys/class/infiniband_verbs/uverbs%d", n);
		mklink(text, rel);
		snprintf(rel, sizeof(rel), "dev/infiniband/uverbs%d", n);
		mkfile(rel);
	}
	mkfile("dev/infiniband/rdma_cm");
}

static size_t count_kind(const lc_mount_plan *p, enum lc_step_kind kind, const char *prefix)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++)
		n += p->steps[i].kind == kind &&
		     !strncmp(p->steps[i].target, prefix, strlen(prefix));
	return n;
}

START_TEST(plan_mellanox_selection)
{
	lc_user u = test_user(0);
	char sys[PATH_MAX], dev[PATH_MAX];
	lc_plan_input in = {.user = &u, .sys_dir = sys, .dev_dir = dev, .mellanox = "1"};
	lc_mount_plan p;
	lc_error err = LC_ERROR_INIT;
	const lc_mount_step *s;

	fake_ib_sysfs();
	snprintf(sys, sizeof(sys), "%s/sys", root);
	snprintf(dev, sizeof(dev), "%s/dev", root);
	/* device 1: its node and rdma_cm, sysfs hidden but for its entries */
	ck_assert_int_eq(lc_mount_plan_build(&in, &p, &err), 0);
	ck_assert_ptr_null(find_step(&p, "/dev/infiniband"));
	ck_assert_ptr_nonnull(s = find_step(&p, "/dev/infiniband/uverbs1"));
	ck_assert_int_eq(s->kind, LC_STEP_BIND);
	ck_assert_ptr_nonnull(find_step(&p, "/dev/infiniband/rdma_cm"));
	ck_assert_ptr_null(find_step(&p, "/dev/infiniband/uverbs0"));
	ck_assert_int_eq(find_step(&p, "/sys/class/infiniband")->kind, LC_STEP_TMPFS);
	ck_assert_int_eq(find_step(&p, "/sys/class/infiniband_verbs")->kind, LC_STEP_TMPFS);
	ck_assert_ptr_nonnull(s = find_step(&p, "/sys/class/infiniband/mlx5_1"));
	ck_assert_int_eq(s->kind, LC_STEP_SYMLINK);
	ck_assert_str_eq(s->source,
			 "/sys/bus/pci/drivers/mlx5_core/0000:02:00.0/infiniband/mlx5_1");
	ck_assert_str_eq(find_step(&p, "/sys/class/infiniband_verbs/uverbs1")->source,
			 "/sys/bus/pci/drivers/mlx5_core/0000:02:00.0/infiniband_verbs/uverbs1");
	ck_assert_ptr_null(find_step(&p, "/sys/class/infiniband/mlx5_0"));
	ck_assert(find_step(&p, "/sys/class/infiniband") <
		  find_step(&p, "/sys/class/infiniband/mlx5_1"));
	lc_mount_plan_free(&p);
	/* all, with the host's /dev: sysfs masked, every link, no node bound over the host's */
	in.mellanox = "all";
	in.flags = LC_CONTAINER_HOST_DEV;
	ck_assert_int_eq(lc_mount_plan_build(&in, &p, &err), 0);
	ck_assert_uint_eq(count_kind(&p, LC_STEP_SYMLINK, "/sys/class/infiniband"), 4);
	ck_assert_uint_eq(count_kind(&p, LC_STEP_BIND, "/dev/infiniband"), 0);
	lc_mount_plan_free(&p);
	/* none: /dev/infiniband whole, sysfs untouched */
	in.mellanox = "none";
	in.flags = 0;
	ck_assert_int_eq(lc_mount_plan_build(&in, &p, &err), 0);
	ck_assert_ptr_nonnull(find_step(&p, "/dev/infiniband"));
	ck_assert_ptr_null(find_step(&p, "/sys/class/infiniband"));
	lc_mount_plan_free(&p);
	/* an unknown id: the hook's words, nothing built */
	for (const char *const *bad = (const char *const[]){"2", "0,x", "-1", "", NULL}; *bad;
	     bad++) {
		in.mellanox = *bad;
		if (!lc_mellanox_selects(*bad))
			continue;
		ck_assert_int_eq(lc_mount_plan_build(&in, &p, &err), -EINVAL);
		ck_assert_msg(strstr(err.msg, "Unknown MELLANOX device id: "), "%s", err.msg);
		ck_assert_msg(strstr(err.msg, "this node has 2"), "%s", err.msg);
	}
	lc_user_free(&u);
}
END_TEST

/* The injection layer: entries made on a layer over the image (the test root), as the overlay
 * will show them. */
START_TEST(layer_entries)
{
	char *layer = lc_test_tmpdir(), p[PATH_MAX], link[64];
	int layer_fd = open(layer, O_PATH | O_DIRECTORY | O_CLOEXEC), dir = -1;
	struct stat st, img;

	/* through the image's links: lib -> usr/lib, abs -> /usr/lib */
	ck_assert_int_eq(
	    lc_layer_add(root_fd, layer_fd, "/lib/libcuda.so.1", LC_LAYER_FILE, NULL, false, NULL),
	    0);
	snprintf(p, sizeof(p), "%s/usr/lib/libcuda.so.1", layer);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISREG(st.st_mode) && lc_injected(&st));
	/* the image's directories repeated with their mode and time (kept while entries are made
	 * in them), not marked */
	snprintf(p, sizeof(p), "%s/usr/lib", layer);
	ck_assert_int_eq(lstat(p, &st), 0);
	snprintf(p, sizeof(p), "%s/usr/lib", root);
	ck_assert_int_eq(lstat(p, &img), 0);
	ck_assert(S_ISDIR(st.st_mode) && !lc_injected(&st));
	ck_assert_uint_eq(st.st_mode, img.st_mode);
	ck_assert(st.st_mtim.tv_sec == img.st_mtim.tv_sec &&
		  st.st_mtim.tv_nsec == img.st_mtim.tv_nsec);
	/* a new directory and a link: marked; nothing where the image has the entry */
	ck_assert_int_eq(lc_layer_add(root_fd, layer_fd, "/abs/x/y/libnvidia-ml.so.1",
				      LC_LAYER_FILE, NULL, false, NULL),
			 0);
	snprintf(p, sizeof(p), "%s/usr/lib/x", layer);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISDIR(st.st_mode) && lc_injected(&st));
	ck_assert_int_eq(lc_layer_add(root_fd, layer_fd, "/usr/lib/libcuda.so", LC_LAYER_SYMLINK,
				      "libcuda.so.1", false, NULL),
			 0);
	snprintf(p, sizeof(p), "%s/usr/lib/libcuda.so", layer);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISLNK(st.st_mode) && lc_injected(&st));
	ck_assert_int_eq(
	    lc_layer_add(root_fd, layer_fd, "/etc/hosts", LC_LAYER_FILE, NULL, false, NULL), 0);
	snprintf(p, sizeof(p), "%s/etc/hosts", layer);
	ck_assert_int_ne(lstat(p, &st), 0);
	/* shadow: the layer's entry hides the image's, its directory handed back */
	ck_assert_int_eq(
	    lc_layer_add(root_fd, layer_fd, "/etc/hosts", LC_LAYER_FILE, NULL, true, &dir), 0);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dir);
	ck_assert_int_gt(readlink(link, p, sizeof(p) - 1), 0);
	ck_assert_int_eq(fstatat(dir, "hosts", &st, AT_SYMLINK_NOFOLLOW), 0);
	close(dir);
	/* never out of the root, nothing made there */
	ck_assert_int_eq(lc_layer_add(root_fd, layer_fd, "/escape/lc-unit-layer", LC_LAYER_FILE,
				      NULL, false, NULL),
			 -EXDEV);
	ck_assert_int_ne(stat("/etc/lc-unit-layer", &st), 0);
	ck_assert_int_eq(
	    lc_layer_add(root_fd, layer_fd, "/etc/hosts/x", LC_LAYER_FILE, NULL, false, NULL),
	    -ENOTDIR);
	close(layer_fd);
	lc_test_rmtree(layer);
	free(layer);
}
END_TEST

START_TEST(plan_cdi_devices)
{
	lc_user u = test_user(0);
	lc_cdi_node node = {.path = "/dev/nvidia0", .host_path = "/host/dev/nvidia0", .type = 'c'};
	lc_cdi_mount mount = {.host_path = "/usr/lib/libcuda.so.1",
			      .container_path = "/usr/lib/x86_64-linux-gnu/libcuda.so.1"};
	lc_devices d = {.edits = {.nodes = &node, .n_nodes = 1, .mounts = &mount, .n_mounts = 1}};
	lc_plan_input in = {.user = &u, .dev_dir = "/dev", .devices = &d};
	lc_mount_plan p;
	lc_error err = LC_ERROR_INIT;
	const lc_mount_step *s;
	unsigned long flags;
	bool rec;

	ck_assert_int_eq(lc_strvec_push(&mount.options, "ro"), 0);
	ck_assert_int_eq(lc_strvec_push(&mount.options, "nosuid"), 0);
	ck_assert_int_eq(lc_strvec_push(&mount.options, "rbind"), 0);
	ck_assert_int_eq(lc_strvec_push(&d.link_targets, "libcuda.so.1"), 0);
	ck_assert_int_eq(lc_strvec_push(&d.link_paths, "/usr/lib/x86_64-linux-gnu/libcuda.so"), 0);
	ck_assert_int_eq(lc_mount_plan_build(&in, &p, &err), 0);
	/* NVIDIA's create-symlinks: a link made inside the root, after the mounts */
	ck_assert_ptr_nonnull(s = find_step(&p, "/usr/lib/x86_64-linux-gnu/libcuda.so"));
	ck_assert_int_eq(s->kind, LC_STEP_SYMLINK);
	ck_assert_str_eq(s->source, "libcuda.so.1");
	ck_assert(s > find_step(&p, "/usr/lib/x86_64-linux-gnu/libcuda.so.1"));
	/* the node: bound from the host, never made; not nodev; after the hooks */
	ck_assert_ptr_nonnull(s = find_step(&p, "/dev/nvidia0"));
	ck_assert_int_eq(s->kind, LC_STEP_BIND);
	ck_assert_str_eq(s->source, "/host/dev/nvidia0");
	ck_assert(!s->recursive && !(s->flags & MS_NODEV) && (s->flags & MS_NOSUID));
	ck_assert(s > find_step(&p, "/"));
	ck_assert_ptr_nonnull(s = find_step(&p, "/usr/lib/x86_64-linux-gnu/libcuda.so.1"));
	ck_assert_uint_eq(s->flags, MS_RDONLY | MS_NOSUID);
	ck_assert(s->recursive);
	lc_mount_plan_free(&p);
	/* only binds */
	mount.type = "tmpfs";
	ck_assert_int_eq(lc_devices_mount_flags(&mount, &flags, &rec), -EOPNOTSUPP);
	lc_strvec_free(&mount.options);
	lc_strvec_free(&d.link_targets);
	lc_strvec_free(&d.link_paths);
	lc_user_free(&u);
}
END_TEST

START_TEST(env_precedence)
{
	lc_user u = test_user(0);
	char *image_env[] = {"PATH=/image/bin", "IMG=1", "OVR=image", "bogus", NULL};
	lc_image img = {.env = image_env};
	const char *overrides[] = {"OVR=cli", "LC_UNIT_HOST", "LC_UNIT_UNSET", NULL};
	const char *site[] = {"IMG=site", "OVR=site", "SITE=1", NULL};
	lc_strvec e;
	lc_error err = LC_ERROR_INIT;

	setenv("LC_UNIT_HOST", "from-host", 1);
	unsetenv("LC_UNIT_UNSET");
	setenv("LC_UNIT_NOT_NAMED", "x", 1);
	ck_assert_int_eq(lc_env_build(&u, &img, site, overrides, &e, &err), 0);
	ck_assert_str_eq(lc_env_get(&e, "PATH"), "/image/bin");
	ck_assert_str_eq(lc_env_get(&e, "IMG"), "site"); /* the site's variables beat the image's */
	ck_assert_str_eq(lc_env_get(&e, "SITE"), "1");
	ck_assert_str_eq(lc_env_get(&e, "OVR"), "cli");
	ck_assert_str_eq(lc_env_get(&e, "LC_UNIT_HOST"), "from-host");
	ck_assert_ptr_null(lc_env_get(&e, "LC_UNIT_UNSET"));
	ck_assert_ptr_null(lc_env_get(&e, "LC_UNIT_NOT_NAMED"));
	ck_assert_ptr_null(lc_env_get(&e, "bogus"));
	ck_assert_str_eq(lc_env_get(&e, "USER"), u.name);
	lc_strvec_free(&e);
	ck_assert_int_eq(lc_env_build(&u, &img, NULL, (const char *[]){"=x", NULL}, &e, &err),
			 -EINVAL);
	lc_user_free(&u);
}
END_TEST

START_TEST(command_entrypoint_and_cmd)
{
	char *ep[] = {"/bin/echo", "banner:", NULL}, *cmd[] = {"hello", NULL};
	lc_image img = {.entrypoint = ep, .cmd = cmd}, bare = {0};
	const char *argv[] = {"ls", "-l", NULL};
	char **out = NULL;
	lc_error err = LC_ERROR_INIT;

	ck_assert_int_eq(lc_command_build(&img, true, NULL, &out, &err), 0);
	ck_assert_str_eq(out[0], "/bin/echo");
	ck_assert_str_eq(out[2], "hello");
	ck_assert_ptr_null(out[3]);
	lc_strv_free(out);
	ck_assert_int_eq(lc_command_build(&img, true, argv, &out, &err), 0);
	ck_assert_str_eq(out[2], "ls");
	lc_strv_free(out);
	ck_assert_int_eq(lc_command_build(&img, false, argv, &out, &err), 0);
	ck_assert_str_eq(out[0], "ls");
	lc_strv_free(out);
	ck_assert_int_eq(lc_command_build(&bare, true, NULL, &out, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "no command given and the image has no Cmd");
}
END_TEST

/* A volatile upper layer belongs to a name's joinable instance: without a name it is refused
 * before anything is made. */
START_TEST(container_volatile_upper_needs_a_name)
{
	lc_container_opts o = LC_CONTAINER_OPTS_INIT;
	lc_container *c = NULL;
	lc_error err = LC_ERROR_INIT;

	o.image_path = "/nonexistent.sqsh";
	o.flags = LC_CONTAINER_VOLATILE_UPPER;
	ck_assert_int_eq(lc_container_create(NULL, &o, &c, &err), -EINVAL);
	ck_assert_str_eq(err.msg,
			 "lc_container_create: a volatile upper layer is for a named instance");
	ck_assert_ptr_null(c);
	o.flags = LC_CONTAINER_ALL + 1;
	ck_assert_int_eq(lc_container_create(NULL, &o, &c, &err), -EINVAL);
}
END_TEST

/* enroot exec PID: only into a container, of a process that is there */
START_TEST(enter_pid_refuses)
{
	lc_error err = LC_ERROR_INIT;

	ck_assert_int_eq(lc_container_enter_pid(getpid(), NULL, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "is not in a container"), "%s", err.msg);
	ck_assert_int_eq(lc_container_enter_pid(0x3ffffff0, NULL, &err), -ESRCH);
	ck_assert_str_eq(err.msg, "process 1073741808 not found");
	ck_assert_int_eq(lc_container_enter_pid(0, NULL, &err), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("runtime");
	TCase *t = tcase_create("resolve");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_loop_test(t, resolve_table, 0, sizeof(cases) / sizeof(*cases));
	tcase_add_test(t, resolve_escape_creates_nothing);
	tcase_add_test(t, plan_system_and_user_mounts);
	tcase_add_test(t, plan_unshare_net_mounts_new_sysfs);
	tcase_add_test(t, plan_host_dev);
	tcase_add_test(t, plan_cgroup_v1_subtrees);
	tcase_add_test(t, plan_mellanox_selection);
	tcase_add_test(t, plan_cdi_devices);
	tcase_add_test(t, layer_entries);
	tcase_add_test(t, env_precedence);
	tcase_add_test(t, command_entrypoint_and_cmd);
	tcase_add_test(t, container_volatile_upper_needs_a_name);
	tcase_add_test(t, enter_pid_refuses);
	suite_add_tcase(s, t);
	return lc_test_run(s);
}
