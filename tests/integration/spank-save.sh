#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Slurm plugin through a real Slurm, as an unprivileged user: --container-save (the container's
# filesystem as a squashfs file, as
# the user, atomically; refusals; the file on a second cluster).
# usage: spank-save.sh BUILD_DIR SOURCE_DIR (TAP; see spank-lib.sh)
# shellcheck source=spank-lib.sh
. "$(dirname "$0")/spank-lib.sh"
spank_setup
slurm_up

echo "# --container-save: the container's filesystem as a squashfs file"
SAVED="$WORK/job/torch-saved.sqsh"
rm -f "$SAVED"
is "a writable job that saves" "written" "$TORCH" --container-writable --container-remap-root --container-save=./torch-saved.sqsh \
    --container-mounts="$WORK/hostdir:/data" sh -c 'echo saved-data >/workspace/new-file; echo written'
check "the file is there when srun returns, the user's" test "$(stat -c %U "$SAVED" 2>/dev/null)" = lctest
check "slurmd's log says so" grep -q "exported container [0-9]*\.[0-9]* to $SAVED in" "$SLURM_SANDBOX/log/slurmd.log"
"$BUILD/tools/ctr-squash" list "$SAVED" >"$WORK/saved.list" 2>&1
check "the saved files are root's (enroot export -all-root)" awk '$2 != "0/0" { exit 1 }' "$WORK/saved.list"
check "a mount's content is not saved, its mount point is" grep -Eq ' /data$' "$WORK/saved.list"
check "... (no /data/file)" not_grep ' /data/file$' "$WORK/saved.list"
is "a new job from the saved file sees the write" "saved-data" --container-image=./torch-saved.sqsh cat /workspace/new-file
is "... the image's env and WorkingDir travel with it" "2.9.0 /workspace" --container-image="$SAVED" sh -c 'echo $PYTORCH_VERSION $PWD'
is "... and its entrypoint" "yes" --container-image="$SAVED" --container-entrypoint sh -c 'echo $FROM_ENTRYPOINT'
is "PYXIS_CONTAINER_SAVE, over an existing file, ENROOT_SQUASH_OPTIONS" "again" "$TORCH" --container-writable \
    --export=ALL,PYXIS_CONTAINER_SAVE="$SAVED",ENROOT_SQUASH_OPTIONS="-b 131072" sh -c 'echo again >/workspace/new-file; echo again'
is "the file was replaced" "again" --container-image="$SAVED" cat /workspace/new-file
check "... with ENROOT_SQUASH_OPTIONS's block size" grep -q "Block size 131072" <(unsquashfs -s "$SAVED" 2>&1)
mkdir -p "$WORK/job/adir" && echo keep >"$WORK/job/adir/keep" && chmod -R a+rwX "$WORK/job/adir"
usrun "$TORCH" --container-save=adir true >/dev/null 2>&1
check "an existing directory as target: refused" grep -q "failed to export container [0-9.]*: $WORK/job/adir: target is a directory" "$SLURM_SANDBOX/log/slurmd.log"
check "... and the directory is untouched" test "$(cat "$WORK/job/adir/keep")" = keep
ln -sfn /etc "$WORK/job/etc-link"
usrun "$TORCH" --container-save=etc-link/lc-itest.sqsh true >/dev/null 2>&1
check "a save where the user cannot write (through their link to /etc) fails as the user" \
    grep -q "failed to export container [0-9.]*: create a temporary file beside 'lc-itest.sqsh': Permission denied" "$SLURM_SANDBOX/log/slurmd.log"
check "... and writes nothing there" test -z "$(ls -A /etc | grep lc-itest)"
OTHER=/var/tmp/lc-itest-other # a second cluster: its own Slurm, runtime path and plugin config
other_exports="$(env SLURM_SANDBOX="$OTHER" SLURM_CTLD_PORT=6827 SLURMD_PORT=6828 SPANK_PLUGIN="$PLUGIN" \
    SPANK_ARGS="import_helper=$BUILD/tools/ctr-import runtime_path=/run/lc-itest-other" \
    "$SLURM_SH/up.sh" 2>"$WORK/other-up.log")" || cat "$WORK/other-up.log"
cleanup_hooks+=("SLURM_SANDBOX='$OTHER' '$SLURM_SH/down.sh' >/dev/null 2>&1")
other_conf="$(eval "$other_exports"; echo "$SLURM_CONF")"
got="$(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$other_conf" timeout 120 srun --container-image="$SAVED" \
    --container-entrypoint sh -c 'echo $(cat /workspace/new-file) $PYTORCH_VERSION $FROM_ENTRYPOINT $PWD' 2>&1)"
check "the saved file on another cluster: files, env, entrypoint, workdir ($got)" test "$got" = "again 2.9.0 yes /workspace"
SLURM_SANDBOX="$OTHER" "$SLURM_SH/down.sh" >/dev/null 2>&1
check "no temporary file left beside the targets" test -z "$(find "$WORK/job" -name '.*.sqsh.*')"
check "no leftovers" no_leftovers

finish
