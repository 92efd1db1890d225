#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Slurm plugin through a real Slurm, as an unprivileged user: the node cache (--container-
# cache: refusals, cold and warm, the
# registry unreachable, locks, moved tags, killed and concurrent fills, two users, the GC
# between watermarks, a job's marks and its epilog).
# usage: spank-cache.sh BUILD_DIR SOURCE_DIR (TAP; see spank-lib.sh)
# shellcheck source=spank-lib.sh
. "$(dirname "$0")/spank-lib.sh"
spank_setup
slurm_up

echo "# the node cache: --container-cache"
refused "--container-cache without an image" "--container-cache requires --container-image" --container-cache
refused "--container-cache with a squashfs file" "--container-cache requires a registry image, not a squashfs file" \
    --container-image=./x.sqsh --container-cache
refused "--container-cache with --container-writable" "--container-cache cannot be used with --container-writable" \
    "$TORCH" --container-cache --container-writable
refused "--container-cache with --container-save" "--container-cache cannot be used with --container-save" \
    "$TORCH" --container-cache --container-save=x.sqsh
is "cold: the job runs, read-only" "$USER_UID ro" "$TORCH" --container-cache sh -c 'echo $(id -u) $(touch /x 2>/dev/null && echo rw || echo ro)'
check "cold: the image is imported" grep -q "importing docker image: $REG/torchlike:latest" "$WORK/err"
check "the user's directory: mode 700, the user's" test "$(stat -c %a:%U "$CACHE_BASE/$USER_UID")" = 700:lctest
entries() { find "$CACHE_BASE/$1" -mindepth 1 -maxdepth 1 -name "pyxis_cache_*" | sort; }
entry1="$(entries "$USER_UID")"
check "one entry pyxis_cache_u<uid>_<hash> with the image and its lock" \
    test "$(wc -l <<<"$entry1")" = 1 -a -f "$entry1/image.sqsh" -a -f "$entry1/.pyxis_cache_lock"
check "the entry's name" grep -Eq "/pyxis_cache_u${USER_UID}_[0-9a-f]{32}$" <<<"$entry1"
check "no temporary directory left" test -z "$(find "$CACHE_BASE/$USER_UID" -maxdepth 1 -name '.pyxis_cache_tmp_*')"
mtime1="$(stat -c %Y "$entry1")"; sleep 1.1
m0="$(manifest_requests torchlike)" b0="$(blob_requests torchlike)"
is "warm: the job runs from the entry" "yes" "$TORCH" --container-cache sh -c 'echo yes'
check "warm: no import" not_grep "importing docker image" "$WORK/err"
check "warm: one manifest request, no blob request" test "$(( $(manifest_requests torchlike) - m0 )):$(( $(blob_requests torchlike) - b0 ))" = 1:0
check "warm: the use touched the entry" test "$(stat -c %Y "$entry1")" -gt "$mtime1"
check "warm: still one entry" test "$(entries "$USER_UID")" = "$entry1"
is "PYXIS_CONTAINER_CACHE=1 enables it" "yes" "$TORCH" --export=ALL,PYXIS_CONTAINER_CACHE=1 sh -c 'echo yes'
check "... warm" not_grep "importing docker image" "$WORK/err"
"$SHARED/registry/down.sh" >/dev/null 2>&1
is "registry unreachable: the digest resolved last time (container_cache_offline=1)" "yes" "$TORCH" --container-cache sh -c 'echo yes'
check "... says so" grep -q "libcontainer: the registry is unreachable" "$WORK/err"
refused "registry unreachable, an image never resolved here" "failed to import docker image: $REG/never:x" \
    --container-image="$REG/never:x" --container-cache
"$SHARED/registry/up.sh" plain >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log"; exit 1; }
usrun "$TORCH" --container-cache sh -c 'touch /tmp/lc-itest-cache-up; sleep 2' >/dev/null 2>&1 &
for _ in $(seq 100); do [ -e /tmp/lc-itest-cache-up ] && break; sleep 0.1; done
check "a running job holds its entry's lock (shared)" not_cmd flock -n -x "$entry1/.pyxis_cache_lock" true
check "... others may share it" flock -n -s "$entry1/.pyxis_cache_lock" true
wait; rm -f /tmp/lc-itest-cache-up
check "... and it is free after the job" flock -n -x "$entry1/.pyxis_cache_lock" true
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false "docker://$REG/tiny:latest" "docker://$REG/lc-moving:latest"
usrun --container-image="$REG/lc-moving:latest" --container-cache true >/dev/null 2>&1
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false "docker://$REG/torchlike:latest" "docker://$REG/lc-moving:latest"
is "after the tag moved, the job runs the new image" "2.9.0" --container-image="$REG/lc-moving:latest" --container-cache sh -c 'echo $PYTORCH_VERSION'
check "... from a new entry" test "$(entries "$USER_UID" | wc -l)" = 3

