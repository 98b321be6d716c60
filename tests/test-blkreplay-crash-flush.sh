#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# blkreplay crash / image on a recorded nbdsh workload of writes,
# overwrites, a FUA write and flushes: a checker that knows what each
# point must hold (writes flushed or FUA: present; others: absent, or
# either in a reorder/torn variant) passes at every point; a checker
# that expects unflushed data fails, and the failing point is named.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh jq python3
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"

start_nbdkit rec --filter="$(filter blkreplay)" memory 1M \
  blkreplay-log="$tmpdir/rec.blog" blkreplay-data=full
# One synchronous client: request ids are 1, 2, ... in this order, and
# write number N writes the byte N.
nbdsh -u "$(uri rec)" -c '
n = 0
def w(blk, fua=False):
    global n
    n += 1
    h.pwrite(bytes([n]) * 4096, blk * 4096, nbd.CMD_FLAG_FUA if fua else 0)
def f():
    global n
    n += 1
    h.flush()
w(0); w(1); f()              # 1 2 flush@3
w(2); w(0); w(3, True)       # 4, 5 overwrites block 0, FUA 6
w(4); f()                    # 7, flush@8
w(5); w(1)                   # 9, 10: never flushed
'
stop_nbdkit rec
truncate -s 1M "$tmpdir/base.raw"
"$blkreplay" dump --json "$tmpdir/rec.blog" > "$tmpdir/rec.json"

# The checker: recomputes, for a sequential client, what the point
# must hold, from the log's own records.  STRICT=acked expects every
# write completed before the point: wrong (the negative control).
cat > "$tmpdir/check.py" <<'EOF'
import json, os, sys
img = open(sys.argv[1], "rb").read()
R = int(os.environ["BLKREPLAY_REQID"])
variant = os.environ["BLKREPLAY_VARIANT"]
reqs = [json.loads(l) for l in open(os.environ["LOG_JSON"])]
reqs = [r for r in reqs if r["type"] == "request" and r["id"] <= R]
writes = [r for r in reqs if r["op"] == "write"]
flushes = [r["id"] for r in reqs if r["op"] == "flush"]
def durable(w):
    if variant == "acked" or os.environ.get("STRICT") == "acked":
        return True
    return "fua" in w["flags"] or any(f > w["id"] for f in flushes)
for s in range(0, 8 * 4096, 512):
    must = 0                    # the base: zeroes
    may = set()
    for w in writes:
        if w["offset"] <= s < w["offset"] + w["length"]:
            if durable(w):
                must = w["id"]
                may = set()     # a later durable write hides earlier ones
            else:
                may.add(w["id"])
    got = img[s]
    ok = got == must or (variant != "durable" and variant != "acked" and got in may)
    if not ok or img[s:s+512] != bytes([got]) * 512:
        print("point %s (request #%d, %s): sector %d holds %d, expected %d%s"
              % (os.environ["BLKREPLAY_POINT"], R, variant, s // 512, got,
                 must, " or one of %s" % sorted(may) if may else ""))
        sys.exit(1)
if img[8 * 4096:] != bytes(len(img) - 8 * 4096):
    print("point %s: data beyond block 7" % os.environ["BLKREPLAY_POINT"])
    sys.exit(1)
# SCRIBBLE: the checker writes to the image (as mounting a filesystem
# does); the tool must restore it before the next state.
if os.environ.get("SCRIBBLE"):
    with open(sys.argv[1], "r+b") as f:
        for off in (5 * 4096 + 100, 512 * 1024, len(img) - 512):
            f.seek(off)
            f.write(b"\xee" * 512)
EOF
export LOG_JSON="$tmpdir/rec.json"
check="python3 $tmpdir/check.py {}"

# Every flush and FUA point: 2 flushes and 1 FUA write.
"$blkreplay" crash "$tmpdir/rec.blog" "$tmpdir/base.raw" --check "$check" \
  --json > "$tmpdir/out.json" || { cat "$tmpdir/out.json"; fail "crash check failed"; }
jq -e '.points == 3 and .states == 3 and .failed == 0' "$tmpdir/out.json" ||
  fail "expected 3 points, 3 states, 0 failed: $(cat "$tmpdir/out.json")"

# A checker that writes to its image: every state is still exact (the
# tool restores the image after each check that changed it).
SCRIBBLE=1 "$blkreplay" crash "$tmpdir/rec.blog" "$tmpdir/base.raw" \
  --check "$check" --points=flush,fua,every-write --json > "$tmpdir/out.json" ||
  { cat "$tmpdir/out.json"; fail "crash check with a writing checker failed"; }
jq -e '.points == 10 and .failed == 0 and .restores == 10' "$tmpdir/out.json" ||
  fail "expected 10 points, 0 failed, 10 restores: $(cat "$tmpdir/out.json")"

