#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Integration test of the SPANK plugin through a real Slurm (../shared/slurm) and the loopback
# registry: jobs of an unprivileged user run with --container-* flags exactly as with pyxis.
# usage: spank.sh BUILD_DIR SOURCE_DIR
set -uo pipefail

BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
PLUGIN="$BUILD/src/spank/spank_libcontainer.so"
# shellcheck source=lib.sh
. "$SRC/tests/integration/lib.sh"

for f in /proc/self/ns/user /dev/fuse; do
    [ -e "$f" ] || { echo "SKIP: this machine has no $f"; exit 77; }
done
[ -f "$PLUGIN" ] || { echo "SKIP: the plugin was not built (no slurm/spank.h)"; exit 77; }

SLURM_SH="$SHARED/slurm"
export SLURM_SANDBOX=/var/tmp/lc-slurm-itest # outside /tmp: job_container/tmpfs needs that
RUNTIME=/run/lc-itest
REG=127.0.0.1:5000
ACCESS_LOG=/tmp/oci-registry/run/plain.log

start_registry plain
ensure_test_user
id lctest2 >/dev/null 2>&1 || useradd -m -s /bin/bash lctest2
USER_UID="$(id -u lctest)" USER2_UID="$(id -u lctest2)"
CACHE_BASE=/var/lib/lc-itest-cache # the node cache (container_cache_data_path)
rm -rf "$CACHE_BASE" "$RUNTIME" # job ids start again with each sandbox: no old named containers
cleanup_hooks+=("rm -rf '$RUNTIME'")
cleanup_hooks+=("rm -rf '$CACHE_BASE'")
mkdir -p "$WORK/job" "$WORK/hostdir" && echo host-data >"$WORK/hostdir/file"
chmod 1777 "$WORK/job" && chmod -R a+rX "$WORK/hostdir"
USER_HOME="$(getent passwd lctest | cut -d: -f6)"
echo home-file >"$USER_HOME/lc-home-marker" && chown lctest "$USER_HOME/lc-home-marker"
cleanup_hooks+=("rm -f '$USER_HOME/lc-home-marker' /tmp/lc-itest-hostmark /tmp/lc-itest-entry")

echo "# a PyTorch-like image (busybox, PYTORCH_VERSION and an entrypoint in its config)"
mkdir -p "$WORK/torch/rootfs/bin" "$WORK/torch/rootfs/etc" "$WORK/torch/rootfs/workspace"
cp /bin/busybox "$WORK/torch/rootfs/bin/busybox"
for a in sh env cat id echo pwd ls readlink sleep touch grep wc sort uniq mkdir rm test tr true; do
    ln -sf busybox "$WORK/torch/rootfs/bin/$a"
done
cat >"$WORK/torch/rootfs/bin/entry.sh" <<'EOF'
#!/bin/sh
echo "== TORCH ENTRYPOINT =="
[ -n "$ENTRY_MARK" ] && echo ran >>"$ENTRY_MARK"
[ -n "$ENTRY_FAIL" ] && { echo "entrypoint failing on purpose" >&2; exit "$ENTRY_FAIL"; }
[ -n "$ENTRY_NOEXEC" ] && exit 0
[ -n "$ENTRY_CD" ] && cd "$ENTRY_CD"
export FROM_ENTRYPOINT=yes
exec "$@"
EOF
chmod 755 "$WORK/torch/rootfs/bin/entry.sh"
tar -C "$WORK/torch/rootfs" -cf "$WORK/torch/layer.tar" .
cat >"$WORK/torch/config.json" <<'EOF'
{"architecture":"amd64","os":"linux","config":{
 "Env":["PATH=/bin","PYTORCH_VERSION=2.9.0","LD_LIBRARY_PATH=/image/lib","CUDA_VERSION=13.0"],
 "Entrypoint":["/bin/entry.sh"],"WorkingDir":"/workspace"}}
EOF
"${OCITOOL[@]}" image --layout "$WORK/torch/layout" --work "$WORK/torch/work" --tag torch \
    --config-json "$WORK/torch/config.json" --layer "$WORK/torch/layer.tar" >/dev/null &&
skopeo copy -q --dest-tls-verify=false "oci:$WORK/torch/layout:torch" "docker://$REG/torchlike:latest" ||
    { echo "cannot build the PyTorch-like image"; exit 1; }

# slurm_up [VAR=VALUE...]: (re)start the sandbox with the plugin (SPANK_ARGS may be extended)
slurm_up() {
    local exports
    exports="$(env SLURM_CPUS=8 SLURM_DEBUG=verbose SPANK_PLUGIN="$PLUGIN" \
        SPANK_ARGS="import_helper=$BUILD/tools/ctr-import allow_http=$REG runtime_path=$RUNTIME container_cache_data_path=$CACHE_BASE container_cache_offline=1" "$@" \
        "$SLURM_SH/up.sh" 2>"$WORK/slurm-up.log")" || { cat "$WORK/slurm-up.log"; exit 1; }
    eval "$exports"
}
slurm_up
cleanup_hooks+=("'$SLURM_SH/down.sh' >/dev/null 2>&1")

# usrun ARGS...: srun as the user (RUN_AS, default lctest), from a directory of theirs
usrun() { (cd "$WORK/job" && runuser -u "${RUN_AS:-lctest}" -- env SLURM_CONF="$SLURM_CONF" "${EXTRA_ENV[@]}" timeout 120 srun "$@"); }
EXTRA_ENV=()
# is DESCRIPTION EXPECTED SRUN-ARGS...: the job's stdout is exactly EXPECTED
is() {
    local d="$1" want="$2" got; shift 2
    got="$(usrun "$@" 2>"$WORK/err")"
    if [ "$got" = "$want" ]; then ok "$d"; else not_ok "$d (want '$want', got '$got'; $(tail -3 "$WORK/err"))"; fi
}
# refused DESCRIPTION MESSAGE SRUN-ARGS...: srun fails and prints MESSAGE
refused() {
    local d="$1" want="$2" out rc; shift 2
    out="$(usrun "$@" true 2>&1)"; rc=$?
    if [ "$rc" != 0 ] && [[ "$out" == *"$want"* ]]; then ok "$d"; else not_ok "$d (rc=$rc: $out)"; fi
}
not_cmd() { ! "$@"; }
# wait_for CMD...: until CMD succeeds, for up to 10 s
wait_for() { for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done; return 1; }
not_grep() { ! grep -q "$@"; }
manifest_requests() { grep -c "\"GET /v2/$1/manifests/" "$ACCESS_LOG"; }
# live processes of the user (zombies excluded: PID 1 here reaps orphans lazily)
user_procs() { ps -u lctest -o stat=,pid=,args= | awk '$1 !~ /^Z/'; }
# no_leftovers: within 10 s, no process of the user and nothing in their runtime directory
no_leftovers() {
    for _ in $(seq 50); do
        [ -z "$(user_procs)" ] && [ -z "$(ls -A "$RUNTIME/$USER_UID" 2>/dev/null)" ] && return 0
        sleep 0.2
    done
    user_procs; ls -A "$RUNTIME/$USER_UID"
    return 1
}

DEB="--container-image=$REG/debian:bookworm"
TORCH="--container-image=$REG/torchlike:latest"

echo "# srun --help"
help="$(runuser -u lctest -- env SLURM_CONF="$SLURM_CONF" srun --help)"
for f in container-image container-mounts container-workdir container-mount-home no-container-mount-home \
    container-remap-root no-container-remap-root container-entrypoint no-container-entrypoint \
    container-entrypoint-log container-writable container-readonly container-env container-unshare \
    container-cache container-save container-name; do
    check "srun --help lists --$f" grep -q -- "--$f" <<<"$help"
done

echo "# the image, the user, the filesystem"
is "/etc/os-release is the image's" 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"' "$DEB" grep ^PRETTY_NAME /etc/os-release
check "one import per step: the user's step directory is gone" no_leftovers
is "id -u is the user's uid" "$USER_UID" "$DEB" id -u
is "--container-remap-root: id -u is 0" "0" "$DEB" --container-remap-root id -u
is "--no-container-remap-root wins over PYXIS_CONTAINER_REMAP_ROOT=1" "$USER_UID" "$DEB" --no-container-remap-root \
    --export=ALL,PYXIS_CONTAINER_REMAP_ROOT=1 id -u
