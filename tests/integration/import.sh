#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Integration test of ctr-import against the loopback registry of ../shared/registry: the content
# of every imported image is compared with the expected model or with umoci's unpack of the same
# image; real tools (unsquashfs, squashfuse) must read our files; hostile layers fail cleanly.
# usage: import.sh BUILD_DIR SOURCE_DIR
set -uo pipefail

BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
IMPORT="$BUILD/tools/ctr-import"
SQUASH_TOOL="$BUILD/tools/ctr-squash"
# shellcheck source=lib.sh
. "$SRC/tests/integration/lib.sh"
CACHE="$WORK/cache"
mnt=""
cleanup_hooks+=('[ -n "$mnt" ] && umount "$mnt" 2>/dev/null')

start_registry

# import REF OUT [options]: quiet import from the plain instance
import() { local ref="$1" out="$2"; shift 2; "$IMPORT" -q --allow-http --cache "$CACHE" -o "$out" "$@" "127.0.0.1:5000/$ref" >/dev/null; }

# walk_sqsh SQSH JSONL: unpack with unsquashfs and describe every entry
walk_sqsh() {
    local dir="$WORK/unpack-$$-$RANDOM"
    unsquashfs -q -n -d "$dir" "$1" >/dev/null 2>&1 || { echo "unsquashfs failed on $1"; return 1; }
    "${OCITOOL[@]}" walk --root "$dir" --txt /dev/null --jsonl "$2" >/dev/null || return 1
    rm -rf "$dir"
}

# matches SQSH EXPECTED-JSONL [compare options]: the image holds exactly the expected filesystem
matches() {
    local sqsh="$1" want="$2"; shift 2
    walk_sqsh "$sqsh" "$WORK/got.jsonl" && "${OCITOOL[@]}" compare "$@" "$want" "$WORK/got.jsonl" >"$WORK/compare.log" 2>&1 \
        || { head -20 "$WORK/compare.log"; return 1; }
}

# umoci_model TAG JSONL: the filesystem umoci unpacks from the OCI layout (reference)
umoci_model() {
    rm -rf "$WORK/umoci"
    umoci unpack --image "$IMAGES_CACHE/oci:$1" "$WORK/umoci" >/dev/null 2>&1 || return 1
    "${OCITOOL[@]}" walk --root "$WORK/umoci/rootfs" --txt /dev/null --jsonl "$2" >/dev/null
    rm -rf "$WORK/umoci"
}

echo "# content: layered (every whiteout, hardlink, xattr, owner and name case)"
for tag in latest v2s2; do
    check "layered:$tag imports" import "layered:$tag" "$WORK/layered-$tag.sqsh"
    check "layered:$tag equals expected/layered.jsonl" matches "$WORK/layered-$tag.sqsh" "$SHARED/registry/expected/layered.jsonl"
done
for tag in compat compat-v2s2; do
    check "layered:$tag imports" import "layered:$tag" "$WORK/layered-$tag.sqsh"
    check "layered:$tag equals expected/layered-compat.jsonl" matches "$WORK/layered-$tag.sqsh" "$SHARED/registry/expected/layered-compat.jsonl"
done

echo "# content: tiny and debian against umoci's unpack of the same images"
umoci_model tiny-amd64 "$WORK/tiny.model.jsonl" || not_ok "umoci unpack tiny"
for tag in latest v2s2 zstd uncompressed multiarch multiarch-v2s2; do
    check "tiny:$tag imports" import "tiny:$tag" "$WORK/tiny-$tag.sqsh"
    check "tiny:$tag equals umoci's unpack" matches "$WORK/tiny-$tag.sqsh" "$WORK/tiny.model.jsonl"
done
umoci_model debian-bookworm "$WORK/debian.model.jsonl" || not_ok "umoci unpack debian"
for tag in bookworm bookworm-oci; do
    check "debian:$tag imports" import "debian:$tag" "$WORK/debian-$tag.sqsh"
    check "debian:$tag equals umoci's unpack" matches "$WORK/debian-$tag.sqsh" "$WORK/debian.model.jsonl"
