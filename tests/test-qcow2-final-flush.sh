#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A final flush at shutdown that fails (data clients wrote, and were
# told was written, may be lost) is not a clean exit: nbdkit exits
# non-zero and the log names the image and says what was lost.  The
# failure is injected by the hookevents test filter, which fails the
# Nth I/O the plugin brackets: the last one of a clean run is the
# final sync of the image.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/qcow2-helpers.sh"
requires_cmd nbdsh
cd "$tmpdir"

EVF="$abs_top_builddir/tests/.libs/nbdkit-hookevents-filter.so"
[ -e "$EVF" ] || fail "hookevents test filter not built"

# One write, no flush, then SIGTERM: everything is written back at
# shutdown.
workload () { nbdsh -u "$(uri "$1")" -c 'h.pwrite(b"\x5a" * 65536, 1048576)'; }

qemu-img create -q -f qcow2 probe.qcow2 8M
start_nbdkit probe --filter="$EVF" "$QCOW2" probe.qcow2 \
  hookevents-file="$tmpdir/probe.ev"
workload probe
stop_nbdkit probe || fail "clean run: nbdkit exited with status $?"
total=$(awk '$1 == "io" { n += $3 } END { print n }' probe.ev)
[ "$total" -gt 0 ] || fail "no I/O counted"
qemu-io -f qcow2 -c 'read -P 0x5a 1M 64k' probe.qcow2 >/dev/null ||
  fail "clean run: data not written back at shutdown"

qemu-img create -q -f qcow2 f.qcow2 8M
start_nbdkit f --filter="$EVF" "$QCOW2" f.qcow2 hookevents-fail-nth="$total"
workload f
st=0
stop_nbdkit f || st=$?
cat "$(server_log f)"
[ "$st" -ne 0 ] || fail "nbdkit exited 0 although the final flush failed"
grep -q "f.qcow2: the final flush at shutdown failed.*may be lost" \
  "$(server_log f)" || fail "no message saying the final flush failed"