is "seccomp filter in every task" "Seccomp:	2
Seccomp:	2" "$DEB" -n 2 grep '^Seccomp:' /proc/self/status
is "read-only by default" "ro" "$DEB" sh -c 'touch /x 2>/dev/null && echo rw || echo ro'
is "--container-writable" "rw" "$DEB" --container-writable sh -c 'touch /x && echo rw'
is "--container-readonly" "ro" "$DEB" --container-readonly sh -c 'touch /x 2>/dev/null && echo rw || echo ro'
is "--container-mounts SRC:DST:ro is mounted read-only" "host-data ro" "$DEB" --container-mounts="$WORK/hostdir:/data:ro" \
    sh -c 'echo $(cat /data/file) $(touch /data/new 2>/dev/null && echo rw || echo ro)'
is "--container-mounts with a relative source" "host-data" "$DEB" --container-mounts=../hostdir:/data cat /data/file
refused "a missing mount source" "source path does not exist: $WORK/nope" "$DEB" --container-mounts="$WORK/nope:/data"
is "--container-mount-home" "home-file" "$DEB" --container-mount-home cat "$USER_HOME/lc-home-marker"
is "no home without --container-mount-home" "absent" "$DEB" sh -c "test -e '$USER_HOME/lc-home-marker' && echo present || echo absent"
is "--container-workdir" "/etc" "$DEB" --container-workdir=/etc pwd
refused "--container-workdir that does not exist" "couldn't chdir to /nope: No such file or directory" "$DEB" --container-workdir=/nope
is "the image's WorkingDir is the default" "/workspace" "$TORCH" pwd
is "--container-unshare=net: only lo" "lo" "$DEB" --container-unshare=net ls /sys/class/net
is "host network by default" "yes" "$DEB" sh -c 'test "$(ls /sys/class/net | wc -l)" -gt 1 && echo yes || echo no'
HOST_UTS="$(readlink /proc/self/ns/uts)" HOST_IPC="$(readlink /proc/self/ns/ipc)"
is "--container-unshare=uts,ipc: new namespaces" "new new" "$DEB" --container-unshare=uts,ipc \
    sh -c "echo \$(test \$(readlink /proc/self/ns/uts) != '$HOST_UTS' && echo new) \$(test \$(readlink /proc/self/ns/ipc) != '$HOST_IPC' && echo new)"
is "the host's /tmp without job_container/tmpfs" "host" "$DEB" sh -c 'echo host >/tmp/lc-itest-hostmark && cat /tmp/lc-itest-hostmark'
check "and the host sees it" grep -qx host /tmp/lc-itest-hostmark

echo "# environment (pyxis's rules)"
EXTRA_ENV=(FOO=bar LANG=C.UTF-8 CUDA_VERSION=host LD_LIBRARY_PATH=/host/lib)
is "job variables pass through" "bar" "$TORCH" sh -c 'echo $FOO'
is "the image's values win" "13.0 /image/lib" "$TORCH" sh -c 'echo $CUDA_VERSION $LD_LIBRARY_PATH'
is "--container-env names keep the host's value" "host /image/lib" "$TORCH" --container-env=CUDA_VERSION \
    sh -c 'echo $CUDA_VERSION $LD_LIBRARY_PATH'
is "LANG is dropped" "unset" "$TORCH" sh -c 'echo ${LANG:-unset}'
is "LANG is kept when listed" "C.UTF-8" "$TORCH" --container-env=LANG sh -c 'echo ${LANG:-unset}'
is "PYXIS_CONTAINER_ENV" "host" "$TORCH" --export=ALL,PYXIS_CONTAINER_ENV=CUDA_VERSION sh -c 'echo $CUDA_VERSION'
EXTRA_ENV=()

echo "# PyTorch variables, one container per node per step"
before="$(manifest_requests torchlike)"
usrun -n 4 "$TORCH" sh -c 'echo $SLURM_PROCID $RANK $LOCAL_RANK $WORLD_SIZE $MASTER_ADDR $MASTER_PORT $(readlink /proc/self/ns/mnt)' \
    >"$WORK/n4.out" 2>"$WORK/n4.err"
check "srun -n 4: four tasks" test "$(wc -l <"$WORK/n4.out")" = 4
check "RANK = LOCAL_RANK = SLURM_PROCID on one node" awk '$1 != $2 || $1 != $3 { exit 1 }' "$WORK/n4.out"
check "WORLD_SIZE, MASTER_ADDR, MASTER_PORT" awk -v h="$(hostname -s)" '$4 != 4 || $5 != h || $6 < 61000 || $6 >= 65536 { exit 1 } END { exit NR != 4 }' "$WORK/n4.out"
check "all tasks in one mount namespace" test "$(awk '{print $7}' "$WORK/n4.out" | sort -u | wc -l)" = 1
check "the mount namespace is not the host's" test "$(awk '{print $7}' "$WORK/n4.out" | sort -u)" != "$(readlink /proc/self/ns/mnt)"
check "one import for four tasks (one log line)" test "$(grep -c 'importing docker image' "$WORK/n4.err")" = 1
check "slurmd's log has the timings line (import phases, mount, join)" grep -Eq \
    "container setup: import [0-9]+ ms \(resolve [0-9.]+ s, download\+convert [0-9.]+ s.*\), mount [0-9]+ ms, join [0-9]+ ms" \
    "$SLURM_SANDBOX/log/slurmd.log"
n4=$(( $(manifest_requests torchlike) - before ))
before="$(manifest_requests torchlike)"
usrun -n 1 "$TORCH" true 2>/dev/null
n1=$(( $(manifest_requests torchlike) - before ))
check "four tasks make as many manifest requests as one ($n4 = $n1)" test "$n4" = "$n1" -a "$n1" -ge 1
is "--container-env=MASTER_PORT keeps the job's value" "1234" "$TORCH" --export=ALL,MASTER_PORT=1234 --container-env=MASTER_PORT sh -c 'echo $MASTER_PORT'

echo "# the image's entrypoint"
is "not run by default (execute_entrypoint=0)" "unset" "$TORCH" sh -c 'echo ${FROM_ENTRYPOINT:-unset}'
is "--container-entrypoint: its environment reaches the task" "yes" "$TORCH" --container-entrypoint sh -c 'echo $FROM_ENTRYPOINT'
check "... and its output is not shown" test "$(grep -c 'TORCH ENTRYPOINT' "$WORK/err")" = 0
out="$(usrun "$TORCH" --container-entrypoint --container-entrypoint-log true 2>&1)"
check "--container-entrypoint-log shows its output" grep -qx '== TORCH ENTRYPOINT ==' <<<"$out"
is "PYXIS_CONTAINER_ENTRYPOINT=1" "yes" "$TORCH" --export=ALL,PYXIS_CONTAINER_ENTRYPOINT=1 sh -c 'echo $FROM_ENTRYPOINT'
is "its working directory becomes the tasks'" "/etc" "$TORCH" --container-entrypoint --export=ALL,ENTRY_CD=/etc --container-env=ENTRY_CD pwd
is "--container-workdir wins over it" "/bin" "$TORCH" --container-entrypoint --export=ALL,ENTRY_CD=/etc --container-env=ENTRY_CD --container-workdir=/bin pwd
is "job variables not in --container-env do not reach it" "yes" "$TORCH" --container-entrypoint --export=ALL,ENTRY_FAIL=3 sh -c 'echo $FROM_ENTRYPOINT'
rm -f /tmp/lc-itest-entry
usrun -n 4 "$TORCH" --container-entrypoint --export=ALL,ENTRY_MARK=/tmp/lc-itest-entry --container-env=ENTRY_MARK \
    sh -c 'echo $FROM_ENTRYPOINT' >"$WORK/n4.out" 2>"$WORK/n4.err"
check "srun -n 4: every task has its environment" test "$(grep -cx yes "$WORK/n4.out")" = 4
check "srun -n 4: it ran once on the node" test "$(grep -c ran /tmp/lc-itest-entry)" = 1
out="$(usrun -n 2 "$TORCH" --container-entrypoint --export=ALL,ENTRY_FAIL=3 --container-env=ENTRY_FAIL true 2>&1)"; rc=$?
check "a failing entrypoint fails the step (rc=$rc)" test "$rc" != 0
check "... with its exit code" grep -q "container start failed with error code: 3" <<<"$out"
check "... and its output" grep -q "entrypoint failing on purpose" <<<"$out"
check "... the other task is told" grep -q "container was not started successfully by another task" <<<"$out"
refused "an entrypoint that does not run the command" "container exited too soon" "$TORCH" --container-entrypoint \
    --export=ALL,ENTRY_NOEXEC=1 --container-env=ENTRY_NOEXEC