done
umoci_model debian-bookworm-python "$WORK/python.model.jsonl" || not_ok "umoci unpack debian-python"
check "debian:bookworm-python imports" import debian:bookworm-python "$WORK/python.sqsh"
check "debian:bookworm-python equals umoci's unpack" matches "$WORK/python.sqsh" "$WORK/python.model.jsonl"
check "zlib inflate (--gzip-zlib) imports" import debian:bookworm "$WORK/zlib.sqsh" --gzip-zlib
check "zlib inflate gives the same content" matches "$WORK/zlib.sqsh" "$WORK/debian.model.jsonl"

echo "# the answer on stdout: one key=value line per fact (what the Slurm plugin reads)"
digest="$("$IMPORT" -q --allow-http --cache "$CACHE" --digest 127.0.0.1:5000/tiny:latest)"
check "--digest answers digest=sha256:<64 hex> alone" grep -Eqx 'digest=sha256:[0-9a-f]{64}' <<<"$digest"
ans="$("$IMPORT" -q --allow-http --cache "$CACHE" -o "$WORK/answer.sqsh" 127.0.0.1:5000/tiny:latest 2>"$WORK/answer.err")"
check "an import answers image_path=<its absolute path>" grep -qx "image_path=$WORK/answer.sqsh" <<<"$ans"
check "... the same digest" grep -qx "$digest" <<<"$ans"
check "... the file's size" grep -qx "image_bytes=$(stat -c %s "$WORK/answer.sqsh")" <<<"$ans"
check "... its phases" grep -Eq '^convert_ms=[0-9]+$' <<<"$ans"
check "... and nothing else (every line is key=value)" test -z "$(grep -v '^[a-z_]*=' <<<"$ans")"
check "... and writes no message with -q" test ! -s "$WORK/answer.err"
nc="$WORK/node-cache"
mkdir -p "$nc"
ans="$("$IMPORT" -q --allow-http --node-cache "$nc" --lookup 127.0.0.1:5000/tiny:latest)"
check "--node-cache --lookup of a new image answers cache=miss and no image" \
    test "$(grep -c '^cache=miss$' <<<"$ans")$(grep -c "^image_path=" <<<"$ans")" = 10
ans="$("$IMPORT" -q --allow-http --node-cache "$nc" 127.0.0.1:5000/tiny:latest)"
entry="$(sed -n "s/^image_path=//p" <<<"$ans")"
check "--node-cache fills: cache=filled, image_path= the entry's file" \
    test "$(grep -c '^cache=filled$' <<<"$ans")" = 1 -a -f "$entry" -a "${entry#"$nc"/}" != "$entry"
ans="$("$IMPORT" -q --allow-http --node-cache "$nc" --lookup 127.0.0.1:5000/tiny:latest)"
check "--lookup then answers cache=hit with the same file" \
    test "$(grep -c '^cache=hit$' <<<"$ans")" = 1 -a "$(sed -n "s/^image_path=//p" <<<"$ans")" = "$entry"

echo "# progress lines for a caller (the Slurm plugin's pipe)"
"$IMPORT" -q --allow-http --cache "$WORK/lines-cache" --progress-fd 3 --progress-every 0 \
    -o "$WORK/lines.sqsh" 127.0.0.1:5000/debian:bookworm 3>"$WORK/progress" >/dev/null 2>&1
check "--progress-fd: the import's progress as lines ($(tail -1 "$WORK/progress"))" \
    grep -Eq '^importing 127.0.0.1:5000/debian:bookworm: downloaded [0-9.]+ of [0-9.]+ MB, merging layer 1 of 1, [0-9.]+ MB unpacked \([0-9]+ s\)$' "$WORK/progress"
"$IMPORT" -q --allow-http --progress-fd 3 -o "$WORK/lines2.sqsh" 127.0.0.1:5000/tiny:latest 3>"$WORK/progress" >/dev/null 2>&1
check "... none for an import shorter than --progress-every (10 s)" test ! -s "$WORK/progress"
check "--progress-fd of a closed fd is a usage error" \
    bash -c '"$1" --progress-fd 7 -o /dev/null x/y 2>&1 | grep -q "bad --progress-fd .7."; test "${PIPESTATUS[0]}" = 2' _ "$IMPORT"
