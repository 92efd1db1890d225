#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Integration test of enroot's site configuration (lc_site_load + the runtime), through ctr-run as
# an unprivileged user: enroot.conf settings and the environment that beats them, environ.d,
# mounts.d (pass -1 and 0, x-create, tmpfs), hooks.d with enroot's contract (ENROOT_ROOTFS
# writable in a read-only container, ENROOT_ENVIRON and ENROOT_MOUNTS applied after, a failing
# hook's message), enroot's standard hooks built in (10-shadow, 10-aptfix, 10-home), and the
# refusals of site mounts that try to leave the root.
# usage: site.sh BUILD_DIR SOURCE_DIR
set -uo pipefail

BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
RUN="$BUILD/tools/ctr-run"
# shellcheck source=lib.sh
. "$SRC/tests/integration/lib.sh"

ctr_run_setup

"$BUILD/tools/ctr-import" -q --allow-http --cache "$WORK/cache" -o "$WORK/debian.sqsh" 127.0.0.1:5000/debian:bookworm >/dev/null || exit 1
chmod 644 "$WORK/debian.sqsh"
chmod 755 "$WORK"
DEB="$WORK/debian.sqsh"
USER_HOME="$(getent passwd lctest | cut -d: -f6)"
echo home-file >"$USER_HOME/lc-site-marker" && chown lctest "$USER_HOME/lc-site-marker"
cleanup_hooks+=("rm -rf '$USER_HOME/lc-site-marker' '$USER_HOME/.config/enroot'")

# user RUN-ARGS...: ctr-run as the user with the site directory $SITE, stdout and stderr
SITE="$WORK/enroot"
not_cmd() { ! "$@" 2>/dev/null; }
user() { runuser -u lctest -- env HOME="$USER_HOME" SCRATCH_TEST=/lus/scratch "$@" 2>&1; }
run() { user "$RUN" --sysconf "$SITE" "$@"; }
is() { # is DESCRIPTION EXPECTED RUN-ARGS...
    local d="$1" want="$2" got; shift 2
    got="$(run "$@")"
    if [ "$got" = "$want" ]; then ok "$d"; else not_ok "$d (want '$want', got '$got')"; fi
}

mkdir -p "$SITE"/{enroot.conf.d,environ.d,mounts.d,hooks.d} "$WORK/sitedata" "$WORK/hookdata"
echo site-data >"$WORK/sitedata/file"
echo hook-data >"$WORK/hookdata/file"
cat >"$SITE/environ.d/50-site.env" <<'EOF'
# a comment, a malformed line and an ENROOT_ key are dropped
SITE_VAR=${SCRATCH_TEST}/x
not a variable
ENROOT_SECRET=1
QUOTED="a b"
EOF
cat >"$SITE/mounts.d/50-site.fstab" <<EOF
$WORK/sitedata /site/data none x-create=dir,bind,ro 0 -1
tmpfs /site/tmp tmpfs x-create=dir,size=1m,mode=0777
$WORK/nonexistent /site/optional none x-create=dir,bind,nofail,silent
EOF
# enroot's own standard files: built in, never read or run
printf '/proc /nowhere none rbind\n' >"$SITE/mounts.d/10-system.fstab"
printf '#!/bin/sh\nexit 1\n' >"$SITE/hooks.d/10-shadow.sh"
cat >"$SITE/hooks.d/50-site.sh" <<EOF
#!/bin/sh
set -e
# the contract: a writable root, the holder's pid, files for variables and mounts
echo "edited by a hook" >"\$ENROOT_ROOTFS/etc/site-hook"
echo "HOOK_VAR=from-hook" >>"\$ENROOT_ENVIRON"
echo "HOOK_SAW_SITE_VAR=\$(grep ^SITE_VAR= "\$ENROOT_ENVIRON" | cut -d= -f2)" >>"\$ENROOT_ENVIRON"
echo "$WORK/hookdata /hook none x-create=dir,bind,ro" >>"\$ENROOT_MOUNTS"
echo "pid \$ENROOT_PID \$(awk '{print \$2}' /proc/self/uid_map) \${ENROOT_REMAP_ROOT:-no}" >"\$ENROOT_ROOTFS/etc/hook-info"
# once per container
echo x >>"$WORK/hook-runs"
EOF
printf '#!/bin/sh\nexit 1\n' >"$SITE/hooks.d/60-not-executable.sh"
chmod 755 "$SITE/hooks.d/50-site.sh" "$SITE/hooks.d/10-shadow.sh"
chmod -R a+rX "$SITE" "$WORK/sitedata" "$WORK/hookdata"
: >"$WORK/hook-runs" && chmod 666 "$WORK/hook-runs"

