#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ctr-enroot, enroot's command line, as an unprivileged user: on its own (a login node: import,
# create, start with its options and a configuration script, batch, digest, load, list -f, exec, export, remove, enroot's messages and exit
# statuses), its help compared with enroot's documented usage, and over the Slurm plugin's named
# containers (list shows a job's pyxis_NAME, exec joins a running step's container, export
# saves one, create --name pyxis_NAME makes one that srun --container-name=NAME starts).
# usage: spank-enroot.sh BUILD_DIR SOURCE_DIR (TAP; see spank-lib.sh)
# shellcheck source=spank-lib.sh
. "$(dirname "$0")/spank-lib.sh"
spank_setup
spank_torch_file
fuse_mode="$(stat -c %a /dev/fuse)" && chmod 0666 /dev/fuse && cleanup_hooks+=("chmod $fuse_mode /dev/fuse")
E="$BUILD/tools/ctr-enroot"
DIR="$WORK/enroot" && mkdir -p "$DIR" && chown lctest "$DIR"
DATA="$USER_HOME/.local/share/enroot"
rm -rf "$DATA" && cleanup_hooks+=("rm -rf '$DATA'")
# as the user, in DIR, on a login node (no plugin directory)
en() { (cd "$DIR" && runuser -u lctest -- env LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}" HOME="$USER_HOME" \
    PYXIS_RUNTIME_PATH=/nonexistent ENROOT_ALLOW_HTTP=yes "${EN_ENV[@]}" timeout 60 "$E" "$@"); }
EN_ENV=()
# out DESCRIPTION EXPECTED ARGS...: stdout is EXPECTED (the torch image's entrypoint's line aside:
# start runs it, as enroot's /etc/rc does, which one check checks)
out() {
    local d="$1" want="$2" got; shift 2
    got="$(en "$@" 2>"$WORK/en.err" | grep -vx "== TORCH ENTRYPOINT ==")"
    if [ "$got" = "$want" ]; then ok "$d"; else not_ok "$d (want '$want', got '$got'; $(tail -2 "$WORK/en.err"))"; fi
}
# says DESCRIPTION STATUS MESSAGE ARGS...: exits STATUS and stderr has MESSAGE
says() {
    local d="$1" want_rc="$2" want="$3" got rc; shift 3
    got="$(en "$@" 2>&1 </dev/null)"; rc=$?
    if [ "$rc" = "$want_rc" ] && [[ "$got" == *"$want"* ]]; then ok "$d"; else not_ok "$d (rc=$rc: $got)"; fi
}

echo "# on a login node: import, create, list"
check "import docker://REGISTRY#IMAGE writes enroot's file name" en import "docker://$REG#debian:bookworm"
check "... debian+bookworm.sqsh" test -s "$DIR/debian+bookworm.sqsh"
says "import of an existing output: enroot's message" 1 "[ERROR] File already exists: debian+bookworm.sqsh" \
    import -o debian+bookworm.sqsh "docker://$REG#debian:bookworm"
says "import without a scheme" 1 "[ERROR] Invalid argument: debian" import debian
out "list: nothing yet" "" list
check "create IMAGE" en create debian+bookworm.sqsh
cp "$TORCH_FILE" "$DIR/pt.sqsh" && chown lctest "$DIR/pt.sqsh"
check "create --name torch" en create --name torch pt.sqsh
out "list: the names, sorted, in ~/.local/share/enroot" "debian+bookworm
torch" list
check "... each a directory of the user's (mode 0700)" test "$(stat -c %U:%a "$DATA/torch")" = lctest:700
says "create of an existing name" 1 "[ERROR] File already exists: $DATA/torch" create -n torch pt.sqsh
says "create -n with a slash" 1 "[ERROR] Invalid argument: a/b" create -n a/b pt.sqsh
echo junk >"$DIR/junk.sqsh" && chown lctest "$DIR/junk.sqsh"
says "create from a file that is not squashfs" 1 "[ERROR] Invalid image format: junk.sqsh" create junk.sqsh
check "... leaves no name" test ! -e "$DATA/junk"
says "create from a missing file" 1 "[ERROR] No such file or directory: nope.sqsh" create nope.sqsh

echo "# start"
out "start NAME COMMAND runs in the image" "bookworm" start debian+bookworm sh -c '. /etc/os-release; echo $VERSION_CODENAME'
check "... with the image's entrypoint, Env and WorkingDir (torch)" \
    test "$(en start torch sh -c 'echo $PYTORCH_VERSION $(pwd)' 2>&1)" = "== TORCH ENTRYPOINT ==
2.9.0 /workspace"
says "... read-only without --rw" 1 "Read-only file system" start torch sh -c 'echo x > /f'
check "--rw: a write" en start --rw torch sh -c 'echo kept > /f'
out "... stays for the next start (the name's writable layer)" "kept" start torch cat /f
out "--root: uid 0 inside" "0 0" start --root torch sh -c 'echo $(id -u) $(id -g)'
out "not remapped: the user's uid" "$USER_UID" start torch id -u
out "-e KEY=VAL and -e KEY (the caller's value)" "bar host" \
    start -e FOO=bar -e LANG torch sh -c 'echo $FOO ${LANG:+host}'
says "-e with a bad name" 1 "[ERROR] Invalid argument: 1X" start -e 1X=y torch true
mkdir -p "$DIR/sub" && echo data >"$DIR/sub/f" && chown -R lctest "$DIR/sub"
out "-m SRC:DST (relative, as enroot's --mount .:mnt)" "data" start -m sub:mnt torch cat /mnt/f
out "-m with a type and options (tmpfs)" "tmpfs" start -m tmpfs:/workspace:tmpfs:size=1m torch \
    sh -c 'grep " /workspace " /proc/mounts | cut -d" " -f3'
says "-m with a bad line" 1 "--mount, line 1" start -m "tmpfs:/x:tmpfs:x-bogus" torch true
printf 'echo rc got: "$@"\n' >"$DIR/rc.sh" && chown lctest "$DIR/rc.sh"
out "--rc SCRIPT runs instead of the command, with its arguments" "rc got: a b" start --rc rc.sh torch a b
cat >"$DIR/conf.sh" <<'EOC'
#ENROOT_ROOTFS_WRITABLE=y
environ() {
    echo "FROM_CONF=yes"
    echo "ARGS=$*"
}
mounts() {
    echo "${PWD}/sub /mnt none bind,x-create=dir"
}
hooks() {
    echo "hook ran for $*" > "${ENROOT_ROOTFS}/hooked"
    echo "HOOK_VAR=1" >> "${ENROOT_ENVIRON}"
}
rc() {
    echo "rc: $FROM_CONF $ARGS $HOOK_VAR $(cat /hooked) $(cat /mnt/f) $(touch /w && echo writable)"
}
EOC
echo 'environ() { exit 3; }' >"$DIR/bad.sh" && chown lctest "$DIR/conf.sh" "$DIR/bad.sh"
out "--conf: its directive, environ(), mounts(), hooks() and rc(), given the command's arguments" \
    "rc: yes a b 1 hook ran for a b data writable" start -c conf.sh torch a b
check "... its hook's script is gone" test -z "$(ls -d /tmp/ctr-enroot-hook.* 2>/dev/null)"
says "--conf whose function fails" 1 "[ERROR] $DIR/bad.sh: its configuration functions failed (exit status 3)" \
    start -c bad.sh torch true
host_name="$(hostname)"
out "--uts: a private host name (capabilities in the user namespace)" "inside" \
    start --uts torch sh -c 'hostname inside && hostname'
check "... the host's is unchanged" test "$(hostname)" = "$host_name"
out "--net: loopback only" "lo" start --net torch sh -c 'ls /sys/class/net'
out "an image file starts directly" "2.9.0" start pt.sqsh sh -c 'echo $PYTORCH_VERSION'
says "the command's exit status" 7 "" start torch sh -c 'exit 7'
says "a missing command: 127" 127 "nosuch" start torch nosuch
says "a missing name" 1 "[ERROR] No such file or directory: $DATA/nope" start nope true
out "--pid: the command is PID 1, and /proc shows its own few processes" "1 few" \
    start --pid torch sh -c 'n=$(ls /proc | grep -c "^[0-9]"); [ "$n" -le 5 ] && echo $$ few'
says "... its exit status" 5 "" start --pid torch sh -c 'exit 5'

echo "# list -f and exec while a start runs"
en start --rw -e MARK=started torch sleep 6 >/dev/null 2>&1 &
start_job=$!
wait_for pgrep -u lctest -x sleep >/dev/null
table="$(en list -f)"
header="$(head -1 <<<"$table" | tr -s ' ')"
check "list -f: enroot's header ($header)" test "$header" = "NAME PID COMM STATE STARTED TIME MNTNS USERNS COMMAND"
row="$(grep '^torch ' <<<"$table")"
pid="$(awk '{print $2}' <<<"$row")"
check "... the running container's row shows its command's process ($row)" \
    bash -c '[ "$(awk "{print \$3}" <<<"$1")" = sleep ] && grep -q "sleep 6$" <<<"$1" && [ "$(awk "{print \$7}" <<<"$1")" = "$(readlink /proc/$2/ns/mnt | tr -dc 0-9)" ]' _ "$row" "$pid"
check "... STARTED and TIME from the boot time: seconds ago ($row)" \
    bash -c '[[ "$(awk "{print \$6}" <<<"$1")" =~ ^00:0[0-9]$ ]]' _ "$row"
check "... a stopped one its name alone" test "$(grep '^debian+bookworm' <<<"$table" | tr -d ' ')" = "debian+bookworm"
out "exec PID: in the container, with its environment and -e" "kept started 1" \
    exec -e X=1 "$pid" sh -c 'echo $(cat /f) $MARK $X'
runuser -u lctest -- sleep 20 &
wait_for pgrep -u lctest -f "^sleep 20" >/dev/null
says "exec of the user's process outside containers" 1 "is not in a container" exec "$(pgrep -u lctest -f '^sleep 20')" true
pkill -u lctest -f '^sleep 20'
check "... -e replaces the process's own value (one MARK, not two)" \
    test "$(en exec -e MARK=over "$pid" env 2>/dev/null | grep '^MARK=')" = "MARK=over"
says "exec of no process" 1 "[ERROR] Process not found: 999999" exec 999999 true
says "export of a running container (joined)" 0 "" export -o running.sqsh torch
wait "$start_job"

echo "# batch, digest, load"
cat >"$DIR/batch.sh" <<EOC
#!$E batch
#ENROOT_ROOTFS=torch
rc() { echo "batch: \$* \$(cat /f)"; }
EOC
echo '#ENROOT_ROOTFS_WRITABLE=y' >"$DIR/nobatch.sh"
chmod +x "$DIR/batch.sh" && chown lctest "$DIR/batch.sh" "$DIR/nobatch.sh"
out "batch CONFIG: start -c CONFIG of its ENROOT_ROOTFS" "batch: a b kept" batch batch.sh a b
check "... a configuration with #!ctr-enroot batch runs as a program" test "$(cd "$DIR" && runuser -u lctest -- \
    env HOME="$USER_HOME" PYXIS_RUNTIME_PATH=/nonexistent ./batch.sh c 2>/dev/null | grep -vx "== TORCH ENTRYPOINT ==")" = "batch: c kept"
says "batch without the directive: enroot's message" 1 "[ERROR] Missing directive ENROOT_ROOTFS in nobatch.sh" batch nobatch.sh
says "batch of a missing file: the same" 1 "[ERROR] Missing directive ENROOT_ROOTFS in nope.sh" batch nope.sh
want_digest="$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG/debian:bookworm")"
out "digest URI: the manifest digest the registry gives ($want_digest)" "$want_digest" digest "docker://$REG#debian:bookworm"
says "digest of another scheme" 1 "[ERROR] Invalid argument: dockerd://debian" digest dockerd://debian
says "digest of a missing image" 1 "manifest unknown" digest "docker://$REG#nope:latest"
says "load over an existing name: enroot's message" 1 "[ERROR] File already exists: $DATA/debian+bookworm" \
    load "docker://$REG#debian:bookworm"
