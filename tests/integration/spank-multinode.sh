#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Jobs over several nodes: ../shared/slurm's multi-node mode (SLURM_NODES=3; each node has its own
# network, hostname, /run, /tmp and /dev/shm; /var/tmp and homes are shared). As an unprivileged
# user: one container per node, PyTorch's variables and a TCP rendezvous across nodes, MPI across
# nodes through PMIx (Open MPI's client, mpi4py and C) and PMI-2, the PMIx server's directory of
# each node bound in that node's container; one import per job (steps reuse it; with
# shared_import_path one node imports for all, counted in the registry's access log, the
# waiting node says whom it waits for, and when the importing node dies another takes over);
# --container-save written by one node; the node cache per node, its GC too; nothing left on
# any node.
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
slurm_up SLURM_NODES=3
NODES=(node1 node2 node3)
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
node2 bookworm" -N 2 -w node1,node2 "$DEB" sh -c 'echo "$(hostname) $(. /etc/os-release; echo $VERSION_CODENAME)"' 
out="$(usrun -N 2 -n 4 -w node1,node2 "$DEB" sh -c 'echo "$(hostname) $(readlink /proc/self/ns/mnt)"' 2>/dev/null | sort -u)"
check "-N2 -n4: one container (one mount namespace) per node ($out)" \
    test "$(printf '%s\n' "$out" | awk '{print $1}' | tr '\n' ' ')" = "node1 node2 "

is_sorted "-N3: every node" "node1 bookworm
node2 bookworm
node3 bookworm" -N 3 "$DEB" sh -c 'echo "$(hostname) $(. /etc/os-release; echo $VERSION_CODENAME)"'

echo "# PyTorch's variables across nodes: rank 0 serves MASTER_ADDR:MASTER_PORT, the others connect"
cat >"$JOB_DIR/rendezvous.py" <<'EOF'
import os, socket, time
rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
addr, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
me = "%s:%s:%s" % (rank, os.environ["LOCAL_RANK"], socket.gethostname())
if rank == 0:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(size)
    s.settimeout(60)
    heard = [me]
    while len(heard) < size:
        c, _ = s.accept()
        heard.append(c.recv(100).decode())
        c.close()
    print("rank 0 heard " + " ".join(sorted(heard)))
else:
    for _ in range(600):
        try:
            c = socket.create_connection((addr, port), timeout=5)
            break
        except OSError:
            time.sleep(0.1)
    c.sendall(me.encode())
    c.close()
EOF
chmod 644 "$JOB_DIR/rendezvous.py"
out="$(usrun -N 2 -w node1,node2 --ntasks-per-node=2 --export=ALL,PYTORCH_VERSION=2.9.0 "$MPI" "$JOBMNT" \
    sh -c 'echo "vars $RANK $LOCAL_RANK $WORLD_SIZE $MASTER_ADDR $MASTER_PORT"; python3 /job/rendezvous.py' 2>"$WORK/err" | sort)"
check "-N2 --ntasks-per-node=2: RANK, LOCAL_RANK per node, WORLD_SIZE 4, MASTER_ADDR node1, one MASTER_PORT ($out; $(tail -2 "$WORK/err"))" \
    test "$(grep '^vars' <<<"$out" | awk '{print $2, $3, $4, $5}' | tr '\n' ' ')" = "0 0 4 node1 1 1 4 node1 2 0 4 node1 3 1 4 node1 " \
    -a "$(grep '^vars' <<<"$out" | awk '{print $6}' | sort -u | wc -l)" = 1
check "... rank 0 on node1 heard every rank from both nodes over TCP" \
    test "$(grep '^rank 0' <<<"$out")" = "rank 0 heard 0:0:node1 1:1:node1 2:0:node2 3:1:node2"

