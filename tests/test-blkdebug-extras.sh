#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Beyond QEMU: after/count, byte ranges, probability (deterministic by
# seed), delay, corrupt (silent bit flips), torn writes.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh
F="$(filter blkdebug)"

start_nbdkit a --filter="$F" memory 4M \
  blkdebug-inject=event=none,iotype=read,after=2,count=2,errno=EIO \
  blkdebug-inject=event=none,iotype=write,offset=1M,length=64K,errno=ENOSPC \
  blkdebug-inject=event=none,iotype=write,offset=2M,length=4K,torn=1024 \
  blkdebug-inject=event=none,iotype=read,offset=3M,length=4K,corrupt=3 \
  blkdebug-inject=event=none,iotype=flush,delay=300ms,count=1
nbdsh -u "$(uri a)" -c '
import time
from nbdtest import outcome
r = [outcome(h.pread, 512, 0) for _ in range(5)]
assert r == ["ok", "ok", "EIO", "EIO", "ok"], r
assert outcome(h.pwrite, b"x" * 512, (1 << 20) - 512) == "ok"
assert outcome(h.pwrite, b"x" * 1024, (1 << 20) - 512) == "ENOSPC"
assert outcome(h.pwrite, b"x" * 512, (1 << 20) + 65536) == "ok"
# torn: the first 1024 bytes land, the request fails
assert outcome(h.pwrite, b"t" * 4096, 2 << 20) == "EIO"
d = h.pread(4096, 2 << 20)
assert d == b"t" * 1024 + b"\0" * 3072, d[:1100]
# corrupt: the data read differs in 1 or 3 bits (two flips may cancel)
h.pwrite(b"\xaa" * 4096, 3 << 20)
d = h.pread(4096, 3 << 20)
bits = sum(bin(a ^ 0xaa).count("1") for a in d)
assert bits in (1, 3), bits
assert h.pread(4096, (3 << 20) + 4096) == b"\0" * 4096
# delay: one flush takes >= 300ms, the next does not
h.pwrite(b"y" * 512, 0)
t = time.monotonic(); h.flush(); t1 = time.monotonic() - t
h.pwrite(b"y" * 512, 0)
t = time.monotonic(); h.flush(); t2 = time.monotonic() - t
assert t1 >= 0.3 and t2 < 0.3, (t1, t2)
'
stop_nbdkit a

# probability: the same seed gives the same pattern; about p of them fail.
pattern ()
{
  start_nbdkit "$1" --filter="$F" memory 1M blkdebug-seed="$2" \
    blkdebug-inject=event=read_aio,iotype=read,probability=30%
  nbdsh -u "$(uri "$1")" -c '
s = ""
for i in range(200):
    try:
        h.pread(512, 0); s += "."
    except nbd.Error:
        s += "x"
print(s)
'
  stop_nbdkit "$1"
}
p1="$(pattern p1 7)"
p2="$(pattern p2 7)"
p3="$(pattern p3 8)"
[ "$p1" = "$p2" ] || fail "same seed, different patterns:\n$p1\n$p2"
[ "$p1" != "$p3" ] || fail "different seeds, same pattern"
n="$(echo "$p1" | tr -cd x | wc -c)"
[ "$n" -gt 35 ] && [ "$n" -lt 85 ] || fail "probability=30% failed $n of 200"
