#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Round trip through the rbd plugin with fio's nbd engine: random 4k
# and 64k writes at queue depth 16 (so requests overlap on nbdkit's
# threads and in librbd), each block checksummed and read back.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/rbd-functions.sh"
requires_cmd fio
rbd_shared_cluster
rbd_image img 64M

start_nbdkit srv "$(plugin rbd)" "rbd/$img"
for bs in 4k 64k; do
  fio --name=rt-$bs --ioengine=nbd --uri="$(uri srv)" --rw=randwrite \
      --bs=$bs --size=64M --io_size=8M --iodepth=16 \
      --verify=crc32c --verify_fatal=1 --do_verify=1 --verify_state_save=0 \
      --output="$tmpdir/fio-$bs.out" --output-format=json ||
    { cat "$tmpdir/fio-$bs.out" >&2; fail "fio verify failed with bs=$bs"; }
  errs="$(jq '.jobs[0].error' "$tmpdir/fio-$bs.out")"
  [ "$errs" = 0 ] || fail "fio reported error $errs with bs=$bs"
  rd="$(jq '.jobs[0].read.io_bytes' "$tmpdir/fio-$bs.out")"
  [ "$rd" -ge $((8 << 20)) ] || fail "fio verified only $rd bytes with bs=$bs"
done