# Every write (all acknowledged writes persisted), with reorder and
# torn variants: all pass.
"$blkreplay" crash "$tmpdir/rec.blog" "$tmpdir/base.raw" --check "$check" \
  --points=flush,fua,every-write --reorder=3 --seed=7 --torn \
  > "$tmpdir/out.txt" || { cat "$tmpdir/out.txt"; fail "crash with variants failed"; }
cat "$tmpdir/out.txt"
# 10 points: 2 flushes, the FUA write, 7 other writes.  Only the FUA
# point has writes acknowledged and not durable (#4, #5): 3 reorder
# variants (every non-empty subset) and 1 torn one.
grep -q "^blkreplay crash: 10 points, 14 states checked, 0 failed" \
  "$tmpdir/out.txt" || fail "expected 10 points and 14 states"
grep -q "states built: [0-9]*/s" "$tmpdir/out.txt" || fail "no states/s"

# Negative control: expecting writes that were acknowledged but never
# flushed (#4, #5) fails at the FUA point #6, and only there.
set +e
STRICT=acked "$blkreplay" crash "$tmpdir/rec.blog" "$tmpdir/base.raw" \
  --check "$check" > "$tmpdir/neg.txt" 2> "$tmpdir/neg.err"
st=$?
set -e
cat "$tmpdir/neg.txt" "$tmpdir/neg.err"
[ "$st" = 1 ] || fail "the negative control exited $st, not 1"
grep -q "first failure: point 2/3 (fua, log position 6, request #6, trim=keep, durable state): check exited with status 1; writes new in this state: #6" \
  "$tmpdir/neg.txt" || fail "the first failure is not named as the FUA point, request #6"
grep -c "^blkreplay: FAIL" "$tmpdir/neg.err" | grep -qx 1 ||
  fail "expected exactly 1 failing point"

# One state: the durable state at the second flush, and with --acked
# at the end (everything written).
"$blkreplay" image "$tmpdir/rec.blog" "$tmpdir/base.raw" --at=flush:2 \
  -o "$tmpdir/f2.raw"
BLKREPLAY_REQID=8 BLKREPLAY_VARIANT=durable BLKREPLAY_POINT=- \
  python3 "$tmpdir/check.py" "$tmpdir/f2.raw" || fail "image --at=flush:2"
"$blkreplay" image "$tmpdir/rec.blog" "$tmpdir/base.raw" --at=end --acked \
  -o "$tmpdir/end.raw"
start_nbdkit rep memory 1M
"$blkreplay" run "$tmpdir/rec.blog" "$(uri rep)" --quiet > /dev/null
nbdsh -u "$(uri rep)" -c "
assert h.pread(1 << 20, 0) == open('$tmpdir/end.raw', 'rb').read()
"

# run --until replays a prefix: up to the first flush, up to the FUA
# write #6; the export then holds what image --acked builds there.
for until in flush:1 6; do
  start_nbdkit "until" memory 1M
  "$blkreplay" run "$tmpdir/rec.blog" "$(uri until)" --until="$until" \
    --quiet > "$tmpdir/until.out"
  n=3; [ "$until" = 6 ] && n=6
  grep -q "^blkreplay: replayed $n requests" "$tmpdir/until.out" ||
    fail "run --until=$until: $(cat "$tmpdir/until.out")"
  "$blkreplay" image "$tmpdir/rec.blog" "$tmpdir/base.raw" --at="$until" \
    --acked -o "$tmpdir/until.raw"
  nbdsh -u "$(uri until)" -c "
assert h.pread(1 << 20, 0) == open('$tmpdir/until.raw', 'rb').read()
assert h.pread(4096, 4 * 4096) == bytes(4096), 'write #7 was not replayed'
"
  stop_nbdkit "until"
done
set +e
"$blkreplay" run "$tmpdir/rec.blog" "nbd+unix:///?socket=/nonexistent" \
  --until=mark:after-mkfs 2> "$tmpdir/err"; st=$?
set -e
[ "$st" = 2 ] && grep -q "until: 'mark:after-mkfs': this log has no marks" "$tmpdir/err" ||
  fail "run --until=mark: $(cat "$tmpdir/err")"

# Errors a user can act on.
set +e
"$blkreplay" image "$tmpdir/rec.blog" "$tmpdir/base.raw" --at=flush:9 \
  -o "$tmpdir/x.raw" 2> "$tmpdir/err"; st=$?
set -e
[ "$st" = 2 ] && grep -q "'flush:9': the log holds 2 successful flushes" "$tmpdir/err" ||
  fail "image --at=flush:9: $(cat "$tmpdir/err")"
set +e
"$blkreplay" crash "$tmpdir/rec.blog" "$tmpdir/base.raw" --check true \
  --points=mark 2> "$tmpdir/err"; st=$?
set -e
[ "$st" = 2 ] && grep -q "not available in this log" "$tmpdir/err" ||
  fail "--points=mark: $(cat "$tmpdir/err")"