check "load -n NAME URI: a name straight from the registry" en load -n loaded "docker://$REG#debian:bookworm"
out "... which starts" "bookworm" start loaded sh -c '. /etc/os-release; echo $VERSION_CODENAME'
check "... no file in the current directory" test -z "$(ls "$DIR" | grep -v -e '^debian+bookworm.sqsh$' -e '^pt.sqsh$' -e '^junk.sqsh$' -e '\.sh$' -e '^sub$' -e '^running.sqsh$')"
check "load -f replaces it" en load -f -n loaded "docker://$REG#debian:bookworm"
says "load of a missing image" 1 "manifest unknown" load -n missing "docker://$REG#nope:latest"
check "... leaves no name" test ! -e "$DATA/missing"
check "remove -f loaded" en remove -f loaded
# a registry that takes the connection and never answers: the import waits until stopped
python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
held = []
while True: held.append(s.accept())' >"$WORK/hole.port" &
hole=$! && cleanup_hooks+=("kill $hole")
wait_for test -s "$WORK/hole.port"
en load -n hang "docker://127.0.0.1:$(cat "$WORK/hole.port")#x:y" >/dev/null 2>&1 &
load_job=$!
wait_for pgrep -u lctest -f "ctr-import.*/hang/" >/dev/null
check "load: while it imports, the name is there" test -d "$DATA/hang"
pkill -TERM -u lctest -x ctr-enroot
wait "$load_job"
check "... ended by SIGTERM: its import ends too" bash -c '! pgrep -u lctest -f ctr-import'
check "... and no name is left" test ! -e "$DATA/hang"