is "an image without an Entrypoint: nothing to run" "/ unset" "$DEB" --container-entrypoint sh -c 'echo $PWD ${FROM_ENTRYPOINT:-unset}'
check "no leftovers" no_leftovers

echo "# --container-save: the container's filesystem as a squashfs file"
SAVED="$WORK/job/torch-saved.sqsh"
rm -f "$SAVED"
is "a writable job that saves" "written" "$TORCH" --container-writable --container-remap-root --container-save=./torch-saved.sqsh \
    --container-mounts="$WORK/hostdir:/data" sh -c 'echo saved-data >/workspace/new-file; echo written'
check "the file is there when srun returns, the user's" test "$(stat -c %U "$SAVED" 2>/dev/null)" = lctest
check "slurmd's log says so" grep -q "exported container [0-9]*\.[0-9]* to $SAVED in" "$SLURM_SANDBOX/log/slurmd.log"
"$BUILD/tools/ctr-squash" list "$SAVED" >"$WORK/saved.list" 2>&1
check "the saved files are root's (enroot export -all-root)" awk '$2 != "0/0" { exit 1 }' "$WORK/saved.list"
check "a mount's content is not saved, its mount point is" grep -Eq ' /data$' "$WORK/saved.list"
check "... (no /data/file)" not_grep ' /data/file$' "$WORK/saved.list"
is "a new job from the saved file sees the write" "saved-data" --container-image=./torch-saved.sqsh cat /workspace/new-file
is "... the image's env and WorkingDir travel with it" "2.9.0 /workspace" --container-image="$SAVED" sh -c 'echo $PYTORCH_VERSION $PWD'
is "... and its entrypoint" "yes" --container-image="$SAVED" --container-entrypoint sh -c 'echo $FROM_ENTRYPOINT'
is "PYXIS_CONTAINER_SAVE, over an existing file, ENROOT_SQUASH_OPTIONS" "again" "$TORCH" --container-writable \
    --export=ALL,PYXIS_CONTAINER_SAVE="$SAVED",ENROOT_SQUASH_OPTIONS="-b 131072" sh -c 'echo again >/workspace/new-file; echo again'
is "the file was replaced" "again" --container-image="$SAVED" cat /workspace/new-file
check "... with ENROOT_SQUASH_OPTIONS's block size" grep -q "Block size 131072" <(unsquashfs -s "$SAVED" 2>&1)
mkdir -p "$WORK/job/adir" && echo keep >"$WORK/job/adir/keep" && chmod -R a+rwX "$WORK/job/adir"
usrun "$TORCH" --container-save=adir true >/dev/null 2>&1
check "an existing directory as target: refused" grep -q "failed to export container [0-9.]*: $WORK/job/adir: target is a directory" "$SLURM_SANDBOX/log/slurmd.log"
check "... and the directory is untouched" test "$(cat "$WORK/job/adir/keep")" = keep
ln -sfn /etc "$WORK/job/etc-link"
usrun "$TORCH" --container-save=etc-link/lc-itest.sqsh true >/dev/null 2>&1
check "a save where the user cannot write (through their link to /etc) fails as the user" \
    grep -q "failed to export container [0-9.]*: create a temporary file beside 'lc-itest.sqsh': Permission denied" "$SLURM_SANDBOX/log/slurmd.log"
check "... and writes nothing there" test -z "$(ls -A /etc | grep lc-itest)"
OTHER=/var/tmp/lc-itest-other # a second cluster: its own Slurm, runtime path and plugin config
other_exports="$(env SLURM_SANDBOX="$OTHER" SLURM_CTLD_PORT=6827 SLURMD_PORT=6828 SPANK_PLUGIN="$PLUGIN" \
    SPANK_ARGS="import_helper=$BUILD/tools/ctr-import runtime_path=/run/lc-itest-other" \
    "$SLURM_SH/up.sh" 2>"$WORK/other-up.log")" || cat "$WORK/other-up.log"
cleanup_hooks+=("SLURM_SANDBOX='$OTHER' '$SLURM_SH/down.sh' >/dev/null 2>&1")
other_conf="$(eval "$other_exports"; echo "$SLURM_CONF")"
got="$(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$other_conf" timeout 120 srun --container-image="$SAVED" \
    --container-entrypoint sh -c 'echo $(cat /workspace/new-file) $PYTORCH_VERSION $FROM_ENTRYPOINT $PWD' 2>&1)"
check "the saved file on another cluster: files, env, entrypoint, workdir ($got)" test "$got" = "again 2.9.0 yes /workspace"
SLURM_SANDBOX="$OTHER" "$SLURM_SH/down.sh" >/dev/null 2>&1
check "no temporary file left beside the targets" test -z "$(find "$WORK/job" -name '.*.sqsh.*')"
check "no leftovers" no_leftovers

echo "# PYXIS_* variables"
is "PYXIS_CONTAINER_IMAGE enables the plugin" 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"' \
    --export=ALL,PYXIS_CONTAINER_IMAGE="$REG/debian:bookworm" grep ^PRETTY_NAME /etc/os-release
is "PYXIS_CONTAINER_WORKDIR" "/usr" "$DEB" --export=ALL,PYXIS_CONTAINER_WORKDIR=/usr pwd
is "the flag wins over PYXIS_CONTAINER_WORKDIR" "/etc" "$DEB" --export=ALL,PYXIS_CONTAINER_WORKDIR=/usr --container-workdir=/etc pwd
is "PYXIS_CONTAINER_READONLY=0 makes it writable" "rw" "$DEB" --export=ALL,PYXIS_CONTAINER_READONLY=0 sh -c 'touch /x && echo rw'

echo "# a trusted image (root's, in root's directories): the kernel's squashfs driver"
TRUSTED=/var/lib/lc-itest-spank
rm -rf "$TRUSTED" && mkdir -m 0755 -p "$TRUSTED"
cleanup_hooks+=("rm -rf '$TRUSTED' /tmp/lc-itest-kup")
"$BUILD/tools/ctr-import" -q --allow-http --cache "$WORK/cache" -o "$TRUSTED/torch.sqsh" "$REG/torchlike:latest" >/dev/null &&
    chmod 0644 "$TRUSTED/torch.sqsh" || not_ok "cannot import the trusted image"
loops_of() { grep -lx "$1" /sys/block/loop*/loop/backing_file 2>/dev/null | wc -l; }
# kernel_run SRUN-ARGS...: the job's output, the loop devices on the image while it runs, and after
kernel_run() {
    local out during after
    rm -f /tmp/lc-itest-kup
    usrun "--container-image=$TRUSTED/torch.sqsh" "$@" sh -c 'touch /tmp/lc-itest-kup; sleep 1; stat -c %u:%g /bin/busybox' >"$WORK/k.out" 2>&1 &
    for _ in $(seq 100); do [ -e /tmp/lc-itest-kup ] && break; sleep 0.1; done
    during="$(loops_of "$TRUSTED/torch.sqsh")"
    wait
    for _ in $(seq 50); do after="$(loops_of "$TRUSTED/torch.sqsh")"; [ "$after" = 0 ] && break; sleep 0.1; done
    echo "$(tail -1 "$WORK/k.out"), loops $during then $after"
}
USER_GID="$(id -g lctest)"
got="$(kernel_run)"
check "the kernel's driver, the image's root shown as the user, one loop device, gone after ($got)" \
    test "$got" = "$USER_UID:$USER_GID, loops 1 then 0"
got="$(kernel_run --container-remap-root)"
check "with --container-remap-root, as root ($got)" test "$got" = "0:0, loops 1 then 0"
got="$(kernel_run --container-writable)"
check "a writable container is served over FUSE ($got)" test "$got" = "$USER_UID:$USER_GID, loops 0 then 0"

echo "# bad input: one message each, the job does not run"
while IFS='|' read -r args message; do
    # shellcheck disable=SC2086
    refused "srun $args" "$message" $args
