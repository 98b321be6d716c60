#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Payload hashes across CPUs: a blkaes64 log recorded with AES-NI
# verifies where the CPU has no AES-NI+AVX (the portable AES round),
# and the other way round; blkreplay-hash=blkaes64 works there (and
# says so with -v); auto picks blkaes64, then blkhash64 (CRC32C), then
# XXH3 by what the CPU has, in the filter and in blkreplay import.
#
# The other CPUs are qemu-user's emulated x86-64 models (package
# qemu-user): Westmere has AES-NI and SSE4.2 but no AVX, Nehalem SSE4.2
# only, qemu64 neither; SandyBridge has AES-NI and AVX.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh jq qemu-x86_64
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"
[ "$(uname -m)" = x86_64 ] || skip "qemu-x86_64 runs this build's x86-64 binaries only on x86-64"
[ -z "$SANITIZER_PRELOAD" ] ||
  skip "nbdkit and blkreplay run under qemu-user here, which cannot take the sanitizer runtimes"
nbdkit_bin="$(command -v "$NBDKIT")" || skip "nbdkit not found: $NBDKIT"

# on CPU CMD...: CMD on an emulated CPU model.  (For some models TCG
# warns on stderr about host features it does not model: harmless.)
on () {
  local cpu="$1"; shift
  qemu-x86_64 -cpu "$cpu" "$@"
}
# An nbdkit that runs on CPU model $1, for start_nbdkit.
for cpu in Westmere Nehalem qemu64 SandyBridge; do
  printf '#!/bin/sh\nexec qemu-x86_64 -cpu %s "%s" "$@"\n' "$cpu" "$nbdkit_bin" \
    > "$tmpdir/nbdkit-$cpu"
  chmod +x "$tmpdir/nbdkit-$cpu"
done
hashes () { "$blkreplay" dump --json "$1" | jq -r 'select(.type == "request") | .hash' | tr '\n' ' '; }
header_hash () { "$blkreplay" dump --json "$1" | head -1 | jq -r .hash_alg; }

head -c 2M /dev/urandom > "$tmpdir/a.img"
workload='
h.pread(4096, 0)
h.pread(65536, 1 << 20)
h.pread(100, 7)
h.pread(4097, 12345)
h.pread(1, 2097151)
'

# Recorded here (AES-NI where this CPU has it).
start_nbdkit native --filter="$(filter blkreplay)" file "$tmpdir/a.img" \
  blkreplay-log="$tmpdir/native.blog" blkreplay-data=hash blkreplay-hash=blkaes64
nbdsh -u "$(uri native)" -c "$workload"
stop_nbdkit native
[ "$(header_hash "$tmpdir/native.blog")" = blkaes64 ] || fail "native log: not blkaes64"

# Recorded on a CPU with AES-NI but no AVX: the portable path, the
# same hashes, and -v says so.
NBDKIT="$tmpdir/nbdkit-Westmere" start_nbdkit west -v --filter="$(filter blkreplay)" \
  file "$tmpdir/a.img" blkreplay-log="$tmpdir/west.blog" blkreplay-data=hash \
  blkreplay-hash=blkaes64
nbdsh -u "$(uri west)" -c "$workload"
stop_nbdkit west
grep -q 'blkreplay-hash=blkaes64: this CPU has no AES-NI+AVX' "$tmpdir/west.log" ||
  fail "nbdkit -v on Westmere did not name the portable path"
[ "$(header_hash "$tmpdir/west.blog")" = blkaes64 ] || fail "Westmere log: not blkaes64"
[ -n "$(hashes "$tmpdir/native.blog" | tr -d ' ')" ] || fail "no hashes recorded"
[ "$(hashes "$tmpdir/west.blog")" = "$(hashes "$tmpdir/native.blog")" ] ||
  fail "the portable path recorded other hashes: $(hashes "$tmpdir/west.blog") vs $(hashes "$tmpdir/native.blog")"

# Each log verifies on the other CPU: the native one replayed by the
# tool on qemu64 (no AES-NI, no SSE4.2), the Westmere one here.
cp "$tmpdir/a.img" "$tmpdir/b.img"
start_nbdkit same file "$tmpdir/b.img"
on qemu64 "$blkreplay" run "$tmpdir/native.blog" "$(uri same)" --json > "$tmpdir/r1.json" ||
  { cat "$tmpdir/r1.json"; fail "the native log did not verify on qemu64"; }
[ "$(jq -r '"\(.verified_reads) \(.mismatches)"' "$tmpdir/r1.json")" = "5 0" ] ||
  fail "on qemu64: $(cat "$tmpdir/r1.json")"
"$blkreplay" run "$tmpdir/west.blog" "$(uri same)" --json > "$tmpdir/r2.json" ||
  { cat "$tmpdir/r2.json"; fail "the Westmere log did not verify here"; }
[ "$(jq -r '"\(.verified_reads) \(.mismatches)"' "$tmpdir/r2.json")" = "5 0" ] ||
  fail "here: $(cat "$tmpdir/r2.json")"
stop_nbdkit same
# ... and the portable path still sees a changed byte: byte 106, in
# the 4 KiB read at 0 and the last byte of the 100-byte read at 7 (in
# its zero-padded last block), so 2 mismatches.
printf 'X' | dd of="$tmpdir/b.img" bs=1 seek=106 conv=notrunc status=none
cmp -s "$tmpdir/a.img" "$tmpdir/b.img" && fail "byte 106 was already X"
start_nbdkit flip file "$tmpdir/b.img"
st=0
on qemu64 "$blkreplay" run "$tmpdir/native.blog" "$(uri flip)" > /dev/null 2> "$tmpdir/flip.err" || st=$?
[ $st = 1 ] || { cat "$tmpdir/flip.err"; fail "changed byte on qemu64: exit $st, expected 1"; }
grep -q 'FAILED: 2 mismatches; first mismatch: request #1 (connection 1, read offset 0 length 4096)' \
  "$tmpdir/flip.err" || { cat "$tmpdir/flip.err"; fail "the mismatch is not named"; }

# auto, by CPU: the filter ...
for pair in SandyBridge:blkaes64 Westmere:blkhash64 Nehalem:blkhash64 qemu64:xxh3-64; do
  cpu="${pair%%:*}" want="${pair#*:}"
  NBDKIT="$tmpdir/nbdkit-$cpu" start_nbdkit "auto$cpu" --filter="$(filter blkreplay)" \
    memory 1M blkreplay-log="$tmpdir/auto-$cpu.blog" blkreplay-data=hash
  nbdsh -u "$(uri "auto$cpu")" -c 'h.pread(512, 0)'
  stop_nbdkit "auto$cpu"
  [ "$(header_hash "$tmpdir/auto-$cpu.blog")" = "$want" ] ||
    fail "auto on $cpu: $(header_hash "$tmpdir/auto-$cpu.blog"), expected $want"
  # ... and blkreplay import (its log has no hashes; the header names
  # the same choice).
  printf 'fio version 2 iolog\n/dev/x add\n/dev/x open\n/dev/x read 0 4096\n/dev/x close\n' \
    > "$tmpdir/i.iolog"
  on "$cpu" "$blkreplay" import --fio-iolog "$tmpdir/i.iolog" -o "$tmpdir/i-$cpu.blog" \
    --size=1048576 > /dev/null
  [ "$(header_hash "$tmpdir/i-$cpu.blog")" = "$want" ] ||
    fail "import on $cpu: $(header_hash "$tmpdir/i-$cpu.blog"), expected $want"
done
