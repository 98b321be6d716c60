#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# bench-qcow2-crash.sh: the qcow2 plugin's crash consistency, at length.
#
# A 256 MiB qcow2 image with 64 KiB clusters is served by the qcow2
# plugin under nbdkit-blkreplay-filter with blkreplay-layer=backend:
# the log holds the plugin's own I/O on the qcow2 FILE.  nbdsh sends
# WRITES requests (default 600): writes of 4, 16, 64 or 192 KiB at
# random offsets (most allocate clusters, some overwrite), one in ten a
# trim, one in twenty a zero, four or so in flight, a flush after every
# 25.  Then blkreplay crash builds the file's states from a copy taken
# before nbdkit started (--base-format=raw) and runs qemu-img check on
# each (exit 0 or 3, leaked clusters, pass; docs/crash-testing.md):
#
#   sweep 1: --points=every-write       every write of the plugin, with
#                                       all writes before it on disk
#   sweep 2: --points=flush,fua,SPREAD --reorder=4 --torn
#                                       durable states between the
#                                       plugin's fdatasyncs, plus subsets
#                                       of the writes since the last one
#                                       and a torn write
#
# With WORKLOAD "cow" the image (32 MiB, 64 KiB clusters) has a qcow2
# backing file with data everywhere and two internal snapshots of data
# written with qemu-io before serving; tests/qcow2-crash-workload.py
# sends WRITES/25 phases of 25 random requests (writes of 512 bytes to
# 192 KiB, often unaligned, one in eight FUA; zeroes; trims; 4 in
# flight), each phase ending with a flush and a mark, so writes copy
# clusters from the backing file and from the snapshots (refcount > 1).
# The check is tests/qcow2-crash-check.sh: qemu-img check (0 or 3), both
# snapshots listed and unchanged, and the guest view holding every byte
# flushed before the point's mark (and the backing/snapshot data where
# nothing was written).  Sweep 2 adds the mark points.
#
# Printed: states checked, failures (must be 0), states per second
# (the check included) and the time spent in the check.
# Exit status 1 if any state failed.
#
# Usage: bench/bench-qcow2-crash.sh [WRITES] [SPREAD] [plain|cow]
#        (built tree)
set -e
set -u
PATH=/usr/bin:/usr/sbin:/bin:/sbin:$PATH
top="${abs_top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}"
filter="$top/filters/blkreplay/.libs/nbdkit-blkreplay-filter.so"
plugin="$top/plugins/qcow2/.libs/nbdkit-qcow2-plugin.so"
blkreplay="$top/tools/blkreplay/blkreplay"
writes="${1:-600}"
spread="${2:-300}"
workload="${3:-plain}"
tests="$(cd "$(dirname "$0")/../tests" && pwd)"
ctl="$top/tools/blkctl/blkctl"
case "$workload" in
  plain|cow) ;;
  *) echo "bench-qcow2-crash: WORKLOAD '$workload': use plain or cow"; exit 1 ;;
esac

for c in nbdkit nbdsh jq qemu-img; do
  command -v "$c" >/dev/null ||
    { echo "bench-qcow2-crash: $c is not installed, skipped"; exit 0; }
done
[ -x "$blkreplay" ] && [ -e "$filter" ] && [ -e "$plugin" ] ||
  { echo "bench-qcow2-crash: build the tree first (make)"; exit 1; }

