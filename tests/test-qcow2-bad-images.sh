#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Bad images get a clear error naming the problem, never a crash:
# truncated files, tables outside the file, absurd sizes, unknown
# feature bits, corrupt/dirty images opened read-write, backing files
# outside backing-dir or without a recorded format, broken L2 entries
# and compressed data found while serving.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/qcow2-helpers.sh"
requires_cmd nbdsh python3
cd "$tmpdir"

qemu-img create -q -f qcow2 good.qcow2 4M
qemu-io -f qcow2 -c 'write -P 0x55 0 128k' good.qcow2 >/dev/null

# patch NAME OFFSET-EXPR FORMAT VALUE: a copy of good.qcow2 with one
# big-endian field changed.  OFFSET-EXPR may use l1 (the L1 offset).
patch ()
{
  python3 - "$@" <<'PY'
import struct, sys, shutil
name, off, fmt, val = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4], 0)
shutil.copy("good.qcow2", name)
with open(name, "r+b") as f:
    hdr = f.read(104)
    l1 = struct.unpack(">Q", hdr[40:48])[0]
    f.seek(eval(off))
    f.write(struct.pack(">" + fmt, val))
PY
}

bad () { pat="$1"; shift; expect_fail_nbdkit "$pat" "$QCOW2" "$@"; }

head -c 50 good.qcow2 > short.qcow2
bad "too short for a qcow2 header" short.qcow2
patch magic.qcow2 0 I 0x12345678;            bad "not a qcow2 image" magic.qcow2
patch ver.qcow2 4 I 4;                       bad "unsupported qcow2 version 4" ver.qcow2
patch cbits.qcow2 20 I 30;                   bad "unsupported cluster size" cbits.qcow2
patch size.qcow2 24 Q 0x7000000000000000;    bad "absurd virtual size" size.qcow2
patch size2.qcow2 24 Q 0x100000000000;       bad "L1 table .* too small" size2.qcow2
patch crypt.qcow2 32 I 1;                    bad "encrypted images" crypt.qcow2
patch l1off.qcow2 40 Q 0x100000000;          bad "L1 table .* outside the file" l1off.qcow2
patch l1al.qcow2 40 Q 0x30001;               bad "not cluster aligned" l1al.qcow2
# An empty L1 table (virtual size 0) at an unaligned offset: QEMU
# refuses it ("Active L1 table offset invalid"), so must we.
qemu-img create -q -f qcow2 empty.qcow2 0
python3 - <<'PY'
import struct
with open("empty.qcow2", "r+b") as f:
    f.seek(40); f.write(struct.pack(">Q", 0x30001))
PY
bad "L1 table offset 196609 is not cluster aligned" empty.qcow2 readonly=true
patch rtoff.qcow2 48 Q 0x7770000;            bad "refcount table .* outside the file" rtoff.qcow2
patch rtsz.qcow2 56 I 0x7fffffff;            bad "invalid refcount table size" rtsz.qcow2
patch snaps.qcow2 60 I 100000;               bad "too many snapshots" snaps.qcow2
patch incompat.qcow2 72 Q 0x400;             bad "unsupported incompatible feature bit 10" incompat.qcow2
patch rorder.qcow2 96 I 7;                   bad "invalid refcount order 7" rorder.qcow2
patch hlen.qcow2 100 I 101;                  bad "invalid header length" hlen.qcow2
patch ext.qcow2 112 Q 0x12345678ffff0000;    bad "overruns the first cluster" ext.qcow2
patch l1ent.qcow2 l1 Q 0x0000000000030100;   bad "corrupt L1 entry 0" l1ent.qcow2

