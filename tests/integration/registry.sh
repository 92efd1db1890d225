#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Integration test of the registry client against the real loopback registry of ../shared/registry.
# usage: registry.sh BUILD_DIR SOURCE_DIR      (meson test --suite integration runs it)
set -uo pipefail

BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
PULL="$BUILD/tools/ctr-pull"
PROXY_PORT=5090
proxy_pid=""
# shellcheck source=lib.sh
. "$SRC/tests/integration/lib.sh"
cleanup_hooks+=('[ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null')

# expect_error for ctr-pull
expect_pull_error() { local d="$1" w="$2"; shift 2; expect_error "$d" "$w" "$PULL" "$@"; }

# every file in the cache is named by its own sha256, and no temp file is left
blobs_verified() {
    local dir="$1/blobs/sha256" f n=0
    [ -d "$dir" ] || return 1
    for f in "$dir"/* "$dir"/.tmp*; do
        [ -e "$f" ] || continue
        case "$(basename "$f")" in .tmp*) echo "temp file left: $f"; return 1 ;; esac
        [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || { echo "bad blob $f"; return 1; }
        n=$((n + 1))
    done
    [ "$n" -gt 0 ]
}

start_registry

printf 'machine 127.0.0.1 login testuser password testpass\n' >"$WORK/credentials"
printf 'machine 127.0.0.1 login testuser password wrongpass\n' >"$WORK/bad-credentials"

TAGS="tiny:latest tiny:v2s2 tiny:zstd tiny:uncompressed tiny:multiarch tiny:multiarch-v2s2
      layered:latest layered:v2s2 layered:compat layered:compat-v2s2
      debian:bookworm debian:bookworm-oci debian:bookworm-python"

# pull_all NAME PORT [ctr-pull options...]: every tag, digest checked against images.tsv
pull_all() {
    local name="$1" port="$2" tag out want got; shift 2
    local cache="$WORK/cache-$name"
    for tag in $TAGS; do
        if ! out="$("$PULL" -q --allow-http --cache "$cache" "$@" "127.0.0.1:$port/$tag" 2>&1)"; then
            not_ok "$name: pull $tag: $out"; continue
        fi
        want="$(tsv_digest "$tag")"
        got="$(printf '%s\n' "$out" | awk '$1 == "index:" { print $2; exit }')"
        [ -n "$got" ] || got="$(printf '%s\n' "$out" | awk '$1 == "digest:" { print $2 }')"
        if [ -n "$want" ] && [ "$got" = "$want" ]; then ok "$name: pull $tag ($got)"
        else not_ok "$name: pull $tag: digest '$got', images.tsv says '$want'"; fi
    done
    check "$name: every cached blob matches its digest" blobs_verified "$cache"
}

pull_all plain 5000
pull_all basic 5001 --credentials "$WORK/credentials"
pull_all token 5002
pull_all token-login 5002 --credentials "$WORK/credentials"

# multi-arch: the amd64 entry (second in the index) is tiny:latest
check "multiarch resolves to the amd64 manifest, not manifests[0]" test \
    "$("$PULL" -q --allow-http --cache "$WORK/cache-plain" --no-layers 127.0.0.1:5000/tiny:multiarch | awk '$1=="digest:"{print $2}')" \
    = "$(tsv_digest tiny:latest)"
check "--arch arm64 picks the arm64 entry" bash -c \
    "'$PULL' -q --allow-http --cache '$WORK/cache-plain' --no-layers --arch arm64 127.0.0.1:5000/tiny:multiarch | grep -qx 'platform: linux/arm64'"
check "pull by digest" "$PULL" -q --allow-http --cache "$WORK/cache-plain" \
    "127.0.0.1:5000/tiny@$(tsv_digest tiny:latest)"
check "enroot form REGISTRY#IMAGE" "$PULL" -q --allow-http --cache "$WORK/cache-plain" --digest \
    "docker://127.0.0.1:5000#tiny:v2s2"
check "ENROOT_ALLOW_HTTP=yes allows plain HTTP" env ENROOT_ALLOW_HTTP=yes "$PULL" -q \
    --cache "$WORK/cache-plain" --digest 127.0.0.1:5000/tiny:latest
check "config of tiny parsed" bash -c "'$PULL' --allow-http --cache '$WORK/cache-plain' --no-layers \
    127.0.0.1:5000/tiny:latest | grep -qx 'env: TINY_VAR=tiny value with spaces'"

echo "# errors"
expect_pull_error "private/tiny anonymously on the token instance" \
    "access to 'private/tiny' on '127.0.0.1:5002' denied for anonymous (HTTP 401" \
    --allow-http --cache "$WORK/cache-err" 127.0.0.1:5002/private/tiny:latest
check "private/tiny with credentials on the token instance" "$PULL" -q --allow-http \
    --cache "$WORK/cache-err" --credentials "$WORK/credentials" 127.0.0.1:5002/private/tiny:latest
expect_pull_error "wrong password on the token instance" \
    "authentication to '127.0.0.1:5002' failed for testuser: the token server rejected the credentials" \
    --allow-http --cache "$WORK/cache-err" --credentials "$WORK/bad-credentials" 127.0.0.1:5002/tiny:latest
expect_pull_error "wrong password on the basic instance" "denied for testuser (HTTP 401" \
    --allow-http --cache "$WORK/cache-err" --credentials "$WORK/bad-credentials" 127.0.0.1:5001/tiny:latest
expect_pull_error "no credentials on the basic instance" "registry '127.0.0.1:5001' requires a login" \
    --allow-http --cache "$WORK/cache-err" 127.0.0.1:5001/tiny:latest
expect_pull_error "tiny:arm64-only on amd64" "image '127.0.0.1:5000/tiny:arm64-only' is for linux/arm64, not linux/amd64" \
    --allow-http --cache "$WORK/cache-err" 127.0.0.1:5000/tiny:arm64-only
expect_pull_error "missing tag" "not found (HTTP 404: MANIFEST_UNKNOWN" \
    --allow-http --cache "$WORK/cache-err" 127.0.0.1:5000/tiny:no-such-tag
expect_pull_error "plain-HTTP registry without HTTP allowed" "a plain-HTTP registry needs HTTP allowed" \
    --cache "$WORK/cache-err" 127.0.0.1:5000/tiny:latest
expect_pull_error "malformed reference" "invalid image reference '127.0.0.1:5000/Tiny': repository name must be lowercase" \
    --allow-http --cache "$WORK/cache-err" 127.0.0.1:5000/Tiny
check "no password in any output" bash -c "! '$PULL' -v --allow-http --cache '$WORK/cache-err' \
    --credentials '$WORK/bad-credentials' 127.0.0.1:5002/tiny:latest 2>&1 | grep -q wrongpass"

echo "# faults (proxy on 127.0.0.1:$PROXY_PORT)"
LAYERED_BIG="$("$PULL" -q --allow-http --cache "$WORK/cache-plain" --no-layers 127.0.0.1:5000/layered:latest \
    | awk '$1=="layer:" { print $3, $2 }' | sort -n | tail -1 | cut -d' ' -f2)"
BIG_HEX="${LAYERED_BIG#sha256:}"
TINY_LAYER="$("$PULL" -q --allow-http --cache "$WORK/cache-plain" --no-layers 127.0.0.1:5000/tiny:latest \
    | awk '$1=="layer:" { print $2 }')"
TINY_HEX="${TINY_LAYER#sha256:}"
ZSTD_LAYER="$("$PULL" -q --allow-http --cache "$WORK/cache-plain" --no-layers 127.0.0.1:5000/tiny:zstd \
    | awk '$1=="layer:" { print $2 }')"
ZSTD_HEX="${ZSTD_LAYER#sha256:}"
UNC_LAYER="$("$PULL" -q --allow-http --cache "$WORK/cache-plain" --no-layers 127.0.0.1:5000/tiny:uncompressed \
    | awk '$1=="layer:" { print $2 }')"
UNC_HEX="${UNC_LAYER#sha256:}"
python3 "$SRC/tests/integration/fault-proxy.py" --port "$PROXY_PORT" --log "$WORK/proxy.log" \
    --cut "$BIG_HEX:50000000" --status "$TINY_HEX:429:1" --corrupt "$ZSTD_HEX" \
    --status "$UNC_HEX:503:10" &
proxy_pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PROXY_PORT/v2/" && break; sleep 0.1; done
PX="127.0.0.1:$PROXY_PORT"

check "a blob cut mid-transfer is resumed" "$PULL" -q --allow-http --cache "$WORK/cache-fault" "$PX/layered:latest"
check "the resumed request asked for the rest (Range bytes=50000000-)" \
    grep -q "/blobs/$LAYERED_BIG bytes=50000000- 206" "$WORK/proxy.log"
check "the resumed blob is intact" blobs_verified "$WORK/cache-fault"
start=$(date +%s%N)
check "429 then 200 succeeds" "$PULL" -q --allow-http --cache "$WORK/cache-fault" "$PX/tiny:latest"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "Retry-After: 1 was honoured (${elapsed_ms} ms)" test "$elapsed_ms" -ge 950
check "the 429 was answered, then the blob fetched" test "$(grep -c "/blobs/$TINY_LAYER " "$WORK/proxy.log")" = 2
expect_pull_error "a corrupted blob is rejected" "blob $ZSTD_LAYER: digest mismatch" \
    --allow-http --cache "$WORK/cache-fault" "$PX/tiny:zstd"
check "the corrupted blob is not in the cache" test ! -e "$WORK/cache-fault/blobs/sha256/$ZSTD_HEX"
check "no temp file after the rejection" blobs_verified "$WORK/cache-fault"
expect_pull_error "persistent 503 fails after the retries" "HTTP 503: INJECTED: fault proxy (after 6 attempts)" \
    --allow-http --cache "$WORK/cache-fault" "$PX/tiny:uncompressed"

echo "# two processes, one cache: each blob downloaded once"
: >"$WORK/proxy.log"
"$PULL" -q --allow-http --cache "$WORK/cache-shared" "$PX/debian:bookworm-python" >/dev/null & p1=$!
"$PULL" -q --allow-http --cache "$WORK/cache-shared" "$PX/debian:bookworm-python" >/dev/null & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
check "both concurrent pulls succeed" test "$r1$r2" = 00
dups="$(grep ' GET .*/blobs/' "$WORK/proxy.log" | awk '$3 == "-" { print $2 }' | sort | uniq -d)"
check "no blob fetched twice" test -z "$dups"
check "shared cache intact" blobs_verified "$WORK/cache-shared"

echo "# as an unprivileged user"
ensure_test_user
if runuser -u lctest -- env HOME=/home/lctest "$PULL" -q --allow-http 127.0.0.1:5002/tiny:latest >/dev/null; then
    ok "unprivileged user pulls into ~/.cache/libcontainer"
else
    not_ok "unprivileged user pull"
fi
check "the user's cache is the user's, mode 0700" test \
    "$(stat -c '%U %a' /home/lctest/.cache/libcontainer/blobs/sha256)" = "lctest 700"
mkdir -p /home/lctest/.config/enroot
cp "$WORK/credentials" /home/lctest/.config/enroot/.credentials
chown -R lctest: /home/lctest/.config
check "enroot's credentials file is found by default" runuser -u lctest -- env HOME=/home/lctest \
    "$PULL" -q --allow-http --digest 127.0.0.1:5002/private/tiny:latest
rm -rf /home/lctest/.cache/libcontainer /home/lctest/.config/enroot

echo "# the import module: loaded on the first pull, refused when it is not the library's"
MODTEST="$WORK/module-test"
mkdir -p "$MODTEST"
cp "$BUILD/libcontainer.so.0" "$MODTEST/"
echo "not a shared object" >"$MODTEST/libcontainer-import.so"
expect_status "a module that does not load is named (exit 1)" 1 "cannot load the import module" \
    env LD_LIBRARY_PATH="$MODTEST" "$PULL" -q --allow-http 127.0.0.1:5000/tiny:latest
printf 'struct abi { const char *v; unsigned long t, i, c; };\nconst struct abi lc_import_module_table = { "0.0.0-other", 1, 1, 1 };\n' \
    >"$WORK/other-module.c"
cc -shared -fPIC -o "$MODTEST/libcontainer-import.so" "$WORK/other-module.c"
expect_status "a module of another build is refused by name (exit 1)" 1 \
    "$MODTEST/libcontainer-import.so is not of this build" \
    env LD_LIBRARY_PATH="$MODTEST" "$PULL" -q --allow-http 127.0.0.1:5000/tiny:latest
"$BUILD/tools/ctr-import" -q --allow-http -o "$WORK/module-test.sqsh" 127.0.0.1:5000/tiny:latest >/dev/null
check "a container starts without the module (a bad one beside the library is never loaded)" \
    env LD_LIBRARY_PATH="$MODTEST" "$BUILD/tools/ctr-run" --no-entrypoint "$WORK/module-test.sqsh" /bin/true

echo "# the installed library through pkg-config"
DEST="$WORK/destdir"
if meson install -C "$BUILD" --destdir "$DEST" >/dev/null 2>&1; then
    PC="$(dirname "$(find "$DEST" -name libcontainer.pc | head -1)")"
    if cc -o "$WORK/pull-image" "$SRC/examples/pull-image.c" \
        $(PKG_CONFIG_PATH="$PC" PKG_CONFIG_SYSROOT_DIR="$DEST" pkg-config --cflags --libs libcontainer) 2>"$WORK/cc.log"; then
        out="$(LD_LIBRARY_PATH="$(dirname "$(find "$DEST" -name 'libcontainer.so' | head -1)")" \
            "$WORK/pull-image" 127.0.0.1:5000/tiny:latest "$WORK/cache-example" 2>&1)"
        if [[ "$out" == *"$(tsv_digest tiny:latest)"* ]]; then ok "example links via pkg-config and pulls"
        else not_ok "example output: $out"; fi
    else
        not_ok "example does not compile: $(cat "$WORK/cc.log")"
    fi
    LIBDIR="$(dirname "$(find "$DEST" -name 'libcontainer.so.0' | head -1)")"
    check "the import module is installed in the library's libcontainer/" \
        test -f "$LIBDIR/libcontainer/libcontainer-import.so"
    # a container's start loads none of the import's stacks: they are the module's alone
    needed="$(readelf -d "$LIBDIR/libcontainer.so.0" "$BUILD/src/spank/spank_libcontainer.so" 2>/dev/null | grep NEEDED)"
    check "the library and the plugin need neither libcurl, libarchive nor libcrypto" \
        bash -c '[ -n "$1" ] && ! grep -qE "libcurl|libarchive|libcrypto|libisal" <<<"$1"' _ "$needed"
    check "the module needs them" bash -c 'readelf -d "$1" | grep NEEDED | grep -q libcurl' _ \
        "$LIBDIR/libcontainer/libcontainer-import.so"
else
    not_ok "meson install"
fi

finish