echo "# export, remove"
check "export NAME writes NAME.sqsh" en export torch
check "... a file that starts with the writes" \
    test "$(cd "$DIR" && runuser -u lctest -- "$BUILD/tools/ctr-run" --no-entrypoint torch.sqsh cat /f 2>/dev/null)" = kept
check "... also the one exported while it ran" \
    test "$(cd "$DIR" && runuser -u lctest -- "$BUILD/tools/ctr-run" --no-entrypoint running.sqsh cat /f 2>/dev/null)" = kept
says "export over an existing file" 1 "[ERROR] File already exists: torch.sqsh" export torch
check "export -f replaces it" en export -f torch
echo n | en remove torch >"$WORK/en.out" 2>&1
check "remove without --force asks ($(cat "$WORK/en.out"))" grep -q "Do you really want to delete $DATA/torch? \[y/N\]" "$WORK/en.out"
out "... and no keeps it" "debian+bookworm
torch" list
check "remove -f NAME..." en remove -f torch debian+bookworm
out "... gone" "" list
says "remove of a missing name" 1 "[ERROR] No such file or directory: $DATA/torch" remove -f torch
check "nothing of the user's runs" test -z "$(user_procs)"

echo "# help and usage, against enroot's documented usage (doc/usage.md, doc/cmd/*.md)"
# enroot's usage lines and option lines, as its documentation prints them
while IFS='|' read -r verb line; do
    help="$(en "$verb" --help 2>&1)"
    check "$verb --help: '$line'" grep -qxF -- "$line" <<<"${help//ctr-enroot/enroot}"
