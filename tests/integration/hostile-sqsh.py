#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Write hostile squashfs images for the load tests (needs mksquashfs).

usage: hostile-sqsh.py OUTDIR ESCAPE_DIR
Builds uncompressed images with mksquashfs, then patches names in the directory table:
  dotdot.sqsh     a file named ".."
  slash.sqsh      a file named "a/b"
  collide.sqsh    a symlink "QX" -> ESCAPE_DIR and a directory also named "QX" holding "f"
A safe loader refuses all three and writes nothing into ESCAPE_DIR.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile


def build(tree, out):
    subprocess.run(["mksquashfs", tree, out, "-noI", "-noD", "-noF", "-noX", "-no-xattrs",
                    "-quiet", "-no-progress", "-noappend", "-all-root"], check=True,
                   stdout=subprocess.DEVNULL)


def patch_dir_table(path, old, new):
    """Replace @old by @new (same length) in the directory table only."""
    assert len(old) == len(new)
    data = bytearray(open(path, "rb").read())
    # superblock: directory_table_start at offset 72, fragment_table_start at 80 (u64 LE)
    dir_start = struct.unpack_from("<Q", data, 72)[0]
    frag_start = struct.unpack_from("<Q", data, 80)[0]
    end = frag_start if frag_start > dir_start else len(data)
    i = data.find(old, dir_start, end)
    assert i >= 0, f"{old!r} not in the directory table of {path}"
    data[i:i + len(new)] = new
    open(path, "wb").write(data)


def main():
    out, escape = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as t:
        os.makedirs(f"{t}/a/d")
        open(f"{t}/a/d/QQ", "w").write("x\n")
        build(f"{t}/a", f"{out}/dotdot.sqsh")
        patch_dir_table(f"{out}/dotdot.sqsh", b"QQ", b"..")

        os.makedirs(f"{t}/b")
        open(f"{t}/b/QQQ", "w").write("x\n")
        build(f"{t}/b", f"{out}/slash.sqsh")
        patch_dir_table(f"{out}/slash.sqsh", b"QQQ", b"a/b")

        os.makedirs(f"{t}/c/QY")
        open(f"{t}/c/QY/f", "w").write("written through a symlink\n")
        os.symlink(escape, f"{t}/c/QX")
        build(f"{t}/c", f"{out}/collide.sqsh")
        patch_dir_table(f"{out}/collide.sqsh", b"QY", b"QX")
        shutil.rmtree(t, ignore_errors=True)


if __name__ == "__main__":
    main()