echo "# environ.d"
is "environ.d: \${VAR} from the caller's environment" "/lus/scratch/x" "$DEB" sh -c 'echo $SITE_VAR'
is "environ.d: one pair of quotes removed" "a b" "$DEB" sh -c 'echo "$QUOTED"'
is "environ.d: ENROOT_ keys dropped" "unset" "$DEB" sh -c 'echo ${ENROOT_SECRET:-unset}'
got="$(user env TERM=vt220 "$RUN" --sysconf "$SITE" "$DEB" sh -c 'echo $TERM')"
[ "$got" = vt220 ] && ok "the caller's TERM reaches the container (enroot's 10-terminal.env)" || not_ok "TERM: $got"

echo "# mounts.d"
is "mounts.d: a bind with x-create, read-only" "site-data ro" "$DEB" sh -c \
    'echo $(cat /site/data/file) $(touch /site/data/x 2>/dev/null && echo rw || echo ro)'
is "mounts.d: a tmpfs with its data options" "tmpfs 1.0M" "$DEB" sh -c \
    'df -h /site/tmp | awk "NR==2 {print \$1, \$2}"'
is "mounts.d: a missing nofail source is skipped" "absent" "$DEB" sh -c 'test -e /site/optional/x || echo absent'
is "mounts.d: enroot's 10-system.fstab is built in, not read" "no" "$DEB" sh -c 'test -e /nowhere && echo yes || echo no'

echo "# hooks.d"
: >"$WORK/hook-runs"
is "hooks: ENROOT_ROOTFS writable in a read-only container, read-only after" \
    "edited by a hook
read-only" "$DEB" sh -c 'cat /etc/site-hook; touch /etc/x 2>/dev/null && echo writable || echo read-only'
is "hooks: a second container" "" "$DEB" true
[ "$(wc -l <"$WORK/hook-runs")" = 2 ] && ok "hooks: once per container" || not_ok "hooks ran $(wc -l <"$WORK/hook-runs") times for 2 containers"
is "hooks: ENROOT_ENVIRON lines are variables, after environ.d" "from-hook /lus/scratch/x" "$DEB" \
    sh -c 'echo $HOOK_VAR $HOOK_SAW_SITE_VAR'
is "hooks: ENROOT_MOUNTS lines are mounted inside the root" "hook-data" "$DEB" cat /hook/file
info="$(run "$DEB" cat /etc/hook-info)"
case "$info" in
pid\ [0-9]*\ "$USER_UID"\ no) ok "hooks: run as the user (uid_map $USER_UID), ENROOT_PID set" ;;
*) not_ok "hooks: hook-info '$info'" ;;
esac
is "hooks: ENROOT_REMAP_ROOT set for a remap-root container" "y" --remap-root "$DEB" sh -c 'cut -d" " -f4 /etc/hook-info'
is "hooks: enroot's 10-shadow.sh is built in, not run" "ok" "$DEB" echo ok

echo "# enroot.conf, and the environment that beats it"
printf 'ENROOT_REMAP_ROOT yes\nENROOT_ROOTFS_WRITABLE=true\nENROOT_MOUNT_HOME y\n' >"$SITE/enroot.conf"
chmod 644 "$SITE/enroot.conf"
is "enroot.conf: remap root, writable, home at /root" "0 writable home-file /root" "$DEB" sh -c \
    'printf "%s " $(id -u); touch /x 2>/dev/null && printf "writable " || printf "read-only "; echo $(cat /root/lc-site-marker) $HOME'
got="$(user env ENROOT_ROOTFS_WRITABLE=no ENROOT_REMAP_ROOT=n "$RUN" --sysconf "$SITE" "$DEB" sh -c \
    'printf "%s " $(id -u); touch /x 2>/dev/null && echo writable || echo read-only')"
[ "$got" = "$USER_UID read-only" ] && ok "enroot.conf: the caller's ENROOT_* beat the file" || not_ok "env override: $got"
printf 'ENROOT_CONFIG_PATH ${HOME}/site-says\nENROOT_ROOTFS_WRITABLE $(id -u)\n' >"$SITE/enroot.conf.d/50-x.conf"
chmod 644 "$SITE/enroot.conf.d/50-x.conf"
is "enroot.conf: \$(id -u) is expanded without a shell" "writable" "$DEB" sh -c 'touch /x 2>/dev/null && echo writable'
printf 'ENROOT_DATA_PATH $(touch /tmp/lc-site-pwned)\n' >"$SITE/enroot.conf.d/50-x.conf"
expect_status "enroot.conf: another command substitution is refused, one line" 125 \
    "50-x.conf, line 1" runuser -u lctest -- "$RUN" --sysconf "$SITE" "$DEB" true