done <<EOF
--container-image= |--container-image: argument required
$DEB --container-image=other |--container-image: specified multiple times
$DEB --container-workdir=/a --container-workdir=/b |--container-workdir: specified multiple times
$DEB --container-mount-home --no-container-mount-home |both --container-mount-home and --no-container-mount-home were specified
$DEB --container-remap-root --no-container-remap-root |both --container-remap-root and --no-container-remap-root were specified
$DEB --container-entrypoint --no-container-entrypoint |both --container-entrypoint and --no-container-entrypoint were specified
$DEB --container-writable --container-readonly |both --container-writable and --container-readonly were specified
$DEB --container-unshare=pid |--container-unshare: unknown namespace 'pid'
$DEB --container-unshare=net, |--container-unshare: empty namespace argument
$DEB --container-env=A, |--container-env: invalid format
$DEB --container-env=A=B |--container-env: invalid format
$DEB --container-mounts=/a:b |--container-mounts: mount target must be a relative path or an absolute path
$DEB --container-mounts=foo:/b |--container-mounts: mount source must be a relative path, an absolute path, "tmpfs" or "umount"
$DEB --container-mounts=/a:/../b |--container-mounts:
$DEB --container-save= |--container-save: argument required
$DEB --container-save=./out/ |--container-save: target is a directory
$DEB --container-save=a --container-save=b |--container-save: specified multiple times
--container-image=$REG/nonexistent:x |failed to import docker image: $REG/nonexistent:x
EOF
out="$(usrun --container-image=$REG/nonexistent:x true 2>&1)"
check "a failed import shows the helper's log" grep -q 'manifest unknown' <<<"$out"
out="$(usrun --container-workdir=/tmp --container-remap-root echo ran 2>&1)"
check "flags without an image are ignored with a note" grep -q "ignoring --container-workdir because neither --container-image nor --container-name is set" <<<"$out"
check "... and the job runs on the host" grep -qx ran <<<"$out"
check "no leftovers after all these jobs" no_leftovers

echo "# scancel during an import"
rm -rf "$USER_HOME/.cache/libcontainer"
usrun "$DEB" true >/dev/null 2>&1 &
for _ in $(seq 100); do pgrep -u lctest -f ctr-import >/dev/null && break; sleep 0.1; done
check "the import helper runs as the user" pgrep -u lctest -f ctr-import >/dev/null
jobid="$(squeue -h -u lctest -o %i | head -1)"
scancel "$jobid"
wait
check "scancel stops the import: no processes, no partial files" no_leftovers

echo "# the node cache: --container-cache"
blob_requests() { grep -c "\"GET /v2/$1/blobs/" "$ACCESS_LOG"; }
refused "--container-cache without an image" "--container-cache requires --container-image" --container-cache
refused "--container-cache with a squashfs file" "--container-cache requires a registry image, not a squashfs file" \
    --container-image=./x.sqsh --container-cache
refused "--container-cache with --container-writable" "--container-cache cannot be used with --container-writable" \
    "$TORCH" --container-cache --container-writable
refused "--container-cache with --container-save" "--container-cache cannot be used with --container-save" \
    "$TORCH" --container-cache --container-save=x.sqsh
is "cold: the job runs, read-only" "$USER_UID ro" "$TORCH" --container-cache sh -c 'echo $(id -u) $(touch /x 2>/dev/null && echo rw || echo ro)'
check "cold: the image is imported" grep -q "importing docker image: $REG/torchlike:latest" "$WORK/err"
check "the user's directory: mode 700, the user's" test "$(stat -c %a:%U "$CACHE_BASE/$USER_UID")" = 700:lctest
entries() { find "$CACHE_BASE/$1" -mindepth 1 -maxdepth 1 -name "pyxis_cache_*" | sort; }
entry1="$(entries "$USER_UID")"
check "one entry pyxis_cache_u<uid>_<hash> with the image and its lock" \
    test "$(wc -l <<<"$entry1")" = 1 -a -f "$entry1/image.sqsh" -a -f "$entry1/.pyxis_cache_lock"
check "the entry's name" grep -Eq "/pyxis_cache_u${USER_UID}_[0-9a-f]{32}$" <<<"$entry1"
check "no temporary directory left" test -z "$(find "$CACHE_BASE/$USER_UID" -maxdepth 1 -name '.pyxis_cache_tmp_*')"
mtime1="$(stat -c %Y "$entry1")"; sleep 1.1
m0="$(manifest_requests torchlike)" b0="$(blob_requests torchlike)"
is "warm: the job runs from the entry" "yes" "$TORCH" --container-cache sh -c 'echo yes'
check "warm: no import" not_grep "importing docker image" "$WORK/err"
check "warm: one manifest request, no blob request" test "$(( $(manifest_requests torchlike) - m0 )):$(( $(blob_requests torchlike) - b0 ))" = 1:0
check "warm: the use touched the entry" test "$(stat -c %Y "$entry1")" -gt "$mtime1"
check "warm: still one entry" test "$(entries "$USER_UID")" = "$entry1"
is "PYXIS_CONTAINER_CACHE=1 enables it" "yes" "$TORCH" --export=ALL,PYXIS_CONTAINER_CACHE=1 sh -c 'echo yes'
check "... warm" not_grep "importing docker image" "$WORK/err"
"$SHARED/registry/down.sh" >/dev/null 2>&1
is "registry unreachable: the digest resolved last time (container_cache_offline=1)" "yes" "$TORCH" --container-cache sh -c 'echo yes'
check "... says so" grep -q "libcontainer: the registry is unreachable" "$WORK/err"
refused "registry unreachable, an image never resolved here" "failed to import docker image: $REG/never:x" \
    --container-image="$REG/never:x" --container-cache
"$SHARED/registry/up.sh" plain >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log"; exit 1; }
usrun "$TORCH" --container-cache sh -c 'touch /tmp/lc-itest-cache-up; sleep 2' >/dev/null 2>&1 &
for _ in $(seq 100); do [ -e /tmp/lc-itest-cache-up ] && break; sleep 0.1; done
check "a running job holds its entry's lock (shared)" not_cmd flock -n -x "$entry1/.pyxis_cache_lock" true
check "... others may share it" flock -n -s "$entry1/.pyxis_cache_lock" true
wait; rm -f /tmp/lc-itest-cache-up
check "... and it is free after the job" flock -n -x "$entry1/.pyxis_cache_lock" true
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false "docker://$REG/tiny:latest" "docker://$REG/lc-moving:latest"
usrun --container-image="$REG/lc-moving:latest" --container-cache true >/dev/null 2>&1
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false "docker://$REG/torchlike:latest" "docker://$REG/lc-moving:latest"
is "after the tag moved, the job runs the new image" "2.9.0" --container-image="$REG/lc-moving:latest" --container-cache sh -c 'echo $PYTORCH_VERSION'
check "... from a new entry" test "$(entries "$USER_UID" | wc -l)" = 3
echo "# a killed fill, then two jobs filling one entry at once"
usrun "$DEB" --container-cache true >/dev/null 2>&1 &
for _ in $(seq 100); do pgrep -u lctest -f "ctr-import.*--node-cache" >/dev/null && ! pgrep -u lctest -f -- "--lookup" >/dev/null && break; sleep 0.05; done
scancel "$(squeue -h -u lctest -o %i | head -1)"; wait
check "a killed fill leaves no entry" test "$(entries "$USER_UID" | wc -l)" = 3
b0="$(grep -n . "$ACCESS_LOG" | tail -1 | cut -d: -f1)"
usrun "$DEB" --container-cache cat /etc/debian_version >"$WORK/c1.out" 2>&1 &
usrun "$DEB" --container-cache cat /etc/debian_version >"$WORK/c2.out" 2>&1 &
wait
check "both jobs ran" test "$(cat "$WORK/c1.out" "$WORK/c2.out" | grep -c '^12\.')" = 2
check "one entry more" test "$(entries "$USER_UID" | wc -l)" = 4
check "no blob was fetched twice (one import)" test -z "$(tail -n +"$((b0 + 1))" "$ACCESS_LOG" | grep -o '"GET /v2/debian/blobs/[^ ]*' | sort | uniq -d)"
echo "# a second user"
RUN_AS=lctest2 is "lctest2: runs from the cache" "$USER2_UID" "$TORCH" --container-cache id -u
check "lctest2 has an entry of its own" grep -Eq "/pyxis_cache_u${USER2_UID}_[0-9a-f]{32}$" <<<"$(entries "$USER2_UID")"
check "... in a directory of its own" test "$(stat -c %a:%U "$CACHE_BASE/$USER2_UID")" = 700:lctest2
check "lctest2 cannot read lctest's cache" not_cmd runuser -u lctest2 -- ls "$CACHE_BASE/$USER_UID"
check "no leftovers" no_leftovers