# another import holds the entry's fill lock and says who it is (the line fill_lock.c writes)
lock="$(ls "$nc"/.pyxis_cache_fill_*.lock)"
( flock 9; printf 'lc-fill otherhost 42 1 3 5000000\n' >&9; touch "$WORK/held"; sleep 2.5 ) 9<>"$lock" &
for _ in $(seq 100); do [ -e "$WORK/held" ] && break; sleep 0.05; done
ans="$("$IMPORT" -q --allow-http --node-cache "$nc" --progress-fd 3 --progress-every 1 127.0.0.1:5000/tiny:latest 3>"$WORK/progress")"
wait
check "a fill that waits for another says whom it waits for, at once ($(head -1 "$WORK/progress"))" \
    test "$(head -1 "$WORK/progress")" = "waiting for otherhost to import 127.0.0.1:5000/tiny:latest"
check "... then how far that one got ($(sed -n 2p "$WORK/progress"))" \
    grep -Eq '^waiting for otherhost to import 127.0.0.1:5000/tiny:latest: merging layer 2 of 3, 5.0 MB unpacked \([12] s\)$' "$WORK/progress"
check "... and uses the entry once it is free (cache=hit)" grep -q '^cache=hit$' <<<"$ans"

echo "# real tools read our images"
check "unsquashfs -s" bash -c "unsquashfs -s '$WORK/layered-latest.sqsh' | grep -q 'Compression zstd'"
check "unsquashfs -l lists every entry" test "$(unsquashfs -l "$WORK/debian-bookworm.sqsh" | grep -c '^squashfs-root/')" \
    = "$(($(wc -l < "$WORK/debian.model.jsonl")))"
# squashfuse_ll: the high-level squashfuse gives each hardlink its own inode number. Both report
# security.* xattrs as trusted.* (squashfuse 0.1.105, also for mksquashfs's images), so xattrs are
# compared through unsquashfs above and left out here.
if [ -c /dev/fuse ] && command -v squashfuse_ll >/dev/null; then
    mnt="$WORK/mnt"; mkdir -p "$mnt"
    if squashfuse_ll "$WORK/layered-latest.sqsh" "$mnt"; then
        "${OCITOOL[@]}" walk --root "$mnt" --txt /dev/null --jsonl "$WORK/fuse.jsonl" >/dev/null
        check "squashfuse_ll's view equals the expected filesystem (xattrs aside)" \
            "${OCITOOL[@]}" compare --ignore xattrs "$SHARED/registry/expected/layered.jsonl" "$WORK/fuse.jsonl"
        umount "$mnt"; mnt=""
    else
        not_ok "squashfuse mounts our image"
    fi
else
    echo "# skip squashfuse view: no /dev/fuse or squashfuse_ll on this machine"
fi

echo "# the image config travels inside the file"
rm -rf "$WORK/root-x"; unsquashfs -q -n -d "$WORK/root-x" "$WORK/tiny-latest.sqsh" >/dev/null 2>&1
meta="$(python3 -c "import os,sys; print(os.getxattr(sys.argv[1], 'user.lc.image').decode())" "$WORK/root-x" 2>&1)"
check "root xattr user.lc.image holds the config" python3 -c "
import json, sys
m = json.loads(sys.argv[1])
assert m['reference'] == '127.0.0.1:5000/tiny:latest', m
assert m['digest'] == sys.argv[2], m
c = m['config']
assert c['Entrypoint'] == ['/bin/echo', 'tiny-entrypoint:'], m
assert c['Cmd'] == ['hello', 'world'] and c['WorkingDir'] == '/work', m
assert 'TINY_VAR=tiny value with spaces' in c['Env'], m
assert c['Labels']['org.opencontainers.image.title'] == 'tiny', m
assert m['architecture'] == 'amd64' and m['os'] == 'linux', m
" "$meta" "$(tsv_digest tiny:latest)"

check "ctr-squash config reads it back" bash -c "'$BUILD/tools/ctr-squash' config '$WORK/tiny-latest.sqsh' > '$WORK/cfg.txt' \
    && grep -qx 'entrypoint: tiny-entrypoint:' '$WORK/cfg.txt' && grep -qx 'workdir: /work' '$WORK/cfg.txt' \
    && grep -qx 'digest: $(tsv_digest tiny:latest)' '$WORK/cfg.txt' && grep -qx 'env: TINY_VAR=tiny value with spaces' '$WORK/cfg.txt'"
