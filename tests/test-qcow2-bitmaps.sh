#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Persistent dirty bitmaps are removed at the first write: the header
# extension goes (the other extensions and a backing file name stay),
# and the clusters of the directory, tables and bitmap data are freed,
# so qemu-img check finds no errors and no leaks.  Bitmaps that are
# stale (autoclear bit already clear) or whose directory / tables are
# inconsistent lose their extension but are not freed: they may only
# leak, never corrupt.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/qcow2-helpers.sh"
requires_cmd jq python3
cd "$tmpdir"

autoclear () { od -An -tx1 -j 88 -N 8 "$1" | tr -d ' \n'; }

# bitmaps_gone IMAGE: no bitmaps, no autoclear bits, qemu-img check
# finds no errors (leaks are checked by the caller).
bitmaps_gone ()
{
  qemu-img info --output=json "$1" > info.json
  jq -e '."format-specific".data.bitmaps // [] | length == 0' info.json >/dev/null ||
    fail "$1 still has bitmaps: $(cat info.json)"
  [ "$(autoclear "$1")" = 0000000000000000 ] ||
    fail "$1: autoclear bits left: $(autoclear "$1")"
  local st=0
  qemu-img check --output=json "$1" > check.json 2>/dev/null || st=$?
  [ $st = 0 ] || [ $st = 3 ] || fail "qemu-img check $1 failed ($st): $(cat check.json)"
  jq -e '(."corruptions" // 0) == 0 and (."check-errors" // 0) == 0' check.json >/dev/null ||
    fail "$1 has errors: $(cat check.json)"
}
leaks () { jq '."leaks" // 0' check.json; }

# write_through NAME IMAGE [REF]: the same writes through the plugin
# and to a raw copy (NAME.raw) of REF (default IMAGE; QEMU refuses to
# open images with damaged bitmaps), then a clean shutdown.
write_through ()
{
  qemu-img convert -O raw "${3:-$2}" "$1.raw"
  start_nbdkit "$1" -v -D qcow2.meta=1 "$QCOW2" "$2"
  both "$1" "$1.raw" 'write -P 0x11 2M 64k' 'write -z 5M 4k' 'write -P 0x22 7M 1M'
  stop_nbdkit "$1"
  qemu-img compare -f qcow2 -F raw "$2" "$1.raw" >/dev/null ||
    fail "$1: qemu-img compare $2 differs from the reference"
}

# A backing file, and an image over it with a backing format extension,
# the backing file name in the first cluster, and three bitmaps (two of
# them with data clusters, different granularities, one disabled).
qemu-img create -q -f qcow2 base.qcow2 8M
qemu-io -f qcow2 -c 'write -P 0x33 0 8M' base.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 bm.qcow2 8M
qemu-img bitmap --add bm.qcow2 b0
qemu-img bitmap --add -g 512 bm.qcow2 b1
qemu-img bitmap --add --disable bm.qcow2 b2
qemu-io -f qcow2 -c 'write -P 0x5a 0 1M' -c 'write -P 0xa5 5M 64k' bm.qcow2 >/dev/null
[ "$(autoclear bm.qcow2)" = 0000000000000001 ] || fail "no bitmaps autoclear bit"
[ "$(qemu-img info --output=json bm.qcow2 | jq '."format-specific".data.bitmaps | length')" = 3 ] ||
  fail "qemu-img did not make three bitmaps"

# Bitmap clusters QEMU leaks when it only sees the bit cleared.
cp bm.qcow2 hand.qcow2
printf '\0\0\0\0\0\0\0\0' | dd of=hand.qcow2 bs=1 seek=88 conv=notrunc status=none
hand_leaks=$(qemu-img check --output=json hand.qcow2 2>/dev/null | jq '."leaks" // 0') || true
[ "${hand_leaks:-0}" -ge 5 ] || fail "expected the bitmaps to own >= 5 clusters, got $hand_leaks"

# 1. The normal case: all freed, everything else in the header kept.
cp bm.qcow2 w.qcow2
write_through w w.qcow2
bitmaps_gone w.qcow2
[ "$(leaks)" = 0 ] || fail "w.qcow2 leaks $(leaks) clusters"
jq -e '."backing-filename" == "base.qcow2" and ."backing-filename-format" == "qcow2"' \
  info.json >/dev/null || fail "backing file or format lost: $(cat info.json)"
grep -q "bitmaps extension removed (3 bitmaps), $hand_leaks clusters to free" "$(server_log w)" ||
  { cat "$(server_log w)"; fail "no debug line for the removed bitmaps"; }
judge w.qcow2 w.raw

# 2. Stale bitmaps (bit already clear): extension dropped, clusters
#    left as the leaks QEMU would leave (they may have been reused).
write_through s hand.qcow2
bitmaps_gone hand.qcow2
[ "$(leaks)" = "$hand_leaks" ] ||
  fail "stale bitmaps: $(leaks) leaks, expected exactly $hand_leaks"
grep -q "stale (autoclear bit already clear)" "$(server_log s)" ||
  { cat "$(server_log s)"; fail "no debug line for stale bitmaps"; }

# 3. Inconsistent directories: nothing freed, nothing corrupted.
#    patch IMAGE WHAT: damage the first bitmap directory entry.
patch ()
{
  python3 - "$@" <<'PY'
import struct, sys
path, what = sys.argv[1], sys.argv[2]
f = open(path, "r+b"); d = f.read()
cs = 1 << struct.unpack(">I", d[20:24])[0]
off = struct.unpack(">I", d[100:104])[0]
while True:
    t, l = struct.unpack(">II", d[off:off + 8])
    assert t != 0, "no bitmaps extension"
    if t == 0x23852875:
        break
    off += 8 + ((l + 7) & ~7)
nb, _, dsize, doff = struct.unpack(">IIQQ", d[off + 8:off + 32])
l1 = struct.unpack(">Q", d[40:48])[0]
toff = struct.unpack(">Q", d[doff:doff + 8])[0]
if what == "unaligned-table":       # table offset not cluster aligned
    f.seek(doff); f.write(struct.pack(">Q", toff + 512))
elif what == "table-past-eof":      # table far past the end of the file
    f.seek(doff); f.write(struct.pack(">Q", 1 << 50))
elif what == "data-is-l1":          # a data cluster that is the L1 table
    f.seek(toff); f.write(struct.pack(">Q", l1))
elif what == "dir-size":            # directory size beyond the file
    f.seek(off + 16); f.write(struct.pack(">Q", 1 << 40))
elif what == "nb-bitmaps":          # more bitmaps than the directory holds
    f.seek(off + 8); f.write(struct.pack(">I", 1000))
PY
}
for what in unaligned-table table-past-eof data-is-l1 dir-size nb-bitmaps; do
  cp bm.qcow2 $what.qcow2
  patch $what.qcow2 $what
  write_through $what $what.qcow2 bm.qcow2
  bitmaps_gone $what.qcow2
  grep -q "dropping them without freeing their clusters" "$(server_log $what)" ||
    { cat "$(server_log $what)"; fail "$what: no debug line for inconsistent bitmaps"; }
  [ "$(leaks)" -le "$hand_leaks" ] || fail "$what: more leaks than the bitmaps own"
done
