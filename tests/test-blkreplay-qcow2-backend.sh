#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The qcow2 plugin's crash-consistency proof: blkreplay-layer=backend
# records the plugin's own I/O on the qcow2 FILE (clusters allocated,
# overwritten, discarded, zeroed, several flushes, the file growing),
# and every state a power cut could leave that file in, rebuilt by
# `blkreplay crash --base-format=raw` from a copy taken before nbdkit
# started, passes `qemu-img check`: exit 0, or 3 (leaked clusters
# only, which QEMU itself says a crash may leave; not corruption).  A
# negative control damages the L1 table of each state and must fail,
# so a check that cannot fail would be noticed.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/qcow2-helpers.sh"
requires_cmd nbdsh jq
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"
cd "$tmpdir"

qemu-img create -q -f qcow2 -o cluster_size=65536 img.qcow2 64M
cp img.qcow2 base.qcow2          # BASE: the file before recording
start_nbdkit rec --filter="$(filter blkreplay)" "$QCOW2" img.qcow2 \
  blkreplay-layer=backend blkreplay-data=full blkreplay-log="$tmpdir/rec.blog"
nbdsh -u "$(uri rec)" -c '
M = 1 << 20
# Allocating writes, some in flight together (completion order differs
# from submission order, and metadata updates interleave).
for i in range(6):
    h.aio_pwrite(bytes([0x10 + i]) * 65536, i * 4 * M)
while h.aio_in_flight() > 0:
    h.poll(-1)
h.flush()
h.pwrite(b"p" * 4096, 4 * M + 512)         # partial overwrite in place
h.pwrite(b"n" * 200000, 30 * M + 1000)     # unaligned, three clusters
h.flush()
h.trim(65536, 8 * M)                       # frees a cluster
h.zero(131072, 12 * M)                     # zero clusters
h.pwrite(b"f" * 65536, 40 * M, flags=nbd.CMD_FLAG_FUA)
h.flush()
h.pwrite(b"r" * 65536, 8 * M)              # reuses the freed cluster?
h.pwrite(b"l" * 65536, 63 * M)             # a new L2 table
h.flush()
'
stop_nbdkit rec
qemu-img check -q img.qcow2 || fail "the served image itself fails qemu-img check"

# The log is a backend-layer log of the file, and grew with it.
"$blkreplay" dump rec.blog > dump.txt
grep -q "^header: version 2, .*layer backend" dump.txt ||
  { head -1 dump.txt; fail "dump: no 'layer backend' in the header"; }
"$blkreplay" stats rec.blog | grep -q "layer: backend" || fail "stats: no 'layer: backend'"
base_size=$(stat -c %s base.qcow2)
grep -q "export size $base_size," dump.txt ||
  { head -1 dump.txt; fail "header export size is not the file's size at start ($base_size)"; }
[ "$(stat -c %s img.qcow2)" -gt "$base_size" ] || fail "the file did not grow"
flushes=$(grep -c "^request .* flush .* ok" dump.txt)
[ "$flushes" -ge 4 ] || fail "only $flushes flushes of the file recorded"
grep -q "^request .* conn 1 write" dump.txt ||
  fail "no write attributed to the connection that caused it"

# The state at the end with every write is the file itself, byte for
# byte (the raw state grew as the file did).
"$blkreplay" image rec.blog base.qcow2 --base-format=raw --acked -o end.qcow2 2>/dev/null
cmp end.qcow2 img.qcow2 || fail "the state at the end is not the served file"

cat > check.sh <<'EOF'
#!/bin/sh
# 0 clean, 3 leaked clusters only (allowed after a crash), 2 corrupt.
qemu-img check -q -f qcow2 "$1" 2>/dev/null
st=$?
if [ $st != 0 ] && [ $st != 3 ]; then
  echo "point $BLKREPLAY_POINT (request #$BLKREPLAY_REQID, $BLKREPLAY_VARIANT): qemu-img check exited $st" >&2
  exit 1
