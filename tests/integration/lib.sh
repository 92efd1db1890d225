# SPDX-License-Identifier: Apache-2.0
# Shared helpers of the integration tests (sourced). Needs BUILD, SRC set by the caller.
SHARED="${LC_SHARED_DIR:-$SRC/../shared}"
IMAGES_CACHE="${IMAGES_CACHE:-/tmp/oci-images-cache}"
OCITOOL=(python3 "$SHARED/registry/ocitool.py")
WORK="$(mktemp -d /tmp/lc-itest-XXXXXX)"
passed=0 failed=0
cleanup_hooks=()

cleanup() {
    local h
    for h in "${cleanup_hooks[@]}"; do eval "$h"; done
    [ "${LC_KEEP_REGISTRY:-0}" = 1 ] || "$SHARED/registry/down.sh" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
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

# start_registry [INSTANCES]: default all four; a failed start (a server that died while starting)
# is retried once from a clean state
start_registry() {
    echo "# starting the registry and building test images"
    "$SHARED/registry/up.sh" "${1:-all}" >"$WORK/up.log" 2>&1 ||
        { "$SHARED/registry/down.sh" >/dev/null 2>&1; sleep 1; "$SHARED/registry/up.sh" "${1:-all}" >"$WORK/up.log" 2>&1; } ||
        { cat "$WORK/up.log"; exit 1; }
    "$SHARED/registry/make-images.sh" >"$WORK/images.log" 2>&1 || { tail -30 "$WORK/images.log"; exit 1; }
}

tsv_digest() { awk -v r="127.0.0.1:5000/$1" '$1 == r { print $2 }' "$IMAGES_CACHE/images.tsv"; }

ensure_test_user() {
    id lctest >/dev/null 2>&1 || useradd -m -s /bin/bash lctest
    chmod 755 "$WORK"
}

finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
}
