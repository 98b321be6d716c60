#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# blkreplay run --dry-run says how many round trips the recorded
# ordering chains (what bounds a replay's speed against a fast server).
# Here two requests overlap, then a flush and a trim each start after
# everything before them completed: 3 round trips for 4 requests.
. "$abs_top_srcdir/tests/functions.sh"
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"

cat > "$tmpdir/bp.txt" <<'LOG'
  8,0    0        1     0.000000000  77  Q   W 4096 + 8 [app]
  8,0    0        2     0.000002000  77  Q   R 8192 + 8 [app]
  8,0    0        3     0.000040000   0  C   R 8192 + 8 [0]
  8,0    0        4     0.000060000   0  C   W 4096 + 8 [0]
  8,0    0        5     0.000100000  77  Q  FWS [app]
  8,0    0        6     0.000120000   0  C  FWS [0]
  8,0    0        7     0.000200000  77  Q   D 16384 + 64 [app]
  8,0    0        8     0.000300000   0  C   D 16384 + 64 [0]
LOG
"$blkreplay" import --blkparse "$tmpdir/bp.txt" -o "$tmpdir/bp.blog" > /dev/null
"$blkreplay" run "$tmpdir/bp.blog" --dry-run > "$tmpdir/out"
cat "$tmpdir/out"
grep -q '4 requests on 1 connection, ready to replay' "$tmpdir/out" ||
  fail "dry run"
grep -q 'recorded ordering: a chain of 3 round trips, 1.33 requests in flight on average' \
  "$tmpdir/out" || fail "round trips of the recorded ordering"