mkdir -p "$WORK/enroot-img/etc"
printf 'PATH=/usr/bin:/bin\nFOO=bar baz\n' >"$WORK/enroot-img/etc/environment"
printf '# enroot-provenance: docker://nvcr.io#nvidia/cuda:12.4\n# org.label value\nexec "$@"\n' >"$WORK/enroot-img/etc/rc"
mksquashfs "$WORK/enroot-img" "$WORK/enroot.sqsh" -quiet -no-progress >/dev/null
check "an enroot-made image: env, provenance, /etc/rc as entrypoint" bash -c "'$BUILD/tools/ctr-squash' config '$WORK/enroot.sqsh' > '$WORK/ecfg.txt' \
    && grep -qx 'env: FOO=bar baz' '$WORK/ecfg.txt' && grep -qx 'reference: docker://nvcr.io#nvidia/cuda:12.4' '$WORK/ecfg.txt' \
    && grep -qx 'entrypoint: /etc/rc' '$WORK/ecfg.txt'"
mkdir -p "$WORK/plain-img" && echo x >"$WORK/plain-img/file"
mksquashfs "$WORK/plain-img" "$WORK/plain.sqsh" -quiet -no-progress >/dev/null
check "a plain squashfs has no config" test -z "$("$BUILD/tools/ctr-squash" config "$WORK/plain.sqsh" 2>/dev/null || echo failed)"

echo "# options"
ENROOT_SQUASH_OPTIONS="-comp zstd -Xcompression-level 9 -b 128K" import tiny:latest "$WORK/opt.sqsh"
check "ENROOT_SQUASH_OPTIONS block size" bash -c "unsquashfs -s '$WORK/opt.sqsh' | grep -q '^Block size 131072'"
check "ENROOT_SQUASH_OPTIONS compression level" bash -c "unsquashfs -s '$WORK/opt.sqsh' | grep -q 'compression-level 9'"
check "--compress none stores data uncompressed" import debian:bookworm "$WORK/none.sqsh" --compress none
check "uncompressed image is larger" test "$(stat -c %s "$WORK/none.sqsh")" -gt "$(stat -c %s "$WORK/debian-bookworm.sqsh")"
check "uncompressed image has the same content" matches "$WORK/none.sqsh" "$WORK/debian.model.jsonl"
check "--all-root maps every owner to 0" import layered:latest "$WORK/allroot.sqsh" --all-root
check "--all-root content otherwise equal" matches "$WORK/allroot.sqsh" "$SHARED/registry/expected/layered.jsonl" --ignore uid,gid
check "no owner but root with --all-root" bash -c "! unsquashfs -lln '$WORK/allroot.sqsh' | awk '{print \$2}' | grep -v '^0/0$' | grep -q ."
expect_error "bad --compress value" "compression 'lz4'" "$IMPORT" -q --allow-http --cache "$CACHE" -o "$WORK/x.sqsh" --compress lz4 127.0.0.1:5000/tiny:latest
expect_error "unsupported ENROOT_SQUASH_OPTIONS" "only '-comp zstd' is supported" env ENROOT_SQUASH_OPTIONS="-comp xz" "$IMPORT" -q --allow-http --cache "$CACHE" -o "$WORK/x.sqsh" 127.0.0.1:5000/tiny:latest

script -qc "'$IMPORT' --allow-http --cache '$WORK/progress-cache' -o '$WORK/progress.sqsh' 127.0.0.1:5000/layered:latest" /dev/null \
    | tr '\r' '\n' >"$WORK/progress.txt"
check "terminal progress shows downloads and each phase" bash -c "grep -q '^download 5/5 layers 212.2/212.2 MB' '$WORK/progress.txt' \
    && grep -q 'converting layer 1 of 5' '$WORK/progress.txt' && grep -q 'converting layer 5 of 5' '$WORK/progress.txt' \
    && grep -q '| finishing' '$WORK/progress.txt' && grep -q '| done' '$WORK/progress.txt'"
check "no progress when stderr is not a terminal" test -z "$("$IMPORT" --allow-http --cache "$WORK/progress-cache" -f -o "$WORK/progress.sqsh" 127.0.0.1:5000/tiny:latest 2>&1 | grep download)"

