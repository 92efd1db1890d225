#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# NVIDIA's driver in a container on a real GPU machine (CI has none: it exits 77 there).
# Builds a small image (the host's glibc, sh, ldconfig, tests/gpu/cuda-probe), writes a CDI
# spec from the real driver's files (nvidia-ctk's when it is installed, else one made here the
# way nvidia-ctk lays it out), and checks, as root and as an unprivileged user when there is one:
#   nvidia-smi -L inside lists the host's GPUs; cuda-probe (cuInit, cuDeviceGetCount through
#   libcuda.so.1 from the library cache) counts them; NVIDIA_VISIBLE_DEVICES=0 gives one;
#   the requirement of a CUDA newer than the driver's is refused; with Slurm (srun and the
#   plugin configured on this machine), the same through srun --container-image.
# usage: tests/gpu/check.sh [BUILD_DIR]
set -uo pipefail
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="$(cd "${1:-$SRC/build}" && pwd)"
RUN="$BUILD/tools/ctr-run"
[ -e /proc/driver/nvidia/version ] && command -v nvidia-smi >/dev/null ||
    { echo "1..0 # SKIP no NVIDIA GPU and driver on this machine"; exit 77; }
WORK="$(mktemp -d /tmp/lc-gpu-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK"
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
is() { # is DESCRIPTION EXPECTED COMMAND...
    local d="$1" want="$2" got; shift 2
    got="$("$@" 2>"$WORK/err")"
    if [ "$got" = "$want" ]; then ok "$d"; else not_ok "$d (want '$want', got '$got'; $(tail -2 "$WORK/err"))"; fi
}

gpus=$(nvidia-smi -L | grep -c '^GPU ')
cuda=$(nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -1)
echo "# host: $gpus GPU(s), driver $(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1), CUDA $cuda"

