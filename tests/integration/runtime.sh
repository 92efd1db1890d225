#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Integration test of the runtime (ctr-run, lc_container_*): images imported from the loopback
# registry run as root and as an unprivileged user; hostile images and mount specs fail with one
# clear line and change nothing on the host; joins and start/stop cycles leave nothing behind.
# usage: runtime.sh BUILD_DIR SOURCE_DIR
set -uo pipefail

BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
RUN="$BUILD/tools/ctr-run"
CTEST="$BUILD/tests/container-test"
# shellcheck source=lib.sh
. "$SRC/tests/integration/lib.sh"

ctr_run_setup

"$BUILD/tools/ctr-import" -q --allow-http --cache "$WORK/cache" -o "$WORK/debian.sqsh" 127.0.0.1:5000/debian:bookworm >/dev/null || exit 1
"$BUILD/tools/ctr-import" -q --allow-http --cache "$WORK/cache" -o "$WORK/tiny.sqsh" 127.0.0.1:5000/tiny:latest >/dev/null || exit 1
chmod 644 "$WORK"/*.sqsh
DEB="$WORK/debian.sqsh" TINY="$WORK/tiny.sqsh"

as_user() { runuser -u lctest -- "$@"; }
# out WHO CMD...: stdout of CMD run as root or as the user
out() { local who="$1"; shift; if [ "$who" = user ]; then as_user "$@" 2>&1; else "$@" 2>&1; fi; }
# is DESCRIPTION EXPECTED WHO CMD...: CMD's output is exactly EXPECTED
is() {
    local d="$1" want="$2" who="$3" got; shift 3
    got="$(out "$who" "$@")"
    if [ "$got" = "$want" ]; then ok "$d"; else not_ok "$d (want '$want', got '$got')"; fi
}
# fails DESCRIPTION RC SUBSTRING WHO CMD...: exit status RC and one stderr line containing SUBSTRING
fails() {
    local d="$1" rc="$2" want="$3" who="$4"; shift 4
    if [ "$who" = user ]; then expect_status "$d" "$rc" "$want" as_user "$@"; else expect_status "$d" "$rc" "$want" "$@"; fi
}

mkdir -p "$WORK/hostdir" && echo host-data >"$WORK/hostdir/file" && chmod -R a+rX "$WORK/hostdir"
USER_HOME="$(getent passwd lctest | cut -d: -f6)"
echo home-file >"$USER_HOME/lc-home-marker" && chown lctest "$USER_HOME/lc-home-marker"
cleanup_hooks+=("rm -f '$USER_HOME/lc-home-marker'")

for who in root user; do
    uid=0; [ "$who" = user ] && uid="$USER_UID"
    echo "# debian:bookworm as $who"
    is "$who: /etc/os-release is the image's" 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"' "$who" \
        "$RUN" "$DEB" sh -c 'grep ^PRETTY_NAME /etc/os-release'
    is "$who: id -u is the user's uid" "$uid" "$who" "$RUN" "$DEB" id -u
    is "$who: id -u is 0 with --remap-root" "0" "$who" "$RUN" --remap-root "$DEB" id -u
    is "$who: whoami names the user" "$( [ "$who" = user ] && echo lctest || echo root)" "$who" "$RUN" "$DEB" whoami
    is "$who: seccomp filter installed" "Seccomp:	2" "$who" "$RUN" "$DEB" grep '^Seccomp:' /proc/self/status
    is "$who: read-only root by default" "Read-only file system" "$who" \
        "$RUN" "$DEB" sh -c 'touch /etc/lc-x 2>&1 | sed "s/.*: //"'
    is "$who: --rw root is writable" "written" "$who" \
        "$RUN" --rw "$DEB" sh -c 'echo written >/etc/lc-x && cat /etc/lc-x'
    is "$who: writes are gone after exit" "absent" "$who" \
        "$RUN" --rw "$DEB" sh -c 'test -e /etc/lc-x && echo present || echo absent'
    is "$who: /tmp is writable in a read-only container" "tmp-ok" "$who" \
        "$RUN" "$DEB" sh -c 'echo tmp-ok >/tmp/f && cat /tmp/f'
    is "$who: host directory mounted read-only" "host-data Read-only file system" "$who" \
        "$RUN" -m "$WORK/hostdir:/data:ro" "$DEB" sh -c 'printf "%s " "$(cat /data/file)"; touch /data/x 2>&1 | sed "s/.*: //"'
    is "$who: host directory mounted read-write by default" "host-data" "$who" \
        "$RUN" -m "$WORK/hostdir:/mnt/deep/data" "$DEB" cat /mnt/deep/data/file
    is "$who: tmpfs mount" "tmpfs" "$who" "$RUN" -m tmpfs:/scratch "$DEB" stat -f -c %T /scratch
    is "$who: --workdir" "/usr/share" "$who" "$RUN" -w /usr/share "$DEB" pwd
    is "$who: --env overrides the image's Env" "/opt/bin" "$who" "$RUN" -e PATH=/opt/bin "$DEB" /bin/sh -c 'echo $PATH'
    is "$who: the image's Env is set" "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "$who" \
        "$RUN" "$DEB" /bin/sh -c 'echo $PATH'
    is "$who: host variables stay out unless named" "unset" "$who" \
        env LC_TEST_VAR=named "$RUN" "$DEB" sh -c 'echo ${LC_TEST_VAR:-unset}'
    is "$who: --env NAME takes the caller's value" "named" "$who" \
        env LC_TEST_VAR=named "$RUN" -e LC_TEST_VAR "$DEB" sh -c 'echo ${LC_TEST_VAR:-unset}'
    is "$who: devices" "crw-rw-rw- pts ptmx" "$who" \
        "$RUN" "$DEB" sh -c 'stat -c %A /dev/null | tr "\n" " "; ls /dev | grep -x pts | tr "\n" " "; ls /dev | grep -x ptmx'
    is "$who: /sys is read-only" "Read-only file system" "$who" \
        "$RUN" "$DEB" sh -c 'touch /sys/lc 2>&1 | sed "s/.*: //"'
    is "$who: exit status passes through" "3" "$who" sh -c "'$RUN' '$DEB' sh -c 'exit 3'; echo \$?"
    fails "$who: missing command is 127" 127 "nosuchcmd: command not found" "$who" "$RUN" "$DEB" nosuchcmd
    fails "$who: missing workdir" 126 "couldn't chdir to /nonexistent: No such file or directory" "$who" \
        "$RUN" -w /nonexistent "$DEB" true
    echo "# tiny as $who"
    is "$who: tiny's entrypoint prints its banner" "tiny-entrypoint: hello world" "$who" "$RUN" "$TINY"
    is "$who: entrypoint runs before the command" "tiny-entrypoint: hi" "$who" "$RUN" "$TINY" hi
    is "$who: --no-entrypoint" "hi" "$who" "$RUN" --no-entrypoint "$TINY" echo hi
    is "$who: the image's WorkingDir" "/work" "$who" "$RUN" --no-entrypoint "$TINY" pwd
done

echo "# the FUSE server serves every byte: each file of debian's /usr against an unpack on disk"
"$BUILD/tools/ctr-squash" load "$DEB" "$WORK/debian.unpacked" >/dev/null 2>&1
(cd "$WORK/debian.unpacked" && find usr -type f -print0 | sort -z | xargs -0 md5sum) >"$WORK/usr.md5"
"$RUN" "$DEB" sh -c 'cd / && find usr -type f -print0 | sort -z | xargs -0 md5sum' >"$WORK/usr.fuse.md5" 2>&1
check "every file of /usr reads the same inside ($(wc -l <"$WORK/usr.md5") files)" cmp -s "$WORK/usr.md5" "$WORK/usr.fuse.md5"
rm -rf "$WORK/debian.unpacked"

echo "# home, hostnames, namespaces"
is "user: --mount-home" "home-file $USER_HOME" user "$RUN" --mount-home "$DEB" sh -c 'printf "%s %s\n" "$(cat ~/lc-home-marker)" "$HOME"'
is "user: /etc/hosts is the host's" "$(md5sum </etc/hosts)" user "$RUN" "$DEB" sh -c 'md5sum </etc/hosts'
is "user: --unshare net has only lo, and it is up" "lo 0x9" user "$RUN" --unshare net "$DEB" sh -c 'echo $(ls /sys/class/net) $(cat /sys/class/net/lo/flags)'
is "user: host network by default" "$(ls /sys/class/net | sort | tr '\n' ' ')" user "$RUN" "$DEB" sh -c 'ls /sys/class/net | sort | tr "\n" " "'

echo "# dpkg -i as the unprivileged user (--rw --remap-root: the fake chown at work)"
pkg="$WORK/pkg"
mkdir -p "$pkg/DEBIAN" "$pkg/usr/share/lc-test"
printf 'Package: lc-test\nVersion: 1.0\nArchitecture: all\nMaintainer: lc <lc@example.org>\nDescription: test\n' >"$pkg/DEBIAN/control"
printf '#!/bin/sh\nchown root:root /usr/share/lc-test/data\nchown 5:5 /usr/share/lc-test/data\n' >"$pkg/DEBIAN/postinst"
chmod 755 "$pkg/DEBIAN/postinst"
echo payload >"$pkg/usr/share/lc-test/data"
dpkg-deb --root-owner-group --build "$pkg" "$WORK/lc-test.deb" >/dev/null
chmod 644 "$WORK/lc-test.deb"
is "user: dpkg -i of a .deb succeeds" "install ok installed payload" user \
    "$RUN" --rw --remap-root -m "$WORK/lc-test.deb:/lc-test.deb:ro" "$DEB" \
    sh -c 'dpkg -i /lc-test.deb >/dev/null 2>&1; dpkg-query -W -f="\${Status} " lc-test; cat /usr/share/lc-test/data'

echo "# hostile images and mount specs"
# hostile_image NAME LINK TARGET: busybox and one symbolic link, owned by the user
hostile_image() {
    local dir="$WORK/$1"
    mkdir -p "$dir/bin" "$(dirname "$dir/$2")"
    cp /bin/busybox "$dir/bin/busybox" && ln -sf busybox "$dir/bin/sh" && ln -s "$3" "$dir/$2"
    mksquashfs "$dir" "$WORK/$1.sqsh" -quiet -noappend -all-root >/dev/null
    chown lctest "$WORK/$1.sqsh"                           # user-owned: never kernel-mounted
}
hostile_image hostile-etc etc ../../../../../../etc         # /etc points out of the root
hostile_image hostile-mnt mnt/out ../../../../../../tmp/lc-evil   # a mount target points out
# files the runtime reads out of the image that would hang a reader: /etc/passwd a link to
# /dev/zero, /etc/group a FIFO (mksquashfs keeps both)
hang="$WORK/hostile-hang" && mkdir -p "$hang/bin" "$hang/etc"
cp /bin/busybox "$hang/bin/" && ln -s busybox "$hang/bin/sh" && ln -s /dev/zero "$hang/etc/passwd" &&
    mkfifo "$hang/etc/group" && mksquashfs "$hang" "$WORK/hostile-hang.sqsh" -quiet -noappend -all-root >/dev/null &&
    chown lctest "$WORK/hostile-hang.sqsh"
for who in root user; do
    t0=$(date +%s)
    is "$who: an image whose /etc/passwd is /dev/zero and /etc/group a FIFO starts, nothing read from them" \
        "ran" "$who" timeout 30 "$RUN" "$WORK/hostile-hang.sqsh" /bin/sh -c 'echo ran'
    check "... in seconds ($(( $(date +%s) - t0 )) s)" test $(( $(date +%s) - t0 )) -lt 10
done
host_etc="$(ls -la /etc | md5sum)"
loops_before="$(losetup -a | wc -l)"
for who in root user; do
    fails "$who: image whose /etc points out of the root" 125 "resolves outside the container's root filesystem" "$who" \
        "$RUN" "$WORK/hostile-etc.sqsh" /bin/sh -c true
    fails "$who: mount target that points out of the root" 125 "cannot mount '$WORK/hostdir' on '/mnt/out/x'" "$who" \
        "$RUN" -m "$WORK/hostdir:/mnt/out/x" "$WORK/hostile-mnt.sqsh" /bin/sh -c true
done
fails "user: mount spec with .." 125 "'..'" user "$RUN" -m "$WORK/hostdir:/../x" "$TINY" true
fails "user: missing mount source" 125 "source path does not exist: $WORK/nonexistent" user \
    "$RUN" -m "$WORK/nonexistent:/x" "$TINY" true
fails "user: a file that is not squashfs" 125 "is not a squashfs image" user "$RUN" "$WORK/lc-test.deb" true
check "host /etc unchanged" [ "$(ls -la /etc | md5sum)" = "$host_etc" ]
check "nothing created at /tmp/lc-evil" [ ! -e /tmp/lc-evil ]
check "no loop device used" [ "$(losetup -a | wc -l)" = "$loops_before" ]
# fuse_served: while the user's ctr-run runs, its holder serves the image from /dev/fuse and no
# squashfs is mounted by the kernel anywhere in its namespace
fuse_served() {
    local p fuse=no kernel=no
    as_user "$RUN" --no-entrypoint "$WORK/hostile-mnt.sqsh" /bin/busybox sleep 4 &
    # poll while it runs: a sanitized build on a loaded machine takes over a second to start
    for _ in $(seq 30); do
        sleep 0.1
        for p in $(pgrep -u lctest -f 'ctr-run --no-entrypoint'); do   # ctr-run and its holder
            ls -l "/proc/$p/fd" 2>/dev/null | grep -q 'fuse$' && fuse=yes
            grep -q ' - squashfs ' "/proc/$p/mountinfo" 2>/dev/null && kernel=yes
        done
        [ "$fuse" = yes ] && break
    done
    wait
    echo "fuse=$fuse kernel=$kernel"
    [ "$fuse" = yes ] && [ "$kernel" = no ]
}
check "user-owned image served over FUSE, never kernel-mounted" fuse_served

echo "# the kernel's squashfs driver, for trusted images only"
TRUSTED=/var/lib/lc-itest-images
rm -rf "$TRUSTED" && mkdir -m 0755 -p "$TRUSTED/group-writable" && chmod 0775 "$TRUSTED/group-writable"
cleanup_hooks+=("rm -rf '$TRUSTED'")
for f in debian.sqsh wide.sqsh user.sqsh group-writable/debian.sqsh; do cp "$DEB" "$TRUSTED/$f"; done
chmod 0644 "$TRUSTED"/*.sqsh "$TRUSTED"/*/*.sqsh && chmod 0666 "$TRUSTED/wide.sqsh" && chown lctest "$TRUSTED/user.sqsh"
ln -s debian.sqsh "$TRUSTED/link.sqsh"
mkdir -p "$WORK/sync" && chmod 0777 "$WORK/sync"
loops_of() { grep -lx "$1" /sys/block/loop*/loop/backing_file 2>/dev/null | wc -l; }
# served WHO IMAGE [CTR-RUN ARGS...]: how the image was served ("kernel", "fuse: <why>"), the
# loop devices on it while the container runs, and 5 s after it ended
served() {
    local who="$1" img="$2" during after how; shift 2
    rm -f "$WORK/sync/up"
    out "$who" "$RUN" -v -m "$WORK/sync:/sync" "$@" "$img" sh -c 'touch /sync/up; sleep 1' >"$WORK/served.log" &
    for _ in $(seq 50); do [ -e "$WORK/sync/up" ] && break; sleep 0.1; done
    during="$(loops_of "$(readlink -f "$img")")"
    wait
    for _ in $(seq 50); do after="$(loops_of "$(readlink -f "$img")")"; [ "$after" = 0 ] && break; sleep 0.1; done
    if grep -q "mounted by the kernel's squashfs driver" "$WORK/served.log"; then how=kernel
    else how="fuse: $(sed -n 's/.*(\(.*\)), served over FUSE/\1/p; s/.*: \(writable container\), served over FUSE/\1/p' "$WORK/served.log" | head -1)"; fi
    echo "$how, loops $during then $after"
}
is "root: a trusted image runs" 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"' root "$RUN" "$TRUSTED/debian.sqsh" grep ^PRETTY_NAME /etc/os-release
is "root: a trusted image goes to the kernel's driver, one loop device, gone after" "kernel, loops 1 then 0" root served root "$TRUSTED/debian.sqsh"
is "root: the image's root owns its files" "0:0" root "$RUN" "$TRUSTED/debian.sqsh" stat -c %u:%g /usr/bin/env
is "root: --no-kernel-squashfs" "fuse: , loops 0 then 0" root served root "$TRUSTED/debian.sqsh" --no-kernel-squashfs
is "root: a writable container" "fuse: writable container, loops 0 then 0" root served root "$TRUSTED/debian.sqsh" --rw
is "root: an image under /tmp" "fuse: a directory above it is not root's alone, loops 0 then 0" root served root "$DEB"
is "root: an image others may write" "fuse: it is not root's alone, loops 0 then 0" root served root "$TRUSTED/wide.sqsh"
is "root: an image the user owns" "fuse: it is not root's alone, loops 0 then 0" root served root "$TRUSTED/user.sqsh"
is "root: in a group-writable directory" "fuse: a directory above it is not root's alone, loops 0 then 0" root served root "$TRUSTED/group-writable/debian.sqsh"
is "root: through a symbolic link" "fuse: its path has a symbolic link, loops 0 then 0" root served root "$TRUSTED/link.sqsh"
is "user: never the kernel's driver" "fuse: only root may use the kernel's squashfs driver, loops 0 then 0" root served user "$TRUSTED/debian.sqsh"

echo "# one container, many processes; start/stop cycles"
is "two processes join one container and share /tmp" "from-a
from-b
join: first process exit 0, second exit 0" user sh -c "'$CTEST' join '$TINY' | sort"
mounts_before="$(md5sum </proc/mounts)"
procs_before="$(pgrep -u lctest | wc -l)"
is "user: 100 create/spawn/free cycles leave no fd, mount or child" \
    "cycles: 100 done, fds unchanged, mounts unchanged, children left none" user "$CTEST" cycles "$TINY" 100
for i in $(seq 1 100); do as_user "$RUN" "$TINY" true >/dev/null 2>&1 || break; done
check "user: 100 ctr-run cycles succeed" [ "$i" = 100 ]
check "host mounts unchanged after the cycles" [ "$(md5sum </proc/mounts)" = "$mounts_before" ]
check "no process of the user left" [ "$(pgrep -u lctest | wc -l)" = "$procs_before" ]

finish
