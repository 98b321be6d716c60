#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A snapshot is served read-only and shows the data as it was when the
# snapshot was taken, whatever was written to the image since; both
# spellings (POOL/IMAGE@SNAP and snapshot=) work; readonly=true too.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/rbd-functions.sh"
requires_cmd nbdsh
rbd_shared_cluster
rbd_image img 16M
plug="$(plugin rbd)"

start_nbdkit rw "$plug" "rbd/$img"
nbdsh -u "$(uri rw)" -c 'h.pwrite(b"\xaa" * (4 << 20), 1 << 20); h.flush()'
rbd snap create "rbd/$img@before" >/dev/null 2>&1 || fail "rbd snap create failed"
nbdsh -u "$(uri rw)" -c 'h.pwrite(b"\xbb" * (2 << 20), 2 << 20); h.flush()'

check_snapshot='
assert h.is_read_only(), "a snapshot export must be read-only"
M = 1 << 20
assert h.pread(M, 0) == bytes(M), "snapshot: head not zero"
assert h.pread(4 * M, M) == b"\xaa" * (4 * M), "snapshot does not show the old data"
try:
    h.pwrite(b"x" * 512, 0)
    raise AssertionError("write to a snapshot succeeded")
except nbd.Error as e:
    pass
'
start_nbdkit snap1 "$plug" "rbd/$img@before"
nbdsh -u "$(uri snap1)" -c "$check_snapshot"
start_nbdkit snap2 "$plug" "rbd/$img" snapshot=before
nbdsh -u "$(uri snap2)" -c "$check_snapshot"

# The image itself has the new data.
nbdsh -u "$(uri rw)" -c '
M = 1 << 20
assert h.pread(M, M) == b"\xaa" * M
assert h.pread(2 * M, 2 * M) == b"\xbb" * (2 * M), "image lost the new data"
'
# readonly=true: the live image, read-only.
start_nbdkit ro "$plug" "rbd/$img" readonly=true
nbdsh -u "$(uri ro)" -c '
assert h.is_read_only()
assert h.pread(1 << 20, 2 << 20) == b"\xbb" * (1 << 20)
'
