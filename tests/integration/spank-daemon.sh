#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Images of a local daemon through the Slurm plugin, as an unprivileged user (enroot's and
# pyxis's dockerd:// and podman://): the user's own podman image runs (Debian's podman, rootless,
# as the user); the daemon's save runs as the user, never root; the imported file is gone once the
# container holds it, and nothing is left after the job; docker's client without a daemon (this
# machine has no Docker daemon) fails the step with docker's own reason; --container-cache
# refuses them.
# usage: spank-daemon.sh BUILD_DIR SOURCE_DIR (TAP; see spank-lib.sh)
# shellcheck source=spank-lib.sh
. "$(dirname "$0")/spank-lib.sh"
spank_setup
slurm_up

echo "# podman://: the user's image in their rootless podman"
command -v podman >/dev/null || { not_ok "podman is installed (scripts/install-deps.sh)"; finish; }
grep -q "^lctest:" /etc/subuid || usermod --add-subuids 300000-365535 --add-subgids 300000-365535 lctest
PODMAN=(runuser -u lctest -- env -C /tmp XDG_RUNTIME_DIR="/tmp/lc-itest-podman-run" podman
    --storage-driver=vfs --root="$USER_HOME/.local/share/lc-itest-podman" --runroot=/tmp/lc-itest-podman-run)
cleanup_hooks+=("rm -rf '$USER_HOME/.local/share/lc-itest-podman' /tmp/lc-itest-podman-run")
mkdir -p /tmp/lc-itest-podman-run && chown lctest /tmp/lc-itest-podman-run && chmod 700 /tmp/lc-itest-podman-run
"${PODMAN[@]}" pull -q --tls-verify=false "$REG/torchlike:latest" >"$WORK/podman.log" 2>&1
check "the user's podman has the image ($(tail -1 "$WORK/podman.log"))" "${PODMAN[@]}" image exists "$REG/torchlike:latest"
# rootless podman leaves a pause process (its user namespace's keeper) for later calls: this
# test's own, outside any job
pkill -KILL -u lctest -f '^podman$'; wait_for not_cmd pgrep -u lctest -f '^podman$'
# the plugin's helper runs podman as the user, with the user's environment: the same storage
mkdir -p "$USER_HOME/.config/containers" && cat >"$USER_HOME/.config/containers/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$USER_HOME/.local/share/lc-itest-podman"
runroot = "/tmp/lc-itest-podman-run"
EOF
chown -R lctest "$USER_HOME/.config"
cleanup_hooks+=("rm -f '$USER_HOME/.config/containers/storage.conf'")
EXTRA_ENV=(XDG_RUNTIME_DIR=/tmp/lc-itest-podman-run)
# the image is only in the user's rootless storage: root's podman would not find it
is "srun --container-image=podman://IMAGE runs the user's image (podman ran as the user)" "2.9.0 $USER_UID" \
    --container-image="podman://$REG/torchlike:latest" sh -c 'echo $PYTORCH_VERSION $(id -u)'
check "... the import says so" grep -q "importing docker image: podman://$REG/torchlike:latest" "$WORK/err"
usrun --container-image="podman://$REG/torchlike:latest" sh -c 'touch /tmp/lc-itest-daemon-up 2>/dev/null; sleep 3' >/dev/null 2>&1 &
for _ in $(seq 100); do [ -n "$(user_procs | grep -w 'sleep 3')" ] && break; sleep 0.1; done
check "... while the container runs, the imported file is already gone ($(find "$RUNTIME/$USER_UID" -name 'daemon-*' 2>/dev/null | tr '\n' ' '))" \
    test -z "$(find "$RUNTIME/$USER_UID" -name 'daemon-*' 2>/dev/null)" -a -n "$(user_procs | grep -w 'sleep 3')"
wait
# the helper's podman save started a new pause process, which outlives the job where Slurm
# does not track the step's processes by cgroup (this sandbox): podman's, as with enroot
check "the helper's podman left only its pause process ($(user_procs | awk '{print $3}' | tr '\n' ' '))" \
    test "$(user_procs | awk '{print $3}' | sort -u | tr '\n' ' ')" = "podman "
pkill -KILL -u lctest -f '^podman$'
check "nothing left after the jobs" no_leftovers
EXTRA_ENV=()

echo "# dockerd:// without a Docker daemon, and the cache"
out="$(usrun --container-image=dockerd://tiny true 2>&1)"; rc=$?
check "dockerd:// with no daemon: the step fails (rc=$rc) with pyxis's message" \
    bash -c '[ "$1" != 0 ] && grep -q "failed to import docker image: dockerd://tiny" <<<"$2"' _ "$rc" "$out"
check "... and docker's own reason ($(grep -m1 'docker save' <<<"$out"))" \
    grep -q "docker save tiny failed: .*" <<<"$out"
refused "--container-cache refuses a daemon's image" "--container-cache requires a registry image, not a local daemon's" \
    --container-image=podman://x --container-cache
check "nothing left" no_leftovers

finish
