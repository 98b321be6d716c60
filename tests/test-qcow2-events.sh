#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The plugin reports QEMU's blkdebug events at QEMU's points and
# brackets every backend I/O through the hook; a subscriber failing
# any single backend I/O gives the client an error, never a crash nor
# a corrupt image.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/qcow2-helpers.sh"
requires_cmd nbdsh
cd "$tmpdir"
EVF="$abs_top_builddir/tests/.libs/nbdkit-hookevents-filter.so"
[ -e "$EVF" ] || fail "hookevents test filter not built"

count () { awk -v k="$1" -v n="$2" '$1 == k && $2 == n { print $3 }' "$3"; }
expect_at_least ()
{
  v="$(count "$1" "$2" "$4")"
  [ "${v:-0}" -ge "$3" ] || { cat "$4" >&2; fail "$1 $2: $v < $3"; }
}

qemu-img create -q -f raw base.raw 4M
qemu-io -f raw -c 'write -P 0xb0 0 4M' base.raw >/dev/null
qemu-img create -q -f qcow2 -b base.raw -F raw e.qcow2 4M

start_nbdkit ev --filter="$EVF" "$QCOW2" e.qcow2 hookevents-file="$tmpdir/ev1"
nbdsh -u "$(uri ev)" -c '
h.pwrite(b"w" * 4096, 8192)      # allocating, partial: COW from backing
h.flush()
h.pread(4096, 8192)              # allocated
h.pread(4096, 1024 * 1024)       # unallocated: backing
h.pwrite(b"o" * 4096, 8192)      # overwrite in place
h.trim(65536, 0)
h.flush()
'
stop_nbdkit ev
for ev in cluster_alloc l2_alloc_write l1_update cow_read cow_write \
          read_aio read_backing_aio write_aio refblock_load refblock_update \
          l2_update cluster_free flush_to_os flush_to_disk; do
  expect_at_least event $ev 1 ev1
done
expect_at_least event cluster_alloc 2 ev1      # L2 table + data
expect_at_least io read 3 ev1
expect_at_least io write 4 ev1
expect_at_least io flush 2 ev1

# A new process: the L2 table and refcount block are loaded.
start_nbdkit ev --filter="$EVF" "$QCOW2" e.qcow2 hookevents-file="$tmpdir/ev2"
nbdsh -u "$(uri ev)" -c 'h.pread(4096, 65536); h.pwrite(b"n" * 512, 2 * 1024 * 1024)'
stop_nbdkit ev
expect_at_least event l2_load 1 ev2
qemu-img check e.qcow2 | grep -q "No errors were found" || fail "check after events"

# With 512-byte clusters a refcount block covers 128K: writing 1M
# allocates several, each written before it is hooked up (QEMU's
# refblock_alloc, refblock_alloc_write, refblock_alloc_hookup), and
# opening for writing loads the refcount table (reftable_load).
qemu-img create -q -f qcow2 -o cluster_size=512 s.qcow2 4M
start_nbdkit ev --filter="$EVF" "$QCOW2" s.qcow2 hookevents-file="$tmpdir/ev4"
nbdsh -u "$(uri ev)" -c 'h.pwrite(b"r" * 1048576, 0); h.flush()'
stop_nbdkit ev
expect_at_least event reftable_load 1 ev4
expect_at_least event refblock_alloc 4 ev4
expect_at_least event refblock_alloc_write 4 ev4
[ "$(count event refblock_alloc_write ev4)" = "$(count event refblock_alloc_hookup ev4)" ] ||
  { cat ev4 >&2; fail "refblock_alloc_write and refblock_alloc_hookup counts differ"; }
qemu-img check s.qcow2 | grep -q "No errors were found" || fail "check after refblock allocations"

# Compressed clusters report read_compressed.
qemu-img convert -c -O qcow2 base.raw c.qcow2
start_nbdkit ev --filter="$EVF" "$QCOW2" c.qcow2 readonly=true hookevents-file="$tmpdir/ev3"
nbdsh -u "$(uri ev)" -c 'h.pread(4096, 0)'
stop_nbdkit ev
expect_at_least event read_compressed 1 ev3

# Fail each backend I/O of a workload in turn.
workload='
import errno
for op in range(3):
    try:
        if op == 0:
            h.pwrite(b"a" * 70000, 60000)
        elif op == 1:
            h.zero(131072, 1048576)
        else:
            h.pwrite(b"b" * 512, 3 * 1024 * 1024)
        h.flush()
    except nbd.Error as e:
        assert e.errno == "EIO", e.errno
'
# I/Os made while opening the image (failing those fails start-up).
cp e.qcow2 probe.qcow2
start_nbdkit probe --filter="$EVF" "$QCOW2" probe.qcow2 hookevents-file="$tmpdir/open"
nbdsh -u "$(uri probe)" -c 'pass'
stop_nbdkit probe
first=1
for op in read write flush; do first=$((first + $(count io $op open))); done
cp e.qcow2 probe.qcow2
start_nbdkit probe --filter="$EVF" "$QCOW2" probe.qcow2 hookevents-file="$tmpdir/probe"
nbdsh -u "$(uri probe)" -c "$workload"
stop_nbdkit probe
total=0
for op in read write flush; do total=$((total + $(count io $op probe))); done
[ "$total" -ge 8 ] || fail "workload made only $total backend I/Os"
for n in $(seq "$first" "$total"); do
  cp e.qcow2 f.qcow2
  start_nbdkit f --filter="$EVF" "$QCOW2" f.qcow2 hookevents-fail-nth=$n
  nbdsh -u "$(uri f)" -c "$workload" || fail "client saw something other than EIO (n=$n)"
  st=0
  stop_nbdkit f || st=$?
  # Failing an I/O of the final flush at shutdown (the last ones) is
  # reported by exit status 1 (test-qcow2-final-flush.sh); anything
  # else must leave a clean exit.
  if grep -q "the final flush at shutdown failed" "$(server_log f)"; then
    [ $st = 1 ] || fail "final flush failed (I/O $n) but exit status $st"
  else
    [ $st = 0 ] || fail "server exited badly ($st) after failing I/O $n"
  fi
  st=0
  qemu-img check f.qcow2 > check.out 2>&1 || st=$?
  echo "failing backend I/O $n: qemu-img check exit $st"
  if [ $st != 0 ] && [ $st != 3 ]; then
    cat check.out >&2
    fail "failing backend I/O $n left a corrupt image"
  fi
done
echo "failed each of backend I/Os $first..$total in turn"