done <<'EOS'
import|Usage: enroot import [options] [--] URI
import|   -a, --arch    Architecture of the image (defaults to host architecture)
import|   -o, --output  Name of the output image file (defaults to "URI.sqsh")
create|Usage: enroot create [options] [--] IMAGE
create|   -n, --name   Name of the container (defaults to "IMAGE")
create|   -f, --force  Overwrite an existing root filesystem
start|Usage: enroot start [options] [--] NAME|IMAGE [COMMAND] [ARG...]
start|   -c, --conf CONFIG    Specify a configuration script to run before the container starts
start|   -e, --env KEY[=VAL]  Export an environment variable inside the container
start|       --rc SCRIPT      Override the command script inside the container
start|   -r, --root           Ask to be remapped to root inside the container
start|   -w, --rw             Make the container root filesystem writable
start|   -m, --mount FSTAB    Perform a mount from the host inside the container (colon-separated)
start|       --pid            Run the container in a new PID namespace
start|       --net            Run the container in a new network namespace (loopback only)
start|       --uts            Run the container in a new UTS namespace
list|Usage: enroot list [options]
list|   -f, --fancy  Display more information in tabular format
remove|Usage: enroot remove [options] [--] NAME...
remove|   -f, --force  Do not prompt for confirmation
export|Usage: enroot export [options] [--] NAME
export|   -o, --output  Name of the output image file (defaults to "NAME.sqsh")
export|   -f, --force   Overwrite an existing container image
exec|Usage: enroot exec [options] [--] PID COMMAND [ARG...]
exec|   -e, --env KEY[=VAL]  Export an environment variable inside the container
batch|Usage: enroot batch [options] [--] CONFIG [COMMAND] [ARG...]
batch|Shorthand version of "enroot start -c CONFIG" where the root filesystem is
digest|Usage: enroot digest [options] [--] URI
digest|   -a, --arch    Architecture of the image (defaults to host architecture)
load|Usage: enroot load [options] [--] URI
load|   -a, --arch    Architecture of the image (defaults to host architecture)
load|   -n, --name    Name of the container (defaults to "URI")
load|   -f, --force   Overwrite an existing root filesystem
EOS
says "no command: the usage, status 1" 1 "Usage: ctr-enroot COMMAND [ARG...]"
says "an unknown option: the verb's usage, status 1" 1 "Usage: ctr-enroot list [options]" list --bogus
check "version: a version number ($(en version))" bash -c '[[ "$1" =~ ^[0-9]+\.[0-9]+ ]]' _ "$(en version)"