[ ! -e /tmp/lc-site-pwned ] && ok "... and nothing ran" || not_ok "a site file ran a program"
rm -f "$SITE/enroot.conf.d/50-x.conf" "$SITE/enroot.conf"
# the import keys reach ctr-import (and ctr-run's import) as they reach enroot import
IMP=("$BUILD/tools/ctr-import" -q --cache "$WORK/cache" -f)
expect_error "ctr-import: a plain-HTTP registry needs ENROOT_ALLOW_HTTP" "127.0.0.1:5000" \
    "${IMP[@]}" --sysconf "$SITE" -o "$WORK/imp.sqsh" 127.0.0.1:5000/debian:bookworm
printf 'ENROOT_ALLOW_HTTP yes\n' >"$SITE/enroot.conf" && chmod 644 "$SITE/enroot.conf"
check "ctr-import: enroot.conf's ENROOT_ALLOW_HTTP yes" \
    "${IMP[@]}" --sysconf "$SITE" -o "$WORK/imp.sqsh" 127.0.0.1:5000/debian:bookworm
expect_error "ctr-import --no-site: not read" "127.0.0.1:5000" \
    "${IMP[@]}" --no-site -o "$WORK/imp.sqsh" 127.0.0.1:5000/debian:bookworm
check "... and the job's ENROOT_ALLOW_HTTP=no beats it" not_cmd env ENROOT_ALLOW_HTTP=no \
    "${IMP[@]}" --sysconf "$SITE" -o "$WORK/imp.sqsh" 127.0.0.1:5000/debian:bookworm
rm -f "$SITE/enroot.conf" "$WORK/imp.sqsh"
# 10-devices: /dev is restricted unless ENROOT_RESTRICT_DEV says no (then the host's, as enroot)
devs='echo $(for d in null loop-control; do [ -e /dev/$d ] && echo $d; done)'
is "ENROOT_RESTRICT_DEV unset: the restricted /dev" "null" "$DEB" sh -c "$devs"
printf 'ENROOT_RESTRICT_DEV no\n' >"$SITE/enroot.conf" && chmod 644 "$SITE/enroot.conf"
is "ENROOT_RESTRICT_DEV no: the host's /dev" "null loop-control" "$DEB" sh -c "$devs"
is "... restricted again for a private IPC namespace" "null" --unshare ipc "$DEB" sh -c "$devs"
got="$(user env ENROOT_RESTRICT_DEV=y "$RUN" --sysconf "$SITE" "$DEB" sh -c "$devs")"
[ "$got" = "null" ] && ok "ENROOT_RESTRICT_DEV=y from the caller beats the file" || not_ok "restrict dev from env: $got"
rm -f "$SITE/enroot.conf"

echo "# the user's configuration (ENROOT_CONFIG_PATH)"
runuser -u lctest -- mkdir -p "$USER_HOME/.config/enroot/environ.d"
runuser -u lctest -- sh -c "echo USER_CONF=mine >'$USER_HOME/.config/enroot/environ.d/90-me.env'"
is "the user's environ.d after the site's" "mine" "$DEB" sh -c 'echo $USER_CONF'
is "--no-site reads neither" "unset unset" --no-site "$DEB" sh -c 'echo ${USER_CONF:-unset} ${SITE_VAR:-unset}'

echo "# enroot's standard hooks, built in"
is "10-shadow: root, nobody, the user first; no _apt" "root
nobody
lctest
no _apt" "$DEB" sh -c 'head -3 /etc/passwd | cut -d: -f1; getent passwd _apt || echo no _apt'
is "10-shadow: whoami, getent passwd root" "lctest root:x:0:0" "$DEB" sh -c 'echo $(whoami) $(getent passwd root | cut -d: -f1-4)'
is "10-shadow: the user's shell is theirs (the image has bash), the home from /etc/skel" \
    "/bin/bash .bashrc .profile" "$DEB" sh -c 'echo $(getent passwd lctest | cut -d: -f7) $(ls -A /home/lctest | grep -x -e .bashrc -e .profile)'
