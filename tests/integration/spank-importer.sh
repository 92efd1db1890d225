#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Slurm plugin through a real Slurm, as an unprivileged user: a site's importer (plugstack
# importer=PATH, pyxis's protocol).
# usage: spank-importer.sh BUILD_DIR SOURCE_DIR (TAP; see spank-lib.sh)
# shellcheck source=spank-lib.sh
. "$(dirname "$0")/spank-lib.sh"
spank_setup
spank_torch_file

echo "# the admin's importer (importer=PATH, pyxis's protocol)"
IMPORTER="$WORK/importer.sh" IMPORTER_LOG="$WORK/importer.log"
cat >"$IMPORTER" <<EOF
#!/bin/sh
echo "\$(id -u) \$* \$PYXIS_RUNTIME_PATH \$PYXIS_VERSION \$SLURM_JOB_UID \$SLURM_JOB_GID \$SLURM_JOB_ID.\$SLURM_STEP_ID" >>"$IMPORTER_LOG"
out="\$PYXIS_RUNTIME_PATH/\$SLURM_JOB_UID/importer-\$SLURM_JOB_ID.\$SLURM_STEP_ID.sqsh"
case "\$1" in
get)
    [ -n "\$IMPORTER_FAIL" ] && { echo "importer broke on purpose" >&2; exit 3; }
    [ -n "\$IMPORTER_EMPTY" ] && exit 0
    echo "importing \$2" >&2
    "$BUILD/tools/ctr-import" -q --allow-http --cache "\$HOME/.cache/lc-importer" -o "\$out" "\${2#docker://}" >&2 || exit 1
    echo "\$out" ;;
release) rm -f "\$out" ;;
esac
EOF
chmod 755 "$IMPORTER" && : >"$IMPORTER_LOG" && chmod 666 "$IMPORTER_LOG"
slurm_up SPANK_ARGS="import_helper=$BUILD/tools/ctr-import allow_http=$REG runtime_path=$RUNTIME importer=$IMPORTER container_cache_data_path=$CACHE_BASE"
is "a job whose image comes from the importer" "2.9.0" "$TORCH" sh -c 'echo $PYTORCH_VERSION'
step="$(awk '$2 == "get" { s = $NF } END { print s }' "$IMPORTER_LOG")"
check "called as the user: get docker://REF, with PYXIS_RUNTIME_PATH, PYXIS_VERSION and the job's ids" \
    grep -qx "$USER_UID get docker://$REG/torchlike:latest $RUNTIME [0-9.]* $USER_UID $(id -g lctest) $step" "$IMPORTER_LOG"
check "release is called twice (after the start, at the end)" test "$(grep -c "^$USER_UID release .* $step\$" "$IMPORTER_LOG")" = 2
check "its file is gone" test ! -e "$RUNTIME/$USER_UID/importer-$step.sqsh"
refused "a failing importer" "failed to import docker image: $REG/torchlike:latest (importer: $IMPORTER)" "$TORCH" --export=ALL,IMPORTER_FAIL=1
check "... its stderr is shown" grep -q "importer broke on purpose" <(usrun "$TORCH" --export=ALL,IMPORTER_FAIL=1 true 2>&1)
refused "an importer that prints no path" "failed to import docker image: $REG/torchlike:latest (importer: $IMPORTER)" "$TORCH" --export=ALL,IMPORTER_EMPTY=1
gets="$(grep -c ' get ' "$IMPORTER_LOG")"
is "a squashfs file does not go through the importer" "2.9.0" --container-image="$TORCH_FILE" sh -c 'echo $PYTORCH_VERSION'
check "... (no call)" test "$(grep -c ' get ' "$IMPORTER_LOG")" = "$gets"
refused "--container-cache with an importer" "--container-cache cannot be used on this cluster: its importer" "$TORCH" --container-cache
check "no leftovers" no_leftovers

finish