echo "# a killed fill, then two jobs filling one entry at once"
usrun "$DEB" --container-cache true >/dev/null 2>&1 &
for _ in $(seq 100); do pgrep -u lctest -f "ctr-import.*--node-cache" >/dev/null && ! pgrep -u lctest -f -- "--lookup" >/dev/null && break; sleep 0.05; done
scancel "$(squeue -h -u lctest -o %i | head -1)"; wait
check "a killed fill leaves no entry" test "$(entries "$USER_UID" | wc -l)" = 3
b0="$(grep -n . "$ACCESS_LOG" | tail -1 | cut -d: -f1)"
usrun "$DEB" --container-cache cat /etc/debian_version >"$WORK/c1.out" 2>&1 &
usrun "$DEB" --container-cache cat /etc/debian_version >"$WORK/c2.out" 2>&1 &
wait
check "both jobs ran" test "$(cat "$WORK/c1.out" "$WORK/c2.out" | grep -c '^12\.')" = 2
check "one entry more" test "$(entries "$USER_UID" | wc -l)" = 4
check "no blob was fetched twice (one import)" test -z "$(tail -n +"$((b0 + 1))" "$ACCESS_LOG" | grep -o '"GET /v2/debian/blobs/[^ ]*' | sort | uniq -d)"

echo "# a second user"
RUN_AS=lctest2 is "lctest2: runs from the cache" "$USER2_UID" "$TORCH" --container-cache id -u
check "lctest2 has an entry of its own" grep -Eq "/pyxis_cache_u${USER2_UID}_[0-9a-f]{32}$" <<<"$(entries "$USER2_UID")"
check "... in a directory of its own" test "$(stat -c %a:%U "$CACHE_BASE/$USER2_UID")" = 700:lctest2
check "lctest2 cannot read lctest's cache" not_cmd runuser -u lctest2 -- ls "$CACHE_BASE/$USER_UID"
check "no leftovers" no_leftovers