echo "# sbatch and salloc"
cat >"$WORK/job/batch.sh" <<'EOF'
#!/bin/sh
#SBATCH --container-image=127.0.0.1:5000\#torchlike:latest
#SBATCH --container-env=BATCH_VAR
echo "$PYTORCH_VERSION $(id -u) $BATCH_VAR"
test -e /bin/entry.sh && echo in-image
head -2 "$0" | tail -1
touch "$0" 2>/dev/null && echo script-writable || echo script-read-only
EOF
chmod 644 "$WORK/job/batch.sh"
(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$SLURM_CONF" BATCH_VAR=from-host timeout 120 \
    sbatch --wait -o "$WORK/job/batch.out" batch.sh >/dev/null 2>&1)
check "#SBATCH --container-image (REGISTRY\\#IMAGE): the batch script runs in the image, as the user" \
    grep -qx "2.9.0 $USER_UID from-host" "$WORK/job/batch.out"
check "... with the import's messages in its output, as pyxis" grep -q "importing docker image: 127.0.0.1:5000#torchlike:latest" "$WORK/job/batch.out"
check "... with the image's files" grep -qx in-image "$WORK/job/batch.out"
check "... the script is there, read-only, at its own path" \
    test "$(tail -2 "$WORK/job/batch.out" | tr '\n' ' ')" = '#SBATCH --container-image=127.0.0.1:5000\#torchlike:latest script-read-only '
out="$(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$SLURM_CONF" timeout 120 sbatch --wait -o wrap.out \
    "$TORCH" --wrap 'echo $PYTORCH_VERSION' >/dev/null 2>&1; grep -v '^libcontainer:' wrap.out)"
check "sbatch --container-image on the command line, --wrap ($out)" test "$out" = 2.9.0
out="$(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$SLURM_CONF" timeout 120 salloc -n1 "$TORCH" \
    srun sh -c 'echo $PYTORCH_VERSION' 2>/dev/null)"
check "salloc --container-image ... srun: the step runs in the image ($out)" test "$out" = 2.9.0
out="$(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$SLURM_CONF" timeout 120 sbatch --wait -o plain.out \
    --wrap 'test -e /bin/entry.sh && echo image || echo host' >/dev/null 2>&1; cat plain.out)"
check "sbatch without container flags: the host ($out)" test "$out" = host
check "no leftovers" no_leftovers

echo "# named containers (--container-name)"
NAMED="$RUNTIME/$USER_UID/pyxis_n1"
nslog() { grep -c "$1" "$SLURM_SANDBOX/log/slurmd.log"; }
imports="$(manifest_requests torchlike)"
is "create: a new named container, writable" "created" "$TORCH" --container-name=n1:create --container-writable \
    sh -c 'echo one >/workspace/state && echo created'
check "... its directory is the user's, 0700, with the image and the writable layer, no unpacked copy" \
    test "$(stat -c '%U %a' "$NAMED")" = "lctest 700" -a -f "$NAMED/image.sqsh" -a -f "$NAMED/upper/workspace/state" \
    -a ! -e "$NAMED/upper/bin"
reuses="$(nslog 'reusing existing container filesystem: pyxis_n1')"
is "a later job reuses its filesystem, without an image" "one" --container-name=n1 cat /workspace/state
check "... (slurmd's log says so)" test "$(nslog 'reusing existing container filesystem: pyxis_n1')" = $((reuses + 1))
is "... with the image's environment and workdir" "2.9.0 /workspace" --container-name=n1 --no-container-entrypoint sh -c 'echo $PYTORCH_VERSION $(pwd)'
is "... also when --container-image is given (not imported again)" "one" "$TORCH" --container-name=n1 cat /workspace/state
check "... one import in all" test "$(manifest_requests torchlike)" = $((imports + 1))
is "writes persist from job to job" "one two" --container-name=n1 --container-writable sh -c 'echo two >>/workspace/state; echo $(cat /workspace/state)'
is "read-only by default" "ro" --container-name=n1 sh -c 'touch /workspace/x 2>/dev/null || echo ro'
is "PYXIS_CONTAINER_NAME" "one two" --export=ALL,PYXIS_CONTAINER_NAME=n1 sh -c 'echo $(cat /workspace/state)'
refused "create when it exists" '"create" flag was passed to --container-name but the container already exists' --container-name=n1:create
refused "exec when it is not running" '"exec" flag was passed to --container-name but the container is not running' --container-name=n1:exec
refused "a name that does not exist, without an image" 'a container with name "pyxis_nope" does not exist, and --container-image is not set' --container-name=nope
check "... and leaves nothing behind" test ! -e "$RUNTIME/$USER_UID/pyxis_nope"
refused "an empty name" "--container-name: empty name" --container-name=:create
refused "an unknown flag" '--container-name: flag must be "auto", "create", "exec" or "no_exec"' --container-name=n1:bogus
refused "a name with '/'" "--container-name: invalid name 'a/b'" --container-name=a/b
refused "two different names" "--container-name: specified multiple times" --container-name=a --container-name=b
refused "--container-cache with a name" "--container-cache cannot be used with --container-name" "$TORCH" --container-cache --container-name=n1
is "a squashfs file as the image: copied into the named container" "again" --container-image="$SAVED" --container-name=fromfile cat /workspace/new-file
check "... a copy, the user's" test "$(stat -c %U "$RUNTIME/$USER_UID/pyxis_fromfile/image.sqsh")" = lctest
check "no leftovers (processes)" wait_for test -z "$(user_procs)"

echo "# named containers: joining a running one"
usrun --container-name=n1 --container-writable sh -c 'readlink /proc/self/ns/mnt >/workspace/ns; while [ ! -e /workspace/stop ]; do sleep 0.1; done; echo first-done' >"$WORK/first.out" 2>&1 &
first=$!
check "the running container listens on its socket" wait_for test -S "$NAMED/sock"
wait_for test -s "$NAMED/upper/workspace/ns"
is "auto joins it: the same namespaces" "joined" --container-name=n1 sh -c '[ "$(readlink /proc/self/ns/mnt)" = "$(cat /workspace/ns)" ] && echo joined'
check "... (slurmd's log says so)" grep -q "reusing existing container namespaces: pyxis_n1" "$SLURM_SANDBOX/log/slurmd.log"
is "exec joins it" "joined" --container-name=n1:exec sh -c '[ "$(readlink /proc/self/ns/mnt)" = "$(cat /workspace/ns)" ] && echo joined'
is "no_exec starts a separate instance on the same filesystem" "separate one two" --container-name=n1:no_exec \
    sh -c '[ "$(readlink /proc/self/ns/mnt)" != "$(cat /workspace/ns)" ] && echo separate $(cat /workspace/state)'
check "... whose work directory is gone after it" wait_for test -z "$(ls -d "$NAMED"/work.* 2>/dev/null)"
refused "create while it runs" '"create" flag was passed to --container-name but the container already exists' --container-name=n1:create
refused "--container-unshare=net it does not have" "--container-unshare=net requested but the container is not in a separate network namespace" \
    --container-name=n1 --container-unshare=net
out="$(usrun --container-name=n1 --container-mounts="$WORK/hostdir:/mnt/h" sh -c 'test -e /mnt/h/file && echo mounted || echo not-mounted' 2>&1)"
check "--container-mounts is ignored when joining, with pyxis's message ($out)" \
    grep -q "ignoring --container-mounts when attaching to a running container" <<<"$out"
check "... and not applied" grep -qx not-mounted <<<"$out"
out="$(usrun --container-name=n1 --container-writable sh -c 'touch /workspace/stop; while kill -0 '"$first"' 2>/dev/null; do sleep 0.1; done; sleep 1; head -1 /bin/entry.sh' 2>&1)"
wait "$first"
check "the creating job ends first ($(cat "$WORK/first.out"))" grep -qx first-done "$WORK/first.out"
check "... the joined job still reads the image after it ($out)" grep -qx '#!/bin/sh' <<<"$out"
check "when the last job that joined ends, the instance ends and its socket goes" wait_for test ! -e "$NAMED/sock"
is "then a new job starts it again" "one two" --container-name=n1 sh -c 'echo $(cat /workspace/state)'

