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

cat >"$WORK/job/allreduce.py" <<'EOF'
from mpi4py import MPI
comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
total = comm.allreduce(rank + 1, op=MPI.SUM)
print("ok" if total == size * (size + 1) // 2 else f"bad {total}", rank, size, flush=True)
EOF
cat >"$WORK/job/allreduce.c" <<'EOF'
#include <mpi.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	int rank, size, total = 0, one;
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	one = rank + 1;
	MPI_Allreduce(&one, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	printf("%s %d %d\n", total == size * (size + 1) / 2 ? "ok" : "bad", rank, size);
	MPI_Finalize();
	return 0;
}
EOF
# A PMI-2 client (the wire protocol of Slurm's mpi/pmi2 over PMI_FD): fullinit, put this rank's
# key, fence, get the next rank's.
cat >"$WORK/job/pmi2.py" <<'EOF'
import os
fd = int(os.environ["PMI_FD"])
def cmd(text):
    msg = text.encode()
    os.write(fd, b"%-6d" % len(msg) + msg)
    n = int(os.read(fd, 6).decode())
    out = b""
    while len(out) < n:
        out += os.read(fd, n - len(out))
    return dict(kv.split("=", 1) for kv in out.decode().strip(";").split(";") if "=" in kv)
rank = int(os.environ["PMI_RANK"])
# the handshake is PMI-1's line format; then PMI-2's length-prefixed messages
os.write(fd, b"cmd=init pmi_version=2 pmi_subversion=0\n")
line = b""
while not line.endswith(b"\n"):
    line += os.read(fd, 1)
assert b"rc=0" in line, line
r = cmd("cmd=fullinit;pmijobid=%s;pmirank=%d;threaded=FALSE;" % (os.environ.get("PMI_JOBID", ""), rank))
size = int(r["size"])
assert r["rc"] == "0", r
cmd("cmd=kvs-put;key=k%d;value=v%d;" % (rank, rank * 10))
cmd("cmd=kvs-fence;")
other = (rank + 1) % size
got = cmd("cmd=kvs-get;jobid=%s;srcid=-1;key=k%d;" % (r.get("jobid", ""), other))
print("ok" if got.get("value") == "v%d" % (other * 10) else "bad %r" % got, rank, size, flush=True)
cmd("cmd=finalize;")
EOF
chmod 644 "$WORK/job"/*.py "$WORK/job"/*.c
JOBMNT="--container-mounts=$WORK/job:/job"

# all_ok N OUTPUT: N lines "ok RANK N", one per rank
all_ok() { [ "$(printf '%s\n' "$2" | grep -c "^ok [0-9]* $1\$")" = "$1" ] && [ "$(printf '%s\n' "$2" | awk '{print $2}' | sort -u | wc -l)" = "$1" ]; }
mpi_check() { # mpi_check DESCRIPTION N SRUN-ARGS...
    local d="$1" n="$2" out; shift 2
    out="$(usrun "$@" 2>"$WORK/err")"
    if all_ok "$n" "$out"; then ok "$d"; else not_ok "$d: $out $(tail -5 "$WORK/err")"; fi
}

echo "# --mpi=pmix: Open MPI's PMIx client reaches Slurm's PMIx server from the container"
mpi_check "pmix, -n 4: mpi4py allreduce, every rank checks" 4 --mpi=pmix -n 4 "$MPI" "$JOBMNT" python3 /job/allreduce.py
out="$(usrun -n 1 "$MPI" "$JOBMNT" mpicc -o /job/allreduce /job/allreduce.c 2>&1)"
check "the C program compiles in the container ($out)" test -x "$WORK/job/allreduce"
mpi_check "pmix, -n 4: the C allreduce" 4 --mpi=pmix -n 4 "$MPI" "$JOBMNT" /job/allreduce
is "pmix: the server's variables reach the tasks" "ok" --mpi=pmix -n 1 "$MPI" sh -c \
    '[ -n "$PMIX_NAMESPACE" ] && [ -n "$PMIX_SERVER_TMPDIR" ] && env | grep -q "^PMIX_SERVER_URI[0-9]*=" && echo ok'

echo "# --mpi=pmi2: PMI_FD reaches the tasks"
mpi_check "pmi2, -n 4: put, fence, get through PMI_FD" 4 --mpi=pmi2 -n 4 "$MPI" "$JOBMNT" python3 /job/pmi2.py
no_leftovers && ok "nothing left behind" || not_ok "leftovers"

finish