echo "# cache GC: 64 MB filesystem, high watermark 60%, low 40%"
GC_BASE=/var/lib/lc-itest-gc # the node cache on a small filesystem, for its GC
while mountpoint -q "$GC_BASE"; do umount -l "$GC_BASE"; done # left by a killed run
mkdir -p "$GC_BASE" && mount -t tmpfs -o size=64m,mode=0755 lc-itest-gc "$GC_BASE"
# lazily if busy (a job's process may still be ending): never leave the mount behind
cleanup_hooks+=("umount '$GC_BASE' 2>/dev/null || umount -l '$GC_BASE'; rmdir '$GC_BASE'")
slurm_up SPANK_ARGS="import_helper=$BUILD/tools/ctr-import allow_http=$REG runtime_path=$RUNTIME container_cache_data_path=$GC_BASE container_cache_gc_high=60 container_cache_gc_low=40"
used() { df --output=pcent "$GC_BASE" | tail -1 | tr -dc 0-9; }
# fake_entry UID NAME MB AGE: an entry of MB megabytes last used AGE ago
fake_entry() {
    local d="$GC_BASE/$1/pyxis_cache_u$1_$2"
    mkdir -p "$d" && head -c $(( $3 << 20 )) /dev/urandom >"$d/image.sqsh" && touch "$d/.pyxis_cache_lock"
    chown -R "$1" "$GC_BASE/$1" && chmod 700 "$GC_BASE/$1" && touch -d "$4 ago" "$d"
}
has() { test -d "$GC_BASE/$1/pyxis_cache_u$1_$2"; }
fake_entry "$USER_UID" a 8 "5 days"; fake_entry "$USER2_UID" b 8 "4 days"
fake_entry "$USER_UID" c 8 "3 days"; fake_entry "$USER2_UID" d 8 "1 day"
check "below the high watermark ($(used)%)" test "$(used)" -lt 60
SYNC=/var/tmp/lc-itest-sync # a directory the jobs and the test share
rm -rf "$SYNC" && mkdir -m 1777 "$SYNC" && cleanup_hooks+=("rm -rf '$SYNC'")
RUN_AS=lctest2 usrun "$TORCH" --container-cache --container-mounts="$SYNC:/sync" sh -c 'touch /sync/gc-up; sleep 60' >/dev/null 2>&1 &
for _ in $(seq 150); do [ -e "$SYNC/gc-up" ] && break; sleep 0.1; done
check "a job of lctest2 runs from the cache" test -e "$SYNC/gc-up"
busy="$(find "$GC_BASE/$USER2_UID" -maxdepth 1 -name 'pyxis_cache_*' -newer "$GC_BASE/$USER2_UID/pyxis_cache_u${USER2_UID}_d")"
check "a cold job below the watermark evicts nothing" has "$USER_UID" a
touch -d "6 days ago" "$busy"                    # the least recently used, but in use
fake_entry "$USER_UID" e 8 "2 days"
mkdir -p "$GC_BASE/$USER_UID/.pyxis_cache_tmp_dead.x" "$GC_BASE/$USER_UID/.pyxis_cache_tmp_live.x"
touch "$GC_BASE/$USER_UID/.pyxis_cache_tmp_dead.x/.pyxis_cache_lock" "$GC_BASE/$USER_UID/.pyxis_cache_tmp_live.x/.pyxis_cache_lock"
flock -x "$GC_BASE/$USER_UID/.pyxis_cache_tmp_live.x/.pyxis_cache_lock" sleep 8 &
sleep 0.2
check "above the high watermark ($(used)%)" test "$(used)" -ge 60
usrun --container-image="$REG/tiny:latest" --container-cache --no-container-entrypoint true >/dev/null 2>"$WORK/err"
check "a cold job above it runs ($(tail -2 "$WORK/err"))" test $? = 0
check "the GC took the filesystem under the low watermark, plus the new entry ($(used)%)" test "$(used)" -lt 45
check "least recently used first, of both users: a evicted" not_cmd has "$USER_UID" a
check "... b evicted" not_cmd has "$USER2_UID" b
check "... c evicted" not_cmd has "$USER_UID" c
check "... and no more: d and e kept" has "$USER2_UID" d
check "... e kept" has "$USER_UID" e
check "the entry in use was not evicted" test -d "$busy"
check "a dead fill was removed" test ! -e "$GC_BASE/$USER_UID/.pyxis_cache_tmp_dead.x"
check "a live fill was kept" test -d "$GC_BASE/$USER_UID/.pyxis_cache_tmp_live.x"
check "slurmd's log has the GC line" grep -q "cache GC: ran, .* evicted 3, in use 1, dead fills removed 1" "$SLURM_SANDBOX/log/slurmd.log"
scancel -u lctest2; wait
fake_entry "$USER_UID" f 12 "7 days"; fake_entry "$USER2_UID" g 12 "7 days"
exec {gc_lock}>"$GC_BASE/pyxis-container-cache-gc.lock" && flock -x "$gc_lock" # another GC runs
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false "docker://$REG/tiny:latest" "docker://$REG/lc-gc2:latest"
RUN_AS=lctest2 usrun --container-image="$REG/lc-gc2:latest" --container-cache --no-container-entrypoint true >/dev/null 2>"$WORK/err"
check "with another GC running, a cold job runs ($(used)%; $(tail -2 "$WORK/err"))" test $? = 0
check "... and does not run a second GC" has "$USER_UID" f
check "... (its log says so)" grep -q "cache GC: another GC is running" "$SLURM_SANDBOX/log/slurmd.log"
exec {gc_lock}>&-; wait

echo "# cache: a job holds its entries between steps; its epilog lets them go"
BOOT="$(cat /proc/sys/kernel/random/boot_id)"
for img in lc-held lc-gc3 lc-gc4; do
    skopeo copy -q --src-tls-verify=false --dest-tls-verify=false "docker://$REG/tiny:latest" "docker://$REG/$img:latest"
