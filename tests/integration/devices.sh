#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Devices by their CDI names (ctr-run --device, lc_container_opts.devices), as an unprivileged
# user and as root: a spec's environment, device nodes bound from the host, mounts, read-only
# where the spec says; an unknown name and a missing host file refused in one line; hooks never
# run (a warning); a root caller ignores specs that are not root's.
# This machine has no GPU: the devices are stand-ins made with mknod (/dev/null's and
# /dev/zero's numbers) and the "driver" a file; the spec is what a vendor's tool would write.
# usage: devices.sh BUILD_DIR SOURCE_DIR
set -uo pipefail

BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
RUN="$BUILD/tools/ctr-run"
# shellcheck source=lib.sh
. "$SRC/tests/integration/lib.sh"

ctr_run_setup
"$BUILD/tools/ctr-import" -q --allow-http --cache "$WORK/cache" -o "$WORK/debian.sqsh" 127.0.0.1:5000/debian:bookworm >/dev/null || exit 1
chmod 644 "$WORK/debian.sqsh" && chmod 755 "$WORK"
DEB="$WORK/debian.sqsh"
D="$WORK/fake"
fake_cdi "$D" "  hooks:
  - {hookName: createContainer, path: /usr/bin/nvidia-cdi-hook, args: [nvidia-cdi-hook, create-symlinks, --link, libfake.so.1::/usr/lib/libfake.so]}
  - {hookName: createContainer, path: /usr/bin/nvidia-cdi-hook, args: [nvidia-cdi-hook, chmod, --mode, '777', --path, /dev/fakegpu0]}
  - {hookName: createContainer, path: /usr/bin/vendor-hook, args: [vendor-hook, setup]}"
cat >"$D/spec/broken.json" <<EOS
{"cdiVersion": "0.6.0", "kind": "example.com/broken", "devices": [{"name": "x",
 "containerEdits": {"deviceNodes": [{"path": "/dev/x", "hostPath": "$D/dev/missing"}]}}]}
EOS
cat >"$D/spec/badlink.json" <<EOS
{"cdiVersion": "0.6.0", "kind": "example.com/badlink", "devices": [{"name": "x",
 "containerEdits": {"hooks": [{"hookName": "createContainer", "path": "/usr/bin/nvidia-ctk",
  "args": ["nvidia-ctk", "hook", "create-symlinks", "--link", "no-link-path"]}]}}]}
EOS
mkdir -p "$D/user-cdi"
chmod -R a+rX "$D"
CDI=(--cdi-spec-dir "$D/spec")
user() { runuser -u lctest -- "$RUN" "${CDI[@]}" "$@"; }
is() { # is DESCRIPTION EXPECTED RUN-ARGS...
    local d="$1" want="$2" got; shift 2
    got="$(user "$@" 2>"$WORK/err")"
    if [ "$got" = "$want" ]; then ok "$d"; else not_ok "$d (want '$want', got '$got'; $(cat "$WORK/err"))"; fi
}
probe='for n in /dev/fakegpu0 /dev/fakegpu1; do [ -c $n ] && echo "$n $(stat -c %t:%T $n)"; done
echo "env $FAKE_DRIVER lib $(cat /usr/lib/libfake.so.1)"
echo x >/dev/fakegpu0 2>/dev/null && echo "node writable"
touch /usr/lib/libfake.so.1 2>/dev/null || echo "lib read-only"'

echo "# a device by name, as the user"
is "one device: its node (the host's numbers), the spec's variable and mount, read-only" \
    "/dev/fakegpu0 1:3
env 550 lib fake-driver-550
node writable
lib read-only" --device example.com/gpu=0 "$DEB" sh -c "$probe"
check "... and a vendor's hook is not run, said once" grep -qx \
    "ctr-run: warning: CDI hook createContainer (/usr/bin/vendor-hook) not run: specs never run programs here" "$WORK/err"
check "... nor an NVIDIA hook that is not done here (chmod), said once" grep -qx \
    "ctr-run: warning: CDI hook createContainer (/usr/bin/nvidia-cdi-hook chmod) not run: specs never run programs here" "$WORK/err"
check "... two warnings: NVIDIA's create-symlinks is done, not warned about" test "$(grep -c "not run" "$WORK/err")" = 2
is "NVIDIA's create-symlinks done natively: the link, to the spec's file" "libfake.so.1 fake-driver-550" \
    --device example.com/gpu=0 "$DEB" sh -c 'echo $(readlink /usr/lib/libfake.so) $(cat /usr/lib/libfake.so)' 
is "two devices of one spec" "/dev/fakegpu0 1:3
/dev/fakegpu1 1:5" --device example.com/gpu=0 --device example.com/gpu=1 "$DEB" \
    sh -c 'for n in /dev/fakegpu*; do echo "$n $(stat -c %t:%T $n)"; done' 