echo "# an unnamed running step, joined as JOBID.STEPID"
JSDIR="$WORK/js"; rm -rf "$JSDIR"; mkdir -p "$JSDIR"; chmod 777 "$JSDIR"
usrun --container-image="$SAVED" --container-writable --container-mounts="$JSDIR:/js" sh -c \
    'echo mine >/workspace/unnamed; readlink /proc/self/ns/mnt >/js/ns.tmp; echo $SLURM_JOB_ID.$SLURM_STEP_ID >/js/id; mv /js/ns.tmp /js/ns
     while [ ! -e /js/stop ]; do sleep 0.1; done; echo unnamed-done' >"$WORK/unnamed.out" 2>&1 &
unnamed=$!
wait_for test -s "$JSDIR/ns"
JS_ID="$(cat "$JSDIR/id")" UNNAMED="$RUNTIME/$USER_UID/pyxis_$(cat "$JSDIR/id")"
check "an unnamed step serves its name pyxis_JOBID.STEPID: no copy of the image, no writable layer on disk" \
    test -S "$UNNAMED/sock" -a ! -e "$UNNAMED/image.sqsh" -a ! -e "$UNNAMED/upper"
is "--container-name=JOBID.STEPID joins it: its namespaces, its writes, its image's environment" "joined mine 2.9.0" \
    --container-name="$JS_ID" sh -c '[ "$(readlink /proc/self/ns/mnt)" = "$(cat /js/ns)" ] && echo joined $(cat /workspace/unnamed) $PYTORCH_VERSION'
is "... with :exec too, and its writes are the step's" "mine ours" --container-name="$JS_ID:exec" sh -c 'echo ours >>/workspace/unnamed; echo $(cat /workspace/unnamed)'
touch "$JSDIR/stop"; wait "$unnamed"
check "the step ends as it would alone ($(cat "$WORK/unnamed.out"))" grep -qx unnamed-done "$WORK/unnamed.out"
check "... and its name goes with it" wait_for test ! -e "$UNNAMED"
refused "... so it cannot be joined any more" "a container with name \"pyxis_$JS_ID\" does not exist, and --container-image is not set" \
    --container-name="$JS_ID"
check "... (and that left nothing)" test ! -e "$UNNAMED"
cat >"$WORK/job/like-a-step.sh" <<EOF
#!/bin/sh
srun --container-image=$SAVED --container-name=\$SLURM_JOB_ID.1 --container-writable sh -c 'echo kept >/workspace/like-a-step'
srun --container-image=$SAVED sh -c "echo unnamed-ran"
srun --container-name=\$SLURM_JOB_ID.1 cat /workspace/like-a-step
EOF
jobid="$(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$SLURM_CONF" sbatch --parsable -o like-a-step.out like-a-step.sh)"
for _ in $(seq 150); do [ -z "$(squeue -h -j "$jobid" 2>/dev/null)" ] && break; sleep 0.2; done
check "a container the user named like a step (JOBID.1) survives step JOBID.1 ($(tr '\n' ' ' <"$WORK/job/like-a-step.out"))" \
    grep -qx kept "$WORK/job/like-a-step.out"
check "... which ran" grep -qx unnamed-ran "$WORK/job/like-a-step.out"
check "... and the job's epilog (the job has left squeue)" test -f "$RUNTIME/$USER_UID/pyxis_$jobid.1/upper/workspace/like-a-step"
rm -rf "$RUNTIME/$USER_UID/pyxis_$jobid.1"

echo "# named containers: two jobs at once, kill -9"
rm -f "$WORK/race."*
for i in 1 2; do usrun "$TORCH" --container-name=race:create true >"$WORK/race.$i" 2>&1 & done; wait
check "two jobs creating one name at once: one wins" test "$(grep -lc 'already exists' "$WORK"/race.* | wc -l)" = 1
check "... the other is told so" grep -q '"create" flag was passed to --container-name but the container already exists' "$WORK"/race.*
for i in 1 2; do usrun "$TORCH" --container-name=race2 --container-writable sh -c "echo $i >>/workspace/r" >"$WORK/race.$i" 2>&1 & done; wait
is "... two jobs with auto: both run, on one filesystem" "2" --container-name=race2 sh -c 'cat /workspace/r | wc -l'
usrun --container-name=k9 "$TORCH" --container-writable sh -c 'echo alive >/workspace/k; sleep 300' >/dev/null 2>&1 &
wait_for test -S "$RUNTIME/$USER_UID/pyxis_k9/sock"
wait_for test -s "$RUNTIME/$USER_UID/pyxis_k9/upper/workspace/k"
pkill -9 -f 'slurmstepd: \[[0-9]+\.0\]' ; pkill -9 -u lctest -x sleep
wait
is "kill -9 of the job holding a named container: the next job still works" "alive" --container-name=k9 cat /workspace/k
usrun --container-name=k9 sh -c 'sleep 300' >/dev/null 2>&1 &
wait_for test -S "$RUNTIME/$USER_UID/pyxis_k9/sock"
ps -u lctest -o pid=,args= >"$WORK/k9.ps"
pkill -9 -u lctest -f '^slurmstepd'
is "kill -9 of the container's holder: the next job starts a new instance" "alive" --container-name=k9 cat /workspace/k
pkill -9 -U 0 -f 'slurmstepd: \[[0-9]+\.0\]'; pkill -9 -u lctest -x sleep; wait
check "no leftovers (processes)" wait_for test -z "$(user_procs)"

echo "# named containers: container_scope=job, the job epilog, 50 steps of one job"
"$SLURM_SH/down.sh" >/dev/null 2>&1
slurm_up SPANK_ARGS="import_helper=$BUILD/tools/ctr-import allow_http=$REG runtime_path=$RUNTIME container_scope=job"
cat >"$WORK/job/scope.sh" <<EOF
#!/bin/sh
srun --container-image=$REG/torchlike:latest --container-name=js --container-writable sh -c 'echo kept >/workspace/j'
srun --container-name=js cat /workspace/j
srun --container-name=js sleep 300
echo end
EOF
cat >"$WORK/job/scope-unnamed.sh" <<EOF
#!/bin/sh
srun --container-image=$REG/torchlike:latest --container-writable sh -c 'echo from-step-0 >/workspace/u; sleep 300' &
while [ ! -S "$RUNTIME/$USER_UID/pyxis_\${SLURM_JOB_ID}_\$SLURM_JOB_ID.0/sock" ]; do sleep 0.1; done
srun --overlap --container-name=\$SLURM_JOB_ID.0 cat /workspace/u
kill \$!
EOF
jobid="$(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$SLURM_CONF" sbatch --parsable -o scope.out scope.sh)"
JS="$RUNTIME/$USER_UID/pyxis_${jobid}_js"
check "container_scope=job: the job's name is pyxis_<jobid>_NAME" wait_for test -S "$JS/sock"
sleep 1
pkill -9 -u lctest -f '^slurmstepd'; scancel -s KILL "$jobid.2"
for _ in $(seq 150); do [ -z "$(squeue -h -j "$jobid" 2>/dev/null)" ] && break; sleep 0.2; done
check "... steps of the job share it" grep -qx kept "$WORK/job/scope.out"
check "the job epilog removes it, also after kill -9 of the step that held it" wait_for test ! -e "$JS"
check "... and leaves global names alone" test -f "$RUNTIME/$USER_UID/pyxis_n1/image.sqsh"
(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$SLURM_CONF" timeout 120 sbatch --wait -o scope-unnamed.out scope-unnamed.sh >/dev/null 2>&1)
check "container_scope=job: a later step of the job joins step 0 as --container-name=JOBID.0 ($(tr '\n' ' ' <"$WORK/job/scope-unnamed.out"))" \
    grep -qx from-step-0 "$WORK/job/scope-unnamed.out"
cat >"$WORK/job/fifty.sh" <<EOF
#!/bin/bash
for i in \$(seq 50); do
    srun --overlap -n1 --container-image=$REG/torchlike:latest --container-name=c50 --container-writable \\
        sh -c "echo \$i >/workspace/c50.\$i; sleep 1" >/dev/null 2>"fifty.err.\$i" || echo "step \$i failed" &
done
wait
srun --overlap --container-name=c50 sh -c 'ls /workspace | grep -c c50'
EOF
rm -f "$WORK/job/fifty.err."*
(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$SLURM_CONF" timeout 300 sbatch --wait -o fifty.out fifty.sh >/dev/null 2>&1)
check "50 overlapping steps of one job on one named container: all succeed ($(grep -c failed "$WORK/job/fifty.out") failed; $(cat "$WORK/job/fifty.err."* | grep -v 'importing\|imported' | sort | uniq -c | head -3))" \
    test "$(tail -1 "$WORK/job/fifty.out")" = 50
check "... one import for them all" test "$(cat "$WORK/job/fifty.err."* | grep -c 'importing docker image')" = 1
check "no leftovers (processes)" wait_for test -z "$(user_procs)"
rm -rf "${RUNTIME:?}/$USER_UID"/pyxis_*
check "no leftovers" no_leftovers

echo "# the admin's importer (importer=PATH, pyxis's protocol)"
IMPORTER="$WORK/importer.sh" IMPORTER_LOG="$WORK/importer.log"
cat >"$IMPORTER" <<EOF
#!/bin/sh
echo "\$(id -u) \$* \$PYXIS_RUNTIME_PATH \$PYXIS_VERSION \$SLURM_JOB_UID \$SLURM_JOB_GID \$SLURM_JOB_ID.\$SLURM_STEP_ID" >>"$IMPORTER_LOG"
out="\$PYXIS_RUNTIME_PATH/\$SLURM_JOB_UID/importer-\$SLURM_JOB_ID.\$SLURM_STEP_ID.sqsh"
case "\$1" in
get)
    [ -n "\$IMPORTER_FAIL" ] && { echo "importer broke on purpose" >&2; exit 3; }
    [ -n "\$IMPORTER_EMPTY" ] && exit 0
    echo "importing \$2" >&2
    "$BUILD/tools/ctr-import" -q --allow-http --cache "\$HOME/.cache/lc-importer" -o "\$out" "\${2#docker://}" >&2 || exit 1
    echo "\$out" ;;
release) rm -f "\$out" ;;
esac
EOF
chmod 755 "$IMPORTER" && : >"$IMPORTER_LOG" && chmod 666 "$IMPORTER_LOG"
"$SLURM_SH/down.sh" >/dev/null 2>&1
slurm_up SPANK_ARGS="import_helper=$BUILD/tools/ctr-import allow_http=$REG runtime_path=$RUNTIME importer=$IMPORTER container_cache_data_path=$CACHE_BASE"
is "a job whose image comes from the importer" "2.9.0" "$TORCH" sh -c 'echo $PYTORCH_VERSION'
step="$(awk '$2 == "get" { s = $NF } END { print s }' "$IMPORTER_LOG")"
check "called as the user: get docker://REF, with PYXIS_RUNTIME_PATH, PYXIS_VERSION and the job's ids" \
    grep -qx "$USER_UID get docker://$REG/torchlike:latest $RUNTIME [0-9.]* $USER_UID $(id -g lctest) $step" "$IMPORTER_LOG"