tmp="$(mktemp -d /tmp/bench-qcow2-crash.XXXXXX)"
pid=""
ctlarg=()
cleanup () { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

if [ "$workload" = plain ]; then
  qemu-img create -q -f qcow2 -o cluster_size=65536 "$tmp/img.qcow2" 256M
else
  # Backing file: a different byte in every MiB.  Top: data, snapshot,
  # more data, second snapshot (absolute backing path: the states are
  # checked in blkreplay's temporary directory).
  cmds=()
  for i in $(seq 0 31); do cmds+=(-c "write -P $((0x80 + i)) ${i}M 1M"); done
  qemu-img create -q -f qcow2 "$tmp/backing.qcow2" 32M
  qemu-io -f qcow2 "${cmds[@]}" "$tmp/backing.qcow2" > /dev/null
  qemu-img create -q -f qcow2 -o cluster_size=65536 \
    -b "$tmp/backing.qcow2" -F qcow2 "$tmp/img.qcow2" 32M
  qemu-io -f qcow2 -c 'write -P 0x51 0 4M' -c 'write -P 0x52 10000k 1500k' \
    "$tmp/img.qcow2" > /dev/null
  qemu-img snapshot -c snap1 "$tmp/img.qcow2"
  qemu-io -f qcow2 -c 'write -P 0x53 2M 4M' -c 'write -P 0x54 20M 1M' \
    "$tmp/img.qcow2" > /dev/null
  qemu-img snapshot -c snap2 "$tmp/img.qcow2"
  mkdir "$tmp/w"
  printf 'snap1\nsnap2\n' > "$tmp/w/snapshots"
  for s in snap1 snap2; do
    qemu-img convert -l snapshot.name=$s -O raw "$tmp/img.qcow2" "$tmp/w/$s.raw"
  done
  qemu-img convert -O raw "$tmp/img.qcow2" "$tmp/w/initial.raw"
  ctlarg=("blkreplay-control=$tmp/ctl.sock")
fi
cp "$tmp/img.qcow2" "$tmp/base.qcow2"
timeout -k 5 1800 nbdkit -f -U "$tmp/s" --filter="$filter" "$plugin" \
  "$tmp/img.qcow2" blkreplay-layer=backend blkreplay-data=full \
  blkreplay-log="$tmp/q.blog" "${ctlarg[@]}" &
pid=$!
for _ in $(seq 1 100); do [ -S "$tmp/s" ] && break; sleep 0.1; done
if [ "$workload" = cow ]; then
  python3 "$tests/qcow2-crash-workload.py" "nbd+unix:///?socket=$tmp/s" \
    "$ctl" "$tmp/ctl.sock" "$tmp/w" $(( (writes + 24) / 25 )) 25 13
else
nbdsh -u "nbd+unix:///?socket=$tmp/s" -c "
import random
random.seed(13)
N = $writes
for i in range(N):
    ln = random.choice([4096, 16384, 65536, 196608])
    off = random.randrange(0, (256 << 20) - ln) // 4096 * 4096
    k = i % 20
    if k == 7:
        h.aio_trim(ln, off)
    elif k == 13:
        h.aio_zero(ln, off)
    else:
        h.aio_pwrite(bytes([i & 255]) * ln, off)
    while h.aio_in_flight() >= 4:
        h.poll(-1)
    if i % 25 == 24:
        while h.aio_in_flight() > 0:
            h.poll(-1)
        h.flush()
while h.aio_in_flight() > 0:
    h.poll(-1)
h.flush()
"
fi
kill "$pid"
wait "$pid" || :
pid=""
qemu-img check -q "$tmp/img.qcow2" || { echo "the served image fails qemu-img check"; exit 1; }
recs=$("$blkreplay" stats --json "$tmp/q.blog")
echo "log: $(echo "$recs" | jq -r '"\(.requests) file I/Os of the plugin (\(.ops.write.count) writes, \(.ops.read.count) reads, \(.ops.flush.count) fdatasyncs), layer \(.layer)"')"
echo "file: $(stat -c %s "$tmp/base.qcow2") bytes at start, $(stat -c %s "$tmp/img.qcow2") at the end"

if [ "$workload" = cow ]; then
  python3 "$tests/qcow2-crash-expect.py" "$tmp/w"
  check="$tests/qcow2-crash-check.sh {} $tmp/w"
  marks=",mark"
else
  cat > "$tmp/check.sh" <<'EOF'
#!/bin/sh
qemu-img check -q -f qcow2 "$1" 2>/dev/null
st=$?
[ $st = 0 ] || [ $st = 3 ] || { echo "point $BLKREPLAY_POINT ($BLKREPLAY_VARIANT): qemu-img check exited $st" >&2; exit 1; }
EOF
  chmod +x "$tmp/check.sh"
  check="$tmp/check.sh {}"
  marks=""
fi

failed=0
sweep () {
  local name="$1"; shift
  TMPDIR="$tmp" "$blkreplay" crash "$tmp/q.blog" "$tmp/base.qcow2" \
    --base-format=raw --check "$check" --json "$@" \
    > "$tmp/out.json" || :
  jq -r --arg n "$name" '"\($n): \(.points) points, \(.states) states checked, \(.failed) failed, \(.states / .seconds * 10 | floor / 10) states/s (\(.check_seconds | floor) s of \(.seconds | floor) s in the check)"' "$tmp/out.json"
  failed=$((failed + $(jq .failed "$tmp/out.json")))
}
sweep "every-write" --points=every-write
sweep "flush,fua$marks,$spread + reorder=4 + torn" --points=flush,fua$marks,"$spread" \
  --reorder=4 --seed=1 --torn
echo "command: bench/bench-qcow2-crash.sh $writes $spread $workload"
[ "$failed" = 0 ] || { echo "FAILED: $failed states"; exit 1; }
