#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# blkreplay stats counts the flags that change what a request promises
# (FUA writes, NO_HOLE and FAST_ZERO zeroes, flushes), text and --json;
# dump --json gives every record's byte position ("pos") and a full
# payload's ("data_pos"), which point at the right bytes of the file;
# dump's text shows times with units.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh jq python3
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"
log="$tmpdir/rec.blog"

start_nbdkit rec --filter="$(filter blkreplay)" memory 1M \
  blkreplay-log="$log" blkreplay-data=full
nbdsh -u "$(uri rec)" -c '
h.pwrite(b"\1" * 4096, 0, nbd.CMD_FLAG_FUA)
h.pwrite(b"\2" * 512, 8192, nbd.CMD_FLAG_FUA)
h.pwrite(b"\3" * 4096, 16384)
h.zero(4096, 65536, nbd.CMD_FLAG_NO_HOLE)
h.zero(4096, 2 * 65536, nbd.CMD_FLAG_NO_HOLE | nbd.CMD_FLAG_FUA)
assert h.can_fast_zero()         # the memory plugin zeroes fast
h.zero(4096, 3 * 65536, nbd.CMD_FLAG_FAST_ZERO)
h.trim(4096, 4 * 65536, nbd.CMD_FLAG_FUA)
h.flush(); h.flush(); h.flush()
h.pread(512, 0)
'
stop_nbdkit rec
fz=1

"$blkreplay" stats --json "$log" > "$tmpdir/stats.json"
jq -e --argjson fz "$fz" '.flags == {"fua_writes": 2, "fua_other": 2,
    "no_hole_zeroes": 2, "fast_zero_zeroes": $fz, "flushes": 3}' \
  "$tmpdir/stats.json" >/dev/null || fail "stats --json flags: $(jq -c .flags "$tmpdir/stats.json")"
"$blkreplay" stats "$log" > "$tmpdir/stats.txt"
grep -qx "flags: 2 FUA writes (2 other FUA requests), 2 zeroes with NO_HOLE, $fz with FAST_ZERO, 3 flushes" \
  "$tmpdir/stats.txt" || fail "stats text: $(grep flags "$tmpdir/stats.txt")"

# pos and data_pos point into the file: the record's length field and
# type byte, and the bytes that were written.
"$blkreplay" dump --json "$log" > "$tmpdir/dump.json"
python3 - "$log" "$tmpdir/dump.json" <<'PY' || fail "pos/data_pos do not match the file"
import json, struct, sys
blob = open(sys.argv[1], "rb").read()
recs = [json.loads(l) for l in open(sys.argv[2])][1:]
types = {"open": 1, "close": 2, "request": 3, "mark": 4}
hdr_len = struct.unpack_from("<I", blob, 12)[0]
assert recs[0]["pos"] == hdr_len, (recs[0]["pos"], hdr_len)
end = hdr_len
for r in recs:
    assert r["pos"] == end, (r, end)
    body = struct.unpack_from("<I", blob, r["pos"])[0]
    assert blob[r["pos"] + 4] == types[r["type"]], r
    end = r["pos"] + 8 + body
    if r.get("data"):
        d = blob[r["data_pos"]:r["data_pos"] + r["length"]]
        want = {0: b"\1" * 4096, 8192: b"\2" * 512, 16384: b"\3" * 4096}[r["offset"]]
        assert d == want, r
    else:
        assert "data_pos" not in r, r
assert end == len(blob), (end, len(blob))
assert sum(1 for r in recs if "data_pos" in r) == 3
PY

# Text: times with units (ns, µs, ms, s), not raw nanoseconds.
"$blkreplay" dump "$log" > "$tmpdir/dump.txt"
u='[0-9]+(\.[0-9]+)?(ns|µs|ms|s)'
grep -Eq "^request #1 .* submit $u complete $u \(\+$u\) ok" "$tmpdir/dump.txt" ||
  fail "dump text times: $(sed -n 3p "$tmpdir/dump.txt")"
grep -Eq "^open +conn 1 t=$u export" "$tmpdir/dump.txt" || fail "open time: $(sed -n 2p "$tmpdir/dump.txt")"
if grep -Eq 'submit [0-9]+ ' "$tmpdir/dump.txt"; then
  fail "raw ns left in the text dump"
fi
