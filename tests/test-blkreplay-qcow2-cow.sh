#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The qcow2 plugin's crash-consistency proof, copy-on-write cases: the
# image has a backing file (qcow2, data everywhere) and two internal
# snapshots of data written before serving, so the random workload
# (tests/qcow2-crash-workload.py: writes, partial and unaligned, FUA,
# zeroes, trims, a flush and a mark after each phase) copies clusters
# from the backing file and from clusters shared with the snapshots
# (refcount > 1).  blkreplay-layer=backend records the plugin's I/O on
# the top FILE; every state a power cut could leave it in passes
# tests/qcow2-crash-check.sh: qemu-img check exits 0 or 3 (leaks), the
# snapshots are listed and unchanged, and the guest view holds every
# byte flushed before the point's mark and the backing/snapshot data
# everywhere the workload did not write.  Negative controls: the same
# check one phase ahead of the marks fails, and so does the served
# image once a MiB of its backing file is changed.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/qcow2-helpers.sh"
requires_cmd jq python3
requires python3 -c 'import nbd'
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"
ctl="$abs_top_builddir/tools/blkctl/blkctl"
srcdir="$abs_top_srcdir/tests"
cd "$tmpdir"

# The backing file: a different byte in every MiB.
qemu-img create -q -f qcow2 backing.qcow2 8M
cmds=()
for i in $(seq 0 7); do cmds+=(-c "write -P $((0xa0 + i)) ${i}M 1M"); done
qemu-io -f qcow2 "${cmds[@]}" backing.qcow2 >/dev/null
# The top image: an absolute backing path, so the crash states (in
# blkreplay's temporary directory) find it.  Data in the first MiBs,
# partly cluster-unaligned, then a snapshot; more data, a second one.
qemu-img create -q -f qcow2 -o cluster_size=65536 \
  -b "$tmpdir/backing.qcow2" -F qcow2 img.qcow2 8M
qemu-io -f qcow2 -c 'write -P 0x51 0 1M' -c 'write -P 0x52 1200k 700k' img.qcow2 >/dev/null
qemu-img snapshot -c snap1 img.qcow2
qemu-io -f qcow2 -c 'write -P 0x53 512k 1M' -c 'write -P 0x54 5M 64k' img.qcow2 >/dev/null
qemu-img snapshot -c snap2 img.qcow2
mkdir w
printf 'snap1\nsnap2\n' > w/snapshots
for s in snap1 snap2; do
  qemu-img convert -l snapshot.name=$s -O raw img.qcow2 w/$s.raw
done
qemu-img convert -O raw img.qcow2 w/initial.raw
cp img.qcow2 base.qcow2          # BASE: the top file before recording

start_nbdkit rec --filter="$(filter blkreplay)" "$QCOW2" img.qcow2 \
  blkreplay-layer=backend blkreplay-data=full blkreplay-log="$tmpdir/rec.blog" \
  blkreplay-control="$tmpdir/ctl.sock"
python3 "$srcdir/qcow2-crash-workload.py" "$(uri rec)" "$ctl" "$tmpdir/ctl.sock" \
  "$tmpdir/w" 4 10 7
stop_nbdkit rec
python3 "$srcdir/qcow2-crash-expect.py" w
check="$srcdir/qcow2-crash-check.sh {} $tmpdir/w"

# The served image itself: clean, snapshots intact, and copy-on-write
# really happened (each snapshot unchanged while the active view moved).
qemu-img check -q img.qcow2 || fail "the served image fails qemu-img check"
for s in snap1 snap2; do
  qemu-img convert -l snapshot.name=$s -O raw img.qcow2 now-$s.raw
  cmp -s now-$s.raw w/$s.raw || fail "snapshot $s changed while served"
done
qemu-img convert -O raw img.qcow2 now.raw
cmp -s now.raw w/initial.raw && fail "the workload changed nothing"
BLKREPLAY_MARK=phase-3 "$srcdir/qcow2-crash-check.sh" img.qcow2 w ||
  fail "the served image does not hold what the workload wrote"
# The check reads through to the backing file: with one MiB of it
# changed, the served image fails it.
cp backing.qcow2 backing.good
qemu-io -f qcow2 -c 'write -P 0xee 7M 1M' backing.qcow2 > /dev/null
st=0
BLKREPLAY_MARK=phase-3 "$srcdir/qcow2-crash-check.sh" img.qcow2 w 2> changed.err || st=$?
mv backing.good backing.qcow2
[ $st = 1 ] && grep -Eq "snapshot snap1 changed|guest data differs" changed.err ||
  { cat changed.err; fail "a changed backing file passed the check (exit $st)"; }
[ "$("$blkreplay" stats --json rec.blog | jq .marks)" = 4 ] ||
  { "$blkreplay" stats rec.blog; fail "expected 4 marks in the log"; }

rm -f w/checked
TMPDIR="$tmpdir" "$blkreplay" crash rec.blog base.qcow2 --base-format=raw \
  --points=flush,fua,mark,6 --reorder=1 --seed=1 --torn \
  --check "$check" --json > out.json ||
  { cat out.json; fail "a crash state of the qcow2 file fails the check"; }
cat out.json
jq -e '.states > .points and .failed == 0' out.json > /dev/null ||
  fail "expected reorder/torn states beyond the points and 0 failed"
states=$(jq .states out.json)
[ "$(wc -l < w/checked)" = "$states" ] || fail "the check did not run on every state"
# Flushed data was really compared: states after the last mark checked
# bytes the workload wrote.
awk '$3 == "phase-3" && $4 > 0 { n++ } END { exit !n }' w/checked ||
  { cat w/checked; fail "no state after the last mark had its data checked"; }
echo "qcow2 crash proof (backing file, 2 snapshots): $states states checked, 0 failed"

# Negative control: one phase ahead of the marks, the states where the
# next phase is not yet durable fail, naming the data.
st=0
CHECK_AHEAD=1 TMPDIR="$tmpdir" "$blkreplay" crash rec.blog base.qcow2 --base-format=raw \
  --points=mark --check "$check" --json \
  > bad.json 2> bad.err || st=$?
[ $st = 1 ] || { cat bad.json bad.err; fail "check one phase ahead: exit $st, expected 1"; }
# Marks phase-0..2 claim the next phase, not yet written: 3 of 4 fail.
jq -e '.states == 4 and .failed == 3' bad.json > /dev/null ||
  { cat bad.json; fail "expected 3 of the 4 mark states to fail one phase ahead"; }
grep -q "mark phase-0): guest data differs from what was flushed before the mark: .* differ: byte [0-9]*" bad.err ||
  { cat bad.err; fail "the data check's reason is missing"; }
