#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A backing chain that loops (A backs onto A, or A -> B -> A) is
# refused at once with a message naming the loop, instead of opening
# the same images again and again until the depth limit; and the
# caches of backing images share one budget, so a deep chain costs
# little memory whatever cache-size is.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/qcow2-helpers.sh"
requires_cmd nbdsh
[ -x /usr/bin/time ] || skip "/usr/bin/time is not installed"
cd "$tmpdir"

# peak_kb ARGS...: nbdkit's peak RSS (kB) while it refuses to start.
peak_kb ()
{
  # shellcheck disable=SC2046
  env $(nbdkit_env) /usr/bin/time -f "peak %M" -o peak.out \
    timeout 20 "$NBDKIT" -f -U "$tmpdir/peak.sock" "$@" > peak.log 2>&1 && {
      cat peak.log >&2; fail "nbdkit accepted: $*"; }
  awk '$1 == "peak" { print $2 }' peak.out
}

# A backs onto itself.
qemu-img create -q -f qcow2 self.qcow2 64M
qemu-img rebase -q -u -b self.qcow2 -F qcow2 self.qcow2
expect_fail_nbdkit "self.qcow2: backing chain loop: [^ ]*/self.qcow2 -> [^ ]*/self.qcow2 \\(" \
  "$QCOW2" self.qcow2

# A -> B -> A, opened from either end.
qemu-img create -q -f qcow2 a.qcow2 64M
qemu-img create -q -f qcow2 -b a.qcow2 -F qcow2 b.qcow2
qemu-img rebase -q -u -b b.qcow2 -F qcow2 a.qcow2
expect_fail_nbdkit "backing chain loop: [^ ]*/b.qcow2 -> [^ ]*/a.qcow2 -> [^ ]*/b.qcow2 \\(" "$QCOW2" b.qcow2
expect_fail_nbdkit "backing chain loop: [^ ]*/a.qcow2 -> [^ ]*/b.qcow2 -> [^ ]*/a.qcow2 \\(" \
  "$QCOW2" a.qcow2 readonly=true
kb=$(peak_kb "$QCOW2" b.qcow2)
echo "loop A -> B -> A refused, peak RSS ${kb} kB"
grep -q "backing chain loop" peak.log || { cat peak.log; fail "no loop message"; }
# Before: the loop was opened 256 times over, 239 MB, then refused.
if [ -z "$SANITIZER_PRELOAD" ]; then
  [ "$kb" -lt 65536 ] || fail "loop: peak RSS ${kb} kB before refusing"
fi

# A deep chain without a loop (64 images, each with data of its own),
# served with a big cache-size: every image is read.
qemu-img create -q -f qcow2 c0.qcow2 64M
qemu-io -f qcow2 -c 'write -P 1 0 64k' c0.qcow2 >/dev/null
for i in $(seq 1 63); do
  qemu-img create -q -f qcow2 -b c$((i - 1)).qcow2 -F qcow2 c$i.qcow2
  qemu-io -f qcow2 -c "write -P $((i + 1)) $((i * 1024))k 64k" c$i.qcow2 >/dev/null
done
# hwm NAME IMAGE ARGS...: the server's peak RSS (kB) after reading
# one block of each image's data.
hwm ()
{
  n="$1"; shift
  serve "$n" "$@"
  nbdsh -u "$(uri "$n")" -c '
for i in range(64):
    assert h.pread(4096, i * 1048576) == bytes([i + 1]) * 4096, i
' || fail "$n: wrong data"
  awk '$1 == "VmHWM:" { print $2 }' "/proc/$(server_pid "$n")/status"
  stop_nbdkit "$n"
}
# The bottom image alone is the baseline (only its 64k reads as data).
serve base c0.qcow2
nbdsh -u "$(uri base)" -c 'assert h.pread(4096, 0) == b"\x01" * 4096'
base=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$(server_pid base)/status")
stop_nbdkit base
deep=$(hwm deep c63.qcow2)
deep64=$(hwm deep64 c63.qcow2 cache-size=64M)
echo "server peak RSS: one image ${base} kB; chain of 64: ${deep} kB," \
     "with cache-size=64M ${deep64} kB"
# Before the shared budget every backing image had up to 16 MiB of
# cache (4 MiB with cache-size over 4M): 83 / 51 MB against 25 MB for
# one image.  The sanitizers' shadow memory makes RSS meaningless
# under --enable-sanitizers.
if [ -z "$SANITIZER_PRELOAD" ]; then
  for kb in "$deep" "$deep64"; do
    [ $((kb - base)) -lt 16384 ] ||
      fail "deep chain: peak RSS ${kb} kB, 16 MB or more above one image's"
  done
fi
