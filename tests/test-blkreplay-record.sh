#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Record mode keeps every field the issue lists: global ids in
# submission order, connection ids, export name and size, op, flags
# (FUA, NO_HOLE, FAST_ZERO, REQ_ONE), offset, length, times, result,
# payload hash or data; connection open/close.  Also with a queue far
# smaller than one payload (back-pressure, growth) and sync=always.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh jq
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"

start_nbdkit rec --filter="$(filter blkreplay)" memory 8M \
  blkreplay-log="$tmpdir/rec.blog" blkreplay-data=full \
  blkreplay-queue=64K blkreplay-sync=always
sock="$(sock rec)"
nbdsh --base-allocation -u "nbd+unix:///disk1?socket=$sock" -c '
h.pwrite(b"\1" * 4096, 0, nbd.CMD_FLAG_FUA)
h.pwrite(b"\2" * (256 * 1024), 1 << 20)
h.zero(65536, 2 << 20, nbd.CMD_FLAG_NO_HOLE)
h.trim(65536, 3 << 20)
h.cache(4096, 0)
h.block_status(65536, 0, lambda *a: 0, nbd.CMD_FLAG_REQ_ONE)
h.flush()
h.pread(4096, 0)
'
nbdsh -u "nbd+unix:///disk2?socket=$sock" -c 'h.pread(512, 512)'
stop_nbdkit rec

"$blkreplay" dump --json "$tmpdir/rec.blog" > "$tmpdir/d.json"
cat "$tmpdir/d.json"
q () { jq -s -r "$1" "$tmpdir/d.json"; }
check () { got="$(q "$1")"; [ "$got" = "$2" ] || fail "$1 = $got, expected $2"; }
check '.[0].type' header
check '.[0].export_size' 8388608
check '.[0].data' full
check '[.[] | select(.type == "open")] | map(.export) | join(",")' disk1,disk2
check '[.[] | select(.type == "open")] | map(.conn) | join(",")' 1,2
check '[.[] | select(.type == "close")] | length' 2
check '[.[] | select(.type == "request")] | map(.id) | sort | join(",")' 1,2,3,4,5,6,7,8,9
check '[.[] | select(.type == "request")] | map(.op) | join(",")' \
  write,write,zero,trim,cache,extents,flush,read,read
r () { q "[.[] | select(.type == \"request\" and .id == $1)][0]$2"; }
[ "$(r 1 .flags)" = fua ] || fail "FUA not recorded"
[ "$(r 1 .data)" = true ] || fail "write payload not kept"
[ "$(r 2 .length)" = 262144 ] || fail "big write length"
[ "$(r 3 .flags)" = no_hole ] || fail "NO_HOLE not recorded"
[ "$(r 3 .offset)" = 2097152 ] || fail "zero offset"
[ "$(r 6 .flags)" = req_one ] || fail "REQ_ONE not recorded"
[ "$(r 9 .conn)" = 2 ] || fail "second connection id"
[ "$(r 9 .export)" = disk2 ] || fail "export name of a request"
[ "$(r 8 .hash)" = "$(r 1 .hash)" ] || fail "read hash differs from the written data's"
check '[.[] | select(.type == "request") | select(.complete_ns < .submit_ns)] | length' 0
check '[.[] | select(.type == "request") | .error] | add' 0

# Payload hashes are the same function of the data (auto's choice on
# this CPU): data=hash agrees with full.
start_nbdkit h --filter="$(filter blkreplay)" memory 8M \
  blkreplay-log="$tmpdir/h.blog" blkreplay-data=hash blkreplay-sync=none
nbdsh -u "$(uri h)" -c 'h.pwrite(b"\1" * 4096, 0, nbd.CMD_FLAG_FUA)'
stop_nbdkit h
[ "$("$blkreplay" dump --json "$tmpdir/h.blog" | jq -s -r '.[2].hash')" = "$(r 1 .hash)" ] ||
  fail "data=hash and data=full disagree on the hash"
"$blkreplay" dump "$tmpdir/h.blog" | grep -q 'data hash' || fail "header data mode"

# The payload hash: auto picks blkaes64 where the CPU has AES-NI and
# AVX (about 320 instructions per 4 KiB), else blkhash64 where it has a
# CRC32C instruction (about 600; XXH3 takes 4600,
# docs/blkreplay-cost.md), else XXH3; blkreplay-hash= forces one.
# A replay verifies reads with the log's own algorithm.
if grep -qw aes /proc/cpuinfo && grep -qw avx /proc/cpuinfo; then
  want=blkaes64
elif grep -qw sse4_2 /proc/cpuinfo; then
  want=blkhash64
else
  want=xxh3-64
fi
"$blkreplay" dump "$tmpdir/h.blog" | grep -q "hash $want," ||
  fail "auto should pick $want here: $("$blkreplay" dump "$tmpdir/h.blog" | head -1)"
[ "$("$blkreplay" dump --json "$tmpdir/h.blog" | jq -r 'select(.type == "header") | .hash_alg')" = "$want" ] ||
  fail "dump --json hash_alg is not $want"
start_nbdkit x --filter="$(filter blkreplay)" memory 8M \
  blkreplay-log="$tmpdir/x.blog" blkreplay-data=full blkreplay-hash=xxh3
nbdsh -u "$(uri x)" -c '
h.pwrite(b"\1" * 4096, 0, nbd.CMD_FLAG_FUA)
assert h.pread(4096, 0) == b"\1" * 4096'
stop_nbdkit x
"$blkreplay" dump "$tmpdir/x.blog" | grep -q 'hash xxh3-64' || fail "blkreplay-hash=xxh3 not in the header"
[ "$("$blkreplay" dump --json "$tmpdir/x.blog" | jq -s -r '.[2].hash')" != "$(r 1 .hash)" ] ||
  fail "blkreplay-hash=xxh3 gave auto's ($want) value"
start_nbdkit xr memory 8M
"$blkreplay" run "$tmpdir/x.blog" "$(uri xr)" --quiet > "$tmpdir/xr.out" 2>&1 ||
  { cat "$tmpdir/xr.out"; fail "replaying an xxh3 log failed verification"; }
stop_nbdkit xr
expect_fail_nbdkit "blkreplay-hash: unknown value 'md5' \\(expected one of: auto, blkaes64, blkhash64, xxh3\\)" \
  --filter="$(filter blkreplay)" memory 1M blkreplay-log="$tmpdir/m.blog" blkreplay-hash=md5

# blkreplay run --recorded-exports opens the recorded export names.
start_nbdkit names --filter=exportname memory 8M exportname=disk1 exportname=disk2 \
  exportname-strict=true
"$blkreplay" run "$tmpdir/rec.blog" "$(uri names)" --recorded-exports \
  --quiet > "$tmpdir/names.out" 2>&1 || { cat "$tmpdir/names.out"; fail "--recorded-exports"; }
if "$blkreplay" run "$tmpdir/rec.blog" "$(uri names)" > "$tmpdir/names.out" 2>&1; then
  fail "the default export was accepted by a strict server"
fi