# a busybox image whose login.defs says CREATE_HOME no, and useradd's SHELL is ash
TINY="$WORK/tiny"
mkdir -p "$TINY/bin" "$TINY/etc/default"
cp /bin/busybox "$TINY/bin/" && for a in sh ash cat ls echo cut grep; do ln -s busybox "$TINY/bin/$a"; done
printf '# login.defs\nCREATE_HOME   no\n' >"$TINY/etc/login.defs"
printf 'SHELL=/bin/ash\n' >"$TINY/etc/default/useradd"
"$BUILD/tools/ctr-squash" save --all-root "$TINY" "$WORK/tiny.sqsh" >/dev/null && chmod 644 "$WORK/tiny.sqsh"
is "10-shadow: CREATE_HOME no, useradd's SHELL when the image lacks the user's" "none
/bin/ash" \
    "$WORK/tiny.sqsh" sh -c 'if [ -e /home/lctest ]; then echo made; else echo none; fi; grep ^lctest: /etc/passwd | cut -d: -f7'
# an image enroot made (no /etc/environment): its /etc/rc, not executable and without "#!", is
# run by ENROOT_LOGIN_SHELL as enroot runs it
printf 'echo "rc by $(tr "\\0" " " </proc/$$/cmdline)"\nexec "$@"\n' >"$TINY/etc/rc"
ln -s busybox "$TINY/bin/tr"
"$BUILD/tools/ctr-squash" save --all-root "$TINY" "$WORK/tiny-rc.sqsh" >/dev/null && chmod 644 "$WORK/tiny-rc.sqsh"
is "enroot's /etc/rc without #! runs with /bin/sh" "rc by /bin/sh /etc/rc echo hi 
hi" "$WORK/tiny-rc.sqsh" echo hi
printf 'ENROOT_LOGIN_SHELL /bin/ash\n' >"$SITE/enroot.conf" && chmod 644 "$SITE/enroot.conf"
is "... with ENROOT_LOGIN_SHELL's shell" "rc by /bin/ash /etc/rc echo hi 
hi" "$WORK/tiny-rc.sqsh" echo hi
rm -f "$SITE/enroot.conf"
# the image's own /etc/fstab, as enroot reads it: ${VAR} from the caller, inside the root
rm -f "$TINY/etc/rc"
printf 'tmpfs ${SCRATCH_TEST} tmpfs x-create=dir,size=1m 0 -1\n%s /image-bind none x-create=dir,bind,ro\n' \
    "$WORK/sitedata" >"$TINY/etc/fstab"
"$BUILD/tools/ctr-squash" save --all-root "$TINY" "$WORK/tiny-fstab.sqsh" >/dev/null && chmod 644 "$WORK/tiny-fstab.sqsh"
is "the image's /etc/fstab: a tmpfs at \${VAR}, a bind of a host path" "tmpfs site-data" \
    "$WORK/tiny-fstab.sqsh" sh -c 'echo $(grep " /lus/scratch " /proc/mounts | cut -d" " -f3) $(cat /image-bind/file)'
printf '%s /x/../../../../../tmp/lc-image-escape none x-create=dir,bind\n' "$WORK/sitedata" >"$TINY/etc/fstab"
"$BUILD/tools/ctr-squash" save -f --all-root "$TINY" "$WORK/tiny-fstab.sqsh" >/dev/null
expect_status "the image's /etc/fstab: a target out of the root is refused" 125 \
    "resolves outside the container's root filesystem" runuser -u lctest -- "$RUN" --sysconf "$SITE" "$WORK/tiny-fstab.sqsh" true
[ ! -e /tmp/lc-image-escape ] && ok "... and nothing was made on the host" || not_ok "image fstab escaped"
is "10-shadow with remap-root: the user is root" "root 0 /root" --remap-root "$DEB" sh -c 'echo $(whoami) $(id -u) $HOME'
is "10-aptfix: apt does not drop privileges with remap-root" 'APT::Sandbox::User "root";' \
    --remap-root "$DEB" cat /etc/apt/apt.conf.d/enroot
is "10-aptfix: nothing without remap-root" "none" "$DEB" sh -c 'cat /etc/apt/apt.conf.d/enroot 2>/dev/null || echo none'
# the mirror of the image's sources.list (deb.debian.org, which this machine reaches, as
# make-images.sh's debootstrap did)
is "apt-get update && apt-get install as the user (--rw --remap-root)" "Hello, world!" --rw --remap-root "$DEB" \
    sh -c 'apt-get -q update >/dev/null 2>&1 && apt-get install -qy --no-install-recommends hello >/dev/null 2>&1 && hello'
is "10-home: with remap-root the home is at /root" "home-file /root" --remap-root --mount-home "$DEB" \
    sh -c 'echo $(cat /root/lc-site-marker) $HOME'

