#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Jobs over several nodes: ../shared/slurm's multi-node mode (SLURM_NODES=2; each node has its own
# network, hostname, /run, /tmp and /dev/shm; /var/tmp and homes are shared). As an unprivileged
# user: one container per node, MPI across nodes through PMIx (Open MPI's client, mpi4py and C) and
# PMI-2, the PMIx server's directory of each node bound in that node's container.
# usage: spank-multinode.sh BUILD_DIR SOURCE_DIR (TAP; see spank-lib.sh)
# shellcheck source=spank-lib.sh
. "$(dirname "$0")/spank-lib.sh"
spank_setup
"$SHARED/registry/make-images.sh" --mpi >"$WORK/mpi-images.log" 2>&1 || { tail -20 "$WORK/mpi-images.log"; exit 1; }
MPI="--container-image=$REG/debian:bookworm-mpi"
# the job's directory on the cluster's shared filesystem: a node's /tmp is its own
JOB_DIR="$(mktemp -d /var/tmp/lc-itest-job-XXXXXX)"
cleanup_hooks+=("rm -rf '$JOB_DIR'")
cp -a "$WORK/job/." "$JOB_DIR/" && chmod 1777 "$JOB_DIR" && rm -rf "$WORK/job" && ln -s "$JOB_DIR" "$WORK/job"
slurm_up SLURM_NODES=2
NODES=(node1 node2)
# is_sorted DESCRIPTION EXPECTED SRUN-ARGS...: the job's stdout, its lines sorted, is EXPECTED
is_sorted() {
    local d="$1" want="$2" got; shift 2
    got="$(usrun "$@" 2>"$WORK/err" | sort)"
    if [ "$got" = "$want" ]; then ok "$d"; else not_ok "$d (want '$want', got '$got'; $(tail -3 "$WORK/err"))"; fi
}

mpi_programs "$JOB_DIR"
JOBMNT="--container-mounts=$JOB_DIR:/job"

echo "# one container per node"
is_sorted "-N2: every node runs the task in the image" "node1 bookworm
node2 bookworm" -N 2 "$DEB" sh -c 'echo "$(hostname) $(. /etc/os-release; echo $VERSION_CODENAME)"' 
out="$(usrun -N 2 -n 4 "$DEB" sh -c 'echo "$(hostname) $(readlink /proc/self/ns/mnt)"' 2>/dev/null | sort -u)"
check "-N2 -n4: one container (one mount namespace) per node ($out)" \
    test "$(printf '%s\n' "$out" | awk '{print $1}' | tr '\n' ' ')" = "node1 node2 "

echo "# MPI across nodes"
mpi_check "pmix, -N2 -n4: mpi4py allreduce, every rank checks" 4 --mpi=pmix -N 2 -n 4 "$MPI" "$JOBMNT" python3 /job/allreduce.py
out="$(usrun -n 1 "$MPI" "$JOBMNT" mpicc -o /job/allreduce /job/allreduce.c 2>&1)"
check "the C program compiles in the container ($out)" test -x "$JOB_DIR/allreduce"
mpi_check "pmix, -N2 -n4: the C allreduce" 4 --mpi=pmix -N 2 -n 4 "$MPI" "$JOBMNT" /job/allreduce
# the nodes' spool directories are outside /tmp here: only the bind shows them
is_sorted "pmix, -N2: each node's PMIX_SERVER_TMPDIR is bound in its container" "node1 ok
node2 ok" --mpi=pmix -N 2 "$MPI" sh -c 'ls "$PMIX_SERVER_TMPDIR" | grep -q pmix_dstor && echo "$(hostname) ok"'
mpi_check "pmi2, -N2 -n4: put, fence, get through PMI_FD" 4 --mpi=pmi2 -N 2 -n 4 "$MPI" "$JOBMNT" python3 /job/pmi2.py

echo "# nothing left on any node"
node_clean() {
    local n
    for n in "${NODES[@]}"; do
        [ -z "$("$SLURM_SH/node.sh" "$n" ls -A "$RUNTIME/$USER_UID" 2>/dev/null)" ] || return 1
    done
    [ -z "$(user_procs)" ]
}
check "no process of the user, no runtime state on either node" wait_for node_clean

finish
