#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Record a fio workload with verification (random mix of sizes; reads,
# writes, flushes, trims; queue depth 4; four jobs = several
# connections) through
# the blkreplay filter, replay the log with blkreplay run --timing=fast
# against a fresh copy of the starting image: every read verifies and
# the final images are byte-identical.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd fio cmp jq
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"

head -c 16M /dev/urandom > "$tmpdir/start.img"
cp "$tmpdir/start.img" "$tmpdir/rec.img"
cp "$tmpdir/start.img" "$tmpdir/rep.img"
cp "$tmpdir/start.img" "$tmpdir/qd.img"

start_nbdkit rec --filter="$(filter blkreplay)" file "$tmpdir/rec.img" \
  blkreplay-log="$tmpdir/workload.blog" blkreplay-data=full
cat > "$tmpdir/w.fio" <<FIO
[global]
ioengine=nbd
uri=$(uri rec)
iodepth=4
bsrange=4k-64k
blockalign=4k
size=4M
verify=crc32c
verify_fatal=1
verify_state_save=0
rw=randrw
rwmixread=40
randrepeat=1
[j1]
offset=0
[j2]
offset=4M
[j3]
offset=8M
rw=randwrite
fsync=8
[j4]
offset=12M
size=2M
rw=randtrim
verify=0
FIO
fio "$tmpdir/w.fio" --output="$tmpdir/fio.out" ||
  { cat "$tmpdir/fio.out"; fail "fio (recording) failed"; }
stop_nbdkit rec

"$blkreplay" verify "$tmpdir/workload.blog"
"$blkreplay" stats --json "$tmpdir/workload.blog" > "$tmpdir/stats.json"
jq -e '.ops.read.count > 0 and .ops.write.count > 0 and .ops.trim.count > 0 and .ops.flush.count > 0' \
  "$tmpdir/stats.json" >/dev/null || fail "the recording lacks reads, writes, trims or flushes"
jq -e '.queue_depth.max > 1' "$tmpdir/stats.json" >/dev/null ||
  fail "the recording never had more than one request in flight"
[ "$(jq '.connections' "$tmpdir/stats.json")" -ge 3 ] ||
  fail "fewer than 3 connections recorded"
reads="$(jq '.ops.read.count' "$tmpdir/stats.json")"
total="$(jq '.requests' "$tmpdir/stats.json")"

start_nbdkit rep file "$tmpdir/rep.img"
"$blkreplay" run "$tmpdir/workload.blog" "$(uri rep)" --timing=fast --json \
  > "$tmpdir/run.json" || { cat "$tmpdir/run.json"; fail "replay failed"; }
stop_nbdkit rep
cat "$tmpdir/run.json"
[ "$(jq '.mismatches' "$tmpdir/run.json")" = 0 ] || fail "mismatches"
[ "$(jq '.requests' "$tmpdir/run.json")" = "$total" ] || fail "not all replayed"
[ "$(jq '.verified_reads' "$tmpdir/run.json")" = "$reads" ] ||
  fail "not every read was verified"
cmp "$tmpdir/rec.img" "$tmpdir/rep.img" ||
  fail "the replayed image differs from the recorded one"

# --queue-depth=8 replaces the recorded ordering but keeps data hazards
# apart: the same final image, every read verified.
start_nbdkit qd file "$tmpdir/qd.img"
"$blkreplay" run "$tmpdir/workload.blog" "$(uri qd)" --queue-depth=8 --json \
  > "$tmpdir/qd.json" || { cat "$tmpdir/qd.json"; fail "--queue-depth replay failed"; }
stop_nbdkit qd
[ "$(jq '.verified_reads' "$tmpdir/qd.json")" = "$reads" ] || fail "--queue-depth: reads"
cmp "$tmpdir/rec.img" "$tmpdir/qd.img" ||
  fail "the --queue-depth=8 replay differs from the recorded image"

# The same against the memory plugin (the starting image is empty),
# with a queue smaller than the workload (back-pressure) and
# sync=always: read both final images out with nbdcopy and compare.
if command -v nbdcopy >/dev/null; then
  start_nbdkit mrec --filter="$(filter blkreplay)" memory 16M \
    blkreplay-log="$tmpdir/m.blog" blkreplay-data=full \
    blkreplay-queue=64K blkreplay-sync=always
  sed "s|^uri=.*|uri=$(uri mrec)|" "$tmpdir/w.fio" > "$tmpdir/m.fio"
  fio "$tmpdir/m.fio" --output="$tmpdir/fio-m.out" ||
    { cat "$tmpdir/fio-m.out"; fail "fio (memory recording) failed"; }
  nbdcopy "$(uri mrec)" "$tmpdir/m-rec.img"
  stop_nbdkit mrec
  start_nbdkit mrep memory 16M
  "$blkreplay" run "$tmpdir/m.blog" "$(uri mrep)" --timing=fast --quiet \
    > "$tmpdir/m-run.out" || { cat "$tmpdir/m-run.out"; fail "memory replay failed"; }
  nbdcopy "$(uri mrep)" "$tmpdir/m-rep.img"
  stop_nbdkit mrep
  cmp "$tmpdir/m-rec.img" "$tmpdir/m-rep.img" ||
    fail "the replayed memory export differs from the recorded one"
fi
