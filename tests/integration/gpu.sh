#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# NVIDIA's driver in containers through its CDI spec, with enroot's semantics (ctr-run, as an
# unprivileged user): NVIDIA_VISIBLE_DEVICES from the job or the image (all, indices, UUIDs,
# none, void), the driver's libraries in the library cache (rebuilt with the host's ldconfig,
# the image's own entries kept), NVIDIA's hooks done natively (create-symlinks, update-ldcache,
# enable-cuda-compat, disable-device-node-modification), requirements, and nothing of it left
# in what the container writes.
# This machine has no GPU: the driver is a stand-in made by fake_nvidia (lib.sh): small shared
# objects with the driver API calls a probe makes, device nodes made with mknod, a private
# /proc/driver/nvidia, and the spec `nvidia-ctk cdi generate` would write for them.
# usage: gpu.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
# a mount namespace of its own, for the stand-in driver's /proc/driver/nvidia
[ -n "${LC_PRIVATE_MOUNTS:-}" ] || LC_PRIVATE_MOUNTS=1 exec unshare -m --propagation private "$BASH" "$0" "$@"

BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
RUN="$BUILD/tools/ctr-run"
# shellcheck source=lib.sh
. "$SRC/tests/integration/lib.sh"

ctr_run_setup
D="$WORK/nvidia"
fake_nvidia "$D" || { not_ok "the stand-in driver could not be built"; finish; }
chmod 755 "$WORK"
"$BUILD/tools/ctr-import" -q --allow-http --cache "$WORK/cache" -o "$WORK/debian.sqsh" 127.0.0.1:5000/debian:bookworm >/dev/null || exit 1
chmod 644 "$WORK/debian.sqsh"
PROBE="$D/probe.sqsh" DEB="$WORK/debian.sqsh"
CDI=(--cdi-spec-dir "$D/spec")
user() { runuser -u lctest -- env "$@"; }
run() { user "$@"; } # run [VAR=VALUE...] ctr-run ARGS...
is() { # is DESCRIPTION EXPECTED [VAR=VALUE...] -- RUN-ARGS...
    local d="$1" want="$2" vars=() got; shift 2
    while [ "$1" != -- ]; do vars+=("$1"); shift; done; shift
    got="$(user "${vars[@]}" "$RUN" "${CDI[@]}" "$@" 2>"$WORK/err")"
    if [ "$got" = "$want" ]; then ok "$d"; else not_ok "$d (want '$want', got '$got'; $(head -c 600 "$WORK/err"))"; fi
}

echo "# pyxis's GPU checks"
is "a CUDA image (Env NVIDIA_VISIBLE_DEVICES=all) gets every GPU" "cuda 12.4 devices 2" \
    -- "$PROBE" cuda-probe
is "the job's NVIDIA_VISIBLE_DEVICES=0 gets exactly one: its node alone" "cuda 12.4 devices 1
/dev/nvidia0" NVIDIA_VISIBLE_DEVICES=0 -- "$PROBE" sh -c 'cuda-probe; ls /dev/nvidia[0-9]'
is "a plain image with the job's NVIDIA_VISIBLE_DEVICES=all has nvidia-smi" "GPU 0: NVIDIA Fake GPU (UUID: GPU-6b0ad3c4-0000-4000-8000-000000000000)
GPU 1: NVIDIA Fake GPU (UUID: GPU-6b0ad3c4-0000-4000-8000-000000000001)" NVIDIA_VISIBLE_DEVICES=all -- "$DEB" nvidia-smi -L
is "NVIDIA_DRIVER_CAPABILITIES=utility,compute: libcuda.so.1 in ldconfig -p (the image's libc too)" \
    "libc.so.6
libcuda.so.1
libnvidia-ml.so.1" NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=utility,compute -- \
    "$DEB" sh -c "ldconfig -p | awk '/libc.so.6 |libcuda.so.1 |libnvidia-ml.so.1 /{print \$1}' | sort -u"

