#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Recorded errors: a request that failed when recording fails the same
# way when the filter replays the log (without running it), and
# blkreplay run checks every result against the recorded one.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"

start_nbdkit rec --filter="$(filter blkreplay)" --filter=error memory 4M \
  blkreplay-log="$tmpdir/rec.blog" blkreplay-data=full \
  error-pwrite=ENOSPC error-pwrite-rate=1
nbdsh -u "$(uri rec)" -c '
h.pread(4096, 0)
try:
    h.pwrite(b"x" * 4096, 0)
except nbd.Error as e:
    assert e.errno == "ENOSPC", e
h.pread(4096, 0)
'
stop_nbdkit rec
"$blkreplay" dump "$tmpdir/rec.blog" | grep -q 'request #2 .* write .* No space left on device' ||
  { "$blkreplay" dump "$tmpdir/rec.blog"; fail "the error is not recorded"; }

# The filter replays the recorded ENOSPC on a healthy backend, and the
# write does not reach it.
start_nbdkit rep --filter="$(filter blkreplay)" memory 4M \
  blkreplay-log="$tmpdir/rec.blog" blkreplay-mode=replay
nbdsh -u "$(uri rep)" -c '
h.pread(4096, 0)
try:
    h.pwrite(b"x" * 4096, 0)
    raise SystemExit("the recorded error was not replayed")
except nbd.Error as e:
    assert e.errno == "ENOSPC", e
assert h.pread(4096, 0) == bytearray(4096)
'
stop_nbdkit rep
grep -q divergence "$(server_log rep)" && fail "unexpected divergence"

# blkreplay run: the same server behaviour passes ...
start_nbdkit same --filter=error memory 4M error-pwrite=ENOSPC error-pwrite-rate=1
"$blkreplay" run "$tmpdir/rec.blog" "$(uri same)" > /dev/null ||
  fail "run against an equally failing server failed"
# ... a server where the write succeeds is a mismatch, named.
start_nbdkit ok memory 4M
st=0
"$blkreplay" run "$tmpdir/rec.blog" "$(uri ok)" > /dev/null 2> "$tmpdir/err" || st=$?
cat "$tmpdir/err"
[ $st = 1 ] || fail "exit status $st, expected 1"
grep -q "first mismatch: request #2 (connection 1, write offset 0 length 4096): result 'success', the recording had 'No space left on device'" "$tmpdir/err" ||
  fail "the result mismatch is not named"
