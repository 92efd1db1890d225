#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Slurm plugin through a real Slurm, as an unprivileged user: Slurm's own plugins around the
# container (proctrack/cgroup kills
# what a step leaves in its cgroup; job_container/tmpfs gives the job a private /tmp).
# usage: spank-slurm-plugins.sh BUILD_DIR SOURCE_DIR (TAP; see spank-lib.sh)
# shellcheck source=spank-lib.sh
. "$(dirname "$0")/spank-lib.sh"
spank_setup
echo "# proctrack/cgroup: Slurm kills what a step leaves in its cgroup, the holder too"
slurm_up SLURM_CGROUP=1
CGDIR="$WORK/cg"; rm -rf "$CGDIR"; mkdir -p "$CGDIR"; chmod 777 "$CGDIR"
is "steps run in cgroups of their own (seen from the host)" "in a step cgroup" sh -c 'grep -q /step_ /proc/self/cgroup && echo in a step cgroup'
(usrun "$TORCH" --container-name=cg --container-mounts="$CGDIR:/cg" sh -c 'touch /cg/up; sleep 1; echo creator-done' \
    >"$WORK/cg1.out" 2>&1; date +%s >"$CGDIR/creator.end") &
wait_for test -e "$CGDIR/up"
start="$(date +%s)"
out="$(usrun --container-name=cg sh -c 'sleep 4; head -1 /bin/entry.sh' 2>&1)"
wait
check "a step that joined a container reads its image after the creating step's tasks are done ($out)" grep -qx '#!/bin/sh' <<<"$out"
check "... the creating step ran ($(cat "$WORK/cg1.out"))" grep -qx creator-done "$WORK/cg1.out"
check "... and ended only after it (the holder lived on: $(( $(cat "$CGDIR/creator.end") - start )) s)" \
    test "$(( $(cat "$CGDIR/creator.end") - start ))" -ge 4
# enroot's 10-cgroups: the step's cgroup (one level above a task's), read-only, at the cgroup
# mount point; every task of the step sees every task's cgroup there
if [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ]; then
    out="$(usrun -n 2 "$DEB" sh -c 'cd /sys/fs/cgroup/memory && echo $(ls -d task_*) $(touch x 2>/dev/null || echo read-only)' 2>"$WORK/err" | sort -u)"
    check "10-cgroups: the step's memory cgroup, with task_0 and task_1, read-only ($out)" test "$out" = "task_0 task_1 read-only"
else
    out="$(usrun -n 2 "$DEB" sh -c 'cd /sys/fs/cgroup && echo $(ls -d task_* 2>/dev/null || ls -d */ | head -3) $(touch x 2>/dev/null || echo read-only)' 2>"$WORK/err" | sort -u)"
    check "10-cgroups: the step's cgroup at /sys/fs/cgroup, read-only ($out)" grep -q "read-only" <<<"$out"
fi
check "no leftovers (processes)" wait_for test -z "$(user_procs)"
rm -rf "${RUNTIME:?}/$USER_UID"/pyxis_*

echo "# job_container/tmpfs: the job's private /tmp"
# a job sees nothing of the host's /tmp, where this checkout (and its ctr-import) may be: the
# image is a file outside it
DEB_FILE=/var/tmp/lc-itest-deb.sqsh
cleanup_hooks+=("rm -f '$DEB_FILE'")
"$BUILD/tools/ctr-import" -q --allow-http --cache "$WORK/cache" -f -o "$DEB_FILE" "$REG/debian:bookworm" >/dev/null &&
    chmod 644 "$DEB_FILE" || not_ok "cannot import $DEB_FILE"
DEB="--container-image=$DEB_FILE"
slurm_up SLURM_JOB_CONTAINER_TMPFS=1
out="$(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$SLURM_CONF" timeout 120 salloc -n1 sh -c \
    "srun $DEB sh -c 'echo step1 >/tmp/lc-job-file' && srun $DEB cat /tmp/lc-job-file" 2>"$WORK/err")"
check "a later step of the job sees the file (got '$out'; $(tail -2 "$WORK/err"))" test "$out" = step1
check "the host does not" test ! -e /tmp/lc-job-file
is "another job does not" "absent" "$DEB" sh -c 'test -e /tmp/lc-job-file && echo present || echo absent'
check "no leftovers" no_leftovers

finish
