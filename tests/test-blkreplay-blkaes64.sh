#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# blkreplay-hash=blkaes64 (hash_alg 3, the AES-round payload hash):
# the filter records with it, dump and stats name it, blkreplay run
# verifies every read of a data=hash log against it, and one byte
# changed in the backing data is reported as a read mismatch.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh jq
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"

head -c 4M /dev/urandom > "$tmpdir/a.img"

# Reads of lengths that are and are not multiples of the 64-byte
# stripe and the 16-byte block, at unaligned offsets too, so the tail
# of the hash is exercised; a write, and a read of what it wrote (not
# verifiable from a data=hash log).
start_nbdkit rec --filter="$(filter blkreplay)" file "$tmpdir/a.img" \
  blkreplay-log="$tmpdir/w.blog" blkreplay-data=hash blkreplay-hash=blkaes64
nbdsh -u "$(uri rec)" -c '
h.pread(4096, 0)                  # 1
h.pread(65536, 1 << 20)           # 2: 1 MiB .. +64 KiB
h.pread(100, 7)                   # 3: 6 blocks and a 4-byte tail
h.pread(1, 4095)                  # 4
h.pread(4097, 2 << 20)            # 5
h.pwrite(b"w" * 8192, 3 << 20)    # 6
h.pread(4096, 3 << 20)            # 7: reads the unrecorded write
h.pread(4096, (1 << 20) + 61440)  # 8: the last 4 KiB of request 2
'
stop_nbdkit rec

# The log names its hash: dump (text and JSON) and stats (text, JSON).
"$blkreplay" dump "$tmpdir/w.blog" | head -1 | grep -q 'data hash, hash blkaes64, layer nbdkit' ||
  fail "dump header: $("$blkreplay" dump "$tmpdir/w.blog" | head -1)"
[ "$("$blkreplay" dump --json "$tmpdir/w.blog" | head -1 | jq -r .hash_alg)" = blkaes64 ] ||
  fail "dump --json hash_alg: $("$blkreplay" dump --json "$tmpdir/w.blog" | head -1)"
"$blkreplay" stats "$tmpdir/w.blog" | grep -qx 'payloads: hash, hash blkaes64' ||
  fail "stats: $("$blkreplay" stats "$tmpdir/w.blog" | head -4)"
[ "$("$blkreplay" stats --json "$tmpdir/w.blog" | jq -r '"\(.data) \(.hash_alg)"')" = "hash blkaes64" ] ||
  fail "stats --json: $("$blkreplay" stats --json "$tmpdir/w.blog" | head -c 300)"
"$blkreplay" verify "$tmpdir/w.blog" > /dev/null || fail "verify of a blkaes64 log"
# Every read has a hash, and the same bytes hash the same (request 8
# read part of what request 2 read; request 1 and a different length
# of the same start differ).
h () { "$blkreplay" dump --json "$tmpdir/w.blog" |
         jq -r "select(.type == \"request\" and .id == $1) | .hash"; }
for i in 1 2 3 4 5 7 8; do
  [ -n "$(h $i)" ] && [ "$(h $i)" != null ] || fail "request $i has no hash"
done
[ "$(h 1)" != "$(h 5)" ] || fail "different data, same hash"

# Replayed against the same data, every verifiable read matches.
cp "$tmpdir/a.img" "$tmpdir/same.img"
start_nbdkit same file "$tmpdir/same.img"
"$blkreplay" run "$tmpdir/w.blog" "$(uri same)" --json > "$tmpdir/same.json" 2> "$tmpdir/same.err" ||
  { cat "$tmpdir/same.json" "$tmpdir/same.err"; fail "replay against the same image"; }
[ "$(jq -r '"\(.verified_reads) \(.unverifiable_reads) \(.mismatches)"' "$tmpdir/same.json")" = "6 1 0" ] ||
  { cat "$tmpdir/same.json"; fail "blkaes64 replay: reads verified"; }
stop_nbdkit same

# One byte changed inside what request 8 (and request 2) read: the
# replay fails and names request 2 as the first mismatch, 2 in all.
cp "$tmpdir/a.img" "$tmpdir/flip.img"
off=$(( (1 << 20) + 65535 ))
b="$(od -An -tu1 -j $off -N1 "$tmpdir/flip.img" | tr -d ' ')"
printf "$(printf '\\%03o' $(( b ^ 1 )))" |
  dd of="$tmpdir/flip.img" bs=1 seek=$off conv=notrunc status=none
cmp -s "$tmpdir/a.img" "$tmpdir/flip.img" && fail "the byte was not changed"
start_nbdkit flip file "$tmpdir/flip.img"
st=0
"$blkreplay" run "$tmpdir/w.blog" "$(uri flip)" > "$tmpdir/flip.out" 2> "$tmpdir/flip.err" || st=$?
cat "$tmpdir/flip.out" "$tmpdir/flip.err"
[ $st = 1 ] || fail "replay against the changed image: exit status $st, expected 1"
grep -q 'first mismatch: request #2 (connection 1, read offset 1048576 length 65536): read data hash' \
  "$tmpdir/flip.err" || fail "the first mismatch is not named"
grep -q 'FAILED: 2 mismatches' "$tmpdir/flip.err" || fail "mismatch count"