echo "# output file handling"
expect_error "an existing output is not overwritten" "already exists" "$IMPORT" -q --allow-http --cache "$CACHE" -o "$WORK/tiny-latest.sqsh" 127.0.0.1:5000/tiny:v2s2
check "-f replaces it" import tiny:v2s2 "$WORK/tiny-latest.sqsh" -f
mkdir -p "$WORK/cwd" && (cd "$WORK/cwd" && "$IMPORT" -q --allow-http --cache "$CACHE" 127.0.0.1:5000/tiny:latest)
check "default name as enroot's (tiny+latest.sqsh)" test -s "$WORK/cwd/tiny+latest.sqsh"
(cd "$WORK/cwd" && "$IMPORT" -q --allow-http --cache "$CACHE" "127.0.0.1:5000/debian@$(tsv_digest debian:bookworm)")
check "default name of a digest reference" test -s "$WORK/cwd/debian+sha256-$(tsv_digest debian:bookworm | cut -c8-19).sqsh"

echo "# kill -9 in the middle of an import"
rm -rf "$WORK/killcache" "$WORK/killdir" && mkdir "$WORK/killdir"
"$IMPORT" -q --allow-http --cache "$WORK/killcache" -o "$WORK/killdir/killed.sqsh" 127.0.0.1:5000/layered:latest & victim=$!
sleep 0.4; kill -9 "$victim" 2>/dev/null; wait "$victim" 2>/dev/null
check "no output file and no temporary file after kill -9 (an unnamed file: $(ls -A "$WORK/killdir"))" \
    test -z "$(ls -A "$WORK/killdir")"
rm -rf "$WORK/killdir"
check "the next import succeeds" "$IMPORT" -q --allow-http --cache "$WORK/killcache" -o "$WORK/killed.sqsh" 127.0.0.1:5000/layered:latest
check "and is complete" matches "$WORK/killed.sqsh" "$SHARED/registry/expected/layered.jsonl"

echo "# hostile layers: each fails with a message naming the layer and the entry, leaves nothing"
mkdir -p "$WORK/hostile" "$WORK/hl-out"
python3 "$SRC/tests/integration/hostile-layers.py" "$WORK/hostile" >"$WORK/hostile/cases.txt"
echo '{"architecture":"amd64","os":"linux","config":{}}' >"$WORK/hostile/config.json"
while read -r name expect; do
    "${OCITOOL[@]}" image --layout "$WORK/hl-layout" --work "$WORK/hl-work" --tag "$name" \
        --config-json "$WORK/hostile/config.json" --layer "$WORK/hostile/$name.tar" >/dev/null &&
    skopeo copy -q --dest-tls-verify=false "oci:$WORK/hl-layout:$name" "docker://127.0.0.1:5000/hostile:$name" ||
        { not_ok "build hostile image $name"; continue; }
    if [ "$expect" = ok ]; then
        check "edge case $name imports" import "hostile:$name" "$WORK/hl-out/$name.sqsh"
        check "... and stores no .wh. name" bash -c "! unsquashfs -lln '$WORK/hl-out/$name.sqsh' | grep -q '/\.wh\.'"
    else
        expect_error "hostile $name: '$expect'" "$expect" "$IMPORT" -q --allow-http --cache "$CACHE" \
            -o "$WORK/hl-out/$name.sqsh" "127.0.0.1:5000/hostile:$name"
        check "hostile $name names its layer" bash -c "'$IMPORT' -q --allow-http --cache '$CACHE' \
            -o '$WORK/hl-out/$name.sqsh' 127.0.0.1:5000/hostile:$name 2>&1 | grep -q 'layer sha256:'"
    fi
done <"$WORK/hostile/cases.txt"
check "hostile imports left no output and no temp file" test "$(ls -A "$WORK/hl-out" | tr '\n' ' ')" = "devices.sqsh name-255.sqsh whiteout-kinds.sqsh "
check "whiteouts of every kind: the layer's other entries kept" \
    bash -c "unsquashfs -lln '$WORK/hl-out/whiteout-kinds.sqsh' | grep -q '/a/keep\$'"