echo "# one import per job"
b0="$(blob_requests debian)"
usrun -N 1 "$DEB" true 2>/dev/null
blobs=$(( $(blob_requests debian) - b0 ))
check "a job's step imports: its blobs ($blobs requests)" test "$blobs" -ge 2
m0="$(manifest_requests debian)" b0="$(blob_requests debian)"
usbatch --wait -N 1 -o "$JOB_DIR/steps.out" -e "$JOB_DIR/steps.err" \
    --wrap "srun $DEB true && srun $DEB true && srun $DEB cat /etc/debian_version" >/dev/null
check "three steps of a job: one import (one log line)" test "$(grep -c 'importing docker image' "$JOB_DIR/steps.err")" = 1
check "... the later steps start from it: $blobs blob requests in all, one manifest request per later step" \
    test "$(( $(blob_requests debian) - b0 )):$(( $(manifest_requests debian) - m0 ))" = "$blobs:4"
check "... and run the image" grep -q '^12' "$JOB_DIR/steps.out"
b0="$(blob_requests debian)"
usrun -N 3 "$DEB" true 2>/dev/null
pernode=$(( $(blob_requests debian) - b0 ))
check "-N3 without a shared import directory: each node imports ($pernode = 3 x $blobs blob requests)" \
    test "$pernode" = $(( 3 * blobs ))

echo "# --container-save on a shared filesystem: one node writes it"
SAVED="$JOB_DIR/saved.sqsh"
usrun -N 2 -w node1,node2 --container-save="$SAVED" --container-writable "$DEB" sh -c 'hostname > /etc/saved-by' 2>"$WORK/err"
check "-N2 --container-save: the file, written once ($(cat "$SLURM_SANDBOX"/log/slurmd-node*.log | grep -c "exported container .* to $SAVED"))" \
    test -f "$SAVED" -a "$(cat "$SLURM_SANDBOX"/log/slurmd-node*.log | grep -c "exported container .* to $SAVED")" = 1
is_sorted "... the first node's container, which a job on another node starts from" "node1" \
    -w node3 --container-image="$SAVED" cat /etc/saved-by

echo "# MPI across nodes"
mpi_check "pmix, -N2 -n4: mpi4py allreduce, every rank checks" 4 --mpi=pmix -N 2 -n 4 "$MPI" "$JOBMNT" python3 /job/allreduce.py
out="$(usrun -n 1 "$MPI" "$JOBMNT" mpicc -o /job/allreduce /job/allreduce.c 2>&1)"
check "the C program compiles in the container ($out)" test -x "$JOB_DIR/allreduce"
mpi_check "pmix, -N2 -n4: the C allreduce" 4 --mpi=pmix -N 2 -n 4 "$MPI" "$JOBMNT" /job/allreduce
# the nodes' spool directories are outside /tmp here: only the bind shows them
is_sorted "pmix, -N2: each node's PMIX_SERVER_TMPDIR is bound in its container" "node1 ok
node2 ok" --mpi=pmix -N 2 -w node1,node2 "$MPI" sh -c 'ls "$PMIX_SERVER_TMPDIR" | grep -q pmix_dstor && echo "$(hostname) ok"'
mpi_check "pmi2, -N2 -n4: put, fence, get through PMI_FD" 4 --mpi=pmi2 -N 2 -n 4 "$MPI" "$JOBMNT" python3 /job/pmi2.py

echo "# one import per job across nodes: shared_import_path"
SHARED_IMPORT="$(mktemp -d /var/tmp/lc-itest-shared-XXXXXX)" && chmod 755 "$SHARED_IMPORT"
cleanup_hooks+=("rm -rf '$SHARED_IMPORT'")
slurm_up SLURM_NODES=3 SPANK_ARGS="import_helper=$BUILD/tools/ctr-import allow_http=$REG runtime_path=$RUNTIME shared_import_path=$SHARED_IMPORT container_scope=job"
b0="$(blob_requests debian)"
is_sorted "-N3, cold: every node runs the image" "node1
node2
node3" -N 3 "$DEB" hostname
check "... imported once for the job: $blobs blob requests, not $pernode" test "$(( $(blob_requests debian) - b0 ))" = "$blobs"
shared_empty() { [ -z "$(ls -A "$SHARED_IMPORT/$USER_UID" 2>/dev/null)" ]; }
for _ in $(seq 100); do shared_empty && break; sleep 0.3; done
check "... the job's imports leave the shared directory with the job ($(ls -A "$SHARED_IMPORT/$USER_UID" 2>&1 | tr '\n' ' '))" \
    shared_empty
