#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Make an image's config lie about its layers, in an OCI layout (skopeo copy ... oci:L:T):
the config's rootfs.diff_ids is rewritten, then the manifest and the index that name it.

usage: hostile-config.py LAYOUT TAG MODE
MODE: wrong (the first diff_id is another digest), missing (no rootfs), extra (one more).
"""
import hashlib
import json
import os
import sys


def blob_path(layout, digest):
    return os.path.join(layout, "blobs", "sha256", digest.split(":", 1)[1])


def put(layout, obj):
    data = json.dumps(obj, separators=(",", ":")).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(blob_path(layout, digest), "wb") as f:
        f.write(data)
    return digest, len(data)


def main():
    layout, tag, mode = sys.argv[1:4]
    index_path = os.path.join(layout, "index.json")
    index = json.load(open(index_path))
    entry = next(m for m in index["manifests"]
                 if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
    manifest = json.load(open(blob_path(layout, entry["digest"])))
    config = json.load(open(blob_path(layout, manifest["config"]["digest"])))
    ids = config.setdefault("rootfs", {"type": "layers"}).setdefault("diff_ids", [])
    if mode == "wrong":
        ids[0] = "sha256:" + hashlib.sha256(b"another layer").hexdigest()
    elif mode == "missing":
        del config["rootfs"]
    elif mode == "extra":
        ids.append(ids[-1])
    else:
        sys.exit("unknown mode " + mode)
    manifest["config"]["digest"], manifest["config"]["size"] = put(layout, config)
    entry["digest"], entry["size"] = put(layout, manifest)
    with open(index_path, "w") as f:
        json.dump(index, f)


main()
