#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Replay mode in the filter: a divergent request (unexpected, or with a
# different payload) is reported as the first divergence, and fails
# with blkreplay-divergence=fail or goes through with =warn.  Requests
# the recording never saw replayed are reported at exit.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh

start_nbdkit rec --filter="$(filter blkreplay)" memory 4M \
  blkreplay-log="$tmpdir/workload.blog"
nbdsh -u "$(uri rec)" -c '
h.pwrite(b"a" * 4096, 0)
h.pread(4096, 0)
h.pwrite(b"b" * 4096, 8192)
'
stop_nbdkit rec

# The same workload replays without any divergence.
start_nbdkit same --filter="$(filter blkreplay)" memory 4M \
  blkreplay-log="$tmpdir/workload.blog" blkreplay-mode=replay
nbdsh -u "$(uri same)" -c '
h.pwrite(b"a" * 4096, 0)
assert h.pread(4096, 0) == b"a" * 4096
h.pwrite(b"b" * 4096, 8192)
'
stop_nbdkit same
grep -q divergence "$(server_log same)" && fail "divergence on the same workload"

# fail: a read at another offset fails and is named.
start_nbdkit f --filter="$(filter blkreplay)" memory 4M \
  blkreplay-log="$tmpdir/workload.blog" blkreplay-mode=replay \
  blkreplay-divergence=fail blkreplay-order-timeout=200ms
nbdsh -u "$(uri f)" -c '
h.pwrite(b"a" * 4096, 0)
try:
    h.pread(4096, 65536)
    raise SystemExit("the divergent read succeeded")
except nbd.Error as e:
    assert e.errno == "EIO", e
h.pread(4096, 0)
try:
    h.pwrite(b"X" * 4096, 8192)      # same place, other payload
    raise SystemExit("the divergent write succeeded")
except nbd.Error:
    pass
'
stop_nbdkit f
log="$(server_log f)"
cat "$log"
grep -q 'blkreplay: first divergence: unexpected request on connection 1: read offset 65536 length 4096 matches no remaining record; the next recorded request is #2 (connection 1): read offset 0 length 4096 (blkreplay-divergence=fail)' "$log" ||
  fail "the first divergence is not reported clearly"
grep -q 'diverged 2 times' "$log" || fail "divergence count"

# warn: the same goes through.
start_nbdkit w --filter="$(filter blkreplay)" memory 4M \
  blkreplay-log="$tmpdir/workload.blog" blkreplay-mode=replay \
  blkreplay-divergence=warn blkreplay-order-timeout=200ms
nbdsh -u "$(uri w)" -c '
h.pwrite(b"a" * 4096, 0)
h.pread(4096, 65536)
h.pread(4096, 0)
'
stop_nbdkit w
log="$(server_log w)"
grep -q 'first divergence: unexpected request .*(blkreplay-divergence=warn)' "$log" ||
  { cat "$log"; fail "warn mode did not report"; }
grep -q '1 of 3 recorded requests were never replayed, the first is #3 (write offset 8192 length 4096)' "$log" ||
  { cat "$log"; fail "the request never replayed is not reported"; }
