#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Faults, as an unprivileged user. A full filesystem (a small tmpfs) under ctr-import (a file and
# a node cache entry), ctr-squash save, --container-save and a named container's writes: one
# clear error, nothing half-written (no file, no entry, no temporary), and the next run succeeds
# once there is room. kill -9 of the import helper, of the holder (which also serves the image
# over FUSE: a thread of it) while the container starts and while the task runs, and of the
# task, at random points of 64 steps: each step fails (a holder that dies under a running task
# takes it along: the plugin's watch), no process of the user remains, no FUSE connection or loop
# device is left, the runtime directory is emptied, and the next step works.
# usage: spank-faults.sh BUILD_DIR SOURCE_DIR (TAP; see spank-lib.sh)
# shellcheck source=spank-lib.sh
. "$(dirname "$0")/spank-lib.sh"
spank_setup
spank_torch_file
# small filesystems: FULL for outputs, SMALL_RT for the runtime directory (named containers'
# writable layers live there)
FULL=/var/tmp/lc-itest-full SMALL_RT=/var/tmp/lc-itest-rt
for d in "$FULL" "$SMALL_RT"; do
    while mountpoint -q "$d"; do umount -l "$d"; done
    mkdir -p "$d"
    cleanup_hooks+=("umount '$d' 2>/dev/null || umount -l '$d'; rmdir '$d'")
done
mount -t tmpfs -o size=16m,mode=0777 lc-itest-full "$FULL"
mount -t tmpfs -o size=24m,mode=0755 lc-itest-rt "$SMALL_RT"
as_user() { (cd /tmp && runuser -u lctest -- "$@"); }
empty() { [ -z "$(ls -A "$1" 2>/dev/null)" ]; }
room() { mount -o remount,size="$2" "$1"; }

slurm_up
echo "# a full filesystem: one error, nothing half-written, then it works with room"
IMPORT="$BUILD/tools/ctr-import" SQUASH="$BUILD/tools/ctr-squash"
expect_error "ctr-import into a full filesystem" "No space left on device" \
    as_user "$IMPORT" -q --allow-http --cache /tmp/lc-itest-faults-cache -o "$FULL/deb.sqsh" "$REG/debian:bookworm"
check "... leaves nothing ($(ls -A "$FULL" | tr '\n' ' '))" empty "$FULL"
expect_error "ctr-import --node-cache into a full filesystem" "No space left on device" \
    as_user "$IMPORT" -q --allow-http --node-cache "$FULL/nc" "$REG/debian:bookworm"
check "... leaves no entry and no temporary one ($(ls -A "$FULL/nc" 2>&1 | tr '\n' ' '))" \
    test -z "$(find "$FULL/nc" -maxdepth 1 \( -name 'pyxis_cache_*' -o -name '.pyxis_cache_tmp_*' \) 2>/dev/null)"
mkdir -p "$WORK/tree" && head -c 30M /dev/urandom >"$WORK/tree/big" && chmod -R a+rX "$WORK/tree"
expect_error "ctr-squash save into a full filesystem" "No space left on device" \
    as_user "$SQUASH" save "$WORK/tree" "$FULL/tree.sqsh"
check "... leaves nothing" test ! -e "$FULL/tree.sqsh" -a -z "$(ls -A "$FULL" | grep -v '^nc$')"
out="$(usrun "$DEB" --container-writable --container-save="$FULL/saved.sqsh" \
    sh -c 'head -c 30M /dev/urandom > /big' 2>&1)"; rc=$?
# as with pyxis, the step's own result stands (its tasks ran); the save says what failed, once
check "--container-save into a full filesystem: one error ($(grep -m1 'failed to export' <<<"$out"))" \
    test "$(grep -c "failed to export container .*No space left on device" <<<"$out")" = 1
check "... and leaves no file" test ! -e "$FULL/saved.sqsh" -a -z "$(find "$FULL" -maxdepth 1 -name '*saved*')"
room "$FULL" 512m
check "with room: ctr-import" as_user "$IMPORT" -q --allow-http --cache /tmp/lc-itest-faults-cache -o "$FULL/deb.sqsh" "$REG/debian:bookworm"
check "... ctr-import --node-cache" as_user "$IMPORT" -q --allow-http --node-cache "$FULL/nc" "$REG/debian:bookworm"
check "... ctr-squash save" as_user "$SQUASH" save "$WORK/tree" "$FULL/tree.sqsh"
is "... --container-save, and a job starts from the file" "30" \
    "$DEB" --container-writable --container-save="$FULL/saved.sqsh" sh -c 'head -c 30M /dev/urandom > /big; echo 30'
rm -rf /tmp/lc-itest-faults-cache

echo "# a named container's writable layer on a full runtime filesystem"
slurm_up SPANK_ARGS="import_helper=$BUILD/tools/ctr-import allow_http=$REG runtime_path=$SMALL_RT"
out="$(usrun --container-image="$TORCH_FILE" --container-name=full --container-writable \
    sh -c 'dd if=/dev/zero of=/big bs=1M count=40' 2>&1)"; rc=$?
check "a write that does not fit fails with the kernel's error (rc=$rc: $(tail -1 <<<"$out"))" \
    bash -c '[ "$1" != 0 ] && grep -q "No space left on device" <<<"$2"' _ "$rc" "$out"
