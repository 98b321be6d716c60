#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# blkreplay crash with marks (blkreplay-control=SOCKET, "mark NAME"):
# --points=mark and mark:NAME check the durable state at each mark's
# position; --from/--to/--at/--until take mark names (a bare number
# stays a request id, mark:NAME is explicit); a failing point names the
# nearest preceding mark; the JSON "writes" of a failure is an array
# of request ids.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh jq python3
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"
ctl="$abs_top_builddir/tools/blkctl/blkctl"
cs="$tmpdir/ctl.sock"

start_nbdkit rec --filter="$(filter blkreplay)" memory 1M \
  blkreplay-log="$tmpdir/rec.blog" blkreplay-data=full blkreplay-control="$cs"
# One synchronous client: ids 1, 2, ... in order; write N writes byte N.
nbdsh -u "$(uri rec)" -c '
import subprocess
n = 0
def w(blk, fua=False):
    global n
    n += 1
    h.pwrite(bytes([n]) * 4096, blk * 4096, nbd.CMD_FLAG_FUA if fua else 0)
def f():
    global n
    n += 1
    h.flush()
def mark(name):
    subprocess.run(["'"$ctl"'", "'"$cs"'", "mark", name], check=True,
                   stdout=subprocess.DEVNULL)
w(0); w(1); f(); mark("after-first-flush")     # 1 2 flush@3
w(2); w(0); w(3, True); mark("after-fua")      # 4 5, FUA 6
w(4); mark("unflushed")                        # 7
f(); w(5); mark("8")                           # flush@8, 9
w(1)                                           # 10
'
stop_nbdkit rec
truncate -s 1M "$tmpdir/base.raw"
"$blkreplay" dump --json "$tmpdir/rec.blog" > "$tmpdir/rec.json"

# The checker: what a sequential client's point must hold (durable
# writes; STRICT=acked: every completed write, wrong on purpose).  It
# also notes the point's request, kind and mark.
cat > "$tmpdir/check.py" <<'PY'
import json, os, sys
img = open(sys.argv[1], "rb").read()
R = int(os.environ["BLKREPLAY_REQID"])
with open(os.environ["SEEN"], "a") as s:
    s.write("%d %s %s\n" % (R, os.environ["BLKREPLAY_KIND"],
                            os.environ.get("BLKREPLAY_MARK", "-")))
reqs = [json.loads(l) for l in open(os.environ["LOG_JSON"])]
reqs = [r for r in reqs if r["type"] == "request" and r["id"] <= R]
flushes = [r["id"] for r in reqs if r["op"] == "flush"]
def durable(w):
    if (os.environ.get("STRICT") == "acked" or
        os.environ["BLKREPLAY_VARIANT"] == "acked"):
        return True
    return "fua" in w["flags"] or any(f > w["id"] for f in flushes)
for blk in range(8):
    must = 0
    for w in reqs:
        if w["op"] == "write" and w["offset"] == blk * 4096 and durable(w):
            must = w["id"]
    if img[blk * 4096:(blk + 1) * 4096] != bytes([must]) * 4096:
        print("request #%d: block %d holds %d, expected %d" %
              (R, blk, img[blk * 4096], must))
        sys.exit(1)
PY
export LOG_JSON="$tmpdir/rec.json" SEEN="$tmpdir/seen"
crash () { "$blkreplay" crash "$tmpdir/rec.blog" "$tmpdir/base.raw" \
             --check "python3 $tmpdir/check.py {}" --quiet "$@"; }

# Every mark: the durable state where it was taken.
rm -f "$SEEN"
crash --points=mark --json > "$tmpdir/out.json" ||
  fail "--points=mark failed: $(cat "$tmpdir/out.json")"
jq -e '.points == 4 and .failed == 0' "$tmpdir/out.json" >/dev/null ||
  fail "--points=mark: $(cat "$tmpdir/out.json")"
