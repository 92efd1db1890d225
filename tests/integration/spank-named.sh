#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Slurm plugin through a real Slurm, as an unprivileged user: named containers (--container-
# name and its flags, reuse, joining
# a running one, a running unnamed step as JOBID.STEPID, races, kill -9, container_scope=job and
# the job epilog, 50 steps on one name).
# usage: spank-named.sh BUILD_DIR SOURCE_DIR (TAP; see spank-lib.sh)
# shellcheck source=spank-lib.sh
. "$(dirname "$0")/spank-lib.sh"
spank_setup
spank_torch_file
slurm_up

echo "# named containers (--container-name)"
NAMED="$RUNTIME/$USER_UID/pyxis_n1"
nslog() { grep -c "$1" "$SLURM_SANDBOX/log/slurmd.log"; }
imports="$(manifest_requests torchlike)"
is "create: a new named container, writable" "created" "$TORCH" --container-name=n1:create --container-writable \
    sh -c 'echo one >/workspace/state && echo created'
check "... its directory is the user's, 0700, with the image and the writable layer, no unpacked copy" \
    test "$(stat -c '%U %a' "$NAMED")" = "lctest 700" -a -f "$NAMED/image.sqsh" -a -f "$NAMED/upper/workspace/state" \
    -a ! -e "$NAMED/upper/bin"
reuses="$(nslog 'reusing existing container filesystem: pyxis_n1')"
is "a later job reuses its filesystem, without an image" "one" --container-name=n1 cat /workspace/state
check "... (slurmd's log says so)" test "$(nslog 'reusing existing container filesystem: pyxis_n1')" = $((reuses + 1))
is "... with the image's environment and workdir" "2.9.0 /workspace" --container-name=n1 --no-container-entrypoint sh -c 'echo $PYTORCH_VERSION $(pwd)'
is "... also when --container-image is given (not imported again)" "one" "$TORCH" --container-name=n1 cat /workspace/state
check "... one import in all" test "$(manifest_requests torchlike)" = $((imports + 1))
is "writes persist from job to job" "one two" --container-name=n1 --container-writable sh -c 'echo two >>/workspace/state; echo $(cat /workspace/state)'
is "read-only by default" "ro" --container-name=n1 sh -c 'touch /workspace/x 2>/dev/null || echo ro'
is "PYXIS_CONTAINER_NAME" "one two" --export=ALL,PYXIS_CONTAINER_NAME=n1 sh -c 'echo $(cat /workspace/state)'
refused "create when it exists" '"create" flag was passed to --container-name but the container already exists' --container-name=n1:create
refused "exec when it is not running" '"exec" flag was passed to --container-name but the container is not running' --container-name=n1:exec
refused "a name that does not exist, without an image" 'a container with name "pyxis_nope" does not exist, and --container-image is not set' --container-name=nope
check "... and leaves nothing behind" test ! -e "$RUNTIME/$USER_UID/pyxis_nope"
refused "an empty name" "--container-name: empty name" --container-name=:create
refused "an unknown flag" '--container-name: flag must be "auto", "create", "exec" or "no_exec"' --container-name=n1:bogus
refused "a name with '/'" "--container-name: invalid name 'a/b'" --container-name=a/b
refused "two different names" "--container-name: specified multiple times" --container-name=a --container-name=b
refused "--container-cache with a name" "--container-cache cannot be used with --container-name" "$TORCH" --container-cache --container-name=n1
is "a squashfs file as the image: copied into the named container" "#!/bin/sh" --container-image="$TORCH_FILE" --container-name=fromfile sh -c 'head -1 /bin/entry.sh'
check "... a copy, the user's" test "$(stat -c %U "$RUNTIME/$USER_UID/pyxis_fromfile/image.sqsh")" = lctest
check "no leftovers (processes)" wait_for test -z "$(user_procs)"