echo "# selection"
is "a GPU by UUID" "/dev/nvidia1" NVIDIA_VISIBLE_DEVICES=GPU-6b0ad3c4-0000-4000-8000-000000000001 -- "$PROBE" sh -c 'ls /dev/nvidia[0-9]'
is "--no-site: the caller's NVIDIA_VISIBLE_DEVICES still counts" "/dev/nvidia1" \
    NVIDIA_VISIBLE_DEVICES=1 -- --no-site "$PROBE" sh -c 'ls /dev/nvidia[0-9]'
is "void: nothing of the driver" "no driver" NVIDIA_VISIBLE_DEVICES=void -- \
    "$PROBE" sh -c 'ls /dev/nvidia* /usr/lib/x86_64-linux-gnu/libcuda* 2>/dev/null || echo no driver'
is "none: the driver without GPUs" "cuda 12.4 devices 0
/dev/nvidia-uvm
/dev/nvidiactl" NVIDIA_VISIBLE_DEVICES=none -- "$PROBE" sh -c 'cuda-probe; ls /dev/nvidia*'
expect_status "an unknown capability is refused, named" 125 "Unknown NVIDIA driver capability: gaming" \
    user NVIDIA_DRIVER_CAPABILITIES=compute,gaming "$RUN" "${CDI[@]}" "$PROBE" true
expect_status "a MIG device the spec does not have is refused, named" 125 "nvidia.com/gpu=0:1" \
    user NVIDIA_VISIBLE_DEVICES=0:1 "$RUN" "${CDI[@]}" "$PROBE" true

echo "# NVIDIA's hooks, done here"
is "create-symlinks and the soname links: libcuda.so -> libcuda.so.1 -> libcuda.so.550.54.14" \
    "libcuda.so.1 libcuda.so.550.54.14" -- "$PROBE" sh -c \
    'cd /usr/lib/x86_64-linux-gnu && echo $(readlink libcuda.so) $(readlink libcuda.so.1)'
is "disable-device-node-modification: the container reads ModifyDeviceFiles: 0" \
    "ModifyDeviceFiles: 0" -- "$PROBE" grep Modify /proc/driver/nvidia/params
check "... the host's still says 1" grep -qx "ModifyDeviceFiles: 1" /proc/driver/nvidia/params
# enable-cuda-compat: an image with CUDA's forward-compatibility libcuda of a newer driver
mkdir -p "$D/probe/usr/local/cuda-13.0/compat"
ln -s cuda-13.0 "$D/probe/usr/local/cuda"
gcc -shared -fPIC -O2 -Wl,-soname,libcuda.so.1 -DFAKE_CUDA_VERSION=13000 -I"$SRC/tests/gpu/fake" \
    -o "$D/probe/usr/local/cuda-13.0/compat/libcuda.so.580.65.06" "$SRC/tests/gpu/fake/libcuda.c"
"$BUILD/tools/ctr-squash" save --all-root "$D/probe" "$D/compat.sqsh" >/dev/null && chmod 644 "$D/compat.sqsh"
is "enable-cuda-compat: a newer compat libcuda in the image is found first" "cuda 13.0 devices 2" \
    -- "$D/compat.sqsh" cuda-probe
sed -i 's/--host-driver-version=550.54.14/--host-driver-version=590.10/' "$D/spec/nvidia.yaml"
is "... not when the host's driver is newer" "cuda 12.4 devices 2" -- "$D/compat.sqsh" cuda-probe
sed -i 's/--host-driver-version=590.10/--host-driver-version=550.54.14/' "$D/spec/nvidia.yaml"

