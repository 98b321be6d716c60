#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The hook runs injectors (blkdebug) before observers (latency), whatever
# the order of the --filter flags: the latency filter's backend layer
# counts every backend read that blkdebug failed, in both orders.
# Before the subscriber classes, subscribers ran in .get_ready order
# (innermost filter first): with blkdebug below latency, blkdebug failed
# the read before latency saw it begin, so the failed reads were missing
# from the backend layer (count 2 instead of 6, failed 0 instead of 4).
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh jq

run ()
{
  name="$1"; shift
  start_nbdkit "$name" "$@" "$(plugin hooktest)" size=1M \
    blkdebug-layer=backend \
    blkdebug-inject=event=read_aio,iotype=read,errno=EIO,count=4 \
    latency-file="$tmpdir/$name.json" latency-format=json
  nbdsh -u "$(uri "$name")" -c '
failed = 0
for i in range(6):
    try:
        h.pread(4096, i * 4096)
    except nbd.Error as e:
        assert e.errno == "EIO", e.errno
        failed += 1
assert failed == 4, failed
'
  stop_nbdkit "$name"
  j="$tmpdir/$name.json"
  jq -e '.layers.backend.ops.read.count == 6 and
         .layers.backend.ops.read.failed == 4' "$j" >/dev/null ||
    fail "$name: backend reads: $(jq -c .layers.backend.ops.read "$j" | head -c 300)"
  # The client layer sees the same outcome from above.
  jq -e '.ops.read.count == 6 and .ops.read.failed == 4' "$j" >/dev/null ||
    fail "$name: client reads: $(jq -c .ops.read "$j" | head -c 300)"
}

# latency outermost, blkdebug next to the plugin ...
run outer --filter="$(filter latency)" --filter="$(filter blkdebug)"
# ... and swapped: the same counts.
run inner --filter="$(filter blkdebug)" --filter="$(filter latency)"