echo "# named containers: joining a running one"
usrun --container-name=n1 --container-writable sh -c 'readlink /proc/self/ns/mnt >/workspace/ns; while [ ! -e /workspace/stop ]; do sleep 0.1; done; echo first-done' >"$WORK/first.out" 2>&1 &
first=$!
check "the running container listens on its socket" wait_for test -S "$NAMED/sock"
wait_for test -s "$NAMED/upper/workspace/ns"
is "auto joins it: the same namespaces" "joined" --container-name=n1 sh -c '[ "$(readlink /proc/self/ns/mnt)" = "$(cat /workspace/ns)" ] && echo joined'
check "... (slurmd's log says so)" grep -q "reusing existing container namespaces: pyxis_n1" "$SLURM_SANDBOX/log/slurmd.log"
is "exec joins it" "joined" --container-name=n1:exec sh -c '[ "$(readlink /proc/self/ns/mnt)" = "$(cat /workspace/ns)" ] && echo joined'
is "no_exec starts a separate instance on the same filesystem" "separate one two" --container-name=n1:no_exec \
    sh -c '[ "$(readlink /proc/self/ns/mnt)" != "$(cat /workspace/ns)" ] && echo separate $(cat /workspace/state)'
check "... whose work directory is gone after it" wait_for test -z "$(ls -d "$NAMED"/work.* 2>/dev/null)"
refused "create while it runs" '"create" flag was passed to --container-name but the container already exists' --container-name=n1:create
refused "--container-unshare=net it does not have" "--container-unshare=net requested but the container is not in a separate network namespace" \
    --container-name=n1 --container-unshare=net
out="$(usrun --container-name=n1 --container-mounts="$WORK/hostdir:/mnt/h" sh -c 'test -e /mnt/h/file && echo mounted || echo not-mounted' 2>&1)"
check "--container-mounts is ignored when joining, with pyxis's message ($out)" \
    grep -q "ignoring --container-mounts when attaching to a running container" <<<"$out"
check "... and not applied" grep -qx not-mounted <<<"$out"
out="$(usrun --container-name=n1 --container-writable sh -c 'touch /workspace/stop; while kill -0 '"$first"' 2>/dev/null; do sleep 0.1; done; sleep 1; head -1 /bin/entry.sh' 2>&1)"
wait "$first"
check "the creating job ends first ($(cat "$WORK/first.out"))" grep -qx first-done "$WORK/first.out"
check "... the joined job still reads the image after it ($out)" grep -qx '#!/bin/sh' <<<"$out"
check "when the last job that joined ends, the instance ends and its socket goes" wait_for test ! -e "$NAMED/sock"
is "then a new job starts it again" "one two" --container-name=n1 sh -c 'echo $(cat /workspace/state)'

echo "# an unnamed running step, joined as JOBID.STEPID"
JSDIR="$WORK/js"; rm -rf "$JSDIR"; mkdir -p "$JSDIR"; chmod 777 "$JSDIR"
usrun --container-image="$TORCH_FILE" --container-writable --container-mounts="$JSDIR:/js" sh -c \
    'echo mine >/workspace/unnamed; readlink /proc/self/ns/mnt >/js/ns.tmp; echo $SLURM_JOB_ID.$SLURM_STEP_ID >/js/id; mv /js/ns.tmp /js/ns
     while [ ! -e /js/stop ]; do sleep 0.1; done; echo unnamed-done' >"$WORK/unnamed.out" 2>&1 &
unnamed=$!
wait_for test -s "$JSDIR/ns"
JS_ID="$(cat "$JSDIR/id")" UNNAMED="$RUNTIME/$USER_UID/pyxis_$(cat "$JSDIR/id")"
check "an unnamed step serves its name pyxis_JOBID.STEPID: no copy of the image, no writable layer on disk" \
    test -S "$UNNAMED/sock" -a ! -e "$UNNAMED/image.sqsh" -a ! -e "$UNNAMED/upper"
