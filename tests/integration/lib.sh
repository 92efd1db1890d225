# SPDX-License-Identifier: Apache-2.0
# Shared helpers of the integration tests (sourced). Needs BUILD, SRC set by the caller.
#
# Output is TAP: "ok - ..." and "not ok - ..." per check, "# ..." for everything else (any other
# line a test prints is turned into a comment), and the plan "1..N" at the end. Run by meson
# (LC_TAP=1, protocol 'tap'), a script exits 0 and the TAP lines carry the result; run by hand
# or by .ci/run, it exits 1 when a check failed.
SHARED="${LC_SHARED_DIR:-$SRC/../shared}"
IMAGES_CACHE="${IMAGES_CACHE:-/tmp/oci-images-cache}"
OCITOOL=(python3 "$SHARED/registry/ocitool.py")
passed=0 failed=0
cleanup_hooks=()
registry_started=0

# Every line that is not TAP becomes a comment.
tap_filter() {
    local line
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in
        "ok "* | "ok" | "not ok"* | "#"* | 1..*) printf '%s\n' "$line" ;;
        *) printf '# %s\n' "$line" ;;
        esac
    done
}
# The script runs again with its stdout through the filter (a pipe, not a process
# substitution: the tests' bare `wait` would wait for that too).
if [ -z "${LC_TAP_FILTERED:-}" ]; then
    LC_TAP_FILTERED=1 "$BASH" "$0" "$@" | tap_filter
    exit "${PIPESTATUS[0]}"
fi
WORK="$(mktemp -d /tmp/lc-itest-XXXXXX)"
# the results go here, whatever a check's own stdout is redirected to
exec {tap_fd}>&1

cleanup() {
    local h
    for h in "${cleanup_hooks[@]}"; do eval "$h"; done
    [ "$registry_started" = 1 ] && [ "${LC_KEEP_REGISTRY:-0}" != 1 ] &&
        "$SHARED/registry/down.sh" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

# skip_all REASON: the machine lacks a kernel feature or a device (TAP's skip; 77 outside meson)
skip_all() {
    echo "1..0 # SKIP $1"
    [ "${LC_TAP:-0}" = 1 ] && exit 0
    exit 77
}

ok() { passed=$((passed + 1)); echo "ok - $*" >&"$tap_fd"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*" >&"$tap_fd"; }
check() { # check DESCRIPTION COMMAND...
    local d="$1"; shift
    if "$@"; then ok "$d"; else not_ok "$d"; fi
}

# expect_error DESCRIPTION EXPECTED-SUBSTRING COMMAND...: exit 1 and one line naming the problem
expect_error() { local d="$1"; shift; expect_status "$d" 1 "$@"; }
# expect_status DESCRIPTION RC EXPECTED-SUBSTRING COMMAND...: exit RC and one such stderr line
expect_status() {
    local d="$1" want_rc="$2" want="$3" out rc; shift 3
    out="$("$@" 2>&1 >/dev/null)"; rc=$?
    if [ "$rc" = "$want_rc" ] && [[ "$out" == *"$want"* ]] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ]; then
        ok "$d"
    else
        not_ok "$d (rc=$rc, stderr: $out)"
    fi
}

# The registry has every image of images.tsv (one HEAD request each): make-images.sh has nothing
# to do.
images_pushed() {
    local accept="Accept: application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
    local ref repo tag
    [ -s "$IMAGES_CACHE/images.tsv" ] || return 1
    while read -r ref _; do
        case "$ref" in "#"* | "") continue ;; esac
        ref="${ref#*/}" repo="${ref%:*}" tag="${ref##*:}"
        curl -sfI -o /dev/null -H "$accept" "http://127.0.0.1:5000/v2/$repo/manifests/$tag" || return 1
    done <"$IMAGES_CACHE/images.tsv"
}