echo "# requirements (the host: driver 550.54.14, CUDA 12.4)"
is "the image's NVIDIA_REQUIRE_CUDA=cuda>=12.0 ... is met" "ok" -- "$PROBE" echo ok
expect_status "an unmet requirement fails the start, naming it and the host's versions" 125 \
    "unsatisfied NVIDIA requirement: cuda>=12.6 (this node: driver 550.54.14, CUDA 12.4)" \
    user NVIDIA_REQUIRE_CUDA='cuda>=12.6' "$RUN" "${CDI[@]}" "$PROBE" true
is "NVIDIA_DISABLE_REQUIRE lets it start" "ok" NVIDIA_REQUIRE_CUDA='cuda>=12.6' NVIDIA_DISABLE_REQUIRE=1 \
    -- "$PROBE" echo ok
is "a driver requirement, as a second alternative" "ok" \
    NVIDIA_REQUIRE_DRIVER='cuda>=13.0 driver>=550' -- "$PROBE" echo ok
t0=$(date +%s)
# (the stand-in's nodes are not in the host's /dev: FAKE_NVIDIA_DEV tells it where they are)
is "brand (NVML) and arch (libcuda) decide an alternative: tesla, 9.0" "ok" FAKE_NVIDIA_DEV="$D/dev" \
    NVIDIA_REQUIRE_CUDA='cuda>=12.6 brand=tesla,driver>=550,arch>=9.0' -- "$PROBE" echo ok
expect_status "... another brand's alternative is unmet, the node's brand and arch named" 125 \
    "unsatisfied NVIDIA requirement: cuda>=12.6 brand=geforce,driver>=550 (this node: driver 550.54.14, CUDA 12.4, brand tesla, arch 9.0)" \
    user FAKE_NVIDIA_DEV="$D/dev" NVIDIA_REQUIRE_CUDA='cuda>=12.6 brand=geforce,driver>=550' "$RUN" "${CDI[@]}" "$PROBE" true
expect_status "... as is an arch above the GPU's" 125 "unsatisfied NVIDIA requirement: arch>=10.0" \
    user FAKE_NVIDIA_DEV="$D/dev" NVIDIA_REQUIRE_ARCH='arch>=10.0' "$RUN" "${CDI[@]}" "$PROBE" true
is "a libcuda that hangs when asked its CUDA version: killed, the requirement undecided, the start goes on" \
    "ok" FAKE_CUDA_HANG=1 NVIDIA_REQUIRE_CUDA='cuda>=12.6' -- "$PROBE" echo ok
check "... after at most about 10 s ($(( $(date +%s) - t0 )) s)" test $(( $(date +%s) - t0 )) -le 15

echo "# the library cache: the image's, the driver's libraries in front, as ldconfig makes it"
for img in "$PROBE" "$DEB"; do
    n="$(user NVIDIA_VISIBLE_DEVICES=all "$RUN" "${CDI[@]}" --rw "$img" sh -c \
        'S=sed; command -v sed >/dev/null || S="busybox sed"
         list() { ldconfig -p | grep "=>" | $S "s|=> /lib/|=> /usr/lib/|"; }
         list > /tmp/a && ldconfig && list > /tmp/b && cmp /tmp/a /tmp/b >&2 && grep -c "libcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1" /tmp/a' 2>"$WORK/err")"
    check "$(basename "$img"): the native cache lists what the image's ldconfig lists ($n; $(head -c 300 "$WORK/err"))" test "$n" = 1
done
# (the image's ldconfig lists Debian's /lib first, the same directory as /usr/lib; NVIDIA's hook
# puts its folder first, as here)
# an image with no cache (the host's ldconfig writes one), with glibc < 2.32's compat format
mkdir -p "$D/nocache" && cp -a "$D/probe/." "$D/nocache/" && rm -rf "$D/nocache/usr/local/cuda"* "$D/nocache/etc/ld.so.cache"
"$BUILD/tools/ctr-squash" save --all-root "$D/nocache" "$D/nocache.sqsh" >/dev/null && chmod 644 "$D/nocache.sqsh"
is "an image without a library cache gets one" "cuda 12.4 devices 2" -- "$D/nocache.sqsh" cuda-probe
ldconfig -c compat -r "$D/nocache"
"$BUILD/tools/ctr-squash" save --all-root "$D/nocache" "$D/oldcache.sqsh" >/dev/null && chmod 644 "$D/oldcache.sqsh"
is "an image with glibc < 2.32's cache format (its entries kept)" "cuda 12.4 devices 2
1" -- "$D/oldcache.sqsh" sh -c 'cuda-probe; ldconfig -p | grep -c "libc.so.6 "'

