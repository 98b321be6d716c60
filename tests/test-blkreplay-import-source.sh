#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# An imported log says where it came from: the header's creator is
# "blkreplay import (fio iolog)" / "(blkparse)"; dump, verify, stats and
# run say "imported from ..." instead of implying blkreplay-data=none was
# chosen, and run counts the imported reads as "not verifiable:
# imported" (they carry no hash), not as verified or silently dropped.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd jq
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"

cat > "$tmpdir/w.iolog" <<'LOG'
fio version 2 iolog
/dev/nbd0 add
/dev/nbd0 open
/dev/nbd0 write 0 4096
/dev/nbd0 read 0 4096
/dev/nbd0 read 8192 4096
/dev/nbd0 sync 0 0
/dev/nbd0 close
LOG
cat > "$tmpdir/bp.txt" <<'LOG'
  8,0    0        1     0.000000000  4242  Q   R 2048 + 8 [fio]
  8,0    0        2     0.000010000  4242  C   R 2048 + 8 [0]
LOG
"$blkreplay" import --fio-iolog "$tmpdir/w.iolog" -o "$tmpdir/f.blog" --size=1048576
"$blkreplay" import --blkparse "$tmpdir/bp.txt" -o "$tmpdir/b.blog"

"$blkreplay" dump --json "$tmpdir/f.blog" | head -1 |
  jq -e '.creator | startswith("blkreplay import (fio iolog)")' >/dev/null ||
  fail "creator: $("$blkreplay" dump --json "$tmpdir/f.blog" | head -1)"
"$blkreplay" dump --json "$tmpdir/b.blog" | head -1 |
  jq -e '(.creator | startswith("blkreplay import (blkparse)")) and .imported == "blkparse"' >/dev/null ||
  fail "blkparse creator: $("$blkreplay" dump --json "$tmpdir/b.blog" | head -1)"
"$blkreplay" dump "$tmpdir/f.blog" | head -1 | grep -q 'data none (imported from a fio iolog: no payloads)' ||
  fail "dump header: $("$blkreplay" dump "$tmpdir/f.blog" | head -1)"
"$blkreplay" verify "$tmpdir/f.blog" | grep -q 'imported from a fio iolog' ||
  fail "verify: $("$blkreplay" verify "$tmpdir/f.blog")"
"$blkreplay" stats "$tmpdir/f.blog" | grep -q '^imported from a fio iolog: no payloads, reads cannot be verified$' ||
  fail "stats text: $("$blkreplay" stats "$tmpdir/f.blog" | head -3)"
"$blkreplay" stats --json "$tmpdir/f.blog" | jq -e '.imported == "fio iolog"' >/dev/null ||
  fail "stats --json imported"
# A recorded log is not "imported".
start_nbdkit rec --filter="$(filter blkreplay)" memory 1M \
  blkreplay-log="$tmpdir/r.blog" blkreplay-data=none
nbdinfo --size "$(uri rec)" >/dev/null
stop_nbdkit rec
"$blkreplay" stats --json "$tmpdir/r.blog" | jq -e '.imported == null' >/dev/null ||
  fail "a recorded log counted as imported"

# run: the two reads are "not verifiable: imported".
start_nbdkit srv memory 1M
"$blkreplay" run "$tmpdir/f.blog" "$(uri srv)" > "$tmpdir/run.out" 2> "$tmpdir/run.err"
grep -q 'was imported from a fio iolog: it holds no payloads' "$tmpdir/run.err" ||
  fail "run note: $(cat "$tmpdir/run.err")"
if grep -q 'blkreplay-data=none' "$tmpdir/run.err"; then
  fail "run implies blkreplay-data=none was chosen: $(cat "$tmpdir/run.err")"
fi
grep -q 'reads (not verifiable: imported) 2' "$tmpdir/run.out" ||
  fail "run summary: $(cat "$tmpdir/run.out")"
"$blkreplay" run "$tmpdir/f.blog" "$(uri srv)" --json 2>/dev/null |
  jq -e '.imported_reads == 2 and .verified_reads == 0' >/dev/null ||
  fail "run --json: $("$blkreplay" run "$tmpdir/f.blog" "$(uri srv)" --json 2>/dev/null)"
stop_nbdkit srv
