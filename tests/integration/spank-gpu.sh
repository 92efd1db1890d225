#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Slurm plugin through a real Slurm, as an unprivileged user: NVIDIA's driver in the
# containers of a job, as pyxis+enroot give it (pyxis's four GPU checks), one injection for the
# tasks of a node, nothing of the driver in a named container's persistent layer or in a saved
# image, and a CPU node (no driver) running a CUDA image.
# This machine has no GPU: the driver is a stand-in made by fake_nvidia (lib.sh), with the spec
# `nvidia-ctk cdi generate` would write for it (plugstack cdi_spec_dirs=).
# usage: spank-gpu.sh BUILD_DIR SOURCE_DIR (TAP; see spank-lib.sh)
# a mount namespace of its own (Slurm's daemons too), for the stand-in driver's /proc/driver/nvidia
[ -n "${LC_PRIVATE_MOUNTS:-}" ] || LC_PRIVATE_MOUNTS=1 exec unshare -m --propagation private "$BASH" "$0" "$@"
# shellcheck source=spank-lib.sh
. "$(dirname "$0")/spank-lib.sh"
spank_setup

D="$WORK/nvidia"
fake_nvidia "$D" || { not_ok "the stand-in driver could not be built"; finish; }
PROBE="--container-image=$D/probe.sqsh"
slurm_up SPANK_ARGS="import_helper=$BUILD/tools/ctr-import allow_http=$REG runtime_path=$RUNTIME container_cache_data_path=$CACHE_BASE cdi_spec_dirs=$D/spec"

echo "# pyxis's GPU checks"
is "a CUDA image gets every GPU of the node" "cuda 12.4 devices 2" "$PROBE" cuda-probe
is "the job's NVIDIA_VISIBLE_DEVICES=0 gets exactly one" "cuda 12.4 devices 1" \
    --export=ALL,NVIDIA_VISIBLE_DEVICES=0 "$PROBE" cuda-probe
is "a plain image with the job's NVIDIA_VISIBLE_DEVICES=all has nvidia-smi" "2" \
    --export=ALL,NVIDIA_VISIBLE_DEVICES=all "$DEB" sh -c 'nvidia-smi -L | grep -c "^GPU "'
is "NVIDIA_DRIVER_CAPABILITIES=utility,compute puts libcuda.so.1 in ldconfig -p" "libcuda.so.1" \
    --export=ALL,NVIDIA_VISIBLE_DEVICES=all,NVIDIA_DRIVER_CAPABILITIES=utility,compute "$DEB" \
    sh -c "ldconfig -p | awk '/libcuda.so.1 /{print \$1}'"

echo "# one container, one injection, for the tasks of a node"
out="$(usrun -n 4 "$PROBE" sh -c 'echo $(readlink /proc/self/ns/mnt) $(grep -c libcuda.so.550 /proc/self/mountinfo) $(cuda-probe)' 2>"$WORK/err")"
check "-n 4: the four tasks share one mount namespace, the driver mounted once, CUDA in each" \
    test "$(printf '%s\n' "$out" | sort -u | wc -l) $(printf '%s\n' "$out" | wc -l) $(printf '%s\n' "$out" | awk '{print $2, $3, $6}' | sort -u)" = "1 4 1 cuda 2"
check "... and CUDA_VISIBLE_DEVICES passes through untouched" test \
    "$(usrun --export=ALL,CUDA_VISIBLE_DEVICES=1 "$PROBE" sh -c 'echo $CUDA_VISIBLE_DEVICES' 2>/dev/null)" = 1

echo "# nothing of the driver in what the container keeps"
usrun --container-name=gpu --container-writable "$PROBE" sh -c \
    'echo kept >/usr/lib/x86_64-linux-gnu/mine; ldconfig -p | grep -q libcuda.so.1' 2>"$WORK/err"
check "a writable named GPU container runs and writes" test $? = 0
NAMED="$RUNTIME/$USER_UID/pyxis_gpu"
check "... its persistent layer has what the job wrote" test -f "$NAMED/upper/usr/lib/x86_64-linux-gnu/mine"
left="$(cd "$NAMED/upper" 2>/dev/null && find . \( -name 'libcuda*' -o -name 'libnvidia*' -o -name nvidia-smi -o -name ld.so.cache -o -name 'nvidia*' \) | head)"
check "... and nothing of the driver: no library, link, stub, nvidia-smi or ld.so.cache ($left)" test -z "$left"
is "the named container again: the driver injected again" "cuda 12.4 devices 2 kept" \
    --container-name=gpu "$PROBE" sh -c 'echo $(cuda-probe) $(cat /usr/lib/x86_64-linux-gnu/mine)'
usrun --container-writable --container-save="$WORK/job/saved.sqsh" "$PROBE" sh -c 'echo mine >/etc/mine' 2>"$WORK/err"
listing="$("$BUILD/tools/ctr-squash" list "$WORK/job/saved.sqsh" 2>&1)"
check "--container-save of a GPU container: the job's file is saved" grep -q "etc/mine" <<<"$listing"
check "... the image's own files too (libc, its ld.so.cache)" bash -c \
    "grep -q 'usr/lib/x86_64-linux-gnu/libc.so.6' <<<'$listing' && grep -q 'etc/ld.so.cache' <<<'$listing'"
check "... and no driver file, link or mount-point stub" bash -c "! grep -E 'libcuda|libnvidia|nvidia-smi|dev/nvidia' <<<'$listing'"
"$BUILD/tools/ctr-squash" load "$WORK/job/saved.sqsh" "$WORK/saved" >/dev/null 2>&1
cache="$(ldconfig -C "$WORK/saved/etc/ld.so.cache" -p 2>&1)"
image_cache() { grep -q 'libc.so.6 (libc6,x86-64)' <<<"$cache" && ! grep -q -e libcuda -e libnvidia <<<"$cache"; }
check "... its ld.so.cache is the saved tree's: the image's libc, no driver library ($(tr '\n\t' '  ' <<<"$cache"))" image_cache

echo "# a CPU node: no NVIDIA driver"
umount /proc/driver
is "a CUDA image (its own NVIDIA_VISIBLE_DEVICES=all) starts as a CPU container" "no libcuda.so.1" \
    "$PROBE" sh -c 'cuda-probe | cut -d: -f1'
refused "the job's own NVIDIA_VISIBLE_DEVICES=0 is an error there" \
    "NVIDIA_VISIBLE_DEVICES=0: this node has no NVIDIA driver (/proc/driver/nvidia)" \
    --export=ALL,NVIDIA_VISIBLE_DEVICES=0 "$PROBE"
rm -rf "$NAMED"
check "nothing left: no process of the user, no runtime directory" no_leftovers
finish
