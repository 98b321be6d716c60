#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A replay against a different image fails (exit 1) and names the first
# divergent request: the lowest-id read whose data differs.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh jq
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"

head -c 4M /dev/urandom > "$tmpdir/a.img"
cp "$tmpdir/a.img" "$tmpdir/b.img"
# b differs from a in one block only, at 1M.
printf 'different' | dd of="$tmpdir/b.img" bs=1 seek=$((1 << 20)) conv=notrunc status=none

start_nbdkit rec --filter="$(filter blkreplay)" file "$tmpdir/a.img" \
  blkreplay-log="$tmpdir/workload.blog" blkreplay-data=full
nbdsh -u "$(uri rec)" -c '
h.pread(4096, 0)
h.pwrite(b"w" * 4096, 8192)
h.pread(4096, 8192)
h.pread(65536, 1 << 20)        # request 4: reads the differing block
h.pread(4096, 2 << 20)
h.pread(4096, 1 << 20)         # request 6: also differs
'
stop_nbdkit rec

cp "$tmpdir/a.img" "$tmpdir/a2.img"
start_nbdkit same file "$tmpdir/a2.img"
"$blkreplay" run "$tmpdir/workload.blog" "$(uri same)" --timing=recorded > "$tmpdir/ok.out" ||
  fail "replay against an identical copy failed"

start_nbdkit other file "$tmpdir/b.img"
st=0
"$blkreplay" run "$tmpdir/workload.blog" "$(uri other)" > "$tmpdir/bad.out" \
  2> "$tmpdir/bad.err" || st=$?
cat "$tmpdir/bad.out" "$tmpdir/bad.err"
[ $st = 1 ] || fail "exit status $st, expected 1"
grep -q 'first mismatch: request #4 (connection 1, read offset 1048576 length 65536): read data hash' \
  "$tmpdir/bad.err" || fail "the first divergent request is not named"
grep -q 'FAILED: 2 mismatches' "$tmpdir/bad.err" || fail "mismatch count"

# Recorded with blkreplay-data=hash (no write payloads): reads of what
# the unrecorded writes wrote cannot be verified, every other read is.
start_nbdkit hrec --filter="$(filter blkreplay)" file "$tmpdir/a.img" \
  blkreplay-log="$tmpdir/h.blog" blkreplay-data=hash
nbdsh -u "$(uri hrec)" -c '
h.pread(4096, 1 << 20)            # verifiable (the starting image)
h.pwrite(b"h" * 8192, 16384)
h.pread(4096, 20480)              # reads the unrecorded write
h.pread(4096, 1 << 20)            # verifiable
'
stop_nbdkit hrec
cp "$tmpdir/a.img" "$tmpdir/a3.img"
start_nbdkit hsame file "$tmpdir/a3.img"
"$blkreplay" run "$tmpdir/h.blog" "$(uri hsame)" --json > "$tmpdir/h.json" 2>/dev/null ||
  { cat "$tmpdir/h.json"; fail "data=hash replay against the same image"; }
[ "$(jq -r '"\(.verified_reads) \(.unverifiable_reads) \(.mismatches)"' "$tmpdir/h.json")" = "2 1 0" ] ||
  { cat "$tmpdir/h.json"; fail "data=hash: reads verified"; }
st=0
"$blkreplay" run "$tmpdir/h.blog" "$(uri other)" > /dev/null 2> "$tmpdir/h.err" || st=$?
[ $st = 1 ] || fail "data=hash replay against another image: exit $st"
grep -q 'first mismatch: request #1 (connection 1, read offset 1048576 length 4096)' "$tmpdir/h.err" ||
  { cat "$tmpdir/h.err"; fail "data=hash: first mismatch not named"; }