is "... the named container still starts, and with room made in it, writes" "fine" \
    --container-name=full --container-writable sh -c 'rm -f /big; echo fine > /f; cat /f'
RUNTIME="$SMALL_RT" no_leftovers >/dev/null 2>&1 || true

echo "# kill -9 at random points of a step"
slurm_up
pkill -9 -u lctest # what earlier sections left (nothing, normally)
fuse0="$(ls /sys/fs/fuse/connections | wc -l)" loops0="$(losetup -a | wc -l)"
# the process to kill, when there is one: the import helper, the holder (a process of the user
# forked from slurmstepd), the task
victim() {
    local p
    case "$1" in
        helper) # the import itself, not the look before it
            for p in $(pgrep -u lctest -f 'ctr-import.*--node-cache'); do
                grep -q -- --lookup "/proc/$p/cmdline" 2>/dev/null || { echo "$p"; return; }
            done ;;
        holder) # the user's slurmstepd fork that serves the image: /dev/fuse is open in it
            for p in $(pgrep -u lctest -x slurmstepd); do
                [ "$(awk '/^State:/ {print $2}' "/proc/$p/status" 2>/dev/null)" != Z ] &&
                    ls -l "/proc/$p/fd" 2>/dev/null | grep -q ' /dev/fuse$' && { echo "$p"; return; }
            done ;;
        task) pgrep -u lctest -x sleep | head -1 ;;
    esac
}
clean_after() {
    [ -z "$(user_procs)" ] && [ "$(ls /sys/fs/fuse/connections | wc -l)" = "$fuse0" ] &&
        [ "$(losetup -a | wc -l)" = "$loops0" ] && [ -z "$(ls -A "$RUNTIME/$USER_UID" 2>/dev/null)" ]
}
declare -A runs=() hits=() failed_steps=() dirty=()
KINDS=(helper holder holder-running task)
said() { grep -c "the container's holder ended while the step ran" "$SLURM_SANDBOX/log/slurmd.log"; }
said0="$(said)"
for i in $(seq 64); do
    kind="${KINDS[$((i % 4))]}"
    # a registry image imports in every new job (the helper); the squashfs file does not
    img="$DEB" && [ "$kind" != helper ] && img="--container-image=$TORCH_FILE"
    usrun "$img" sleep 3 >/dev/null 2>&1 &
    srun_pid=$!
    pid="" hit=0 ms=$((RANDOM % 300))
    # the import takes 0.3 to 0.6 s on the machines seen, from when the helper appears
    [ "$kind" = helper ] && ms=$((RANDOM % 100))
    for _ in $(seq 500); do pid="$(victim "${kind%-running}")" && [ -n "$pid" ] && break; sleep 0.01; done
    # holder-running: once the task runs (its files come from the holder), up to 1 s later
    if [ "$kind" = holder-running ] && [ -n "$pid" ]; then
        for _ in $(seq 500); do [ -n "$(victim task)" ] && break; sleep 0.01; done
        ms=$((RANDOM % 1000))
    fi
    # a random point: as it appears, or up to 0.3 s later
    [ -n "$pid" ] && sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))" && kill -9 "$pid" 2>/dev/null && hit=1
    hits[$kind]=$((${hits[$kind]:-0} + hit))
    wait "$srun_pid" && [ "$hit" = 1 ] && failed_steps[$kind]="${failed_steps[$kind]:-} $i(rc=0)"
    runs[$kind]=$((${runs[$kind]:-0} + 1))
    wait_for clean_after || { dirty[$kind]="${dirty[$kind]:-} $i"; user_procs; ls -A "$RUNTIME/$USER_UID"; pkill -9 -u lctest; }
done
# a kill that comes after its victim is gone misses (how often depends on the machine's speed): at
# least half of the steps of each kind must hit, and every step hit must fail
for kind in "${KINDS[@]}"; do
    check "kill -9 of the $kind: ${hits[$kind]:-0} of ${runs[$kind]} steps hit, every one failed${failed_steps[$kind]:+ (not:${failed_steps[$kind]})}" \
        test "${hits[$kind]:-0}" -ge $(( ${runs[$kind]} / 2 )) -a -z "${failed_steps[$kind]:-}"
    check "... and left no process, FUSE connection, loop device or runtime state${dirty[$kind]:+ (left by:${dirty[$kind]})}" \
        test -z "${dirty[$kind]:-}"
done
# without the watch such a task mostly dies anyway (SIGBUS: its program's pages came from the
# holder), or runs on with its files gone; with it, it ends at once and the log says why
check "a holder that died under a running task ended it, saying why ($(( $(said) - said0 )) times in slurmd's log for ${hits[holder-running]:-0} kills)" \
    test "$(( $(said) - said0 ))" -ge "${hits[holder-running]:-1}"
is "after the loop, a step works" "bookworm" "$DEB" sh -c '. /etc/os-release; echo $VERSION_CODENAME'
is "... and one from the squashfs file" "2.9.0" --container-image="$TORCH_FILE" sh -c 'echo $PYTORCH_VERSION'
check "nothing left" no_leftovers

finish