# start_registry [INSTANCES]: default all four; a failed start (a server that died while starting)
# is retried once from a clean state. The test images are built and pushed unless they are there.
start_registry() {
    echo "# starting the registry and building test images"
    registry_started=1
    "$SHARED/registry/up.sh" "${1:-all}" >"$WORK/up.log" 2>&1 ||
        { "$SHARED/registry/down.sh" >/dev/null 2>&1; sleep 1; "$SHARED/registry/up.sh" "${1:-all}" >"$WORK/up.log" 2>&1; } ||
        { cat "$WORK/up.log"; exit 1; }
    images_pushed && return 0
    "$SHARED/registry/make-images.sh" >"$WORK/images.log" 2>&1 || { tail -30 "$WORK/images.log"; exit 1; }
}

tsv_digest() { awk -v r="127.0.0.1:5000/$1" '$1 == r { print $2 }' "$IMAGES_CACHE/images.tsv"; }

# ctr_run_setup: for scripts that run ctr-run as root and as the user (lctest): user and mount
# namespaces and FUSE (else the script is skipped), the registry, the user (USER_UID), and
# /dev/fuse open to the user for the run (most distributions ship it 0666; this machine 0600).
ctr_run_setup() {
    local f fuse_mode
    for f in /proc/self/ns/user /dev/fuse; do
        [ -e "$f" ] || skip_all "this machine has no $f"
    done
    start_registry plain
    ensure_test_user
    USER_UID="$(id -u lctest)"
    fuse_mode="$(stat -c %a /dev/fuse)"
    chmod 0666 /dev/fuse
    cleanup_hooks+=("chmod $fuse_mode /dev/fuse")
}

ensure_test_user() {
    id lctest >/dev/null 2>&1 || useradd -m -s /bin/bash lctest
    chmod 755 "$WORK"
}

finish() {
    echo "# $passed passed, $failed failed"
    echo "1..$((passed + failed))"
    [ "${LC_TAP:-0}" = 1 ] && exit 0
    [ "$failed" = 0 ]
}

# fake_cdi DIR [EDITS]: stand-ins for the CDI tests (this machine has no GPU): device nodes
# DIR/dev/fakegpu0 (/dev/null's numbers, 1:3) and fakegpu1 (/dev/zero's, 1:5), a "driver" file
# DIR/lib/libfake.so.1, and DIR/spec/fake.yaml naming them as a vendor's tool would: kind
# example.com/gpu, devices "0" and "1", FAKE_DRIVER=550, the file bound read-only at
# /usr/lib/libfake.so.1; EDITS (YAML lines) go at the end of the spec's containerEdits.
fake_cdi() {
    local d="$1"
    mkdir -p "$d/dev" "$d/lib" "$d/spec"
    mknod "$d/dev/fakegpu0" c 1 3 && mknod "$d/dev/fakegpu1" c 1 5 && chmod 666 "$d/dev"/*
    echo fake-driver-550 >"$d/lib/libfake.so.1"
    cat >"$d/spec/fake.yaml" <<EOS
cdiVersion: 0.6.0
kind: example.com/gpu
devices:
- name: "0"
  containerEdits: {deviceNodes: [{path: /dev/fakegpu0, hostPath: $d/dev/fakegpu0}]}
- name: "1"
  containerEdits: {deviceNodes: [{path: /dev/fakegpu1, hostPath: $d/dev/fakegpu1}]}
containerEdits:
  env: [FAKE_DRIVER=550]
  mounts: [{hostPath: $d/lib/libfake.so.1, containerPath: /usr/lib/libfake.so.1, options: [ro, nosuid, nodev, bind]}]
${2:-}
EOS
    chmod -R a+rX "$d"
}

# fake_nvidia DIR: NVIDIA's driver, a stand-in (tests/gpu/fake-nvidia.sh)
# shellcheck source=../gpu/fake-nvidia.sh
. "$SRC/tests/gpu/fake-nvidia.sh"