done
rm -f "$SYNC/held-"*
cat >"$WORK/job/held.sh" <<EOF
#!/bin/sh
srun --container-image=$REG/lc-held:latest --container-cache --no-container-entrypoint true
touch $SYNC/held-up
while [ ! -e $SYNC/held-go ]; do sleep 0.1; done
echo held-end
EOF
jobid="$(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$SLURM_CONF" sbatch --parsable -o held.out held.sh)"
wait_for test -e "$SYNC/held-up" || wait_for test -e "$SYNC/held-up"
HELD_NAME="$(ls "$GC_BASE/.jobs/$BOOT/$jobid" 2>/dev/null)" HELD="$GC_BASE/$USER_UID/$(ls "$GC_BASE/.jobs/$BOOT/$jobid" 2>/dev/null)"
check "a job marks the entry it used: BASE/.jobs/<boot_id>/<jobid>/<entry>, root's ($HELD_NAME)" \
    test -d "$HELD" -a "$(stat -c %U "$GC_BASE/.jobs/$BOOT/$jobid/$HELD_NAME" 2>/dev/null)" = root -a "$(stat -c %a "$GC_BASE/.jobs")" = 700
check "... between its steps no lock holds the entry" flock -xn "$HELD/.pyxis_cache_lock" true
touch -d "30 days ago" "$HELD"                           # the least recently used of all
mkdir -p "$GC_BASE/.jobs/00000000-0000-0000-0000-000000000000/77"
fake_entry "$USER_UID" stale 4 "20 days"
touch "$GC_BASE/.jobs/00000000-0000-0000-0000-000000000000/77/pyxis_cache_u${USER_UID}_stale"
U1="$GC_BASE/$USER_UID" H0=0123456789abcdef0123456789abcdef H1=fedcba9876543210fedcba9876543210
printf '%s' "pyxis_cache_u${USER_UID}_gone" >"$U1/.pyxis_cache_ref_$H0"
printf '%s' "$HELD_NAME" >"$U1/.pyxis_cache_ref_$H1"
touch "$U1/.pyxis_cache_fill_$H0.lock" && chown lctest "$U1"/.pyxis_cache_ref_* "$U1/.pyxis_cache_fill_$H0.lock"
i=0; while [ "$(used)" -lt 62 ]; do fake_entry "$USER2_UID" "fill$i" 4 "1 hour"; i=$((i + 1)); done
RUN_AS=lctest2 usrun --container-image="$REG/lc-gc3:latest" --container-cache --no-container-entrypoint true >/dev/null 2>"$WORK/err"
check "a GC between the job's steps ran ($(used)%; $(tail -1 "$WORK/err"))" test "$(used)" -lt 45
check "... and kept the job's entry, the least recently used: its mark holds it" test -d "$HELD"
check "an earlier boot's mark holds nothing: its entry was evicted" not_cmd has "$USER_UID" stale
check "... and the stale marks are gone" test ! -e "$GC_BASE/.jobs/00000000-0000-0000-0000-000000000000"
check "a reference record of an entry that is gone was removed" test ! -e "$U1/.pyxis_cache_ref_$H0"
check "... one of an entry that is there kept" test -f "$U1/.pyxis_cache_ref_$H1"
check "a fill lock of an entry that is gone was removed" test ! -e "$U1/.pyxis_cache_fill_$H0.lock"
check "slurmd's log counts them" grep -q "cache GC: ran, .* stale records removed 2" "$SLURM_SANDBOX/log/slurmd.log"
ls --full-time "$SYNC" >&2; touch "$SYNC/held-go"
for _ in $(seq 150); do [ -z "$(squeue -h -j "$jobid" 2>/dev/null)" ] && break; sleep 0.2; done
check "the job ended ($(cat "$WORK/job/held.out"))" grep -qx held-end "$WORK/job/held.out"
check "its epilog removed its marks" wait_for test ! -e "$GC_BASE/.jobs/$BOOT/$jobid"
i=0; while [ "$(used)" -lt 62 ]; do fake_entry "$USER2_UID" "more$i" 4 "1 hour"; i=$((i + 1)); done
RUN_AS=lctest2 usrun --container-image="$REG/lc-gc4:latest" --container-cache --no-container-entrypoint true >/dev/null 2>"$WORK/err"
check "then the next GC evicts the entry ($(used)%)" test ! -e "$HELD"
check "no leftovers" no_leftovers

finish
