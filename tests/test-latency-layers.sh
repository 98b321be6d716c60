#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A plugin that brackets its backend I/O through the hook gets its own
# layer in the report, beside the client layer: here the backend is
# slow (5ms reads) and the client sees that plus the delay filter's 10ms.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh jq

start_nbdkit srv --filter="$(filter latency)" --filter=delay \
  "$(plugin hooktest)" size=1M read-delay=5ms delay-read=10ms \
  latency-file="$tmpdir/lat.json" latency-format=json
nbdsh -u "$(uri srv)" -c '
for i in range(8):
    h.pread(4096, i * 4096)
h.pwrite(b"y" * 4096, 0)
h.flush()
'
stop_nbdkit srv
j="$tmpdir/lat.json"
jq -e '.layers.backend.ops.read.count == 8 and .layers.backend.ops.read.bytes == 32768' "$j" >/dev/null ||
  fail "backend layer: $(jq -c .layers "$j" | head -c 300)"
jq -e '.layers.backend.ops.write.count == 1 and .layers.backend.ops.flush.count == 1' "$j" >/dev/null ||
  fail "backend write/flush not counted"
jq -e '.layers.backend.ops.read.min_ns >= 5000000 and .layers.backend.ops.read.percentiles."50" < 10000000' "$j" >/dev/null ||
  fail "backend read latency not ~5ms: $(jq -c .layers.backend.ops.read.percentiles "$j")"
jq -e '.ops.read.min_ns >= 15000000' "$j" >/dev/null ||
  fail "client read latency below backend + delay: $(jq -c .ops.read.min_ns "$j")"
jq -e '.ops.read.percentiles."50" > .layers.backend.ops.read.percentiles."50"' "$j" >/dev/null ||
  fail "client p50 not above backend p50"