echo "# the importing node dies: a waiting node takes over, nothing half-written is used"
# the importer is the helper that holds a fill's temporary entry; it is frozen, then killed
importer_pid() {
    local pid
    for pid in $(pgrep -u lctest -f 'ctr-import.*--node-cache'); do
        ls -l "/proc/$pid/fd" 2>/dev/null | grep -q '\.pyxis_cache_tmp_' && { echo "$pid"; return 0; }
    done
    return 1
}
b0="$(blob_requests debian)"
usbatch --wait -N 2 -w node1,node2 -o "$JOB_DIR/takeover.out" -e "$JOB_DIR/takeover.err" --wrap \
    "srun -N 2 -l $DEB hostname; echo \"first step: \$?\"; srun -N 2 $DEB hostname" >/dev/null &
sbatch_pid=$!
victim=""
for _ in $(seq 3000); do victim="$(importer_pid)" && break; sleep 0.01; done
victim_node=""
if [ -n "$victim" ]; then
    kill -STOP "$victim"
    victim_node="$(nsenter -t "$victim" -u hostname)"
    waiter="$(pgrep -u lctest -f 'ctr-import.*--node-cache' | grep -vx "$victim" | head -1)"
    # while it is frozen, the other node's step says whom it waits for (live, not at the end)
    for _ in $(seq 100); do grep -q "waiting for $victim_node to import" "$JOB_DIR/takeover.err" && break; sleep 0.1; done
    waiting_said="$(grep -m1 "waiting for $victim_node to import" "$JOB_DIR/takeover.err")"
    kill -KILL "$victim"
fi
wait "$sbatch_pid"
check "an importing helper was caught and killed on $victim_node (another node's was waiting: ${waiter:-none})" \
    test -n "$victim_node" -a -n "$waiter"
check "... while it was frozen, the waiting node's log said so (${waiting_said:-nothing})" \
    grep -Eq "^([0-9]+: )?libcontainer: waiting for $victim_node to import $REG/debian:bookworm\$" <<<"$waiting_said"
survivor=node1 && [ "$victim_node" = node1 ] && survivor=node2
check "... the waiting node took over and ran the task ($(tr '\n' ' ' <"$JOB_DIR/takeover.out"))" \
    grep -q ": $survivor\$" "$JOB_DIR/takeover.out"
check "... the step failed on $victim_node with the import named ($(grep -m1 'failed to import' "$JOB_DIR/takeover.err"))" \
    bash -c 'grep -q "^first step: [1-9]" "$1" && grep -q "failed to import docker image: $2" "$3"' _ \
    "$JOB_DIR/takeover.out" "$REG/debian:bookworm" "$JOB_DIR/takeover.err"
check "... the next step starts on both nodes from the one complete import" \
    test "$(grep -vE '^first step|: ' "$JOB_DIR/takeover.out" | sort | tr '\n' ' ')" = "node1 node2 "
check "... two imports' blobs at most: the killed one's and the taker's ($(( $(blob_requests debian) - b0 )) requests, $blobs per import)" \
    test "$(( $(blob_requests debian) - b0 ))" -le $(( 2 * blobs ))
for _ in $(seq 100); do shared_empty && break; sleep 0.3; done
check "... and the job's end removes the import and the dead helper's temporary entry" shared_empty

echo "# named containers are per node (container_scope=job: the epilog of every node removes them)"
usbatch --wait -N 2 -w node1,node2 -o "$JOB_DIR/named.out" -e "$JOB_DIR/named.err" --wrap \
    "srun -N 2 --container-name=mn --container-writable $DEB sh -c 'hostname > /etc/mn-host' &&
     srun -N 2 --container-name=mn sh -c 'echo \$(hostname) \$(cat /etc/mn-host)'" >/dev/null
