#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Every librbd call is bracketed through the hook: the latency filter
# shows the client's and librbd's latency side by side, one librbd
# request per client request (with cache=writeback, plus a flush per FUA
# write: test-rbd-cache-modes.sh has the other modes); -D rbd.aio=1
# logs each request.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/rbd-functions.sh"
requires_cmd nbdsh jq
rbd_shared_cluster
rbd_image img 16M

start_nbdkit srv -v -D rbd.aio=1 --filter="$(filter latency)" "$(plugin rbd)" \
  "rbd/$img" cache=writeback latency-file="$tmpdir/lat.json" latency-format=json
nbdsh --base-allocation -u "$(uri srv)" -c '
for i in range(10):
    h.pwrite(b"w" * 65536, i * 65536)
h.pwrite(b"f" * 4096, 1 << 20, nbd.CMD_FLAG_FUA)
for i in range(20):
    h.pread(4096, i * 4096)
h.zero(65536, 2 << 20)
h.trim(4 << 20, 4 << 20)
h.flush()
h.block_status(1 << 20, 0, lambda *a: 0)
'
stop_nbdkit srv
j="$tmpdir/lat.json"
check () {
  got="$(jq -r "$1" "$j")"
  [ "$got" = "$2" ] || fail "$1 = $got, expected $2 ($(jq -c '.layers.librbd.ops | map_values(.count)' "$j"))"
}
check '.layers.librbd.ops.read.count' 20
check '.layers.librbd.ops.write.count' 11
check '.layers.librbd.ops.write.bytes' $((10 * 65536 + 4096))
check '.layers.librbd.ops.zero.count' 1
check '.layers.librbd.ops.trim.count' 1
check '.layers.librbd.ops.flush.count' 2
check '.ops.read.count' 20
jq -e '.layers.librbd.ops.read.min_ns > 0 and
       .ops.read.percentiles."50" >= .layers.librbd.ops.read.percentiles."50"' "$j" >/dev/null ||
  fail "client read latency below librbd's: $(jq -c '[.ops.read.percentiles, .layers.librbd.ops.read.percentiles]' "$j")"
log="$(server_log srv)"
n=$(grep -c 'rbd: aio read offset .* submit' "$log" || true)
[ "$n" = 20 ] || fail "-D rbd.aio=1: $n read submit lines, expected 20"
grep -q 'rbd: aio write offset 1048576 count 4096 done: 0' "$log" ||
  fail "-D rbd.aio=1: no completion line for the FUA write"
