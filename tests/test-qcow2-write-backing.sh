#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copy-on-write: partial-cluster writes over a backing chain (qcow2
# and raw bases), and writes over clusters and L2 tables shared with
# internal snapshots.  qemu-img check + compare judge the result; the
# snapshots must still read what they held.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/qcow2-helpers.sh"
cd "$tmpdir"

ops=(
  'write -P 0x11 1000 3000'
  'write -P 0x12 70k 1k'
  'write -P 0x13 1M 256k'
  'write -z 1500k 5k'
  'write -z 2M 64k'
  'discard 2560k 128k'
  'write -P 0x14 2560k 128k'
  'write -P 0x15 3990k 106k'
  'flush'
)

# Backing chains: raw base, and qcow2 base over raw.
qemu-img create -q -f raw base.raw 3M
qemu-io -f raw -c 'write -P 0xb0 0 3M' base.raw >/dev/null
qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 4M
qemu-io -f qcow2 -c 'write -P 0xb1 512k 1M' mid.qcow2 >/dev/null
for opts in "compat=1.1" "compat=0.10" "cluster_size=4k" \
            "extended_l2=on,cluster_size=64k"; do
  for base in base.raw mid.qcow2; do
    fmt=qcow2; [ $base = base.raw ] && fmt=raw
    rm -f top.qcow2
    qemu-img create -q -f qcow2 -o "$opts" -b $base -F $fmt top.qcow2 4M
    qemu-img convert -O raw top.qcow2 top.raw
    serve top top.qcow2
    both top top.raw "${ops[@]}"
    stop_nbdkit top
    judge top.qcow2 top.raw
  done
done

# Internal snapshots: clusters and L2 tables shared with them.
for opts in "compat=1.1" "compat=0.10" "cluster_size=512"; do
  rm -f s.qcow2
  qemu-img create -q -f qcow2 -o "$opts" s.qcow2 4M
  qemu-io -f qcow2 -c 'write -P 0xa1 0 2M' -c 'write -P 0xa2 3M 64k' s.qcow2 >/dev/null
  qemu-img snapshot -c one s.qcow2
  qemu-io -f qcow2 -c 'write -P 0xa3 1M 64k' s.qcow2 >/dev/null
  qemu-img snapshot -c two s.qcow2
  qemu-img convert -O raw -l one s.qcow2 one.raw
  qemu-img convert -O raw -l two s.qcow2 two.raw
  qemu-img convert -O raw s.qcow2 s.raw
  serve s s.qcow2
  both s s.raw "${ops[@]}"
  stop_nbdkit s
  judge s.qcow2 s.raw
  # The snapshots kept their data, and export read-only.
  qemu-img convert -O raw -l one s.qcow2 one2.raw
  cmp one.raw one2.raw || fail "snapshot one changed ($opts)"
  serve snap s.qcow2 snapshot=two
  nbdcopy "$(uri snap)" got.raw
  cmp got.raw two.raw || fail "snapshot=two served wrong data ($opts)"
  nbdinfo --json "$(uri snap)" | jq -e '.exports[0]."is_read_only" == true' >/dev/null ||
    fail "snapshot export is not read-only"
  stop_nbdkit snap
  rm -f got.raw
  # Round trip: QEMU snapshots what the plugin wrote, the plugin
  # writes over that snapshot.
  qemu-img snapshot -c three s.qcow2
  serve s s.qcow2
  both s s.raw 'write -P 0xc1 0 1M' 'write -P 0xc2 3M 10k' 'flush'
  stop_nbdkit s
  judge s.qcow2 s.raw
done
expect_fail_nbdkit "no snapshot with the ID or name 'nope'" "$QCOW2" s.qcow2 snapshot=nope