fi
EOF
chmod +x check.sh
"$blkreplay" crash rec.blog base.qcow2 --base-format=raw \
  --points=flush,fua,30 --reorder=3 --seed=1 --torn \
  --check "$tmpdir/check.sh {}" --json > out.json ||
  { cat out.json; fail "a crash state of the qcow2 file fails qemu-img check"; }
cat out.json
jq -e '.states > 0 and .failed == 0' out.json > /dev/null ||
  fail "expected states > 0 and 0 failed"
states=$(jq .states out.json)
points=$(jq .points out.json)
[ "$states" -gt "$points" ] || fail "no reorder/torn variant was built ($states states, $points points)"
echo "qcow2 crash proof: $states states of the file checked, 0 failed"

# Negative control: the same harness on states whose L1 table is
# damaged (L1[0] -> an unaligned L2 table) must report failures.
cat > corrupt.sh <<'EOF'
#!/bin/sh
l1=$(od -An -tu8 --endian=big -j40 -N8 "$1" | tr -d ' ')
printf '\200\000\000\000\000\001\002\000' |
  dd of="$1" bs=1 seek="$l1" conv=notrunc status=none
exec "$(dirname "$0")/check.sh" "$1"
EOF
chmod +x corrupt.sh
st=0
"$blkreplay" crash rec.blog base.qcow2 --base-format=raw --points=flush \
  --check "$tmpdir/corrupt.sh {}" --json > bad.json 2> bad.err || st=$?
[ $st = 1 ] || { cat bad.json bad.err; fail "damaged states: crash exited $st, expected 1"; }
jq -e '.states > 0 and .failed == .states' bad.json > /dev/null ||
  { cat bad.json; fail "damaged states were not all reported as failures"; }

# Offsets are in the file: a qcow2 BASE read as a guest disk is refused,
# and so is a BASE that is not the file as it was when recording began.
st=0
"$blkreplay" crash rec.blog base.qcow2 --base-format=qcow2 --check true \
  > /dev/null 2> fmt.err || st=$?
[ $st = 2 ] && grep -q "backend-layer log.*use --base-format=raw" fmt.err ||
  { cat fmt.err; fail "--base-format=qcow2 on a backend log: exit $st"; }
st=0
"$blkreplay" crash rec.blog img.qcow2 --base-format=raw --check true \
  > /dev/null 2> size.err || st=$?
[ $st = 2 ] && grep -q "copy of the file taken before nbdkit started" size.err ||
  { cat size.err; fail "a BASE of the wrong size: exit $st"; }
# A backend log is not replayed as client requests.
st=0
"$blkreplay" run rec.blog "nbd+unix:///?socket=$tmpdir/none.sock" \
  > /dev/null 2> run.err || st=$?
[ $st = 2 ] && grep -q "backend-layer log.*cannot be replayed as client requests" run.err ||
  { cat run.err; fail "blkreplay run on a backend log: exit $st"; }

# Nor through the filter's replay mode.
expect_fail_nbdkit "rec.blog: a backend-layer log .* cannot be replayed through the filter; use 'blkreplay crash' or 'blkreplay image'" \
  --filter="$(filter blkreplay)" memory 64M blkreplay-mode=replay \
  blkreplay-log="$tmpdir/rec.blog"

# A plugin that reports no I/O through the hook: the log is empty and
# the server says so at exit.
start_nbdkit mem --filter="$(filter blkreplay)" memory 1M \
  blkreplay-layer=backend blkreplay-log="$tmpdir/mem.blog"
nbdsh -u "$(uri mem)" -c 'h.pwrite(b"x" * 512, 0); h.flush()'
stop_nbdkit mem
grep -q "warning: blkreplay-layer=backend, but the plugin reported no I/O" \
  "$tmpdir/mem.log" || { cat "$tmpdir/mem.log"; fail "no warning for an empty backend log"; }
