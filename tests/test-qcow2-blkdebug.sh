#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The blkdebug filter under its backend layer fails the qcow2 plugin's
# own I/O at QEMU's event points (as blkdebug under qcow2 in QEMU),
# and the same rule file fails the same request in qemu-io over
# QEMU's blkdebug; the image stays consistent.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/qcow2-helpers.sh"
requires_cmd nbdsh
cd "$tmpdir"
BD="$(filter blkdebug)"
[ -e "$BD" ] || skip "blkdebug filter not built"

qemu-img create -q -f qcow2 d.qcow2 4M
qemu-io -f qcow2 -c 'write -P 0x44 0 128k' d.qcow2 >/dev/null

# qemu-io over QEMU's blkdebug, and the plugin under the filter, with
# the same rule: does "read 0 4k" fail?
cat > l2.cfg <<'CFG'
[inject-error]
event = "l2_load"
errno = "5"
once = "on"
CFG
if qemu-io -c 'read 0 4k' "blkdebug:l2.cfg:d.qcow2" 2>&1 | grep -q "Input/output error"; then
  qemu_fails=1
else
  qemu_fails=0
fi
start_nbdkit bd --filter="$BD" "$QCOW2" d.qcow2 readonly=true \
  blkdebug-layer=backend blkdebug-config="$tmpdir/l2.cfg"
nbdsh -u "$(uri bd)" -c '
import sys
try:
    h.pread(4096, 0)
    failed = 0
except nbd.Error as e:
    assert e.errno == "EIO", e.errno
    failed = 1
assert failed == '$qemu_fails', "plugin failed=%d, qemu failed='$qemu_fails'" % failed
# once: the L2 table loads on the next try
assert h.pread(4096, 0) == b"\x44" * 4096
'
stop_nbdkit bd

# An allocation failing with ENOSPC: the client sees ENOSPC, the server
# lives on, the image stays consistent.
start_nbdkit bd --filter="$BD" "$QCOW2" d.qcow2 blkdebug-layer=backend \
  blkdebug-inject=event=cluster_alloc,errno=ENOSPC,once=on
nbdsh -u "$(uri bd)" -c '
try:
    h.pwrite(b"n" * 4096, 2 * 1024 * 1024)
    assert False, "write succeeded"
except nbd.Error as e:
    assert e.errno == "ENOSPC", e.errno
h.pwrite(b"m" * 4096, 2 * 1024 * 1024)
h.flush()
assert h.pread(4096, 2 * 1024 * 1024) == b"m" * 4096
'
stop_nbdkit bd
qemu-img create -q -f raw d.raw 4M
qemu-io -f raw -c 'write -P 0x44 0 128k' -c 'write -P 0x6d 2M 4k' d.raw >/dev/null
judge d.qcow2 d.raw