[ "$(cat "$SEEN")" = "3 mark after-first-flush
6 mark after-fua
7 mark unflushed
9 mark 8" ] || fail "mark points: $(cat "$SEEN")"

# One mark by name; marks with flushes (a position is checked once).
rm -f "$SEEN"
crash --points=mark:after-fua > /dev/null
[ "$(cat "$SEEN")" = "6 mark after-fua" ] || fail "mark:after-fua: $(cat "$SEEN")"
rm -f "$SEEN"
crash --points=flush,mark > /dev/null
[ "$(cut -d' ' -f1,2 "$SEEN" | tr '\n' ,)" = "3 flush,6 mark,7 mark,8 flush,9 mark," ] ||
  fail "flush,mark: $(cat "$SEEN")"

# Ranges by mark name; a number is a request id, mark:NAME the mark.
rm -f "$SEEN"
crash --points=every-write --from=after-fua --to=unflushed > /dev/null
[ "$(cut -d' ' -f1 "$SEEN" | tr '\n' ,)" = "6,7," ] || fail "--from/--to marks: $(cat "$SEEN")"
rm -f "$SEEN"
crash --points=every-write --to=8 > /dev/null
[ "$(cut -d' ' -f1 "$SEEN" | tr '\n' ,)" = "1,2,4,5,6,7," ] || fail "--to=8: $(cat "$SEEN")"
rm -f "$SEEN"
crash --points=every-write --to=mark:8 > /dev/null
[ "$(cut -d' ' -f1 "$SEEN" | tr '\n' ,)" = "1,2,4,5,6,7,9," ] || fail "--to=mark:8: $(cat "$SEEN")"

# Negative control: failures name their mark, "writes" is an array.
set +e
STRICT=acked crash --points=mark --json > "$tmpdir/bad.json"; st=$?
set -e
[ "$st" = 1 ] || fail "the negative control passed"
jq -e '.failures[0] | .kind == "mark" and .mark == "after-fua" and
         .request_id == 6 and .writes == [6] and .torn == null' \
  "$tmpdir/bad.json" >/dev/null || fail "failure JSON: $(cat "$tmpdir/bad.json")"
jq -e '.failures[1] | .mark == "unflushed" and .writes == []' \
  "$tmpdir/bad.json" >/dev/null || fail "second failure: $(cat "$tmpdir/bad.json")"
set +e
STRICT=acked crash --points=4 > "$tmpdir/bad.txt" 2>&1; st=$?
STRICT=acked crash --points=4 --json > "$tmpdir/bad4.json" 2>/dev/null
set -e
[ "$st" = 1 ] || fail "spread negative control passed"
jq -e '(.failures[0] | .request_id == 2 and .mark == null) and
       (.failures[1] | .kind == "spread" and .request_id == 5 and
         .mark == "after-first-flush" and .writes == [1, 2])' \
  "$tmpdir/bad4.json" >/dev/null || fail "spread failure JSON: $(cat "$tmpdir/bad4.json")"
grep -q "FAIL point 2/4 (spread, log position 5, request #5, mark 'after-first-flush', trim=keep, durable state): check exited with status 1; writes new in this state: #1 #2" \
  "$tmpdir/bad.txt" || fail "text failure: $(cat "$tmpdir/bad.txt")"
# The same with --torn: the torn write is an object, writes still ids.
set +e
STRICT=acked crash --points=fua --torn --json > "$tmpdir/torn.json" 2>/dev/null
set -e
jq -e '[.failures[] | select(.variant == "torn")][0] |
         (.torn.request_id == 4 or .torn.request_id == 5) and
         .torn.of == 8 and (.writes | type) == "array"' \
  "$tmpdir/torn.json" >/dev/null || fail "torn failure JSON: $(cat "$tmpdir/torn.json")"

# image --at and run --until with marks.
"$blkreplay" image "$tmpdir/rec.blog" "$tmpdir/base.raw" --at=after-fua \
  -o "$tmpdir/at.raw" 2> "$tmpdir/err"
grep -q "the state at request #6 " "$tmpdir/err" || fail "image --at=after-fua: $(cat "$tmpdir/err")"
"$blkreplay" image "$tmpdir/rec.blog" "$tmpdir/base.raw" --at=8 \
  -o "$tmpdir/at.raw" 2> "$tmpdir/err"
grep -q "the state at request #8 " "$tmpdir/err" || fail "image --at=8: $(cat "$tmpdir/err")"
start_nbdkit until memory 1M
"$blkreplay" run "$tmpdir/rec.blog" "$(uri until)" --until=mark:after-fua \
  --quiet > "$tmpdir/until.out"
grep -q "^blkreplay: replayed 6 requests" "$tmpdir/until.out" ||
  fail "run --until=mark:after-fua: $(cat "$tmpdir/until.out")"
stop_nbdkit until

# Errors a user can act on.
t () {
  local want="$1"; shift
  set +e
  "$@" > /dev/null 2> "$tmpdir/err"; st=$?
  set -e
  [ "$st" = 2 ] && grep -q -- "$want" "$tmpdir/err" ||
    fail "$*: status $st: $(cat "$tmpdir/err")"
}
t "no mark named 'nosuch' in the log (it has 4 marks, the first 'after-first-flush'" \
  crash --points=flush --from=nosuch
t "points=mark:nosuch: no mark of that name" crash --points=mark:nosuch
t "no request with id 11 in the log" crash --to=11
