#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdkit-blk benchmark: qcow2 on RBD (nbdkit qcow2 rbd:POOL/IMAGE)
# against the rbd plugin on a raw RBD image, same cluster, same run.
#
#   bench/bench-qcow2-rbd.sh   (built tree; ROUNDS=3 RUNTIME=4 SIZE=256M;
#                               RBD_CACHE=on|off passes rbd-cache= to both)
#
# Both images are fully written first (a qcow2 image preallocated and
# filled by qemu-io, then `rbd import`ed), so the workloads are reads
# and overwrites of allocated data: fio's nbd engine, 4k random read
# and write at queue depth 16.  Rounds alternate the two servers; the
# table shows medians and the ratio qcow2/raw.
#
# Uses the cluster named by $CEPH_CONF if set, else starts a private one
# with tests/ceph/ceph-cluster.sh and stops it at the end.
set -euo pipefail
PATH=/usr/bin:/usr/sbin:/bin:/sbin:$PATH

here="$(cd "$(dirname "$0")" && pwd)"
top="${abs_top_builddir:-$(cd "$here/.." && pwd)}"
src="${abs_top_srcdir:-$(cd "$here/.." && pwd)}"
rbdp="$top/plugins/rbd/.libs/nbdkit-rbd-plugin.so"
qcow2p="$top/plugins/qcow2/.libs/nbdkit-qcow2-plugin.so"
: "${ROUNDS:=3}" "${RUNTIME:=4}" "${SIZE:=256M}" "${NBDKIT:=nbdkit}" "${RBD_CACHE:=}"

for c in fio jq nbdsh qemu-img qemu-io "$NBDKIT" ceph-mon ceph-osd rbd; do
  command -v "$c" >/dev/null || { echo "bench-qcow2-rbd: SKIP: $c is not installed"; exit 0; }
done
for p in "$rbdp" "$qcow2p"; do
  [ -e "$p" ] || { echo "bench-qcow2-rbd: build the tree first ($p missing)"; exit 1; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/bench-qcow2-rbd.XXXXXX")"
own_cluster=0
pids=""
cleanup ()
{
  set +e
  for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  if [ -n "${CEPH_CONF:-}" ]; then
    rbd rm --no-progress rbd/bench-q-raw >/dev/null 2>&1
    rbd rm --no-progress rbd/bench-q-qcow2 >/dev/null 2>&1
  fi
  [ $own_cluster = 1 ] && "$src/tests/ceph/ceph-cluster.sh" stop "$work/ceph"
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${CEPH_CONF:-}" ]; then
  "$src/tests/ceph/ceph-cluster.sh" start "$work/ceph" --no-image >/dev/null 2>&1 ||
    { echo "bench-qcow2-rbd: cannot start a cluster"; exit 1; }
  own_cluster=1
  export CEPH_CONF="$work/ceph/ceph.conf"
fi
cache=()
[ -n "$RBD_CACHE" ] && cache=(rbd-cache="$RBD_CACHE")

rbd create --size "$SIZE" rbd/bench-q-raw
qemu-img create -q -f qcow2 -o preallocation=metadata "$work/q.qcow2" "$SIZE"
qemu-io -f qcow2 -c "write -P 1 0 $SIZE" "$work/q.qcow2" >/dev/null
rbd import --no-progress "$work/q.qcow2" rbd/bench-q-qcow2 >/dev/null
rm -f "$work/q.qcow2"

"$NBDKIT" -f -U "$work/raw.sock" "$rbdp" rbd/bench-q-raw "${cache[@]}" & pids="$pids $!"
"$NBDKIT" -f -U "$work/qcow2.sock" "$qcow2p" rbd:rbd/bench-q-qcow2 "${cache[@]}" & pids="$pids $!"
for s in raw qcow2; do
  for _ in $(seq 1 100); do [ -S "$work/$s.sock" ] && break; sleep 0.1; done
done
# Fill the raw image through NBD; a flush on both, so that librbd's
# cache (writethrough until the first flush) is in the same mode.
qemu-io -f raw -c "write -P 1 0 $SIZE" "nbd+unix:///?socket=$work/raw.sock" >/dev/null
for s in raw qcow2; do nbdsh -u "nbd+unix:///?socket=$work/$s.sock" -c 'h.flush()'; done

for r in $(seq 1 "$ROUNDS"); do
  for s in raw qcow2; do
    for rw in randread randwrite; do
      fio --name=b --ioengine=nbd --uri="nbd+unix:///?socket=$work/$s.sock" \
          --rw=$rw --bs=4k --iodepth=16 --size="$SIZE" --time_based \
          --runtime="$RUNTIME" --randrepeat=0 --output-format=json \
          --output="$work/fio.json" >/dev/null
      echo "$s $rw $(jq '.jobs[0].read.iops + .jobs[0].write.iops | floor' "$work/fio.json")" >> "$work/results"
    done
  done
done

echo "bench-qcow2-rbd: 4k QD16 IOPS, median of $ROUNDS rounds (rbd-cache: ${RBD_CACHE:-as in the conf})"
printf '%-10s %10s %10s %8s\n' workload raw-rbd qcow2-rbd ratio
for rw in randread randwrite; do
  med () { awk -v s="$1" -v w="$rw" '$1 == s && $2 == w { print $3 }' "$work/results" | sort -n |
           awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
  a=$(med raw); b=$(med qcow2)
  printf '%-10s %10s %10s %8s\n' "$rw" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2fx", b / a }')"
done
