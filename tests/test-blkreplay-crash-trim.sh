#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# blkreplay crash --trim: a trimmed range keeps its old contents by
# default (NBD promises no zeroes), reads as zeroes with --trim=zero,
# and --trim=both checks every point under both.  Also: logs the model
# cannot use are refused with a message naming the problem.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh jq
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"

start_nbdkit rec --filter="$(filter blkreplay)" memory 1M \
  blkreplay-log="$tmpdir/rec.blog" blkreplay-data=full
nbdsh -u "$(uri rec)" -c '
h.pwrite(b"\x55" * 65536, 0)
h.flush()                      # 2
h.trim(65536, 0)               # 3
h.flush()                      # 4
'
stop_nbdkit rec
truncate -s 1M "$tmpdir/base.raw"

# The checker prints what block 0 holds after each state.
check='echo "$BLKREPLAY_REQID $BLKREPLAY_TRIM $(od -An -tx1 -N1 {} | tr -d " ")" >> '"$tmpdir/seen"
"$blkreplay" crash "$tmpdir/rec.blog" "$tmpdir/base.raw" --check "$check" \
  --trim=both --json > "$tmpdir/out.json"
jq -e '.points == 4 and .states == 4 and .failed == 0' "$tmpdir/out.json" ||
  fail "--trim=both: expected 2 flush points under each model"
cat "$tmpdir/seen"
printf '%s\n' "2 keep 55" "4 keep 55" "2 zero 55" "4 zero 00" |
  cmp - "$tmpdir/seen" || fail "trimmed data under keep/zero is wrong"

"$blkreplay" image "$tmpdir/rec.blog" "$tmpdir/base.raw" --trim=zero \
  -o "$tmpdir/z.raw"
[ "$(od -An -tx1 -N1 "$tmpdir/z.raw" | tr -d ' ')" = 00 ] ||
  fail "image --trim=zero: the trimmed range is not zero"

expect_error ()                 # PATTERN CMD...: exit status 2 and PATTERN
{
  local pat="$1" st
  shift
  set +e
  "$@" > /dev/null 2> "$tmpdir/err"
  st=$?
  set -e
  [ "$st" = 2 ] && grep -q -- "$pat" "$tmpdir/err" ||
    fail "$*: exit $st, $(cat "$tmpdir/err") (expected '$pat')"
}

# A log without payloads.
start_nbdkit hash --filter="$(filter blkreplay)" memory 1M \
  blkreplay-log="$tmpdir/hash.blog" blkreplay-data=hash
nbdsh -u "$(uri hash)" -c 'h.pwrite(b"x" * 512, 0); h.flush()'
stop_nbdkit hash
expect_error "recorded with blkreplay-data=hash: crash states need the data of every write; record with blkreplay-data=full" \
  "$blkreplay" crash "$tmpdir/hash.blog" "$tmpdir/base.raw" --check true
# A base larger than the export; a qcow2 one gets a hint.
truncate -s 2M "$tmpdir/big.raw"
expect_error "BASE '$tmpdir/big.raw' has 2097152 bytes, more than the log's export (1048576 bytes)" \
  "$blkreplay" image "$tmpdir/rec.blog" "$tmpdir/big.raw" -o "$tmpdir/x"
if command -v qemu-img > /dev/null; then
  qemu-img create -q -f qcow2 "$tmpdir/b.qcow2" 1M
  truncate -s 2M "$tmpdir/b.qcow2"
  expect_error "use --base-format=qcow2" \
    "$blkreplay" image "$tmpdir/rec.blog" "$tmpdir/b.qcow2" -o "$tmpdir/x"
  qemu-img create -q -f qcow2 "$tmpdir/b.qcow2" 1M
  "$blkreplay" image "$tmpdir/rec.blog" "$tmpdir/b.qcow2" \
    --base-format=qcow2 -o "$tmpdir/q.raw" ||
    fail "image from a qcow2 base"
  [ "$(od -An -tx1 -N1 "$tmpdir/q.raw" | tr -d ' ')" = 55 ] ||
    fail "image from a qcow2 base: wrong data"
fi
expect_error "unknown value 'sometimes'" \
  "$blkreplay" crash "$tmpdir/rec.blog" "$tmpdir/base.raw" --check true \
  --trim=sometimes
expect_error "no request with id 99" \
  "$blkreplay" crash "$tmpdir/rec.blog" "$tmpdir/base.raw" --check true \
  --from=99
expect_error "unknown kind 'fsync'" \
  "$blkreplay" crash "$tmpdir/rec.blog" "$tmpdir/base.raw" --check true \
  --points=flush,fsync
expect_error "no crash points of the kinds asked for between --from and --to" \
  "$blkreplay" crash "$tmpdir/rec.blog" "$tmpdir/base.raw" --check true \
  --from=3 --to=3

# SIGTERM: stops after the current check, exit 2, nothing left behind.
mkdir "$tmpdir/t"
TMPDIR="$tmpdir/t" "$blkreplay" crash "$tmpdir/rec.blog" "$tmpdir/base.raw" \
  --check "touch $tmpdir/started; sleep 1" 2> "$tmpdir/err" &
cpid=$!
for _ in $(seq 1 100); do [ -e "$tmpdir/started" ] && break; sleep 0.05; done
kill -TERM "$cpid"
set +e
wait "$cpid"; st=$?
set -e
[ "$st" = 2 ] && grep -q "interrupted (signal 15) at point 1" "$tmpdir/err" ||
  fail "SIGTERM: exit $st, $(cat "$tmpdir/err")"
[ -z "$(ls -A "$tmpdir/t")" ] || fail "SIGTERM left $(ls "$tmpdir/t")"