echo "# what the container writes"
is "a writable container's own ldconfig replaces the cache (apt's triggers run it)" "rc 0
libcuda.so.1" -- --rw "$PROBE" sh -c \
    'ldconfig; echo rc $?; ldconfig -p | awk "/libcuda.so.1 /{print \$1}"'
is "the image's directories keep their content, the driver's files added" "libc.so.6
libcuda.so
libcuda.so.1
libcuda.so.550.54.14
libnvidia-ml.so.1
libnvidia-ml.so.550.54.14" -- "$PROBE" ls /usr/lib/x86_64-linux-gnu
bad="$D/spec-bad"; mkdir -p "$bad"
sed 's|update-ldcache, --folder|update-ldcache, --ldconfig-path, /bin/true.sh, --folder|' "$D/spec/nvidia.yaml" >"$bad/nvidia.yaml"
printf '#!/bin/sh\n' >/bin/true.sh && chmod 755 /bin/true.sh
expect_status "an ldconfig that is a script is refused before anything is mounted" 125 \
    "CDI hook update-ldcache: the host's ldconfig /bin/true.sh is not a program" \
    user "$RUN" --cdi-spec-dir "$bad" "$PROBE" true
rm -f /bin/true.sh

echo "# the nvidia-container-cli backend, where the node has no CDI spec"
# A test double stands in for nvidia-container-cli (this machine has no GPU and no
# libnvidia-container): it checks only the command line and the context the runtime gives it.
# (under /var/tmp: the holder's /tmp is its scratch tmpfs, where the root is /tmp/root)
CLI="$(mktemp -d /var/tmp/lc-cli-XXXXXX)" NOSPEC="$WORK/no-spec" && mkdir -p "$NOSPEC"
cleanup_hooks+=("rm -rf '$CLI'")
cat >"$CLI/nvidia-container-cli" <<EOS
#!/bin/sh
for root; do :; done
pid=\$(echo "\$*" | sed -n 's/.*--pid=\([0-9]*\).*/\1/p')
{ echo "argv: \$*"
  echo "uid: \$(id -u) userns: \$(readlink /proc/self/ns/user)"
  echo "holder's namespaces: \$([ "\$(readlink /proc/self/ns/user)\$(readlink /proc/self/ns/mnt)" = "\$(readlink /proc/\$pid/ns/user)\$(readlink /proc/\$pid/ns/mnt)" ] && echo yes)"
  echo "root: \$([ -f "\$root/etc/ld.so.conf" ] && echo the image)"
} >"$CLI/log"
[ -e "$CLI/fail" ] && { echo "nvc: driver error: bad things" >&2; exit 1; }
mkdir -p "\$root/usr/local/nvidia-cli" && echo injected >"\$root/usr/local/nvidia-cli/marker"
EOS
chmod -R a+rwX "$CLI" && chmod 755 "$CLI/nvidia-container-cli"
cliok() { run PATH="$CLI:/usr/bin:/bin" NVIDIA_VISIBLE_DEVICES=0 "$RUN" --cdi-spec-dir "$NOSPEC" "$@"; }
got="$(cliok "$PROBE" cat /usr/local/nvidia-cli/marker 2>&1)"
check "no spec, nvidia-container-cli on the PATH: it serves the container ($got)" test "$got" = injected
check "... with enroot's command line: --user configure, ldconfig, device, capabilities, requirement, pid, root" \
    grep -qx "argv: --user configure --no-cgroups --ldconfig=@/usr/sbin/ldconfig --device=0 --compute --utility --require=cuda>=12.0 brand=tesla,driver>=470,driver<471 --pid=[0-9]* /tmp/root" "$CLI/log"