# configs that lie about their layers (rootfs.diff_ids), as containerd refuses them
for mode in wrong missing extra; do
    rm -rf "$WORK/hc-layout"
    skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:5000/layered:latest" "oci:$WORK/hc-layout:x" &&
        python3 "$SRC/tests/integration/hostile-config.py" "$WORK/hc-layout" x "$mode" &&
        skopeo copy -q --dest-tls-verify=false "oci:$WORK/hc-layout:x" "docker://127.0.0.1:5000/hostile:diff-ids-$mode" ||
        { not_ok "build the image whose config lies ($mode)"; continue; }
done
expect_error "a layer that is not its diff_id is refused, naming it" \
    "layer sha256:$(skopeo inspect --tls-verify=false --raw docker://127.0.0.1:5000/hostile:diff-ids-wrong | python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"][7:])'): its content is not what the image config says (rootfs.diff_ids[0] is sha256:" \
    "$IMPORT" -q --allow-http --cache "$CACHE" -o "$WORK/hl-out/diff-ids.sqsh" "127.0.0.1:5000/hostile:diff-ids-wrong"
expect_error "a config without diff_ids is refused" "image config: rootfs.diff_ids names 0 layers, the manifest 5" \
    "$IMPORT" -q --allow-http --cache "$CACHE" -o "$WORK/hl-out/diff-ids.sqsh" "127.0.0.1:5000/hostile:diff-ids-missing"
expect_error "a config with one diff_id too many is refused" "image config: rootfs.diff_ids names 6 layers, the manifest 5" \
    "$IMPORT" -q --allow-http --cache "$CACHE" -o "$WORK/hl-out/diff-ids.sqsh" "127.0.0.1:5000/hostile:diff-ids-extra"
check "... and leave no output" test ! -e "$WORK/hl-out/diff-ids.sqsh"
t0=$(date +%s%N)
expect_error "a file of 1 PiB (a sparse file's claim) is refused at once, naming it" "entry 'huge': a file of 1125899906842624 bytes" \
    "$IMPORT" -q --allow-http --cache "$CACHE" -o "$WORK/hl-out/petabyte2.sqsh" "127.0.0.1:5000/hostile:petabyte"
check "... within a second ($(( ($(date +%s%N) - t0) / 1000000 )) ms)" test $(( ($(date +%s%N) - t0) / 1000000 )) -lt 1000
check "--max-file-size 1K takes a file of 2 bytes" \
    "$IMPORT" -q --allow-http --cache "$CACHE" --max-file-size 1K -f -o "$WORK/mfs.sqsh" "127.0.0.1:5000/hostile:name-255"
expect_error "... --max-file-size 1 refuses it" "a file of 2 bytes, more than this import takes (1:" \
    "$IMPORT" -q --allow-http --cache "$CACHE" --max-file-size 1 -f -o "$WORK/mfs.sqsh" "127.0.0.1:5000/hostile:name-255"
rm -f "$WORK/mfs.sqsh"
check "a name of 255 bytes, the most squashfs holds, reads back" \
    bash -c "unsquashfs -lln '$WORK/hl-out/name-255.sqsh' | grep -q '/$(printf 'n%.0s' $(seq 255))\$'"
check "device nodes are kept as recorded" bash -c "unsquashfs -lln '$WORK/hl-out/devices.sqsh' | grep -q '^crw-rw-rw- 0/0 *1, *3 .*/dev/null$'"

echo "# docker-archive: what docker save and podman save write (dockerd://, podman://)"
skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:5000/layered:latest" "docker-archive:$WORK/layered.tar:layered:latest"
ans="$("$IMPORT" -q --cache "$WORK/arch-cache" --from-archive "$WORK/layered.tar" -o "$WORK/arch.sqsh" local.test/layered:latest)"
check "--from-archive: a docker-archive (skopeo's) imports" test -f "$WORK/arch.sqsh"
check "... with the registry image's content" matches "$WORK/arch.sqsh" "$SHARED/registry/expected/layered.jsonl"
check "... and its config ($("$SQUASH_TOOL" config "$WORK/arch.sqsh" | grep -m1 '^env:'))" \
    bash -c '"$1" config "$2" | grep -q "^reference: local.test/layered:latest$"' _ "$SQUASH_TOOL" "$WORK/arch.sqsh"
