#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A log cut off anywhere (a crash) is read up to its last whole record:
# dump shows those and says where it stopped, verify reports it, run
# replays the whole records.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh jq
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"

start_nbdkit rec --filter="$(filter blkreplay)" memory 1M \
  blkreplay-log="$tmpdir/workload.blog" blkreplay-data=full
nbdsh -u "$(uri rec)" -c '
for i in range(12):
    h.pwrite(bytes([i]) * 512, i * 4096)
    h.pread(512, i * 4096)
h.flush()
'
stop_nbdkit rec
"$blkreplay" verify "$tmpdir/workload.blog"
size=$(stat -c %s "$tmpdir/workload.blog")
# Where each whole record ends, from the dump of the whole log.
"$blkreplay" dump --json "$tmpdir/workload.blog" > "$tmpdir/full.json"
nrec=$(( $(wc -l < "$tmpdir/full.json") - 1 ))
[ $nrec = 27 ] || fail "expected 27 records, got $nrec"
hdr=$(head -1 "$tmpdir/full.json" | jq -r .creator | wc -c)
hdr=$((44 + hdr - 1))   # v2 header: 44 bytes besides the creator

checked=0
truncated=0
for cut in $(seq $hdr 97 $((size - 1))) $((size - 1)) $((size - 4)); do
  head -c $cut "$tmpdir/workload.blog" > "$tmpdir/cut.log"
  "$blkreplay" dump --json "$tmpdir/cut.log" > "$tmpdir/cut.json" \
    2> "$tmpdir/cut.err" || fail "dump failed on a log cut at $cut"
  n=$(( $(wc -l < "$tmpdir/cut.json") - 1 ))
  # The records read are exactly the first N of the whole log.
  head -$((n + 1)) "$tmpdir/full.json" | cmp -s - "$tmpdir/cut.json" ||
    fail "cut at $cut: the records read differ from the log's first $n"
  if grep -q truncated "$tmpdir/cut.err"; then
    grep -q "blkreplay: note: .*: the log is truncated: $n whole records read, the last one ends at byte [0-9]*, the file has $cut bytes" "$tmpdir/cut.err" ||
      { cat "$tmpdir/cut.err"; fail "cut at $cut: the note does not say where it stopped"; }
    "$blkreplay" verify "$tmpdir/cut.log" >/dev/null 2>&1 &&
      fail "verify accepted a log cut at $cut"
    truncated=$((truncated + 1))
  else
    # Cut exactly between two records: a valid, shorter log.
    "$blkreplay" verify "$tmpdir/cut.log" >/dev/null ||
      fail "verify refused a log cut between records at $cut"
  fi
  checked=$((checked + 1))
done
[ $truncated -gt 20 ] || fail "only $truncated truncated cuts checked"

# A corrupted byte (not a cut) is an error naming where: dump prints
# the records before it and fails, verify fails.
cp "$tmpdir/workload.blog" "$tmpdir/bad.log"
printf 'X' | dd of="$tmpdir/bad.log" bs=1 seek=$((size / 2)) conv=notrunc status=none
st=0
"$blkreplay" dump "$tmpdir/bad.log" > /dev/null 2> "$tmpdir/bad.err" || st=$?
[ $st = 1 ] || fail "dump of a corrupt log: exit $st, expected 1"
grep -q 'corrupt record at byte [0-9]* (after [0-9]* whole records): record checksum mismatch' \
  "$tmpdir/bad.err" || { cat "$tmpdir/bad.err"; fail "corruption not named"; }
"$blkreplay" verify "$tmpdir/bad.log" > /dev/null 2>&1 && fail "verify accepted a corrupt log"

# A header cut short is an error that says so.
head -c 20 "$tmpdir/workload.blog" > "$tmpdir/hdr.log"
if "$blkreplay" dump "$tmpdir/hdr.log" 2> "$tmpdir/hdr.err"; then
  fail "dump accepted a cut header"
fi
grep -q 'header is cut short' "$tmpdir/hdr.err" || fail "no clear header error"

# run replays the whole records of a truncated log.
# Cut inside the last request (the flush; the close record is 25 bytes).
head -c $((size - 35)) "$tmpdir/workload.blog" > "$tmpdir/cut.log"
start_nbdkit rep memory 1M
"$blkreplay" run "$tmpdir/cut.log" "$(uri rep)" > "$tmpdir/run.out" \
  2> "$tmpdir/run.err" || { cat "$tmpdir/run.err"; fail "run failed"; }
grep -q 'truncated' "$tmpdir/run.err" || fail "run did not note the truncation"
grep -q 'replayed 24 requests' "$tmpdir/run.out" || { cat "$tmpdir/run.out"; fail "run"; }