echo "# over the Slurm plugin's named containers"
slurm_up
EN_ENV=(PYXIS_RUNTIME_PATH="$RUNTIME") # as a build with -Druntime_path=$RUNTIME finds it
is "a job makes the named container web" "" --container-image="$TORCH_FILE" --container-name=web \
    --container-writable sh -c 'echo from-job > /f'
out "list shows it as pyxis sites show it (pyxis_web)" "pyxis_web" list
usrun --container-name=web sleep 6 >/dev/null 2>&1 &
step_job=$!
wait_for pgrep -u lctest -x sleep >/dev/null
row="$(en list -f | grep '^pyxis_web ')"
pid="$(awk '{print $2}' <<<"$row")"
check "list -f: the running step's container, its first task ($row)" \
    test "$(awk '{print $3}' <<<"$row")" = sleep
out "exec PID joins the step's container: its files, the task's environment" "from-job 2.9.0 $USER_UID" \
    exec "$pid" sh -c 'echo $(cat /f) $PYTORCH_VERSION $SLURM_JOB_UID'
wait "$step_job"
check "export pyxis_web" en export -o web.sqsh pyxis_web
check "... a file that starts with the job's write" \
    test "$(cd "$DIR" && runuser -u lctest -- "$BUILD/tools/ctr-run" --no-entrypoint web.sqsh cat /f 2>/dev/null)" = from-job
check "create --name pyxis_made IMAGE" en create --name pyxis_made pt.sqsh
is "... srun --container-name=made starts it, with no import" "2.9.0" --container-name=made sh -c 'echo $PYTORCH_VERSION'
check "... (the job log says nothing of an import)" not_grep -i "import" "$WORK/err"
check "remove -f pyxis_web pyxis_made" en remove -f pyxis_web pyxis_made
out "... list is empty" "" list
check "nothing left" no_leftovers

finish
