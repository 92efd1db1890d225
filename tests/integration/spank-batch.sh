#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Slurm plugin through a real Slurm, as an unprivileged user: sbatch and salloc (a
# containerized batch script, --wrap, salloc ... srun).
# usage: spank-batch.sh BUILD_DIR SOURCE_DIR (TAP; see spank-lib.sh)
# shellcheck source=spank-lib.sh
. "$(dirname "$0")/spank-lib.sh"
spank_setup
slurm_up

echo "# sbatch and salloc"
cat >"$WORK/job/batch.sh" <<'EOF'
#!/bin/sh
#SBATCH --container-image=127.0.0.1:5000\#torchlike:latest
#SBATCH --container-env=BATCH_VAR
echo "$PYTORCH_VERSION $(id -u) $BATCH_VAR"
test -e /bin/entry.sh && echo in-image
head -2 "$0" | tail -1
touch "$0" 2>/dev/null && echo script-writable || echo script-read-only
EOF
chmod 644 "$WORK/job/batch.sh"
(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$SLURM_CONF" BATCH_VAR=from-host timeout 120 \
    sbatch --wait -o "$WORK/job/batch.out" batch.sh >/dev/null 2>&1)
check "#SBATCH --container-image (REGISTRY\\#IMAGE): the batch script runs in the image, as the user" \
    grep -qx "2.9.0 $USER_UID from-host" "$WORK/job/batch.out"
check "... with the import's messages in its output, as pyxis" grep -q "importing docker image: 127.0.0.1:5000#torchlike:latest" "$WORK/job/batch.out"
check "... with the image's files" grep -qx in-image "$WORK/job/batch.out"
check "... the script is there, read-only, at its own path" \
    test "$(tail -2 "$WORK/job/batch.out" | tr '\n' ' ')" = '#SBATCH --container-image=127.0.0.1:5000\#torchlike:latest script-read-only '
out="$(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$SLURM_CONF" timeout 120 sbatch --wait -o wrap.out \
    "$TORCH" --wrap 'echo $PYTORCH_VERSION' >/dev/null 2>&1; grep -v '^libcontainer:' wrap.out)"
check "sbatch --container-image on the command line, --wrap ($out)" test "$out" = 2.9.0
out="$(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$SLURM_CONF" timeout 120 salloc -n1 "$TORCH" \
    srun sh -c 'echo $PYTORCH_VERSION' 2>/dev/null)"
check "salloc --container-image ... srun: the step runs in the image ($out)" test "$out" = 2.9.0
out="$(cd "$WORK/job" && runuser -u lctest -- env SLURM_CONF="$SLURM_CONF" timeout 120 sbatch --wait -o plain.out \
    --wrap 'test -e /bin/entry.sh && echo image || echo host' >/dev/null 2>&1; cat plain.out)"
check "sbatch without container flags: the host ($out)" test "$out" = host
check "no leftovers" no_leftovers

finish
