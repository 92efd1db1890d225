#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Slurm plugin through a real Slurm, as an unprivileged user: enroot's site configuration
# (plugstack enroot_sysconf_path=DIR), as a pyxis+enroot site has it in /etc/enroot: enroot.conf
# settings and the flags that beat them, environ.d, mounts.d, a site hook (once per container,
# as the user), a failing hook's message, and the standard hooks built in. Also devices by their
# CDI names (--container-devices, plugstack cdi_spec_dirs=) with stand-in device nodes and a
# stand-in driver file (this machine has no GPU).
# usage: spank-site.sh BUILD_DIR SOURCE_DIR (TAP; see spank-lib.sh)
# shellcheck source=spank-lib.sh
. "$(dirname "$0")/spank-lib.sh"
spank_setup

SITE="$WORK/enroot"
mkdir -p "$SITE"/{environ.d,mounts.d,hooks.d} "$WORK/sitedata" "$WORK/hookdata"
echo site-data >"$WORK/sitedata/file"
echo hook-data >"$WORK/hookdata/file"
echo 'SITE_VAR=${SLURM_JOB_ID}-site' >"$SITE/environ.d/50-site.env"
echo "$WORK/sitedata /site/data none x-create=dir,bind,ro" >"$SITE/mounts.d/50-site.fstab"
cat >"$SITE/hooks.d/50-site.sh" <<EOF
#!/bin/sh
set -e
[ -n "\$HOOK_FAIL" ] && { echo "the site hook refuses" >&2; exit 3; }
echo "edited by a hook" >"\$ENROOT_ROOTFS/etc/site-hook"
echo "HOOK_VAR=from-hook" >>"\$ENROOT_ENVIRON"
echo "$WORK/hookdata /hook none x-create=dir,bind,ro" >>"\$ENROOT_MOUNTS"
echo "\$SLURM_JOB_ID.\$SLURM_STEP_ID \$(awk '{print \$2}' /proc/self/uid_map)" >>"$WORK/hook-runs"
EOF
chmod 755 "$SITE/hooks.d/50-site.sh"
chmod -R a+rX "$SITE" "$WORK/sitedata" "$WORK/hookdata"
: >"$WORK/hook-runs" && chmod 666 "$WORK/hook-runs"
echo home-file >"$USER_HOME/lc-site-marker" && chown lctest "$USER_HOME/lc-site-marker"
cleanup_hooks+=("rm -f '$USER_HOME/lc-site-marker'")
# a CDI spec directory, root's as the plugin requires, with stand-in devices
CDI="$WORK/cdi" && fake_cdi "$CDI"
slurm_up SPANK_ARGS="import_helper=$BUILD/tools/ctr-import allow_http=$REG runtime_path=$RUNTIME container_cache_data_path=$CACHE_BASE enroot_sysconf_path=$SITE cdi_spec_dirs=$CDI/spec"

echo "# environ.d, mounts.d, hooks.d"
is "environ.d: a site variable, \${VAR} from the job" "ok" "$TORCH" sh -c '[ "$SITE_VAR" = "$SLURM_JOB_ID-site" ] && echo ok'
is "mounts.d: a bind with x-create" "site-data" "$TORCH" cat /site/data/file
is "a hook edits the root of a read-only container, which stays read-only" "edited by a hook
read-only" "$TORCH" sh -c 'cat /etc/site-hook; touch /etc/x 2>/dev/null && echo writable || echo read-only'
is "a hook's ENROOT_ENVIRON and ENROOT_MOUNTS lines" "from-hook hook-data" "$TORCH" sh -c 'echo $HOOK_VAR $(cat /hook/file)'
: >"$WORK/hook-runs"
got="$(usrun -n 4 "$TORCH" sh -c 'echo $HOOK_VAR' 2>/dev/null | grep -c from-hook)"
[ "$got" = 4 ] && ok "-n 4: every task has the hook's variable" || not_ok "-n 4: $got tasks"
check "-n 4: the hook ran once, as the user (never host root)" \
    test "$(tail -1 "$WORK/hook-runs" | cut -d' ' -f2)" = "$USER_UID" -a "$(cut -d' ' -f1 "$WORK/hook-runs" | uniq -c | awk '{print $1}' | sort -u)" = 1
refused "a failing hook stops the step with its file, code and stderr" \
    "$SITE/hooks.d/50-site.sh exited with return code 3: the site hook refuses" "$TORCH" --export=ALL,HOOK_FAIL=1

echo "# devices by their CDI names"
devs='echo $(for n in /dev/fakegpu*; do [ -c $n ] && echo "$n=$(stat -c %t:%T $n)"; done) $FAKE_DRIVER $(cat /usr/lib/libfake.so.1)'
is "--container-devices: the node (the host's numbers), the spec's variable and driver file" \
    "/dev/fakegpu1=1:5 550 fake-driver-550" --container-devices=example.com/gpu=1 "$DEB" sh -c "$devs"
EXTRA_ENV=(PYXIS_CONTAINER_DEVICES=example.com/gpu=0,example.com/gpu=1)
is "PYXIS_CONTAINER_DEVICES, -n 2: both devices in the one container" "/dev/fakegpu0=1:3 /dev/fakegpu1=1:5 550 fake-driver-550" \
    -n 2 "$DEB" sh -c "[ \$SLURM_PROCID = 0 ] && $devs"
EXTRA_ENV=()
refused "an unknown device stops the step, one line" "CDI device example.com/gpu=9: no spec defines it" \
    --container-devices=example.com/gpu=9 "$DEB"
refused "a malformed name is refused at submission" "is not a CDI device name (vendor.com/class=name)" \
    --container-devices=gpu9 "$DEB"

echo "# enroot.conf, and the flags that beat it (as pyxis's do)"
printf 'ENROOT_REMAP_ROOT yes\nENROOT_ROOTFS_WRITABLE yes\nENROOT_MOUNT_HOME yes\n' >"$SITE/enroot.conf"
chmod 644 "$SITE/enroot.conf"
is "enroot.conf: remap root, writable, home mounted at /root" "0 writable home-file /root" "$TORCH" sh -c \
    'printf "%s " $(id -u); touch /x 2>/dev/null && printf "writable " || printf "read-only "; echo $(cat /root/lc-site-marker) $HOME'
is "flags beat enroot.conf" "$USER_UID read-only absent" --no-container-remap-root --container-readonly \
    --no-container-mount-home "$TORCH" sh -c \
    'printf "%s " $(id -u); touch /x 2>/dev/null && printf "writable " || printf "read-only "; test -e "$HOME/lc-site-marker" && echo home || echo absent'
rm -f "$SITE/enroot.conf"

echo "# enroot's standard hooks, built in"
is "without remap-root: whoami, getent passwd root, no _apt" "lctest root:x:0:0 none" "$DEB" sh -c \
    'echo $(whoami) $(getent passwd root | cut -d: -f1-4) $(getent passwd _apt || echo none)'
is "with remap-root: root, apt as root" 'root 0 APT::Sandbox::User "root";' --container-remap-root "$DEB" sh -c \
    'echo $(whoami) $(id -u) $(cat /etc/apt/apt.conf.d/enroot)'
is "apt-get update && apt-get install through srun (remap-root, writable)" "Hello, world!" \
    --container-remap-root --container-writable "$DEB" \
    sh -c 'apt-get -q update >/dev/null 2>&1 && apt-get install -qy --no-install-recommends hello >/dev/null 2>&1 && hello'
no_leftovers && ok "nothing left behind" || not_ok "leftovers"

finish