# 10-cgroups on a host with cgroup v1 hierarchies: the caller's own memory cgroup, read-only
if [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ] && [ -d /sys/fs/cgroup/memory ]; then
    CG="/sys/fs/cgroup/memory$(awk -F: '$2 == "memory" {print $3}' /proc/self/cgroup)/lc-site-$$"
    mkdir "$CG" && echo 123456789 >"$CG/memory.limit_in_bytes"
    want="$(cat "$CG/memory.limit_in_bytes")"
    got="$(sh -c "echo \$\$ >'$CG/cgroup.procs' && exec runuser -u lctest -- '$RUN' --sysconf '$SITE' '$DEB' \
        sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes; touch /sys/fs/cgroup/memory/x 2>/dev/null || echo read-only'" 2>&1)"
    rmdir "$CG"
    [ "$got" = "$want
read-only" ] && ok "10-cgroups: the caller's v1 memory cgroup at /sys/fs/cgroup/memory, read-only" ||
        not_ok "10-cgroups v1: want $want, got '$got'"
else
    echo "# 10-cgroups v1 not checked: this host has the unified cgroup hierarchy only"
fi

# 99-mellanox (this machine has no InfiniBand: the selection's real effect is unit-tested on a
# stand-in sysfs): "all" of nothing starts, an id the node lacks is refused in enroot's words
got="$(user env MELLANOX_VISIBLE_DEVICES=all "$RUN" --sysconf "$SITE" "$DEB" echo started)"
[ "$got" = started ] && ok "99-mellanox: MELLANOX_VISIBLE_DEVICES=all on a node without InfiniBand" ||
    not_ok "mellanox all: $got"
expect_status "99-mellanox: an unknown device id is refused, one line" 125 \
    "Unknown MELLANOX device id: 0 (MELLANOX_VISIBLE_DEVICES; this node has 0)" \
    runuser -u lctest -- env MELLANOX_VISIBLE_DEVICES=0 "$RUN" --sysconf "$SITE" "$DEB" true

echo "# failures: one line, nothing left"
BAD="$WORK/enroot-bad"
mkdir -p "$BAD/hooks.d" "$BAD/mounts.d"
printf '#!/bin/sh\necho "the hook says no" >&2\nexit 3\n' >"$BAD/hooks.d/70-fail.sh"
chmod -R a+rX "$BAD" && chmod 755 "$BAD/hooks.d/70-fail.sh"
expect_status "a failing hook stops the start with its file, code and stderr" 125 \
    "$BAD/hooks.d/70-fail.sh exited with return code 3: the hook says no" \
    runuser -u lctest -- "$RUN" --sysconf "$BAD" "$DEB" true
rm -f "$BAD/hooks.d/70-fail.sh"
printf '/a /b none x-bogus\n' >"$BAD/mounts.d/50-bad.fstab" && chmod 644 "$BAD/mounts.d/50-bad.fstab"
expect_status "a bad fstab line names its file and line" 125 "50-bad.fstab, line 1: unknown option 'x-bogus'" \
    runuser -u lctest -- "$RUN" --sysconf "$BAD" "$DEB" true
printf '%s /x/../../../../tmp/lc-escape none x-create=dir,bind\n' "$WORK/sitedata" >"$BAD/mounts.d/50-bad.fstab"
expect_status "a site mount with .. above the root is refused" 125 "resolves outside the container's root filesystem" \
    runuser -u lctest -- "$RUN" --sysconf "$BAD" "$DEB" true
rm -f "$BAD/mounts.d/50-bad.fstab"
cat >"$BAD/hooks.d/50-escape.sh" <<EOF
#!/bin/sh
ln -s ../../../../../.. "\$ENROOT_ROOTFS/escape"
echo "$WORK/sitedata /escape/tmp/lc-escape none x-create=dir,bind" >>"\$ENROOT_MOUNTS"
EOF
chmod 755 "$BAD/hooks.d/50-escape.sh"
expect_status "a hook's mount through an image symlink out of the root is refused" 125 \
    "(from a hook): it resolves outside the container's root filesystem" \
    runuser -u lctest -- "$RUN" --sysconf "$BAD" "$DEB" true
[ ! -e /tmp/lc-escape ] && ok "... and nothing was made on the host" || not_ok "/tmp/lc-escape exists"
leftover="$(grep -c "$WORK" /proc/self/mountinfo)"
[ "$leftover" = 0 ] && ok "no mount left on the host" || not_ok "$leftover mounts left"

finish
