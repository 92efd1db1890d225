#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Write hostile (and edge-case) layer tars for the import tests, one per case, into OUTDIR.

usage: hostile-layers.py OUTDIR
Prints one line per case: NAME EXPECT where EXPECT is "ok" or the message part the import error
must contain.
"""
import io
import os
import sys
import tarfile


def info(name, kind=tarfile.REGTYPE, size=0, **kw):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.size = size
    ti.mode = kw.get("mode", 0o644)
    ti.mtime = 1700000000
    for k in ("linkname", "devmajor", "devminor", "uid", "gid"):
        if k in kw:
            setattr(ti, k, kw[k])
    return ti


def write(path, entries, fmt=tarfile.PAX_FORMAT):
    with tarfile.open(path, "w", format=fmt) as t:
        for ti, data in entries:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)


def regular(name, data=b"x\n"):
    return (info(name, size=len(data)), data)


def directory(name):
    return (info(name, tarfile.DIRTYPE, mode=0o755), None)


CASES = {
    "dotdot": ([directory("etc/"), regular("../escape")], "'..' in the name"),
    "dotdot-deep": ([directory("a/"), regular("a/../../escape")], "'..' in the name"),
    "absolute": ([regular("/etc/passwd")], "absolute name"),
    "through-symlink": ([(info("etc", tarfile.SYMTYPE, linkname="/etc"), None),
                         regular("etc/passwd")], "reaches through a symbolic link"),
    "through-file": ([regular("a"), regular("a/b")], "is not a directory"),
    "hardlink-missing": ([regular("a"), (info("b", tarfile.LNKTYPE, linkname="nonexistent"), None)],
                         "is the target of a hardlink but not in the layer"),
    "hardlink-escape": ([regular("a"), (info("b", tarfile.LNKTYPE, linkname="../../etc/shadow"), None)],
                        "'..' in the name"),
    "hardlink-dir": ([directory("d/"), (info("b", tarfile.LNKTYPE, linkname="d"), None)],
                     "hardlink to a directory"),
    "whiteout-dotdot": ([regular(".wh..."), ], "whiteout of an invalid name"),
    "long-name": ([directory("d/"), regular("d/" + "n" * 256)], "a name longer than 255 bytes"),
    "long-dir": ([regular("x" * 300 + "/f")], "a name longer than 255 bytes"),
    "name-255": ([regular("n" * 255)], "ok"),
    # whiteouts of unusual types: each is the whiteout it names, no ".wh." name is stored
    "whiteout-kinds": ([directory("a/"), regular("a/keep"), directory("a/.wh.gone/"),
                        regular("a/.wh.gone/child"), regular("a/.wh.data", b"data\n"),
                        (info("a/.wh.link", tarfile.SYMTYPE, linkname="keep"), None),
                        directory("a/.wh..wh..opq/"), regular("a/.wh..wh..opq/x")], "ok"),
    "devices": ([directory("dev/"),
                 (info("dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3), None),
                 (info("dev/sda", tarfile.BLKTYPE, mode=0o660, devmajor=8, devminor=0), None),
                 (info("dev/big", tarfile.CHRTYPE, mode=0o600, devmajor=300, devminor=70000), None),
                 (info("fifo", tarfile.FIFOTYPE), None), regular("ok")], "ok"),
}


def truncated(path):
    write(path, [regular("big", os.urandom(200000))])
    with open(path, "r+b") as f:
        f.truncate(100000)


def absurd_size(path):
    # a header announcing 8 GiB followed by a few bytes
    ti = info("huge", size=0)
    buf = bytearray(ti.tobuf(tarfile.GNU_FORMAT))
    size_field = b"%011o\0" % 0o77777777777  # 8 GiB, the largest octal size
    buf[124:136] = size_field
    chksum = sum(buf[:148]) + 8 * 32 + sum(buf[156:512])
    buf[148:156] = b"%06o\0 " % chksum
    with open(path, "wb") as f:
        f.write(bytes(buf) + b"abc" + b"\0" * 509)


def sparse_petabyte(path):
    # a pax header claiming a file of 1 PiB (as a sparse file would), then the end: refused
    # before any data is read
    ti = info("huge", size=1 << 50)
    with open(path, "wb") as f:
        f.write(ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape") + b"\0" * 1024)


def pax_lying_length(path):
    # a pax record "17 comment=hello" whose length field says 99: libarchive warns and goes on
    ti = info("f", size=2)
    ti.pax_headers = {"comment": "hello"}
    buf = bytearray(ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
    i = buf.find(b"17 comment=hello")
    buf[i:i + 2] = b"99"
    with open(path, "wb") as f:
        f.write(bytes(buf) + b"x\n" + b"\0" * 510 + b"\0" * 1024)


def garbage(path):
    with open(path, "wb") as f:
        f.write(b"this is not a tar archive at all\n" * 64)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, (entries, expect) in CASES.items():
        write(os.path.join(out, name + ".tar"), entries)
        print(name, expect)
    truncated(os.path.join(out, "truncated.tar"))
    print("truncated", "Truncated tar archive")
    absurd_size(os.path.join(out, "absurd-size.tar"))
    print("absurd-size", "Truncated tar archive")
    sparse_petabyte(os.path.join(out, "petabyte.tar"))
    print("petabyte", "a file of 1125899906842624 bytes, more than this import takes")
    pax_lying_length(os.path.join(out, "pax-length.tar"))
    print("pax-length", "entry 'f': malformed header: Ignoring malformed pax extended attribute")
    garbage(os.path.join(out, "garbage.tar"))
    print("garbage", "layer sha256:")


if __name__ == "__main__":
    main()
