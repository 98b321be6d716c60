#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Zeroing part of a cluster of an image with an external data file.
# There a cluster's host offset is its guest offset, so the cluster at
# guest offset 0 has host offset 0: the zero path took that for
# "unallocated, reads as zero" and skipped the request, and the old
# data stayed.  Every other cluster was zeroed.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/qcow2-helpers.sh"
cd "$tmpdir"

qemu-img create -q -f qcow2 -o data_file=d.raw,cluster_size=65536 a.qcow2 1M
truncate -s 1M ref.raw
for img in "-f qcow2 a.qcow2" "-f raw ref.raw"; do
  # shellcheck disable=SC2086
  qemu-io $img -c 'write -P 0xaa 0 128k' >/dev/null
done

serve a a.qcow2
# Part of guest cluster 0 (host offset 0) and part of cluster 1.
both a ref.raw 'write -z 0 4k' 'write -z 68k 4k' 'write -z 60k 8k'
stop_nbdkit a
judge a.qcow2 ref.raw
echo "partial zeroes in clusters 0 and 1 of an external-data image: ok"
