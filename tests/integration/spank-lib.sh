# SPDX-License-Identifier: Apache-2.0
# Shared setup and helpers of the Slurm plugin's integration tests (sourced by each
# tests/integration/spank-*.sh; it sources lib.sh): a real Slurm (../shared/slurm) with the plugin,
# the loopback
# registry, an unprivileged user who runs jobs with --container-* flags exactly as with pyxis,
# and a PyTorch-like image. Each script is one feature and runs alone:
#   tests/integration/spank-named.sh BUILD_DIR SOURCE_DIR
set -uo pipefail

BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
# shellcheck source=lib.sh
. "$SRC/tests/integration/lib.sh"
PLUGIN="$BUILD/src/spank/spank_libcontainer.so"

for f in /proc/self/ns/user /dev/fuse; do
    [ -e "$f" ] || skip_all "this machine has no $f"
done
[ -f "$PLUGIN" ] || skip_all "the plugin was not built (no slurm/spank.h)"

SLURM_SH="$SHARED/slurm"
export SLURM_SANDBOX=/var/tmp/lc-slurm-itest # outside /tmp: job_container/tmpfs needs that
RUNTIME=/run/lc-itest
REG=127.0.0.1:5000
ACCESS_LOG=/tmp/oci-registry/run/plain.log
CACHE_BASE=/var/lib/lc-itest-cache # the node cache (container_cache_data_path)
DEB="--container-image=$REG/debian:bookworm"
TORCH="--container-image=$REG/torchlike:latest"
# a squashfs file of the PyTorch-like image, the user's (spank_torch_file makes it)
TORCH_FILE="$WORK/job/torch.sqsh"

# The PyTorch-like image: busybox, PYTORCH_VERSION, an entrypoint and a WorkingDir in its config,
# pushed as torchlike:latest (the same digest at every run).
push_torchlike() {
    local dir="$WORK/torch" a
    mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/workspace"
    cp /bin/busybox "$dir/rootfs/bin/busybox"
    for a in sh env cat id echo pwd ls readlink sleep touch grep wc sort uniq mkdir rm test tr true; do
        ln -sf busybox "$dir/rootfs/bin/$a"
    done
    cat >"$dir/rootfs/bin/entry.sh" <<'EOS'
#!/bin/sh
echo "== TORCH ENTRYPOINT =="
[ -n "$ENTRY_MARK" ] && echo ran >>"$ENTRY_MARK"
[ -n "$ENTRY_FAIL" ] && { echo "entrypoint failing on purpose" >&2; exit "$ENTRY_FAIL"; }
[ -n "$ENTRY_NOEXEC" ] && exit 0
[ -n "$ENTRY_CD" ] && cd "$ENTRY_CD"
export FROM_ENTRYPOINT=yes
exec "$@"
EOS
    chmod 755 "$dir/rootfs/bin/entry.sh"
    # fixed mtimes: the same image (the same digest) at every run
    find "$dir/rootfs" -exec touch -h -d @1700000000 {} +
    tar --sort=name -C "$dir/rootfs" -cf "$dir/layer.tar" .
    cat >"$dir/config.json" <<'EOS'
{"architecture":"amd64","os":"linux","config":{
 "Env":["PATH=/bin","PYTORCH_VERSION=2.9.0","LD_LIBRARY_PATH=/image/lib","CUDA_VERSION=13.0"],
 "Entrypoint":["/bin/entry.sh"],"WorkingDir":"/workspace"}}
EOS
    "${OCITOOL[@]}" image --layout "$dir/layout" --work "$dir/work" --tag torch \
        --config-json "$dir/config.json" --layer "$dir/layer.tar" >/dev/null &&
        skopeo copy -q --dest-tls-verify=false "oci:$dir/layout:torch" "docker://$REG/torchlike:latest"
}

# spank_setup: the registry with the images, the users, the job's directory, the image
spank_setup() {
    start_registry plain
    ensure_test_user
    id lctest2 >/dev/null 2>&1 || useradd -m -s /bin/bash lctest2
    USER_UID="$(id -u lctest)" USER2_UID="$(id -u lctest2)" USER_GID="$(id -g lctest)"
    rm -rf "$CACHE_BASE" "$RUNTIME" # job ids start again with each sandbox: no old named containers
    cleanup_hooks+=("rm -rf '$RUNTIME' '$CACHE_BASE'")
    mkdir -p "$WORK/job" "$WORK/hostdir" && echo host-data >"$WORK/hostdir/file"
    chmod 1777 "$WORK/job" && chmod -R a+rX "$WORK/hostdir"
    USER_HOME="$(getent passwd lctest | cut -d: -f6)"
    push_torchlike || { echo "cannot build the PyTorch-like image"; exit 1; }
}

# spank_torch_file: TORCH_FILE, imported from the registry, the user's
spank_torch_file() {
    "$BUILD/tools/ctr-import" -q --allow-http --cache "$WORK/cache" -o "$TORCH_FILE" "$REG/torchlike:latest" \
        >/dev/null && chown lctest "$TORCH_FILE" || { echo "cannot import $TORCH_FILE"; exit 1; }
}