check "... as the user, in a user namespace of the container's, not the host's" \
    bash -c "grep -q '^uid: $(id -u lctest) ' '$CLI/log' && ! grep -q 'userns: $(readlink /proc/self/ns/user)' '$CLI/log'"
check "... in the holder's namespaces, on the image's root" \
    bash -c "grep -qx \"holder's namespaces: yes\" '$CLI/log' && grep -qx 'root: the image' '$CLI/log'"
: >"$CLI/log"
got="$(run PATH="$CLI:/usr/bin:/bin" NVIDIA_VISIBLE_DEVICES=none NVIDIA_DRIVER_CAPABILITIES=all NVIDIA_DISABLE_REQUIRE=1 \
    "$RUN" --cdi-spec-dir "$NOSPEC" "$PROBE" true 2>&1)"
check "none, all capabilities, requirements disabled: no --device, six capabilities, no --require" \
    grep -qx "argv: --user configure --no-cgroups --ldconfig=@/usr/sbin/ldconfig --compute --compat32 --display --graphics --utility --video --pid=[0-9]* /tmp/root" "$CLI/log"
touch "$CLI/fail"
expect_status "nvidia-container-cli failing stops the start with its message" 125 \
    "nvidia-container-cli exited with return code 1: nvc: driver error: bad things" \
    cliok "$PROBE" true
rm -f "$CLI/fail"
expect_status "neither a spec nor nvidia-container-cli: one error naming both" 125 \
    "NVIDIA_VISIBLE_DEVICES=0: no CDI spec for nvidia.com/gpu in $NOSPEC (nvidia-ctk cdi generate writes one) and no nvidia-container-cli on the PATH" \
    user PATH=/usr/bin:/bin NVIDIA_VISIBLE_DEVICES=0 "$RUN" --cdi-spec-dir "$NOSPEC" "$PROBE" true
expect_status "--nvidia-backend cdi: the spec or an error, never the program" 125 \
    "no CDI spec for nvidia.com/gpu in $NOSPEC (nvidia-ctk cdi generate writes one)" \
    cliok --nvidia-backend cdi "$PROBE" true
got="$(run PATH=/usr/bin:/bin NVIDIA_VISIBLE_DEVICES=0 "$RUN" "${CDI[@]}" --nvidia-backend "$CLI/nvidia-container-cli" \
    "$PROBE" sh -c 'cat /usr/local/nvidia-cli/marker; ls /usr/lib/x86_64-linux-gnu/libcuda.so.1 2>/dev/null' 2>&1)"
check "--nvidia-backend PATH: that program, even where a spec exists ($got)" test "$got" = injected

echo "# hooks a spec names"
mkdir -p "$D/spec-chmod" && cp "$D/spec/nvidia.yaml" "$D/spec-chmod/"
echo "  - {hookName: createContainer, path: /usr/bin/nvidia-cdi-hook, args: [nvidia-cdi-hook, chmod, --mode, '755', --path, /dev/dri]}" >>"$D/spec-chmod/nvidia.yaml"
is "a hook not done here (nvidia-cdi-hook chmod): a warning, the container starts" "cuda 12.4 devices 2" \
    -- --cdi-spec-dir "$D/spec-chmod" "$PROBE" cuda-probe
expect_status "--cdi-hooks refuse: it fails the start instead, named" 125 \
    "CDI hook createContainer (/usr/bin/nvidia-cdi-hook chmod) refused" \
    user "$RUN" --cdi-spec-dir "$D/spec-chmod" --cdi-hooks refuse "$PROBE" true

check "no mount left on the host" bash -c "! grep -q '$D' /proc/self/mountinfo"
finish
