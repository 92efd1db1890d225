#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Slurm plugin through a real Slurm, as an unprivileged user: the flags and variables, the
# image, the user and the filesystem, the environment, PyTorch
# variables, one container per node per step, bad input, scancel, a trusted image on the kernel's
# driver.
# usage: spank-basics.sh BUILD_DIR SOURCE_DIR (TAP; see spank-lib.sh)
# shellcheck source=spank-lib.sh
. "$(dirname "$0")/spank-lib.sh"
spank_setup
echo home-file >"$USER_HOME/lc-home-marker" && chown lctest "$USER_HOME/lc-home-marker"
cleanup_hooks+=("rm -f '$USER_HOME/lc-home-marker' /tmp/lc-itest-hostmark")
slurm_up

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
is "--container-mounts tmpfs with the kernel's options (pyxis passes them on)" "size=1024k mode=700 huge=within_size 700" \
    "$DEB" --container-mounts=tmpfs:/scratch:size=1m+mode=700+huge=within_size \
    sh -c 'echo $(grep " /scratch " /proc/mounts | grep -oE "(size|mode|huge)=[^, ]*") $(stat -c %a /scratch)'
refused "... a bad value is refused before the step" "unknown mount flag 'size=1q' in: tmpfs:/scratch:size=1q" \
    "$DEB" --container-mounts=tmpfs:/scratch:size=1q true
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

echo "# an image whose files would hang a reader (/etc/passwd -> /dev/zero, /etc/group a FIFO)"
hang="$WORK/hang-root" && mkdir -p "$hang/bin" "$hang/etc"
cp /bin/busybox "$hang/bin/" && ln -s busybox "$hang/bin/sh" && ln -s /dev/zero "$hang/etc/passwd" &&
    mkfifo "$hang/etc/group" && mksquashfs "$hang" "$WORK/job/hang.sqsh" -quiet -noappend -all-root >/dev/null &&
    chown lctest "$WORK/job/hang.sqsh"
t0=$(date +%s)
is "srun starts it: nothing is read from those files" "ran" --container-image=./hang.sqsh /bin/sh -c 'echo ran'
check "... in seconds ($(( $(date +%s) - t0 )) s), the node idle again" \
    bash -c "test $(( $(date +%s) - t0 )) -lt 15 && for _ in \$(seq 50); do test -z \"\$(ps -u lctest -o pid= )\" && exit 0; sleep 0.2; done; exit 1"

echo "# capabilities in the container's namespaces only (a user not remapped to root, as enroot)"
is "CapEff and CapAmb are the namespace's full set (CapBnd)" "full full" "$DEB" \
    sh -c 'b=$(awk "/^CapBnd/{print \$2}" /proc/self/status); for c in CapEff CapAmb; do test "$(awk "/^$c/{print \$2}" /proc/self/status)" = "$b" && echo full; done | tr "\n" " " | sed "s/ $//"'
HOST_NAME="$(hostname)"
is "--container-unshare=uts: sethostname in the private namespace" "lc-cap-x" "$DEB" --container-unshare=uts \
    sh -c 'hostname lc-cap-x && hostname'
is "... not in the host's: refused" "refused" "$DEB" sh -c 'hostname lc-cap-y 2>/dev/null && echo changed || echo refused'
check "... the host's hostname is unchanged ($(hostname))" test "$(hostname)" = "$HOST_NAME"
# (mount(8) refuses to run for a uid that is not 0 whatever its capabilities: mount(2) by perl,
# x86_64's syscall number)
MOUNT_TMPFS='my ($s, $t, $f) = ("lc-cap-tmpfs", "/mnt", "tmpfs"); syscall(165, $s, $t, $f, 0, 0) == 0 or die "mount: $!\n"; open(my $m, "<", "/proc/mounts"); print((grep { m{^lc-cap-tmpfs /mnt tmpfs} } <$m>) ? "mounted\n" : "absent\n")'
is "a tmpfs in the container's mount namespace" "mounted" "$DEB" perl -e "$MOUNT_TMPFS"
check "... never on the host" not_grep -q lc-cap-tmpfs /proc/self/mountinfo
PORT80='use IO::Socket::INET; IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 80, Listen => 1, ReuseAddr => 1) ? print "bound\n" : print "refused\n"'
is "--container-unshare=net: port 80 in the private network namespace" "bound" "$DEB" --container-unshare=net \
    perl -e "$PORT80"
is "... not in the host's network namespace" "refused" "$DEB" perl -e "$PORT80"
echo secret >/var/tmp/lc-cap-root && chmod 600 /var/tmp/lc-cap-root
cleanup_hooks+=("rm -f /var/tmp/lc-cap-root /var/tmp/lc-cap-other")
runuser -u lctest2 -- sh -c 'echo other >/var/tmp/lc-cap-other && chmod 600 /var/tmp/lc-cap-other'
is "root's and another user's files stay closed" "closed closed" "$DEB" --container-mounts=/var/tmp:/host-var-tmp \
    sh -c 'for f in lc-cap-root lc-cap-other; do cat /host-var-tmp/$f 2>/dev/null || echo closed; done | tr "\n" " " | sed "s/ $//"'

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
$DEB --container-mounts=/a:/../b |--container-mounts: mount target may not contain '..' (Invalid cross-device link): /a:/../b
$DEB --container-save= |--container-save: argument required
$DEB --container-save=./out/ |--container-save: target is a directory
$DEB --container-save=a --container-save=b |--container-save: specified multiple times
--container-image=$REG/nonexistent:x |failed to import docker image: $REG/nonexistent:x
EOF
out="$(usrun --container-image=$REG/nonexistent:x true 2>&1)"
check "a failed import shows the helper's log" grep -q 'manifest unknown' <<<"$out"
out="$(usrun -n 3 --container-image=$REG/nonexistent:x true 2>&1)"
check "-n 3: 'failed to import docker image' once, from the task that imported ($(grep -c 'failed to import docker image' <<<"$out"))" \
    test "$(grep -c 'failed to import docker image' <<<"$out")" = 1
check "... the others are told without the phrase" \
    grep -q "container was not started successfully by another task: its image could not be imported" <<<"$out"
out="$(usrun --container-workdir=/tmp --container-remap-root echo ran 2>&1)"
check "flags without an image are ignored with a note" grep -q "ignoring --container-workdir because neither --container-image nor --container-name is set" <<<"$out"
check "... and the job runs on the host" grep -qx ran <<<"$out"
check "no leftovers after all these jobs" no_leftovers

echo "# scancel during an import"
rm -rf "$USER_HOME/.cache/libcontainer"
usrun "$DEB" true >/dev/null 2>&1 &
# the import itself, not the look at the job's imports before it (a short run of its own)
importing() { pgrep -u lctest -af ctr-import | grep -qv -- --lookup; }
for _ in $(seq 100); do importing && break; sleep 0.1; done
check "the import helper runs as the user" importing
jobid="$(squeue -h -u lctest -o %i | head -1)"
scancel "$jobid"
wait
check "scancel stops the import: no processes, no partial files" no_leftovers

finish
