#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Images written by qemu-img/qemu-io, in every reading feature, read
# through the plugin and compared with qemu-img convert -O raw; the
# extents are compared with qemu-img map.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/qcow2-helpers.sh"
requires_cmd jq python3
cd "$tmpdir"

# fill IMAGE: a recognisable mix of data, zeroes and holes.
fill ()
{
  qemu-io -f qcow2 -c 'write -P 0x61 0 70k' -c 'write -P 0x62 1M 4k' \
    -c 'write -P 0x63 3000k 300k' -c 'write -z 2M 64k' \
    -c 'write -P 0x64 4095k 1k' "$1" >/dev/null
}

check_image ()
{
  name="$1"; img="$2"; shift 2
  serve "$name" "$img" readonly=true "$@"
  same_as_qemu "$name" "$img"
  same_map "$name" "$img"
  stop_nbdkit "$name"
}

# Versions, cluster sizes, refcount widths.
i=0
for opts in "compat=0.10" "compat=1.1" "cluster_size=512" \
            "cluster_size=2M" "refcount_bits=1" "refcount_bits=64" \
            "cluster_size=4k,refcount_bits=8"; do
  i=$((i + 1))
  qemu-img create -q -f qcow2 -o "$opts" img$i.qcow2 4M
  fill img$i.qcow2
  check_image "v$i" img$i.qcow2
done

# Compressed clusters, deflate and zstd.
qemu-img create -q -f raw src.raw 4M
qemu-io -f raw -c 'write -P 0x71 0 1M' -c 'write -P 0x72 2M 100k' src.raw >/dev/null
for c in zlib zstd; do
  qemu-img convert -c -O qcow2 -o compression_type=$c src.raw c-$c.qcow2
  qemu-io -f qcow2 -c 'write -P 0x73 64k 4k' c-$c.qcow2 >/dev/null
  check_image "c$c" c-$c.qcow2
done

# Extended L2 entries (subclusters), with a backing file below.
qemu-img create -q -f qcow2 base.qcow2 4M
qemu-io -f qcow2 -c 'write -P 0x41 0 4M' base.qcow2 >/dev/null
qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=64k \
  -b base.qcow2 -F qcow2 ext.qcow2
qemu-io -f qcow2 -c 'write -P 0x42 2k 2k' -c 'write -z 70k 8k' \
  -c 'write -P 0x43 200k 6k' ext.qcow2 >/dev/null
check_image ext ext.qcow2

# External data file.
qemu-img create -q -f qcow2 -o data_file=data.raw ed.qcow2 4M
fill ed.qcow2
check_image extdata ed.qcow2

# A backing chain: raw <- qcow2 <- qcow2 (v2) <- qcow2, shorter bases.
qemu-img create -q -f raw b0.raw 2M
qemu-io -f raw -c 'write -P 0x30 0 2M' b0.raw >/dev/null
qemu-img create -q -f qcow2 -b b0.raw -F raw b1.qcow2 3M
qemu-io -f qcow2 -c 'write -P 0x31 1M 1536k' b1.qcow2 >/dev/null
qemu-img create -q -f qcow2 -o compat=0.10 -b b1.qcow2 -F qcow2 b2.qcow2 4M
qemu-io -f qcow2 -c 'write -P 0x32 100k 10k' -c 'write -P 0x32 3500k 10k' b2.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b b2.qcow2 -F qcow2 b3.qcow2 4M
qemu-io -f qcow2 -c 'write -z 0 64k' -c 'write -P 0x33 1020k 8k' b3.qcow2 >/dev/null
check_image chain b3.qcow2

# backing=off: unallocated reads as zero.
serve nob b3.qcow2 readonly=true backing=off
nbdsh -u "$(uri nob)" -c 'assert h.pread(4096, 1536 * 1024) == bytes(4096)'
stop_nbdkit nob
