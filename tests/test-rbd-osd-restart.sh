#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The OSD goes away in the middle of a workload and comes back: the
# requests in flight wait (librbd resends them) and complete, with no
# error reported to the client and the data verified afterwards.
# Uses a private cluster: stopping the shared OSD would stall others.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/rbd-functions.sh"
requires_cmd fio
rbd_private_cluster
rbd create --size 32M rbd/fault || fail "rbd create failed"

start_nbdkit srv "$(plugin rbd)" rbd/fault
# Rate-limited so that the write phase (~3 s) surely spans the outage.
fio --name=fault --ioengine=nbd --uri="$(uri srv)" --rw=randwrite --bs=4k \
    --size=32M --io_size=12M --iodepth=8 --rate_iops=1000 \
    --verify=crc32c --verify_fatal=1 --verify_state_save=0 \
    --output="$tmpdir/fio.out" --output-format=json &
fio_pid=$!
sleep 1
kill -0 $fio_pid 2>/dev/null || fail "fio ended before the fault"
"$ceph_cluster" stop-osd "$RBD_DIR"
ceph osd dump 2>/dev/null | grep -q '^osd\.0 down' || fail "osd.0 not marked down"
sleep 2
kill -0 $fio_pid 2>/dev/null || fail "fio ended while the OSD was down"
"$ceph_cluster" start-osd "$RBD_DIR" || fail "OSD restart failed"
wait $fio_pid || { cat "$tmpdir/fio.out" >&2; fail "fio failed across the OSD restart"; }
jq -e '.jobs[0].error == 0 and .jobs[0].read.io_bytes >= 12582912' "$tmpdir/fio.out" >/dev/null ||
  fail "fio: $(jq -c '.jobs[0] | {error, r: .read.io_bytes, w: .write.io_bytes}' "$tmpdir/fio.out")"
# The worst write latency shows the requests did wait for the OSD.
max_ms=$(jq '.jobs[0].write.clat_ns.max / 1000000 | floor' "$tmpdir/fio.out")
echo "slowest write: $max_ms ms"
[ "$max_ms" -ge 1000 ] || fail "no write waited for the OSD (max $max_ms ms)"
