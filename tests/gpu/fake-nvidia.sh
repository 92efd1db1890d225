# SPDX-License-Identifier: Apache-2.0
# Sourced by the GPU tests (tests/integration/lib.sh) and bench/start; needs SRC and BUILD.
# fake_nvidia DIR [SPEC-EXTRA]: a stand-in for NVIDIA's driver (this machine has no GPU), for
# a script that runs in a mount namespace of its own (as tests/integration/gpu.sh starts):
#   DIR/lib      libcuda.so.550.54.14 (soname libcuda.so.1, CUDA 12.4: cuInit, cuDriverGetVersion,
#                cuDeviceGetCount = the /dev/nvidiaN it can open, compute capability 9.0),
#                libnvidia-ml.so.550.54.14 (brand tesla); outside a container they look for
#                the nodes in $FAKE_NVIDIA_DEV (DIR/dev) instead of /dev
#   DIR/bin      nvidia-smi (-L lists the GPUs), cuda-probe (tests/gpu/cuda-probe.c)
#   DIR/dev      nvidia0, nvidia1, nvidiactl, nvidia-uvm (mknod, /dev/null's numbers)
#   /proc/driver/nvidia   version and params (ModifyDeviceFiles: 1), a tmpfs of this namespace
#   DIR/spec/nvidia.yaml  what `nvidia-ctk cdi generate` writes for it: devices 0, 1, their
#                UUIDs (GPU-6b0ad3c4-...-00000000000N) and all; the libraries and nvidia-smi
#                bound; NVIDIA's four hooks; SPEC-EXTRA (YAML lines) at the end
#   DIR/probe.sqsh  a small glibc image: cuda-probe, ldconfig, its own cache, busybox, and a
#                CUDA image's Env (enroot's /etc/environment): NVIDIA_VISIBLE_DEVICES=all,
#                NVIDIA_DRIVER_CAPABILITIES=compute,utility, NVIDIA_REQUIRE_CUDA
fake_nvidia() {
    local d="$1" v=550.54.14 lib=/usr/lib/x86_64-linux-gnu src="$SRC/tests/gpu" t
    mkdir -p "$d/lib" "$d/bin" "$d/dev" "$d/spec" "$d/proc/nvidia"
    gcc -shared -fPIC -O2 -Wl,-soname,libcuda.so.1 -DFAKE_CUDA_VERSION=12040 \
        -I"$src/fake" -o "$d/lib/libcuda.so.$v" "$src/fake/libcuda.c" &&
    gcc -shared -fPIC -O2 -Wl,-soname,libnvidia-ml.so.1 -DFAKE_DRIVER_VERSION="\"$v\"" \
        -I"$src/fake" -o "$d/lib/libnvidia-ml.so.$v" "$src/fake/libnvidia-ml.c" &&
    gcc -O2 -o "$d/bin/nvidia-smi" "$src/fake/nvidia-smi.c" &&
    gcc -O2 -o "$d/bin/cuda-probe" "$src/cuda-probe.c" || return 1
    for n in nvidia0 nvidia1 nvidiactl nvidia-uvm; do mknod -m 666 "$d/dev/$n" c 1 3; done
    printf 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  %s  Thu Feb 22 01:44:30 UTC 2024\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n' "$v" >"$d/proc/nvidia/version"
    printf 'ResmanDebugLevel: 4294967295\nModifyDeviceFiles: 1\nDeviceFileUID: 0\n' >"$d/proc/nvidia/params"
    mount -t tmpfs -o mode=755 fake-nvidia-driver /proc/driver &&
    cp -r "$d/proc/nvidia" /proc/driver/ || return 1
    cat >"$d/spec/nvidia.yaml" <<EOS
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits: {deviceNodes: [{path: /dev/nvidia0, hostPath: $d/dev/nvidia0}]}
- name: GPU-6b0ad3c4-0000-4000-8000-000000000000
  containerEdits: {deviceNodes: [{path: /dev/nvidia0, hostPath: $d/dev/nvidia0}]}
- name: "1"
  containerEdits: {deviceNodes: [{path: /dev/nvidia1, hostPath: $d/dev/nvidia1}]}
- name: GPU-6b0ad3c4-0000-4000-8000-000000000001
  containerEdits: {deviceNodes: [{path: /dev/nvidia1, hostPath: $d/dev/nvidia1}]}
- name: all
  containerEdits:
    deviceNodes: [{path: /dev/nvidia0, hostPath: $d/dev/nvidia0}, {path: /dev/nvidia1, hostPath: $d/dev/nvidia1}]
containerEdits:
  env: [NVIDIA_VISIBLE_DEVICES=void]
  deviceNodes:
  - {path: /dev/nvidiactl, hostPath: $d/dev/nvidiactl}
  - {path: /dev/nvidia-uvm, hostPath: $d/dev/nvidia-uvm}
  mounts:
  - {hostPath: $d/lib/libcuda.so.$v, containerPath: $lib/libcuda.so.$v, options: [ro, nosuid, nodev, bind]}
  - {hostPath: $d/lib/libnvidia-ml.so.$v, containerPath: $lib/libnvidia-ml.so.$v, options: [ro, nosuid, nodev, bind]}
  - {hostPath: $d/bin/nvidia-smi, containerPath: /usr/bin/nvidia-smi, options: [ro, nosuid, nodev, bind]}
  hooks:
  - {hookName: createContainer, path: /usr/bin/nvidia-cdi-hook, args: [nvidia-cdi-hook, create-symlinks, --link, libcuda.so.1::$lib/libcuda.so]}
  - {hookName: createContainer, path: /usr/bin/nvidia-cdi-hook, args: [nvidia-cdi-hook, enable-cuda-compat, --host-driver-version=$v]}
  - {hookName: createContainer, path: /usr/bin/nvidia-cdi-hook, args: [nvidia-cdi-hook, update-ldcache, --folder, $lib]}
  - {hookName: createContainer, path: /usr/bin/nvidia-cdi-hook, args: [nvidia-cdi-hook, disable-device-node-modification]}
${2:-}
EOS
    # the probe image
    t="$d/probe"
    mkdir -p "$t/bin" "$t/sbin" "$t/etc/ld.so.conf.d" "$t/lib64" "$t$lib" "$t/usr/bin" "$t/tmp" "$t/proc" "$t/dev" "$t/sys"
    cp /bin/busybox "$t/bin/" && for c in sh echo cat ls grep readlink test stat wc; do ln -s busybox "$t/bin/$c"; done
    cp /lib/x86_64-linux-gnu/libc.so.6 "$t$lib/" && cp /lib64/ld-linux-x86-64.so.2 "$t/lib64/" &&
    cp /sbin/ldconfig "$t/sbin/" && cp "$d/bin/cuda-probe" "$t/usr/bin/" || return 1
    echo 'include /etc/ld.so.conf.d/*.conf' >"$t/etc/ld.so.conf"
    printf '%s\n' /usr/local/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu "$lib" >"$t/etc/ld.so.conf.d/x86_64-linux-gnu.conf"
    ldconfig -r "$t"
    printf 'NVIDIA_VISIBLE_DEVICES=all\nNVIDIA_DRIVER_CAPABILITIES=compute,utility\nNVIDIA_REQUIRE_CUDA=cuda>=12.0 brand=tesla,driver>=470,driver<471\n' >"$t/etc/environment"
    "$BUILD/tools/ctr-squash" save --all-root "$t" "$d/probe.sqsh" >/dev/null || return 1
    chmod -R a+rX "$d"
}
