#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The latency filter counts exactly what a real client sent, per op,
# and prints its text report to stderr at exit.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh jq

start_nbdkit srv --filter="$(filter latency)" memory 16M \
  latency-file="$tmpdir/lat.json" latency-format=json
nbdsh --base-allocation -u "$(uri srv)" -c '
for i in range(37):
    h.pread(4096, i * 4096)
for i in range(11):
    h.pwrite(b"\1" * 8192, i * 8192)
for i in range(3):
    h.zero(65536, 1 << 20)
h.trim(65536, 2 << 20)
h.flush()
h.flush()
h.block_status(1 << 20, 0, lambda *args: 0)
try:
    h.pread(4096, 16 << 20)          # past the end: the server refuses
except nbd.Error:
    pass
'
stop_nbdkit srv
j="$tmpdir/lat.json"
jq . "$j" >/dev/null || fail "report is not valid JSON"
check () {
  got="$(jq -r "$1" "$j")"
  [ "$got" = "$2" ] || fail "$1 = $got, expected $2"
}
check '.ops.read.count' 37
check '.ops.read.bytes' $((37 * 4096))
check '.ops.write.count' 11
check '.ops.write.bytes' $((11 * 8192))
check '.ops.zero.count' 3
check '.ops.trim.count' 1
check '.ops.flush.count' 2
check '.ops.extents.count' 1
check '.ops.cache.count' 0
check '.ops.cache.min_ns' null
check '.ops.read.failed' 0
check '.ops.read.histogram.bins | add' 37
check '(.ops.read.histogram.bins | length) == (.ops.read.histogram.boundaries | length) + 1' true
check '.ops.read.min_ns <= .ops.read.percentiles."50"' true
check '.ops.read.percentiles."50" <= .ops.read.percentiles."99.9"' true
check '.ops.read.percentiles."99.9" <= .ops.read.max_ns' true
check '.ops.read.mean_ns == (.ops.read.total_ns / 37 | floor)' true

# Without latency-file the text report goes to stderr at exit.
start_nbdkit txt --filter="$(filter latency)" memory 1M
nbdsh -u "$(uri txt)" -c 'h.pread(512, 0)' -c 'h.pread(512, 512)'
stop_nbdkit txt
grep -q '^@nbdkit_read: count 2, bytes 1024, failed 0' "$(server_log txt)" ||
  { cat "$(server_log txt)"; fail "no text report on stderr"; }
rows="$(grep -E '^[[(][^])]+[])] +[0-9]+ \|[@ ]{52}\|$' "$(server_log txt)" |
        sed -E 's/^[[(][^])]+[])] +([0-9]+) .*/\1/' | awk '{ s += $1 } END { print s }')"
[ "$rows" = 2 ] ||
  { cat "$(server_log txt)"; fail "no bpftrace-style histogram row"; }