# the image: the host's glibc, a shell, ldconfig (for ldconfig -p) and the probe
T="$WORK/image" lib=/usr/lib/x86_64-linux-gnu
[ -d "$lib" ] || lib=/usr/lib64
mkdir -p "$T/bin" "$T/sbin" "$T/etc/ld.so.conf.d" "$T$lib" "$T/lib64" "$T/usr/bin" "$T/tmp" "$T/proc" "$T/dev" "$T/sys"
gcc -O2 -o "$T/usr/bin/cuda-probe" "$SRC/tests/gpu/cuda-probe.c" || { echo "Bail out! gcc"; exit 1; }
for f in /bin/sh $(ldd /bin/sh "$T/usr/bin/cuda-probe" | awk '$3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u); do
    mkdir -p "$T$(dirname "$f")" && cp -L "$f" "$T$f"
done
cp -L "$(command -v ldconfig.real || command -v ldconfig)" "$T/sbin/ldconfig"
echo 'include /etc/ld.so.conf.d/*.conf' >"$T/etc/ld.so.conf"
echo "$lib" >"$T/etc/ld.so.conf.d/lib.conf"
"$BUILD/tools/ctr-squash" save --all-root "$T" "$WORK/probe.sqsh" >/dev/null && chmod 644 "$WORK/probe.sqsh" ||
    { echo "Bail out! ctr-squash"; exit 1; }

# the spec
mkdir -p "$WORK/cdi"
if command -v nvidia-ctk >/dev/null; then
    nvidia-ctk cdi generate --output="$WORK/cdi/nvidia.yaml" >/dev/null 2>&1
fi
if [ ! -s "$WORK/cdi/nvidia.yaml" ]; then
    {
        echo "cdiVersion: 0.5.0"
        echo "kind: nvidia.com/gpu"
        echo "devices:"
        for d in /dev/nvidia[0-9]*; do
            echo "- name: \"${d#/dev/nvidia}\""
            echo "  containerEdits: {deviceNodes: [{path: $d}]}"
        done
        echo "- name: all"
        echo "  containerEdits:"
        echo "    deviceNodes:"
        for d in /dev/nvidia[0-9]*; do echo "    - {path: $d}"; done
        echo "containerEdits:"
        echo "  deviceNodes:"
        for d in /dev/nvidiactl /dev/nvidia-uvm /dev/nvidia-uvm-tools; do [ -e "$d" ] && echo "  - {path: $d}"; done
        echo "  mounts:"
        ldconfig -p | awk '/(libcuda|libnvidia-ml|libnvidia-ptxjitcompiler|libnvidia-nvvm)\.so\.[0-9]+ .*x86-64/ {print $NF}' |
            xargs -r readlink -f | sort -u | while read -r f; do
                echo "  - {hostPath: $f, containerPath: $f, options: [ro, nosuid, nodev, bind]}"
            done
        s="$(command -v nvidia-smi)"
        echo "  - {hostPath: $s, containerPath: /usr/bin/nvidia-smi, options: [ro, nosuid, nodev, bind]}"
        echo "  hooks:"
        echo "  - {hookName: createContainer, path: /usr/bin/nvidia-cdi-hook, args: [nvidia-cdi-hook, update-ldcache, --folder, $lib]}"
    } >"$WORK/cdi/nvidia.yaml"
fi
chmod -R a+rX "$WORK/cdi"

check_as() { # check_as WHO RUNNER...
    local who="$1"; shift
    is "$who: nvidia-smi -L lists the host's $gpus GPU(s)" "$gpus" \
        "$@" env NVIDIA_VISIBLE_DEVICES=all "$RUN" --cdi-spec-dir "$WORK/cdi" "$WORK/probe.sqsh" sh -c 'nvidia-smi -L | grep -c "^GPU "'
    is "$who: cuDeviceGetCount through libcuda.so.1 counts them" "cuda $cuda devices $gpus" \
        "$@" env NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility "$RUN" --cdi-spec-dir "$WORK/cdi" "$WORK/probe.sqsh" cuda-probe
    is "$who: NVIDIA_VISIBLE_DEVICES=0 gives one" "cuda $cuda devices 1" \
        "$@" env NVIDIA_VISIBLE_DEVICES=0 "$RUN" --cdi-spec-dir "$WORK/cdi" "$WORK/probe.sqsh" cuda-probe
    if "$@" env NVIDIA_VISIBLE_DEVICES=all NVIDIA_REQUIRE_CUDA="cuda>=99.0" "$RUN" --cdi-spec-dir "$WORK/cdi" "$WORK/probe.sqsh" true 2>"$WORK/err"; then
        not_ok "$who: cuda>=99.0 was not refused"
    else
        grep -q "unsatisfied NVIDIA requirement: cuda>=99.0 (this node: driver .*, CUDA $cuda)" "$WORK/err" &&
            ok "$who: an unmet requirement is refused, naming the host's versions" || not_ok "$who: $(cat "$WORK/err")"
    fi
}
check_as root
user="$(getent passwd 65534 | cut -d: -f1)"
if [ -n "$user" ] && [ -c /dev/fuse ] && runuser -u "$user" -- unshare -Ur true 2>/dev/null; then
    mode="$(stat -c %a /dev/fuse)"
    chmod 666 /dev/fuse
    check_as "$user" runuser -u "$user" --
    chmod "$mode" /dev/fuse
else
    echo "# not checked as a user: no unprivileged user with user namespaces here"
fi

if command -v srun >/dev/null && srun -N1 true 2>/dev/null && srun --help 2>&1 | grep -q container-image; then
    is "srun: the container has the node's GPUs" "cuda $cuda devices $gpus" \
        srun -N1 --export=ALL,NVIDIA_VISIBLE_DEVICES=all --container-image="$WORK/probe.sqsh" cuda-probe
else
    echo "# not checked through Slurm: no srun with the plugin on this machine"
fi
echo "1..$n"
[ "$failed" = 0 ]
