#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Slurm plugin through a real Slurm, as an unprivileged user: the image's entrypoint
# (--container-entrypoint, its log, its
# environment and working directory, once per node, its failures, execute_entrypoint).
# usage: spank-entrypoint.sh BUILD_DIR SOURCE_DIR (TAP; see spank-lib.sh)
# shellcheck source=spank-lib.sh
. "$(dirname "$0")/spank-lib.sh"
spank_setup
cleanup_hooks+=("rm -f /tmp/lc-itest-entry")
slurm_up

echo "# the image's entrypoint"
is "not run by default (execute_entrypoint=0)" "unset" "$TORCH" sh -c 'echo ${FROM_ENTRYPOINT:-unset}'
is "--container-entrypoint: its environment reaches the task" "yes" "$TORCH" --container-entrypoint sh -c 'echo $FROM_ENTRYPOINT'
check "... and its output is not shown" test "$(grep -c 'TORCH ENTRYPOINT' "$WORK/err")" = 0
out="$(usrun "$TORCH" --container-entrypoint --container-entrypoint-log true 2>&1)"
check "--container-entrypoint-log shows its output" grep -qx '== TORCH ENTRYPOINT ==' <<<"$out"
is "PYXIS_CONTAINER_ENTRYPOINT=1" "yes" "$TORCH" --export=ALL,PYXIS_CONTAINER_ENTRYPOINT=1 sh -c 'echo $FROM_ENTRYPOINT'
is "its working directory becomes the tasks'" "/etc" "$TORCH" --container-entrypoint --export=ALL,ENTRY_CD=/etc --container-env=ENTRY_CD pwd
is "--container-workdir wins over it" "/bin" "$TORCH" --container-entrypoint --export=ALL,ENTRY_CD=/etc --container-env=ENTRY_CD --container-workdir=/bin pwd
is "job variables not in --container-env do not reach it" "yes" "$TORCH" --container-entrypoint --export=ALL,ENTRY_FAIL=3 sh -c 'echo $FROM_ENTRYPOINT'
rm -f /tmp/lc-itest-entry
usrun -n 4 "$TORCH" --container-entrypoint --export=ALL,ENTRY_MARK=/tmp/lc-itest-entry --container-env=ENTRY_MARK \
    sh -c 'echo $FROM_ENTRYPOINT' >"$WORK/n4.out" 2>"$WORK/n4.err"
check "srun -n 4: every task has its environment" test "$(grep -cx yes "$WORK/n4.out")" = 4
check "srun -n 4: it ran once on the node" test "$(grep -c ran /tmp/lc-itest-entry)" = 1
out="$(usrun -n 2 "$TORCH" --container-entrypoint --export=ALL,ENTRY_FAIL=3 --container-env=ENTRY_FAIL true 2>&1)"; rc=$?
check "a failing entrypoint fails the step (rc=$rc)" test "$rc" != 0
check "... with its exit code" grep -q "container start failed with error code: 3" <<<"$out"
check "... and its output" grep -q "entrypoint failing on purpose" <<<"$out"
check "... the other task is told" grep -q "container was not started successfully by another task" <<<"$out"
refused "an entrypoint that does not run the command" "container exited too soon" "$TORCH" --container-entrypoint \
    --export=ALL,ENTRY_NOEXEC=1 --container-env=ENTRY_NOEXEC
is "an image without an Entrypoint: nothing to run" "/ unset" "$DEB" --container-entrypoint sh -c 'echo $PWD ${FROM_ENTRYPOINT:-unset}'
check "no leftovers" no_leftovers

echo "# execute_entrypoint=1: the plugstack's default"
slurm_up SPANK_ARGS="import_helper=$BUILD/tools/ctr-import allow_http=$REG runtime_path=$RUNTIME execute_entrypoint=1"
is "execute_entrypoint=1 runs the entrypoint by default" "yes" "$TORCH" sh -c 'echo $FROM_ENTRYPOINT'
is "--no-container-entrypoint wins over it" "unset" "$TORCH" --no-container-entrypoint sh -c 'echo ${FROM_ENTRYPOINT:-unset}'
check "no leftovers" no_leftovers

finish
