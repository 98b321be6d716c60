#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Hostile inputs found by fuzzing get a clear error, never a crash or a
# hang: a write of 2^64-8 bytes (overflowed run's pattern buffer), a
# submission time near 2^64 with --timing=recorded (an out-of-range
# float cast, then an endless wait), a schedule of a century, and a
# blkparse time of "nan" (became submit_ns 2^63).  The crafted logs
# have valid checksums: the reader must judge the fields.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd python3
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"

# craft OUT OP LENGTH SUBMIT_NS...: a log with a request (ids 7, 8, ...
# on conn 1) at each submission time.
craft () {
  python3 - "$@" <<'EOF'
import struct, sys
def crc32c(b):
    c = 0xffffffff
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82f63b78 if c & 1 else 0)
    return c ^ 0xffffffff
out, op, length = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
creator = b"test-blkreplay-hostile"
h = b"BLKRPLAY" + struct.pack("<IIQQIH", 1, 42 + len(creator), 1 << 20, 0, 0,
                               len(creator)) + creator
h += struct.pack("<I", crc32c(h))
def rec(body):
    f = struct.pack("<I", len(body)) + body
    return f + struct.pack("<I", crc32c(f))
log = h + rec(struct.pack("<BQQQBH", 1, 1, 0, 1 << 20, 0, 0))
for i, submit in enumerate(sys.argv[4:]):
    submit = int(submit)
    log += rec(struct.pack("<BQQBIQQQQIB", 3, 7 + i, 1, op, 0, 0, length,
                           submit, submit, 0, 0))
open(out, "wb").write(log)
EOF
}

start_nbdkit srv memory 1M

# expect_refused WHAT PATTERN CMD...: exit 1 or 2 (a bad log, bad
# usage; not a crash) within 10s, PATTERN in the output.
expect_refused () {
  what="$1"; pat="$2"; shift 2
  st=0
  timeout 10 "$@" > "$tmpdir/out" 2>&1 || st=$?
  [ $st = 124 ] && fail "$what: hangs"
  [ $st = 1 ] || [ $st = 2 ] ||
    { cat "$tmpdir/out"; fail "$what: exit status $st, expected 1 or 2"; }
  grep -Eq -- "$pat" "$tmpdir/out" ||
    { cat "$tmpdir/out"; fail "$what: the error does not match '$pat'"; }
}

# A sane log of the same shape replays (the crafting is right).
craft "$tmpdir/ok.blog" 1 4096 1000
"$blkreplay" verify "$tmpdir/ok.blog"
timeout 10 "$blkreplay" run "$tmpdir/ok.blog" "$(uri srv)" --no-verify --quiet \
  --timing=recorded || fail "the sane crafted log does not replay"

# 1. A write of 2^64 - 8 bytes.
craft "$tmpdir/len.blog" 1 18446744073709551608 0
for cmd in "run $tmpdir/len.blog $(uri srv)" "dump $tmpdir/len.blog" \
           "stats $tmpdir/len.blog"; do
  # shellcheck disable=SC2086
  expect_refused "$cmd" \
    'corrupt record at byte [0-9]+ \(after 1 whole records\): request 7: write length 18446744073709551608 is larger than any NBD request \(at most 67108864 bytes\)' \
    "$blkreplay" $cmd
done
st=0; "$blkreplay" verify "$tmpdir/len.blog" > "$tmpdir/out" 2>&1 || st=$?
[ $st = 1 ] || fail "verify accepted a write of 2^64-8 bytes (exit $st)"
# A read of 65 MiB: nbdkit never sends one.
craft "$tmpdir/read.blog" 0 $(( 65 << 20 )) 0
expect_refused "a 65 MiB read" 'request 7: read length 68157440 is larger' \
  "$blkreplay" run "$tmpdir/read.blog" "$(uri srv)"

# 2. A submission time near 2^64 with --timing=recorded.
craft "$tmpdir/time.blog" 0 512 18446744073709551610
expect_refused "submit_ns near 2^64" \
  'request 7: time 18446744073709551610 ns is out of range' \
  "$blkreplay" run "$tmpdir/time.blog" "$(uri srv)" --timing=recorded

# 3. A valid time, but a century away: refused up front, not waited for.
craft "$tmpdir/century.blog" 0 512 0 $(( 100 * 365 * 86400 * 1000000000 ))
expect_refused "a schedule of a century" \
  'request #8 is due [0-9]+ s after the first with --timing=recorded \(at most 2592000 s, 30 days\): use --timing=fast' \
  "$blkreplay" run "$tmpdir/century.blog" "$(uri srv)" --timing=recorded
expect_refused "--dry-run of a schedule of a century" 'request #8 is due' \
  "$blkreplay" run "$tmpdir/century.blog" --dry-run --timing=recorded
"$blkreplay" run "$tmpdir/century.blog" --dry-run | grep -q '2 requests on 1 connection, ready to replay' ||
  fail "run --dry-run did not plan the log"
timeout 10 "$blkreplay" run "$tmpdir/century.blog" "$(uri srv)" --timing=fast \
  --quiet --no-verify || fail "--timing=fast refused the century log"

# 4. blkparse with a time of nan (and inf).
for t in nan inf -1 1e30; do
  printf '  8,0    0        1   %s  697  Q   R 0 + 8 [fio]\n' "$t" > "$tmpdir/bp.txt"
  expect_refused "blkparse time $t" "bp.txt:1: impossible time" \
    "$blkreplay" import --blkparse "$tmpdir/bp.txt" -o "$tmpdir/bp.blog"
done
# fio iolog v3 with a time beyond 2^62 ns.
printf 'fio version 3 iolog\n18446744073709551 /dev/x add\n18446744073709551 /dev/x read 0 4096\n' \
  > "$tmpdir/fio.log"
expect_refused "fio time near 2^64 us" 'fio.log:[0-9]+: the time is out of range' \
  "$blkreplay" import --fio-iolog "$tmpdir/fio.log" -o "$tmpdir/fio.blog"