check "... the work directory is gone" test -z "$(find "$WORK/arch-cache" -maxdepth 1 -name '.archive.*')"
ans2="$("$IMPORT" -q --cache "$WORK/arch-cache2" --from-archive - -o "$WORK/arch2.sqsh" local.test/layered:latest <"$WORK/layered.tar")"
check "... from stdin, with the same manifest digest ($(grep '^digest=' <<<"$ans"))" \
    test "$(grep '^digest=' <<<"$ans")" = "$(grep '^digest=' <<<"$ans2")" -a -n "$(grep '^digest=sha256:' <<<"$ans")"
mkdir -p "$WORK/fake-docker" && printf '#!/bin/sh\n[ "$1 $2" = "save layered" ] || { echo "Error: No such image: $2" >&2; exit 1; }\nexec cat "%s"\n' \
    "$WORK/layered.tar" >"$WORK/fake-docker/docker" && chmod +x "$WORK/fake-docker/docker"
# a stand-in for docker's client (no Docker daemon here): the path after it is the real one
ans3="$(cd "$WORK" && PATH="$WORK/fake-docker:$PATH" "$IMPORT" -q --cache "$WORK/arch-cache" dockerd://layered)"
check "dockerd://NAME: the save streams into the import, enroot's file name ($(grep '^image_path=' <<<"$ans3"))" \
    test "$(grep '^image_path=' <<<"$ans3")" = "image_path=$WORK/layered+latest.sqsh"
expect_error "dockerd:// of an image the daemon lacks: its message" "docker save nope failed: Error: No such image: nope" \
    env PATH="$WORK/fake-docker:$PATH" "$IMPORT" -q --cache "$WORK/arch-cache" -o "$WORK/nope.sqsh" dockerd://nope
expect_error "podman:// without podman: a clear error" "podman save x failed: cannot run podman: No such file or directory" \
    env PATH=/nonexistent "$IMPORT" -q --cache "$WORK/arch-cache" -o "$WORK/nope.sqsh" podman://x
check "... and no file" test ! -e "$WORK/nope.sqsh"
# hostile archives
head -c 5000 /dev/urandom >"$WORK/garbage.tar"
expect_error "an archive that is not a tar" "image archive:" \
    "$IMPORT" -q --cache "$WORK/arch-cache" --from-archive "$WORK/garbage.tar" -o "$WORK/h.sqsh" x.test/a:1
mkdir -p "$WORK/harch" && echo x >"$WORK/harch/file" && tar -C "$WORK/harch" -cf "$WORK/nomanifest.tar" file
expect_error "a tar without manifest.json" "image archive: no manifest.json (not a docker-archive)" \
    "$IMPORT" -q --cache "$WORK/arch-cache" --from-archive "$WORK/nomanifest.tar" -o "$WORK/h.sqsh" x.test/a:1
echo '[{"Config":"c.json","Layers":["missing/layer.tar"]}]' >"$WORK/harch/manifest.json" && echo '{}' >"$WORK/harch/c.json"
tar -C "$WORK/harch" -cf "$WORK/missing.tar" manifest.json c.json
expect_error "a manifest.json naming a layer the archive lacks" "image archive: layer missing/layer.tar is missing" \
    "$IMPORT" -q --cache "$WORK/arch-cache" --from-archive "$WORK/missing.tar" -o "$WORK/h.sqsh" x.test/a:1
ln -sf ../../../etc/passwd "$WORK/harch/layer.tar" && tar -C "$WORK/harch" -cf "$WORK/escape.tar" manifest.json c.json layer.tar
expect_error "a member linking outside the archive" "image archive: layer.tar links outside the archive" \
    "$IMPORT" -q --cache "$WORK/arch-cache" --from-archive "$WORK/escape.tar" -o "$WORK/h.sqsh" x.test/a:1
check "hostile archives leave no output and no work directory" \
    test ! -e "$WORK/h.sqsh" -a -z "$(find "$WORK/arch-cache" -maxdepth 1 -name '.archive.*')"

echo "# save, load, list"
SQUASH="$BUILD/tools/ctr-squash"
check "load an imported image" "$SQUASH" load "$WORK/layered-latest.sqsh" "$WORK/loaded"
check "the loaded tree equals the expected filesystem (xattrs, caps, hardlinks, owners)" bash -c \
    "'${OCITOOL[0]}' '${OCITOOL[1]}' walk --root '$WORK/loaded' --txt /dev/null --jsonl '$WORK/loaded.jsonl' >/dev/null \
     && '${OCITOOL[0]}' '${OCITOOL[1]}' compare '$SHARED/registry/expected/layered.jsonl' '$WORK/loaded.jsonl'"
