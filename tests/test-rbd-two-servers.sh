#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Two nbdkit servers on one image (as on two hosts): the exclusive lock
# moves between them at each write, and each sees the other's flushed
# writes, also for data it had read (and cached) before.  Then both
# write disjoint halves at the same time, verified by fio.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/rbd-functions.sh"
requires_cmd nbdsh fio
rbd_shared_cluster
rbd_image img 16M
plug="$(plugin rbd)"

start_nbdkit a "$plug" "rbd/$img"
start_nbdkit b "$plug" "rbd/$img"
nbdsh -c "
import nbd
a = nbd.NBD(); a.connect_uri('$(uri a)')
b = nbd.NBD(); b.connect_uri('$(uri b)')
K = 4096
for i in range(6):
    w, r = (a, b) if i % 2 == 0 else (b, a)
    blk = bytes([0x30 + i]) * K
    w.pwrite(blk, 0)
    w.pwrite(blk, (i + 1) * 3 * K + 100)
    w.flush()
    assert r.pread(K, 0) == blk, 'round %d: the other server reads stale data at 0' % i
    assert r.pread(K, (i + 1) * 3 * K + 100) == blk, 'round %d: stale data' % i
"

half=$((8 << 20))
fio --ioengine=nbd --rw=randwrite --bs=4k --iodepth=8 --size=$half \
    --io_size=2M --verify=crc32c --verify_fatal=1 --verify_state_save=0 \
    --output="$tmpdir/fio.out" \
    --name=a --uri="$(uri a)" --offset=0 \
    --name=b --uri="$(uri b)" --offset=$half ||
  { cat "$tmpdir/fio.out" >&2; fail "concurrent writers on two servers: fio failed"; }