check "release is called twice (after the start, at the end)" test "$(grep -c "^$USER_UID release .* $step\$" "$IMPORTER_LOG")" = 2
check "its file is gone" test ! -e "$RUNTIME/$USER_UID/importer-$step.sqsh"
refused "a failing importer" "failed to import docker image: $REG/torchlike:latest (importer: $IMPORTER)" "$TORCH" --export=ALL,IMPORTER_FAIL=1
check "... its stderr is shown" grep -q "importer broke on purpose" <(usrun "$TORCH" --export=ALL,IMPORTER_FAIL=1 true 2>&1)
refused "an importer that prints no path" "failed to import docker image: $REG/torchlike:latest (importer: $IMPORTER)" "$TORCH" --export=ALL,IMPORTER_EMPTY=1
gets="$(grep -c ' get ' "$IMPORTER_LOG")"
is "a squashfs file does not go through the importer" "again" --container-image="$SAVED" cat /workspace/new-file
check "... (no call)" test "$(grep -c ' get ' "$IMPORTER_LOG")" = "$gets"
refused "--container-cache with an importer" "--container-cache cannot be used on this cluster: its importer" "$TORCH" --container-cache
check "no leftovers" no_leftovers

echo "# proctrack/cgroup: Slurm kills what a step leaves in its cgroup, the holder too"
"$SLURM_SH/down.sh" >/dev/null 2>&1
slurm_up SLURM_CGROUP=1
CGDIR="$WORK/cg"; rm -rf "$CGDIR"; mkdir -p "$CGDIR"; chmod 777 "$CGDIR"
is "steps run in cgroups of their own (seen from the host)" "in a step cgroup" sh -c 'grep -q /step_ /proc/self/cgroup && echo in a step cgroup'
(usrun "$TORCH" --container-name=cg --container-mounts="$CGDIR:/cg" sh -c 'touch /cg/up; sleep 1; echo creator-done' \
    >"$WORK/cg1.out" 2>&1; date +%s >"$CGDIR/creator.end") &
wait_for test -e "$CGDIR/up"
start="$(date +%s)"
out="$(usrun --container-name=cg sh -c 'sleep 4; head -1 /bin/entry.sh' 2>&1)"
wait
check "a step that joined a container reads its image after the creating step's tasks are done ($out)" grep -qx '#!/bin/sh' <<<"$out"
check "... the creating step ran ($(cat "$WORK/cg1.out"))" grep -qx creator-done "$WORK/cg1.out"
check "... and ended only after it (the holder lived on: $(( $(cat "$CGDIR/creator.end") - start )) s)" \
    test "$(( $(cat "$CGDIR/creator.end") - start ))" -ge 4
check "no leftovers (processes)" wait_for test -z "$(user_procs)"
rm -rf "${RUNTIME:?}/$USER_UID"/pyxis_*

echo "# job_container/tmpfs: the job's private /tmp"
"$SLURM_SH/down.sh" >/dev/null 2>&1
GC_BASE=/var/lib/lc-itest-gc # the node cache on a small filesystem, for its GC
while mountpoint -q "$GC_BASE"; do umount -l "$GC_BASE"; done # left by a killed run
mkdir -p "$GC_BASE" && mount -t tmpfs -o size=64m,mode=0755 lc-itest-gc "$GC_BASE"
# lazily if busy (a job's process may still be ending): never leave the mount behind
cleanup_hooks+=("umount '$GC_BASE' 2>/dev/null || umount -l '$GC_BASE'; rmdir '$GC_BASE'")
slurm_up SLURM_JOB_CONTAINER_TMPFS=1 \
    SPANK_ARGS="import_helper=$BUILD/tools/ctr-import allow_http=$REG runtime_path=$RUNTIME execute_entrypoint=1 container_cache_data_path=$GC_BASE container_cache_gc_high=60 container_cache_gc_low=40"
is "execute_entrypoint=1 runs the entrypoint by default" "yes" "$TORCH" sh -c 'echo $FROM_ENTRYPOINT'
is "--no-container-entrypoint wins over it" "unset" "$TORCH" --no-container-entrypoint sh -c 'echo ${FROM_ENTRYPOINT:-unset}'
out="$(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$SLURM_CONF" timeout 120 salloc -n1 sh -c \
    "srun $DEB sh -c 'echo step1 >/tmp/lc-job-file' && srun $DEB cat /tmp/lc-job-file" 2>"$WORK/err")"
check "a later step of the job sees the file (got '$out')" test "$out" = step1
check "the host does not" test ! -e /tmp/lc-job-file
is "another job does not" "absent" "$DEB" sh -c 'test -e /tmp/lc-job-file && echo present || echo absent'
check "no leftovers" no_leftovers

