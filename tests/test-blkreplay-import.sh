#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# blkreplay import turns a fio iolog (v2, v3) and blkparse text output
# into logs that blkreplay run replays.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd jq
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"

cat > "$tmpdir/v2.iolog" <<'LOG'
fio version 2 iolog
/dev/nbd0 add
/dev/nbd0 open
/dev/nbd0 write 0 4096
/dev/nbd0 read 0 4096
/dev/nbd0 wait 1000 0
/dev/nbd0 write 65536 8192
/dev/nbd0 sync 0 0
/dev/nbd0 trim 131072 4096
/dev/nbd0 read 65536 8192
/dev/nbd0 close
LOG
"$blkreplay" import --fio-iolog "$tmpdir/v2.iolog" -o "$tmpdir/v2.blog" --size=1048576
"$blkreplay" verify "$tmpdir/v2.blog"
"$blkreplay" dump --json "$tmpdir/v2.blog" > "$tmpdir/v2.json"
[ "$(jq -s -r '[.[] | select(.type == "request") | .op] | join(",")' "$tmpdir/v2.json")" = \
  write,read,write,flush,trim,read ] || { cat "$tmpdir/v2.json"; fail "fio v2 ops"; }
[ "$(jq -s -r '.[0].export_size' "$tmpdir/v2.json")" = 1048576 ] || fail "--size"
# The wait of 1000us separates request 2 and 3.
[ "$(jq -s '[.[] | select(.type == "request")] | (.[2].submit_ns - .[1].submit_ns) >= 1000000' "$tmpdir/v2.json")" = true ] ||
  fail "fio wait not applied"

cat > "$tmpdir/v3.iolog" <<'LOG'
fio version 3 iolog
0 /dev/sdb add
0 /dev/sdb open
1 /dev/sdb write 4096 4096
3 /dev/sdb read 4096 4096
5 /dev/sdb close
LOG
"$blkreplay" import --fio-iolog "$tmpdir/v3.iolog" -o "$tmpdir/v3.blog"
[ "$("$blkreplay" dump --json "$tmpdir/v3.blog" | jq -s -r '[.[] | select(.type == "request") | .submit_ns] | join(",")')" = 0,2001 ] ||
  fail "fio v3 timestamps (microseconds)"

cat > "$tmpdir/bp.txt" <<'LOG'
  8,0    0        1     0.000000000  4242  Q   W 2048 + 8 [fio]
  8,0    0        2     0.000001000  4242  G   W 2048 + 8 [fio]
  8,0    0        3     0.000002000  4242  Q   R 4096 + 16 [fio]
  8,0    0        4     0.000010000  4242  D   W 2048 + 8 [fio]
  8,0    0        5     0.000050000     0  C   R 4096 + 16 [0]
  8,0    0        6     0.000090000     0  C   W 2048 + 8 [0]
  8,0    0        7     0.000100000  4242  Q  FWS [fio]
  8,0    0        8     0.000120000     0  C  FWS [0]
  8,0    0        9     0.000200000  4242  Q   D 8192 + 64 [fio]
  8,0    0       10     0.000300000     0  C   D 8192 + 64 [0]
CPU0 (8,0):
 Reads Queued:           1,        8KiB  Writes Queued:           1,        4KiB
LOG
"$blkreplay" import --blkparse "$tmpdir/bp.txt" -o "$tmpdir/bp.blog"
"$blkreplay" dump --json "$tmpdir/bp.blog" > "$tmpdir/bp.json"
cat "$tmpdir/bp.json"
# Log order is completion order: the read finished before the write.
[ "$(jq -s -r '[.[] | select(.type == "request") | "\(.id):\(.op):\(.offset):\(.length)"] | join(",")' "$tmpdir/bp.json")" = \
  2:read:2097152:8192,1:write:1048576:4096,3:flush:0:0,4:trim:4194304:32768 ] ||
  fail "blkparse import"
"$blkreplay" stats "$tmpdir/bp.blog" | grep -q 'queue depth: max 2' || fail "blkparse queue depth"

# A real iolog written by fio (version 3 with fio >= 3.31).
if command -v fio >/dev/null; then
  truncate -s 4M "$tmpdir/f.img"
  fio --name=x --filename="$tmpdir/f.img" --rw=randrw --bs=4k --size=1M \
    --write_iolog="$tmpdir/real.iolog" --output=/dev/null
  "$blkreplay" import --fio-iolog "$tmpdir/real.iolog" -o "$tmpdir/real.blog" \
    --size=4194304 > /dev/null
  [ "$("$blkreplay" stats --json "$tmpdir/real.blog" | jq '.requests')" = 256 ] ||
    fail "fio's own iolog: not 256 requests"
fi

# A broken line is named.
printf 'fio version 2 iolog\n/dev/x write zero 4096\n' > "$tmpdir/bad.iolog"
if "$blkreplay" import --fio-iolog "$tmpdir/bad.iolog" -o "$tmpdir/bad.blog" 2> "$tmpdir/err"; then
  fail "a bad iolog was accepted"
fi
grep -q 'bad.iolog:2: cannot parse' "$tmpdir/err" || { cat "$tmpdir/err"; fail "bad line not named"; }

# Imported logs replay (no payloads: writes carry a pattern).
start_nbdkit srv memory 8M
"$blkreplay" run "$tmpdir/v2.blog" "$(uri srv)" --queue-depth=2 2> "$tmpdir/run.err" ||
  { cat "$tmpdir/run.err"; fail "run of an imported fio log"; }
grep -q 'was imported from a fio iolog: it holds no payloads' "$tmpdir/run.err" ||
  fail "no note about payloads"
if [ -e "$tmpdir/real.blog" ]; then
  "$blkreplay" run "$tmpdir/real.blog" "$(uri srv)" > /dev/null 2>&1 ||
    fail "run of fio's own iolog"
fi
"$blkreplay" run "$tmpdir/bp.blog" "$(uri srv)" > /dev/null 2>&1 ||
  fail "run of an imported blkparse log"

# Ids and submission times disagree (the recorder takes them one after
# the other): request 2 completes before request 1 was submitted.  The
# replay must not wait for it before sending request 1.
cat > "$tmpdir/race.txt" <<'LOG'
  8,0    0        1     0.000010000  4242  Q   W 2048 + 8 [fio]
  8,0    0        2     0.000000000  4242  Q   W 4096 + 8 [fio]
  8,0    0        3     0.000005000     0  C   W 4096 + 8 [0]
  8,0    0        4     0.000020000     0  C   W 2048 + 8 [0]
  8,0    0        5     0.000030000  4242  Q   R 2048 + 8 [fio]
  8,0    0        6     0.000040000     0  C   R 2048 + 8 [0]
LOG
"$blkreplay" import --blkparse "$tmpdir/race.txt" -o "$tmpdir/race.blog"
timeout 20 "$blkreplay" run "$tmpdir/race.blog" "$(uri srv)" > "$tmpdir/race.out" 2>&1 ||
  { cat "$tmpdir/race.out"; fail "replay of a log whose ids and times disagree hung or failed"; }