check "each node's second step finds its own node's container ($(sort "$JOB_DIR/named.out" | tr '\n' ' '); $(tail -2 "$JOB_DIR/named.err"))" \
    test "$(sort "$JOB_DIR/named.out" | tr '\n' ' ')" = "node1 node1 node2 node2 "

echo "# the node cache on every node: its own entries on its own disk, its own GC"
NC=/tmp/lc-itest-nc # a node's /tmp is its own: a small filesystem on each of node1 and node2
slurm_up SLURM_NODES=3 SPANK_ARGS="import_helper=$BUILD/tools/ctr-import allow_http=$REG runtime_path=$RUNTIME container_cache_data_path=$NC container_cache_gc_high=60 container_cache_gc_low=40"
for n in node1 node2; do
    "$SLURM_SH/node.sh" "$n" sh -c "mkdir -p $NC && mount -t tmpfs -o size=64m,mode=0755 lc-itest-nc $NC"
done
node_entries() { "$SLURM_SH/node.sh" "$1" sh -c "ls -d $NC/$USER_UID/pyxis_cache_* 2>/dev/null" | sort; }
node_used() { "$SLURM_SH/node.sh" "$1" df --output=pcent "$NC" | tail -1 | tr -dc 0-9; }
TINY="--container-image=$REG/tiny:latest"
usrun -N 2 -w node1,node2 "$TINY" --container-cache --no-container-entrypoint true >/dev/null 2>"$WORK/err"
check "-N2 --container-cache, cold: each node imports into its own cache ($(grep -c 'imported docker image' "$WORK/err") imports)" \
    test "$(grep -c 'imported docker image' "$WORK/err")" = 2 -a "$(node_entries node1 | wc -l)" = 1 -a "$(node_entries node2 | wc -l)" = 1
check "... on the node's own filesystem, not the host's" test ! -e "$NC/$USER_UID"
usrun -N 2 -w node1,node2 "$TINY" --container-cache --no-container-entrypoint true >/dev/null 2>"$WORK/err"
check "... warm on both nodes: no import" not_grep "importing docker image" "$WORK/err"
# node1's cache fills up with an old entry; node2's does not
"$SLURM_SH/node.sh" node1 sh -c "d=$NC/$USER_UID/pyxis_cache_u${USER_UID}_old && mkdir \$d &&
    head -c 40M /dev/urandom >\$d/image.sqsh && touch \$d/.pyxis_cache_lock && chown -R $USER_UID \$d && touch -d '3 days ago' \$d"
check "node1 is above the high watermark ($(node_used node1)%), node2 below ($(node_used node2)%)" \
    test "$(node_used node1)" -ge 60 -a "$(node_used node2)" -lt 60
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false "docker://$REG/tiny:latest" "docker://$REG/lc-mn-gc:latest"
usrun -N 2 -w node1,node2 --container-image="$REG/lc-mn-gc:latest" --container-cache --no-container-entrypoint true >/dev/null 2>"$WORK/err"
check "a cold job on both nodes runs ($(tail -1 "$WORK/err"))" test $? = 0
check "... node1's GC evicted its old entry ($(node_used node1)% now)" \
    test -z "$(node_entries node1 | grep _old)" -a "$(node_used node1)" -lt 45
check "... and only on node1 (its slurmd's log: $(grep -ho 'cache GC: [a-z ]*, [0-9]*% used' "$SLURM_SANDBOX/log/slurmd-node1.log" | tail -1))" \
    bash -c 'grep -q "cache GC: ran, .* evicted 1," "$1/log/slurmd-node1.log" && ! grep -q "cache GC: ran" "$1/log/slurmd-node2.log"' _ "$SLURM_SANDBOX"
check "... both nodes keep their entries of both images" \
    test "$(node_entries node1 | wc -l)" = 2 -a "$(node_entries node2 | wc -l)" = 2
for n in node1 node2; do "$SLURM_SH/node.sh" "$n" umount "$NC"; done

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