check "save the loaded tree" "$SQUASH" save "$WORK/loaded" "$WORK/saved.sqsh"
check "round trip directory -> .sqsh -> directory is identical" matches "$WORK/saved.sqsh" "$SHARED/registry/expected/layered.jsonl"
expect_error "save refuses an existing output" "already exists" "$SQUASH" save "$WORK/loaded" "$WORK/saved.sqsh"
check "save --block-size takes a suffix (128K)" bash -c "'$SQUASH' save --block-size 128K '$WORK/loaded' '$WORK/saved-128k.sqsh' \
    && unsquashfs -s '$WORK/saved-128k.sqsh' | grep -q '^Block size 131072'"
check "list shows every entry plus the root" test "$("$SQUASH" list "$WORK/saved.sqsh" | wc -l)" = "$(($(wc -l < "$SHARED/registry/expected/layered.jsonl") + 1))"
check "list shows symlink targets" bash -c "'$SQUASH' list '$WORK/layered-latest.sqsh' | grep -q ' -> '"
mkdir -p "$WORK/nonempty" && echo keep >"$WORK/nonempty/keep"
expect_error "load refuses a non-empty directory" "exists and is not empty" "$SQUASH" load "$WORK/tiny-latest.sqsh" "$WORK/nonempty"
check "and leaves it alone" test "$(ls -A "$WORK/nonempty")" = keep
mkdir -p "$WORK/escape" "$WORK/hsqsh"
python3 "$SRC/tests/integration/hostile-sqsh.py" "$WORK/hsqsh" "$WORK/escape"
# found by fuzz_sqsh: an inode naming xattrs of an image without an xattr table (it crashed)
expect_error "hostile image: xattrs without a table, reading its config" "corrupt xattr table" \
    "$SQUASH" config "$SRC/tests/fuzz/corpus/sqsh/xattr-without-table"
expect_error "hostile image: a name '..'" "invalid name" "$SQUASH" load "$WORK/hsqsh/dotdot.sqsh" "$WORK/h1"
expect_error "hostile image: a name with '/'" "invalid name" "$SQUASH" load "$WORK/hsqsh/slash.sqsh" "$WORK/h2"
expect_error "hostile image: a directory named like a symlink out" "File exists" "$SQUASH" load "$WORK/hsqsh/collide.sqsh" "$WORK/h3"
check "nothing was written through the symlink" test -z "$(ls -A "$WORK/escape")"
check "failed loads leave no directory behind" bash -c "! ls -d '$WORK/h1' '$WORK/h2' '$WORK/h3' 2>/dev/null | grep -q ."
expect_error "list refuses a hostile name" "invalid name" "$SQUASH" list "$WORK/hsqsh/dotdot.sqsh"
expect_error "a file that is not squashfs" "is not a squashfs image" "$SQUASH" list "$SRC/README.md"

echo "# as an unprivileged user"
ensure_test_user
rm -f /home/lctest/tiny.sqsh   # a leftover from an earlier run would make the import refuse
cleanup_hooks+=('rm -f /home/lctest/tiny.sqsh')
if runuser -u lctest -- env HOME=/home/lctest "$IMPORT" -q --allow-http -o /home/lctest/tiny.sqsh \
    127.0.0.1:5000/tiny:latest; then
    ok "unprivileged user imports"
    check "the user's image has the same content" matches /home/lctest/tiny.sqsh "$WORK/tiny.model.jsonl" --ignore uid,gid
else
    not_ok "unprivileged user imports"
fi
if runuser -u lctest -- "$SQUASH" load /home/lctest/tiny.sqsh /home/lctest/tiny-root 2>"$WORK/user-load.log"; then
    ok "unprivileged user loads an image"
    check "owned by the user" test "$(stat -c %U /home/lctest/tiny-root/bin/busybox)" = lctest
else
    not_ok "unprivileged user loads an image: $(cat "$WORK/user-load.log")"
fi
rm -rf /home/lctest/tiny.sqsh /home/lctest/tiny-root /home/lctest/.cache/libcontainer

finish