echo "# cache GC: 64 MB filesystem, high watermark 60%, low 40%"
used() { df --output=pcent "$GC_BASE" | tail -1 | tr -dc 0-9; }
# fake_entry UID NAME MB AGE: an entry of MB megabytes last used AGE ago
fake_entry() {
    local d="$GC_BASE/$1/pyxis_cache_u$1_$2"
    mkdir -p "$d" && head -c $(( $3 << 20 )) /dev/urandom >"$d/image.sqsh" && touch "$d/.pyxis_cache_lock"
    chown -R "$1" "$GC_BASE/$1" && chmod 700 "$GC_BASE/$1" && touch -d "$4 ago" "$d"
}
has() { test -d "$GC_BASE/$1/pyxis_cache_u$1_$2"; }
fake_entry "$USER_UID" a 8 "5 days"; fake_entry "$USER2_UID" b 8 "4 days"
fake_entry "$USER_UID" c 8 "3 days"; fake_entry "$USER2_UID" d 8 "1 day"
check "below the high watermark ($(used)%)" test "$(used)" -lt 60
SYNC=/var/tmp/lc-itest-sync # not under /tmp: the job's /tmp is private now
rm -rf "$SYNC" && mkdir -m 1777 "$SYNC" && cleanup_hooks+=("rm -rf '$SYNC'")
RUN_AS=lctest2 usrun "$TORCH" --container-cache --container-mounts="$SYNC:/sync" sh -c 'touch /sync/gc-up; sleep 60' >/dev/null 2>&1 &
for _ in $(seq 150); do [ -e "$SYNC/gc-up" ] && break; sleep 0.1; done
check "a job of lctest2 runs from the cache" test -e "$SYNC/gc-up"
busy="$(find "$GC_BASE/$USER2_UID" -maxdepth 1 -name 'pyxis_cache_*' -newer "$GC_BASE/$USER2_UID/pyxis_cache_u${USER2_UID}_d")"
check "a cold job below the watermark evicts nothing" has "$USER_UID" a
touch -d "6 days ago" "$busy"                    # the least recently used, but in use
fake_entry "$USER_UID" e 8 "2 days"
mkdir -p "$GC_BASE/$USER_UID/.pyxis_cache_tmp_dead.x" "$GC_BASE/$USER_UID/.pyxis_cache_tmp_live.x"
touch "$GC_BASE/$USER_UID/.pyxis_cache_tmp_dead.x/.pyxis_cache_lock" "$GC_BASE/$USER_UID/.pyxis_cache_tmp_live.x/.pyxis_cache_lock"
flock -x "$GC_BASE/$USER_UID/.pyxis_cache_tmp_live.x/.pyxis_cache_lock" sleep 8 &
sleep 0.2
check "above the high watermark ($(used)%)" test "$(used)" -ge 60
usrun --container-image="$REG/tiny:latest" --container-cache --no-container-entrypoint true >/dev/null 2>"$WORK/err"
check "a cold job above it runs ($(tail -2 "$WORK/err"))" test $? = 0
check "the GC took the filesystem under the low watermark, plus the new entry ($(used)%)" test "$(used)" -lt 45
check "least recently used first, of both users: a evicted" not_cmd has "$USER_UID" a
check "... b evicted" not_cmd has "$USER2_UID" b
check "... c evicted" not_cmd has "$USER_UID" c
check "... and no more: d and e kept" has "$USER2_UID" d
check "... e kept" has "$USER_UID" e
check "the entry in use was not evicted" test -d "$busy"
check "a dead fill was removed" test ! -e "$GC_BASE/$USER_UID/.pyxis_cache_tmp_dead.x"
check "a live fill was kept" test -d "$GC_BASE/$USER_UID/.pyxis_cache_tmp_live.x"
check "slurmd's log has the GC line" grep -q "cache GC: ran, .* evicted 3, in use 1, dead fills removed 1" "$SLURM_SANDBOX/log/slurmd.log"
scancel -u lctest2; wait
fake_entry "$USER_UID" f 12 "7 days"; fake_entry "$USER2_UID" g 12 "7 days"
exec {gc_lock}>"$GC_BASE/pyxis-container-cache-gc.lock" && flock -x "$gc_lock" # another GC runs
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false "docker://$REG/tiny:latest" "docker://$REG/lc-gc2:latest"
RUN_AS=lctest2 usrun --container-image="$REG/lc-gc2:latest" --container-cache --no-container-entrypoint true >/dev/null 2>"$WORK/err"
check "with another GC running, a cold job runs ($(used)%; $(tail -2 "$WORK/err"))" test $? = 0
check "... and does not run a second GC" has "$USER_UID" f
check "... (its log says so)" grep -q "cache GC: another GC is running" "$SLURM_SANDBOX/log/slurmd.log"
exec {gc_lock}>&-; wait

echo "# cache: a job holds its entries between steps; its epilog lets them go"
BOOT="$(cat /proc/sys/kernel/random/boot_id)"
for img in lc-held lc-gc3 lc-gc4; do
    skopeo copy -q --src-tls-verify=false --dest-tls-verify=false "docker://$REG/tiny:latest" "docker://$REG/$img:latest"
done
rm -f "$SYNC/held-"*
cat >"$WORK/job/held.sh" <<EOF
#!/bin/sh
srun --container-image=$REG/lc-held:latest --container-cache --no-container-entrypoint true
touch $SYNC/held-up
while [ ! -e $SYNC/held-go ]; do sleep 0.1; done
echo held-end
EOF
jobid="$(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$SLURM_CONF" sbatch --parsable -o held.out held.sh)"
wait_for test -e "$SYNC/held-up" || wait_for test -e "$SYNC/held-up"
HELD_NAME="$(ls "$GC_BASE/.jobs/$BOOT/$jobid" 2>/dev/null)" HELD="$GC_BASE/$USER_UID/$(ls "$GC_BASE/.jobs/$BOOT/$jobid" 2>/dev/null)"
check "a job marks the entry it used: BASE/.jobs/<boot_id>/<jobid>/<entry>, root's ($HELD_NAME)" \
    test -d "$HELD" -a "$(stat -c %U "$GC_BASE/.jobs/$BOOT/$jobid/$HELD_NAME" 2>/dev/null)" = root -a "$(stat -c %a "$GC_BASE/.jobs")" = 700
check "... between its steps no lock holds the entry" flock -xn "$HELD/.pyxis_cache_lock" true
touch -d "30 days ago" "$HELD"                           # the least recently used of all
mkdir -p "$GC_BASE/.jobs/00000000-0000-0000-0000-000000000000/77"
fake_entry "$USER_UID" stale 4 "20 days"
touch "$GC_BASE/.jobs/00000000-0000-0000-0000-000000000000/77/pyxis_cache_u${USER_UID}_stale"
U1="$GC_BASE/$USER_UID" H0=0123456789abcdef0123456789abcdef H1=fedcba9876543210fedcba9876543210
printf '%s' "pyxis_cache_u${USER_UID}_gone" >"$U1/.pyxis_cache_ref_$H0"
printf '%s' "$HELD_NAME" >"$U1/.pyxis_cache_ref_$H1"
touch "$U1/.pyxis_cache_fill_$H0.lock" && chown lctest "$U1"/.pyxis_cache_ref_* "$U1/.pyxis_cache_fill_$H0.lock"
i=0; while [ "$(used)" -lt 62 ]; do fake_entry "$USER2_UID" "fill$i" 4 "1 hour"; i=$((i + 1)); done
RUN_AS=lctest2 usrun --container-image="$REG/lc-gc3:latest" --container-cache --no-container-entrypoint true >/dev/null 2>"$WORK/err"
check "a GC between the job's steps ran ($(used)%; $(tail -1 "$WORK/err"))" test "$(used)" -lt 45
check "... and kept the job's entry, the least recently used: its mark holds it" test -d "$HELD"
check "an earlier boot's mark holds nothing: its entry was evicted" not_cmd has "$USER_UID" stale
check "... and the stale marks are gone" test ! -e "$GC_BASE/.jobs/00000000-0000-0000-0000-000000000000"
check "a reference record of an entry that is gone was removed" test ! -e "$U1/.pyxis_cache_ref_$H0"
check "... one of an entry that is there kept" test -f "$U1/.pyxis_cache_ref_$H1"
check "a fill lock of an entry that is gone was removed" test ! -e "$U1/.pyxis_cache_fill_$H0.lock"
check "slurmd's log counts them" grep -q "cache GC: ran, .* stale records removed 2" "$SLURM_SANDBOX/log/slurmd.log"
ls --full-time "$SYNC" >&2; touch "$SYNC/held-go"
for _ in $(seq 150); do [ -z "$(squeue -h -j "$jobid" 2>/dev/null)" ] && break; sleep 0.2; done
check "the job ended ($(cat "$WORK/job/held.out"))" grep -qx held-end "$WORK/job/held.out"
check "its epilog removed its marks" wait_for test ! -e "$GC_BASE/.jobs/$BOOT/$jobid"
i=0; while [ "$(used)" -lt 62 ]; do fake_entry "$USER2_UID" "more$i" 4 "1 hour"; i=$((i + 1)); done
RUN_AS=lctest2 usrun --container-image="$REG/lc-gc4:latest" --container-cache --no-container-entrypoint true >/dev/null 2>"$WORK/err"
check "then the next GC evicts the entry ($(used)%)" test ! -e "$HELD"
check "no leftovers" no_leftovers

finish