is "--container-name=JOBID.STEPID joins it: its namespaces, its writes, its image's environment" "joined mine 2.9.0" \
    --container-name="$JS_ID" sh -c '[ "$(readlink /proc/self/ns/mnt)" = "$(cat /js/ns)" ] && echo joined $(cat /workspace/unnamed) $PYTORCH_VERSION'
is "... with :exec too, and its writes are the step's" "mine ours" --container-name="$JS_ID:exec" sh -c 'echo ours >>/workspace/unnamed; echo $(cat /workspace/unnamed)'
touch "$JSDIR/stop"; wait "$unnamed"
check "the step ends as it would alone ($(cat "$WORK/unnamed.out"))" grep -qx unnamed-done "$WORK/unnamed.out"
check "... and its name goes with it" wait_for test ! -e "$UNNAMED"
refused "... so it cannot be joined any more" "a container with name \"pyxis_$JS_ID\" does not exist, and --container-image is not set" \
    --container-name="$JS_ID"
check "... (and that left nothing)" test ! -e "$UNNAMED"
cat >"$WORK/job/like-a-step.sh" <<EOF
#!/bin/sh
srun --container-image=$TORCH_FILE --container-name=\$SLURM_JOB_ID.1 --container-writable sh -c 'echo kept >/workspace/like-a-step'
srun --container-image=$TORCH_FILE sh -c "echo unnamed-ran"
srun --container-name=\$SLURM_JOB_ID.1 cat /workspace/like-a-step
EOF
jobid="$(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$SLURM_CONF" sbatch --parsable -o like-a-step.out like-a-step.sh)"
for _ in $(seq 150); do [ -z "$(squeue -h -j "$jobid" 2>/dev/null)" ] && break; sleep 0.2; done
check "a container the user named like a step (JOBID.1) survives step JOBID.1 ($(tr '\n' ' ' <"$WORK/job/like-a-step.out"))" \
    grep -qx kept "$WORK/job/like-a-step.out"
check "... which ran" grep -qx unnamed-ran "$WORK/job/like-a-step.out"
check "... and the job's epilog (the job has left squeue)" test -f "$RUNTIME/$USER_UID/pyxis_$jobid.1/upper/workspace/like-a-step"
rm -rf "$RUNTIME/$USER_UID/pyxis_$jobid.1"

echo "# named containers: two jobs at once, kill -9"
rm -f "$WORK/race."*
for i in 1 2; do usrun "$TORCH" --container-name=race:create true >"$WORK/race.$i" 2>&1 & done; wait
check "two jobs creating one name at once: one wins" test "$(grep -lc 'already exists' "$WORK"/race.* | wc -l)" = 1
check "... the other is told so" grep -q '"create" flag was passed to --container-name but the container already exists' "$WORK"/race.*
for i in 1 2; do usrun "$TORCH" --container-name=race2 --container-writable sh -c "echo $i >>/workspace/r" >"$WORK/race.$i" 2>&1 & done; wait
is "... two jobs with auto: both run, on one filesystem" "2" --container-name=race2 sh -c 'cat /workspace/r | wc -l'
usrun --container-name=k9 "$TORCH" --container-writable sh -c 'echo alive >/workspace/k; sleep 300' >/dev/null 2>&1 &
wait_for test -S "$RUNTIME/$USER_UID/pyxis_k9/sock"
wait_for test -s "$RUNTIME/$USER_UID/pyxis_k9/upper/workspace/k"
pkill -9 -f 'slurmstepd: \[[0-9]+\.0\]' ; pkill -9 -u lctest -x sleep
scancel -u lctest; wait # srun would wait for its killed step until its timeout
is "kill -9 of the job holding a named container: the next job still works" "alive" --container-name=k9 cat /workspace/k
usrun --container-name=k9 sh -c 'sleep 300' >/dev/null 2>&1 &
wait_for test -S "$RUNTIME/$USER_UID/pyxis_k9/sock"
ps -u lctest -o pid=,args= >"$WORK/k9.ps"
pkill -9 -u lctest -f '^slurmstepd'
is "kill -9 of the container's holder: the next job starts a new instance" "alive" --container-name=k9 cat /workspace/k
pkill -9 -U 0 -f 'slurmstepd: \[[0-9]+\.0\]'; pkill -9 -u lctest -x sleep; scancel -u lctest; wait
check "no leftovers (processes)" wait_for test -z "$(user_procs)"