# Corrupt and dirty: served read-only (nbdkit -r, readonly=true); a
# read-write connection is refused with the reason.
# rw_refused NAME PATTERN: the server NAME refuses a rw connection.
rw_refused ()
{
  if nbdinfo "$(uri "$1")" >/dev/null 2>&1; then
    fail "$1: a read-write connection was accepted"
  fi
  grep -Eq "$2" "$(server_log "$1")" || {
    cat "$(server_log "$1")" >&2
    fail "$1: no message matching '$2'"
  }
}
patch corrupt.qcow2 72 Q 2
serve crw corrupt.qcow2
rw_refused crw "corrupt.qcow2: the image is marked corrupt.*qemu-img check -r all"
stop_nbdkit crw
serve ro corrupt.qcow2 readonly=true
nbdsh -u "$(uri ro)" -c 'assert h.pread(512, 0) == b"\x55" * 512'
stop_nbdkit ro
start_nbdkit ro -r "$QCOW2" corrupt.qcow2
nbdsh -u "$(uri ro)" -c 'assert h.pread(512, 0) == b"\x55" * 512'
stop_nbdkit ro
patch dirty.qcow2 72 Q 1
serve drw dirty.qcow2
rw_refused drw "dirty.qcow2: the image is dirty"
stop_nbdkit drw

# L1 pointing past the end of the file: the read fails with EIO and a
# message, the server lives on.
patch l2eof.qcow2 l1 Q 0x8000000010000000
serve eof l2eof.qcow2 readonly=true
nbdsh -u "$(uri eof)" -c '
try:
    h.pread(512, 0)
    assert False, "read succeeded"
except nbd.Error as e:
    assert e.errno == "EIO", e.errno
assert h.get_size() == 4 * 1024 * 1024
'
grep -q "past the end of the file" "$(server_log eof)" || fail "no L2 error logged"
stop_nbdkit eof

# A compressed cluster that does not decompress.
qemu-img create -q -f raw src.raw 1M
qemu-io -f raw -c 'write -P 0x71 0 1M' src.raw >/dev/null
qemu-img convert -c -O qcow2 src.raw comp.qcow2
python3 - <<'PY'
import struct
with open("comp.qcow2", "r+b") as f:
    hdr = f.read(104)
    l1 = struct.unpack(">Q", hdr[40:48])[0]
    f.seek(l1); l2 = struct.unpack(">Q", f.read(8))[0] & 0x00fffffffffffe00
    f.seek(l2); e = struct.unpack(">Q", f.read(8))[0]
    host = e & ((1 << 54) - 1)
    f.seek(host); f.write(b"\xff" * 64)
PY
serve comp comp.qcow2 readonly=true
nbdsh -u "$(uri comp)" -c '
try:
    h.pread(512, 0)
    assert False, "read succeeded"
except nbd.Error as e:
    assert e.errno == "EIO", e.errno
'
grep -q "does not decompress" "$(server_log comp)" || fail "no decompression error logged"
stop_nbdkit comp

# Backing files: confined to backing-dir, format never probed.
mkdir -p inner outer
qemu-img create -q -f raw outer/base.raw 4M
qemu-img create -q -f qcow2 -b ../outer/base.raw -F raw inner/top.qcow2 4M
bad "outside the allowed directory" inner/top.qcow2 readonly=true
serve confined inner/top.qcow2 readonly=true backing-dir="$tmpdir"
stop_nbdkit confined
qemu-img create -q -f qcow2 -b ../outer/base.raw -F raw inner/top2.qcow2 4M
qemu-img rebase -q -u -b ../outer/base.raw inner/top2.qcow2 2>/dev/null || true
python3 - <<'PY'
# Drop the backing format extension by hand: qemu-img insists on one.
import struct
with open("inner/top2.qcow2", "r+b") as f:
    hdr = f.read(4096)
    hl = struct.unpack(">I", hdr[100:104])[0]
    off = hl
    while off + 8 <= 4096:
        t, l = struct.unpack(">II", hdr[off:off + 8])
        if t == 0:
            break
        if t == 0xe2792aca:
            f.seek(off); f.write(struct.pack(">I", 0x12345678))
        off += 8 + ((l + 7) & ~7)
PY
bad "never probed" inner/top2.qcow2 readonly=true backing-dir="$tmpdir"
bad "unknown parameter 'bogus'" good.qcow2 bogus=1
bad "discard: unknown value 'maybe' \\(expected one of: unmap, ignore\\)" good.qcow2 discard=maybe
bad "cluster-size: .* power of 2" good.qcow2 cluster-size=1000