# slurm_up [VAR=VALUE...]: (re)start the sandbox with the plugin (SPANK_ARGS may be replaced)
slurm_up() {
    local exports
    "$SLURM_SH/down.sh" >/dev/null 2>&1
    exports="$(env SLURM_CPUS=8 SLURM_DEBUG=verbose SPANK_PLUGIN="$PLUGIN" \
        SPANK_ARGS="import_helper=$BUILD/tools/ctr-import allow_http=$REG runtime_path=$RUNTIME container_cache_data_path=$CACHE_BASE container_cache_offline=1" "$@" \
        "$SLURM_SH/up.sh" 2>"$WORK/slurm-up.log")" || { cat "$WORK/slurm-up.log"; exit 1; }
    eval "$exports"
    [ "${slurm_hooked:-0}" = 1 ] || cleanup_hooks+=("'$SLURM_SH/down.sh' >/dev/null 2>&1")
    slurm_hooked=1
}

# usrun ARGS...: srun as the user (RUN_AS, default lctest), from a directory of theirs
usrun() { (cd -P "$WORK/job" && runuser -u "${RUN_AS:-lctest}" -- env SLURM_CONF="$SLURM_CONF" "${EXTRA_ENV[@]}" timeout 120 srun "$@"); }
EXTRA_ENV=()
# usbatch ARGS...: sbatch as the user, from their directory
usbatch() { (cd -P "$WORK/job" && runuser -u "${RUN_AS:-lctest}" -- env SLURM_CONF="$SLURM_CONF" "${EXTRA_ENV[@]}" timeout 300 sbatch "$@"); }
# is DESCRIPTION EXPECTED SRUN-ARGS...: the job's stdout is exactly EXPECTED
is() {
    local d="$1" want="$2" got; shift 2
    got="$(usrun "$@" 2>"$WORK/err")"
    if [ "$got" = "$want" ]; then ok "$d"; else not_ok "$d (want '$want', got '$got'; $(tail -3 "$WORK/err"))"; fi
}
# refused DESCRIPTION MESSAGE SRUN-ARGS...: srun fails and prints MESSAGE
refused() {
    local d="$1" want="$2" out rc; shift 2
    out="$(usrun "$@" true 2>&1)"; rc=$?
    if [ "$rc" != 0 ] && [[ "$out" == *"$want"* ]]; then ok "$d"; else not_ok "$d (rc=$rc: $out)"; fi
}
not_cmd() { ! "$@"; }
# wait_for CMD...: until CMD succeeds, for up to 10 s
wait_for() { for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done; return 1; }
# wait_job JOBID: until the job has left squeue, for up to 30 s
wait_job() { for _ in $(seq 150); do [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0; sleep 0.2; done; return 1; }
not_grep() { ! grep -q "$@"; }
manifest_requests() { grep -c "\"GET /v2/$1/manifests/" "$ACCESS_LOG"; }
blob_requests() { grep -c "\"GET /v2/$1/blobs/" "$ACCESS_LOG"; }
# live processes of the user (zombies excluded: PID 1 here reaps orphans lazily)
user_procs() { ps -u lctest -o stat=,pid=,args= | awk '$1 !~ /^Z/'; }
# no_leftovers: within 10 s, no process of the user and nothing in their runtime directory
no_leftovers() {
    for _ in $(seq 50); do
        [ -z "$(user_procs)" ] && [ -z "$(ls -A "$RUNTIME/$USER_UID" 2>/dev/null)" ] && return 0
        sleep 0.2
    done
    user_procs; ls -A "$RUNTIME/$USER_UID"
    return 1
}

# mpi_programs DIR: the MPI test programs in DIR: allreduce.py (mpi4py), allreduce.c (to compile
# in the container), pmi2.py (a PMI-2 wire client). Each rank prints "ok RANK SIZE" or "bad ...".
mpi_programs() {
cat >"$1/allreduce.py" <<'EOF'
from mpi4py import MPI
comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
total = comm.allreduce(rank + 1, op=MPI.SUM)
print("ok" if total == size * (size + 1) // 2 else f"bad {total}", rank, size, flush=True)
EOF
cat >"$1/allreduce.c" <<'EOF'
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
cat >"$1/pmi2.py" <<'EOF'
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
chmod 644 "$1"/*.py "$1"/*.c
}
# all_ok N OUTPUT: N lines "ok RANK N", one per rank
all_ok() { [ "$(printf '%s\n' "$2" | grep -c "^ok [0-9]* $1\$")" = "$1" ] && [ "$(printf '%s\n' "$2" | awk '{print $2}' | sort -u | wc -l)" = "$1" ]; }
mpi_check() { # mpi_check DESCRIPTION N SRUN-ARGS...
    local d="$1" n="$2" out; shift 2
    out="$(usrun "$@" 2>"$WORK/err")"
    if all_ok "$n" "$out"; then ok "$d"; else not_ok "$d: $out $(tail -5 "$WORK/err")"; fi
}