echo "# named containers: container_scope=job, the job epilog, 50 steps of one job"
slurm_up SPANK_ARGS="import_helper=$BUILD/tools/ctr-import allow_http=$REG runtime_path=$RUNTIME container_scope=job"
cat >"$WORK/job/scope.sh" <<EOF
#!/bin/sh
srun --container-image=$REG/torchlike:latest --container-name=js --container-writable sh -c 'echo kept >/workspace/j'
srun --container-name=js cat /workspace/j
srun --container-name=js sleep 300
echo end
EOF
cat >"$WORK/job/scope-unnamed.sh" <<EOF
#!/bin/sh
srun --container-image=$REG/torchlike:latest --container-writable sh -c 'echo from-step-0 >/workspace/u; sleep 300' &
while [ ! -S "$RUNTIME/$USER_UID/pyxis_\${SLURM_JOB_ID}_\$SLURM_JOB_ID.0/sock" ]; do sleep 0.1; done
srun --overlap --container-name=\$SLURM_JOB_ID.0 cat /workspace/u
kill \$!
EOF
jobid="$(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$SLURM_CONF" sbatch --parsable -o scope.out scope.sh)"
JS="$RUNTIME/$USER_UID/pyxis_${jobid}_js"
check "container_scope=job: the job's name is pyxis_<jobid>_NAME" wait_for test -S "$JS/sock"
sleep 1
pkill -9 -u lctest -f '^slurmstepd'; scancel -s KILL "$jobid.2"
for _ in $(seq 150); do [ -z "$(squeue -h -j "$jobid" 2>/dev/null)" ] && break; sleep 0.2; done
check "... steps of the job share it" grep -qx kept "$WORK/job/scope.out"
check "the job epilog removes it, also after kill -9 of the step that held it" wait_for test ! -e "$JS"
check "... and leaves global names alone" test -f "$RUNTIME/$USER_UID/pyxis_n1/image.sqsh"
(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$SLURM_CONF" timeout 120 sbatch --wait -o scope-unnamed.out scope-unnamed.sh >/dev/null 2>&1)
check "container_scope=job: a later step of the job joins step 0 as --container-name=JOBID.0 ($(tr '\n' ' ' <"$WORK/job/scope-unnamed.out"))" \
    grep -qx from-step-0 "$WORK/job/scope-unnamed.out"
cat >"$WORK/job/fifty.sh" <<EOF
#!/bin/bash
for i in \$(seq 50); do
    srun --overlap -n1 --container-image=$REG/torchlike:latest --container-name=c50 --container-writable \\
        sh -c "echo \$i >/workspace/c50.\$i; sleep 1" >/dev/null 2>"fifty.err.\$i" || echo "step \$i failed" &
done
wait
srun --overlap --container-name=c50 sh -c 'ls /workspace | grep -c c50'
EOF
rm -f "$WORK/job/fifty.err."*
(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$SLURM_CONF" timeout 300 sbatch --wait -o fifty.out fifty.sh >/dev/null 2>&1)
check "50 overlapping steps of one job on one named container: all succeed ($(grep -c failed "$WORK/job/fifty.out") failed; $(cat "$WORK/job/fifty.err."* | grep -v 'importing\|imported' | sort | uniq -c | head -3))" \
    test "$(tail -1 "$WORK/job/fifty.out")" = 50
check "... one import for them all" test "$(cat "$WORK/job/fifty.err."* | grep -c 'importing docker image')" = 1
check "no leftovers (processes)" wait_for test -z "$(user_procs)"
rm -rf "${RUNTIME:?}/$USER_UID"/pyxis_*
check "no leftovers" no_leftovers

finish