is "no device asked: none of it" "env  lib " "$DEB" sh -c 'ls /dev/fakegpu* 2>/dev/null; echo "env $FAKE_DRIVER lib $(cat /usr/lib/libfake.so.1 2>/dev/null)"'
is "a writable container too" "/dev/fakegpu1 1:5" --rw --device example.com/gpu=1 "$DEB" sh -c 'for n in /dev/fakegpu*; do echo "$n $(stat -c %t:%T $n)"; done'

echo "# refusals: one line, nothing started"
expect_status "an unknown device" 125 "CDI device example.com/gpu=7: no spec defines it" \
    runuser -u lctest -- "$RUN" "${CDI[@]}" --device example.com/gpu=7 "$DEB" true
expect_status "a malformed name" 125 "'gpu0' is not a CDI device name (vendor.com/class=name)" \
    runuser -u lctest -- "$RUN" "${CDI[@]}" --device gpu0 "$DEB" true
expect_status "a host file the spec names is missing" 125 "CDI device node $D/dev/missing: No such file or directory" \
    runuser -u lctest -- "$RUN" "${CDI[@]}" --device example.com/broken=x "$DEB" true
expect_status "a malformed create-symlinks link" 125 "CDI hook create-symlinks: bad --link 'no-link-path'" \
    runuser -u lctest -- "$RUN" "${CDI[@]}" --device example.com/badlink=x "$DEB" true
expect_status "no spec directory has it" 125 "no spec defines it" \
    runuser -u lctest -- "$RUN" --cdi-spec-dir /nonexistent --device example.com/gpu=0 "$DEB" true

echo "# a root caller reads root's specs only"
cp "$D/spec/fake.yaml" "$D/user-cdi/fake.yaml" && chown -R lctest "$D/user-cdi"
out="$("$RUN" --no-kernel-squashfs --cdi-spec-dir "$D/user-cdi" --device example.com/gpu=0 "$DEB" true 2>&1)"
[[ "$out" == *"not root's, or writable by others; ignored"* && "$out" == *"no spec defines it"* ]] &&
    ok "root: a spec directory the user owns is ignored, and said" || not_ok "root read a user's spec: $out"
is "the user may use their own spec" "/dev/fakegpu0 1:3" --cdi-spec-dir "$D/user-cdi" --device example.com/gpu=0 "$DEB" \
    sh -c 'for n in /dev/fakegpu*; do echo "$n $(stat -c %t:%T $n)"; done'
out="$("$RUN" --no-kernel-squashfs "${CDI[@]}" --device example.com/gpu=0 "$DEB" sh -c 'cat /usr/lib/libfake.so.1' 2>/dev/null)"
[ "$out" = fake-driver-550 ] && ok "root: root's spec" || not_ok "root with root's spec: $out"

echo "# NVIDIA_VISIBLE_DEVICES on a node without NVIDIA's driver (as this machine is)"
if [ -e /proc/driver/nvidia ]; then
    echo "# not checked: this node has an NVIDIA driver"
else
    # a CUDA-like image (enroot's format: its Env in /etc/environment) that asks for every GPU
    T="$WORK/cuda-like"
    mkdir -p "$T/bin" "$T/etc"
    cp /bin/busybox "$T/bin/" && ln -s busybox "$T/bin/sh" && ln -s busybox "$T/bin/echo"
    printf 'NVIDIA_VISIBLE_DEVICES=all\nNVIDIA_DRIVER_CAPABILITIES=compute,utility,gaming\n' >"$T/etc/environment"
    "$BUILD/tools/ctr-squash" save --all-root "$T" "$WORK/cuda-like.sqsh" >/dev/null && chmod 644 "$WORK/cuda-like.sqsh"
    is "the image's request: a CPU container (CUDA images keep running on CPU nodes)" "cpu" \
        "$WORK/cuda-like.sqsh" echo cpu
    expect_status "the job's own request: an error naming the missing driver" 125 \
        "NVIDIA_VISIBLE_DEVICES=0: this node has no NVIDIA driver (/proc/driver/nvidia)" \
        runuser -u lctest -- env NVIDIA_VISIBLE_DEVICES=0 "$RUN" "$WORK/cuda-like.sqsh" true
    got="$(runuser -u lctest -- env NVIDIA_VISIBLE_DEVICES=void "$RUN" "$WORK/cuda-like.sqsh" echo cpu 2>&1)"
    [ "$got" = cpu ] && ok "the job's void beats the image's all" || not_ok "void: $got"
fi

check "no mount left on the host" bash -c "! grep -q '$D' /proc/self/mountinfo"
finish
