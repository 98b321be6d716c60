#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Writes, zeroes and discards through the plugin with qemu-io, on v2
# and v3, small and large clusters, narrow and wide refcounts, then
# qemu-img check (no errors, no leaks) and compare with a raw file
# that got the same writes.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/qcow2-helpers.sh"
cd "$tmpdir"

ops=(
  'write -P 0xab 0 1M'
  'write -P 0x11 5000 100k'
  'write -P 0x22 65000 200'
  'write -z 2M 128k'
  'write -z -u 1M 64k'
  'discard 0 64k'
  'write -P 0x33 3M 1M'
  'write -P 0x44 3100k 3k'
  'write -z 3200k 5k'
  'discard 3300k 200k'
  'write -P 0x55 100k 1k'
  # A trim leaves undefined contents: rewrite what was trimmed.
  'write -P 0x66 0 64k'
  'write -P 0x67 3300k 200k'
  'flush'
)
i=0
for opts in "compat=0.10" "compat=1.1" "cluster_size=512" \
            "cluster_size=2M" "refcount_bits=1" "refcount_bits=64" \
            "cluster_size=1k,refcount_bits=2" "extended_l2=on,cluster_size=32k" \
            "lazy_refcounts=on" "data_file=wdata.raw" \
            "data_file=wdata2.raw,extended_l2=on,cluster_size=64k"; do
  i=$((i + 1))
  qemu-img create -q -f qcow2 -o "$opts" w$i.qcow2 4M
  qemu-img create -q -f raw w$i.raw 4M
  serve w$i w$i.qcow2
  both w$i w$i.raw "${ops[@]}"
  # Everything read back through the plugin matches too.
  nbdcopy "$(uri w$i)" got.raw
  cmp got.raw w$i.raw || fail "w$i ($opts): read-back differs"
  rm -f got.raw
  stop_nbdkit w$i
  judge w$i.qcow2 w$i.raw
done

# Images QEMU wrote first (pre-existing data, compressed clusters),
# then overwritten partly through the plugin.
qemu-img create -q -f raw src.raw 4M
qemu-io -f raw -c 'write -P 0x71 0 1M' -c 'write -P 0x72 2M 100k' src.raw >/dev/null
for c in zlib zstd; do
  qemu-img convert -c -O qcow2 -o compression_type=$c src.raw c.qcow2
  cp src.raw c.raw
  serve c c.qcow2
  both c c.raw 'write -P 0x73 64k 4k' 'write -P 0x74 2000k 100k' 'discard 128k 128k' \
    'write -z 512k 64k' 'write -P 0x75 128k 128k'
  stop_nbdkit c
  judge c.qcow2 c.raw
  rm -f c.qcow2 c.raw
done

# qemu-img convert into the export (write zeroes with and without fast
# zero, partial clusters), as users copy disks in.
qemu-img create -q -f raw src2.raw 8M
qemu-io -f raw -c 'write -P 0x81 0 1M' -c 'write -P 0x82 3000k 5k' \
  -c 'write -P 0x83 7M 100k' src2.raw >/dev/null
for opts in "compat=1.1" "compat=0.10" "cluster_size=512"; do
  rm -f cv.qcow2
  qemu-img create -q -f qcow2 -o "$opts" cv.qcow2 8M
  qemu-io -f qcow2 -c 'write -P 0x99 0 8M' cv.qcow2 >/dev/null   # old data
  serve cv cv.qcow2
  qemu-img convert -n -f raw -O raw src2.raw "$(uri cv)"
  stop_nbdkit cv
  judge cv.qcow2 src2.raw
done

# A virtual size that is not a multiple of the cluster size: the last,
# short cluster is whole for zero and trim.
qemu-img create -q -f qcow2 odd.qcow2 4195328
qemu-img create -q -f raw odd.raw 4195328
serve odd odd.qcow2
both odd odd.raw 'write -P 1 4194000 1328' 'write -z 4194304 1024' \
  'write -P 2 4190000 5328' 'discard 4128768 66560' 'write -P 3 4195000 328' \
  'write -z -u 4194304 1024'
nbdinfo --map "$(uri odd)" | grep -q "4195328 *3 *hole,zero" ||
  fail "odd size: the end is not a zero hole"
stop_nbdkit odd
judge odd.qcow2 odd.raw
