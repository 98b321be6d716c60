#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Write zeroes and discard read back as zeroes, aligned to objects or
# not; block status reports discarded objects as holes; the rest of
# the data is untouched.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/rbd-functions.sh"
requires_cmd nbdsh
rbd_shared_cluster
rbd_image img 32M          # 8 objects of 4 MiB

start_nbdkit srv "$(plugin rbd)" "rbd/$img"
nbdsh -u "$(uri srv)" -c '
M = 1 << 20
fill = b"\xa5" * (32 * M)
h.pwrite(fill, 0)
h.flush()

# (offset, length) of each range; nbdsh takes (count, offset).
h.zero(12345, 100000)                    # unaligned, inside object 0
h.zero(6 * M, 5 * M)                     # across objects 1 and 2
h.trim(8 * M, 16 * M)                    # objects 4 and 5 exactly
h.zero(1000, 30 * M + 7, nbd.CMD_FLAG_FUA)

def zeroes(off, n):
    assert h.pread(n, off) == bytes(n), "not zero at %d+%d" % (off, n)
def data(off, n):
    assert h.pread(n, off) == fill[:n], "data changed at %d+%d" % (off, n)
zeroes(100000, 12345)
zeroes(5 * M, 6 * M)
zeroes(16 * M, 8 * M)
zeroes(30 * M + 7, 1000)
data(0, 100000)
data(112345, 5 * M - 112345)
data(11 * M, 5 * M)
data(24 * M, 6 * M + 7)
data(30 * M + 1007, 2 * M - 1007)
'

# Block status: the discarded objects are holes that read as zeroes.
nbdsh --base-allocation -u "$(uri srv)" -c '
M = 1 << 20
ext = []
def cb(meta, off, entries, err):
    ext.extend(zip(entries[0::2], entries[1::2]))
h.block_status(8 * M, 16 * M, cb)
assert ext[0][1] & 3 == 3, "discarded objects 4-5 not a hole: %r" % ext
assert ext[0][0] >= 8 * M, "hole too short: %r" % ext
ext.clear()
h.block_status(M, 0, cb)
assert ext[0][1] & 3 == 0, "written data reported as a hole: %r" % ext
'

# A never-written image is one hole (librbd reports no range at all).
rbd_image empty 8M
start_nbdkit empty "$(plugin rbd)" "rbd/$empty"
nbdsh --base-allocation -u "$(uri empty)" -c '
ext = []
h.block_status(8 << 20, 0, lambda meta, off, e, err: ext.extend(e))
assert ext == [8 << 20, 3], "fresh image: %r" % ext
'
