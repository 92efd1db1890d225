#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# MPI for real through the Slurm plugin, as an unprivileged user: `srun --mpi=pmix` with Open MPI
# 4.1.4 (its PMIx client) in debian:bookworm-mpi (make-images.sh --mpi): an allreduce in mpi4py
# and in a C program compiled in the test, every rank checking the result; `--mpi=pmi2` with a
# PMI-2 client speaking the wire protocol over PMI_FD (put, fence, get of another rank's key).
# One container per node for -n 4.
# usage: spank-mpi.sh BUILD_DIR SOURCE_DIR (TAP; see spank-lib.sh)
# shellcheck source=spank-lib.sh
. "$(dirname "$0")/spank-lib.sh"
spank_setup
"$SHARED/registry/make-images.sh" --mpi >"$WORK/mpi-images.log" 2>&1 || { tail -20 "$WORK/mpi-images.log"; exit 1; }
MPI="--container-image=$REG/debian:bookworm-mpi"
slurm_up

mpi_programs "$WORK/job"
JOBMNT="--container-mounts=$WORK/job:/job"

echo "# --mpi=pmix: Open MPI's PMIx client reaches Slurm's PMIx server from the container"
mpi_check "pmix, -n 4: mpi4py allreduce, every rank checks" 4 --mpi=pmix -n 4 "$MPI" "$JOBMNT" python3 /job/allreduce.py
out="$(usrun -n 1 "$MPI" "$JOBMNT" mpicc -o /job/allreduce /job/allreduce.c 2>&1)"
check "the C program compiles in the container ($out)" test -x "$WORK/job/allreduce"
mpi_check "pmix, -n 4: the C allreduce" 4 --mpi=pmix -n 4 "$MPI" "$JOBMNT" /job/allreduce
is "pmix: the server's variables reach the tasks" "ok" --mpi=pmix -n 1 "$MPI" sh -c \
    '[ -n "$PMIX_NAMESPACE" ] && [ -n "$PMIX_SERVER_TMPDIR" ] && env | grep -q "^PMIX_SERVER_URI[0-9]*=" && echo ok'

# enroot's 50-slurm-pmi: the server's directory (SlurmdSpoolDir/pmix.JOB.STEP) and 22.05's client
# directory bound at their own paths (own mount points, also where /tmp is the host's), the
# client's names for the server's settings. (gds=ds21 itself fails in this sandbox even without a
# container: Slurm 22.05's server with PMIx 4.2.2 answers NOT-SUPPORTED; the bind is what enroot's
# hook gives it.)
is "pmix: PMIX_SERVER_TMPDIR and spmix_appdir are mount points in the container" "ok" \
    --mpi=pmix -n 1 "$MPI" sh -c 'd="${PMIX_SERVER_TMPDIR%/}"; a="/tmp/spmix_appdir_$(id -u)_${SLURM_JOB_ID}.${SLURM_STEP_ID}";
        grep -q " $d " /proc/self/mountinfo && grep -q " $a " /proc/self/mountinfo && ls "$d" | grep -q pmix_dstor_ds21 && echo ok'
is "pmix: PMIX_MCA_gds/psec from PMIX_GDS_MODULE/PMIX_SECURITY_MODE" "ok" --mpi=pmix -n 1 "$MPI" sh -c \
    '[ -n "$PMIX_GDS_MODULE" ] && [ "$PMIX_MCA_gds" = "$PMIX_GDS_MODULE" ] && [ "$PMIX_MCA_psec" = "$PMIX_SECURITY_MODE" ] && echo ok'
EXTRA_ENV=(PMIX_MCA_gds=hash)
is "pmix: a PMIX_MCA_gds of the job wins" "hash" --mpi=pmix -n 1 "$MPI" sh -c 'echo $PMIX_MCA_gds'
EXTRA_ENV=()
is "pmi2: no PMIx directory, no PMIx names" "none" --mpi=pmi2 -n 1 "$MPI" sh -c \
    'grep -q pmix /proc/self/mountinfo || [ -n "${PMIX_MCA_gds:-}" ] || echo none'

echo "# --mpi=pmi2: PMI_FD reaches the tasks"
mpi_check "pmi2, -n 4: put, fence, get through PMI_FD" 4 --mpi=pmi2 -n 4 "$MPI" "$JOBMNT" python3 /job/pmi2.py
no_leftovers && ok "nothing left behind" || not_ok "leftovers"

finish
