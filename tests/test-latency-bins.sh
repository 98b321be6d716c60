#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A delay of known size below the filter (nbdkit's own delay filter)
# lands in the right bin, and percentiles are near it.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh jq

# reads take >= 20ms, writes >= 3ms; bins chosen so each has one home
start_nbdkit srv --filter="$(filter latency)" --filter=delay memory 1M \
  delay-read=20ms delay-write=3ms \
  latency-boundaries=1ms,2ms,4ms,8ms,16ms,32ms,64ms,128ms,256ms \
  latency-boundaries-write=2500us,3500us,50ms \
  latency-file="$tmpdir/lat.json" latency-format=json
nbdsh -u "$(uri srv)" -c '
for i in range(10):
    h.pread(512, 0)
for i in range(5):
    h.pwrite(b"x" * 512, 0)
'
stop_nbdkit srv
j="$tmpdir/lat.json"
# [16ms, 32ms) is bin 5; a loaded machine may push a few into [32ms,64ms)
jq -e '.ops.read.histogram.bins[0:5] | add == 0' "$j" >/dev/null ||
  fail "reads faster than the 20ms delay: $(jq -c .ops.read.histogram.bins "$j")"
jq -e '.ops.read.histogram.bins[5] >= 8' "$j" >/dev/null ||
  fail "reads not in [16ms,32ms): $(jq -c .ops.read.histogram.bins "$j")"
jq -e '.ops.read.percentiles."50" >= 20000000 and .ops.read.percentiles."50" < 32000000' "$j" >/dev/null ||
  fail "read p50 not near 20ms: $(jq -c .ops.read.percentiles "$j")"
# per-op boundaries: write has its own list, reads kept the shared one
jq -e '.ops.write.histogram.boundaries == [2500000,3500000,50000000]' "$j" >/dev/null ||
  fail "write boundaries: $(jq -c .ops.write.histogram.boundaries "$j")"
jq -e '.ops.write.histogram.bins[0] == 0 and (.ops.write.histogram.bins[1] + .ops.write.histogram.bins[2]) == 5' "$j" >/dev/null ||
  fail "writes not at >= 3ms: $(jq -c .ops.write.histogram.bins "$j")"
jq -e '.ops.read.min_ns >= 20000000' "$j" >/dev/null || fail "read min below 20ms"
