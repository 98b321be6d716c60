#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Many parallel writers (and zeroers) on overlapping unallocated clusters (several
# connections, many requests in flight each, disjoint bytes of the
# same clusters, over a backing file so every allocation copies on
# write), then fio with verify.  qemu-img check + compare judge.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/qcow2-helpers.sh"
requires_cmd nbdsh
cd "$tmpdir"

qemu-img create -q -f raw base.raw 8M
qemu-io -f raw -c 'write -P 0xee 0 8M' base.raw >/dev/null
for opts in "cluster_size=64k" "cluster_size=4k" "extended_l2=on,cluster_size=64k"; do
  rm -f c.qcow2
  qemu-img create -q -f qcow2 -o "$opts" -b base.raw -F raw c.qcow2 8M
  serve c c.qcow2 --threads=16
  pids=""
  for w in 0 1 2 3; do
    nbdsh -u "$(uri c)" -c - <<PY &
# Writer $w owns bytes [k*4096 + $w*1024, +1024) of every 4k block.
import random
rnd = random.Random($w)
blocks = list(range(0, 2048))
rnd.shuffle(blocks)
cookies = []
for b in blocks:
    off = b * 4096 + $w * 1024
    if b % 5 == $w:            # some pieces are zeroed instead
        cookies.append(h.aio_zero(1024, off))
    else:
        buf = nbd.Buffer.from_bytearray(bytearray([($w * 64 + b) % 251 + 1]) * 1024)
        cookies.append(h.aio_pwrite(buf, off))
    while h.aio_in_flight() >= 32:
        h.poll(-1)
while h.aio_in_flight() > 0:
    h.poll(-1)
for c in cookies:
    assert h.aio_command_completed(c)
PY
    pids="$pids $!"
  done
  for p in $pids; do wait $p || fail "writer $p failed ($opts)"; done
  python3 - <<'PY'
ref = bytearray(open("base.raw", "rb").read())
for w in range(4):
    for b in range(2048):
        off = b * 4096 + w * 1024
        if b % 5 == w:
            ref[off:off + 1024] = bytes(1024)
        else:
            ref[off:off + 1024] = bytes([(w * 64 + b) % 251 + 1]) * 1024
open("c.raw", "wb").write(ref)
PY
  nbdsh -u "$(uri c)" -c 'h.flush()'
  stop_nbdkit c
  judge c.qcow2 c.raw
done

# fio with verify, QD16, random 4k writes then a verifying read pass,
# on v3 and v2, small clusters, over a backing file and over
# snapshots; then qemu-img check, and QEMU reads what the plugin reads.
if fio --enghelp=nbd >/dev/null 2>&1; then
  qemu-img create -q -f qcow2 fbase.qcow2 32M
  qemu-io -f qcow2 -c 'write -P 0x5b 0 20M' fbase.qcow2 >/dev/null
  for opts in compat=1.1 compat=0.10,cluster_size=4k backing snapshots \
              extended_l2=on,cluster_size=32k; do
    rm -f f.qcow2
    case "$opts" in
      backing) qemu-img create -q -f qcow2 -b fbase.qcow2 -F qcow2 f.qcow2 32M ;;
      snapshots) qemu-img convert -O qcow2 fbase.qcow2 f.qcow2
                 qemu-img snapshot -c s f.qcow2 ;;
      *) qemu-img create -q -f qcow2 -o "$opts" f.qcow2 32M ;;
    esac
    serve f f.qcow2
    fio --name=v --ioengine=nbd --uri="$(uri f)" --rw=randwrite --bs=4k \
        --iodepth=16 --size=32M --io_size=6M --verify=crc32c --verify_fatal=1 \
        --randrepeat=1 --output="$tmpdir/fio.out" >/dev/null 2>&1 ||
      { cat "$tmpdir/fio.out" >&2; fail "fio verify failed ($opts)"; }
    stop_nbdkit f
    qemu-img check f.qcow2 > check.out 2>&1 && grep -q "No errors were found" check.out &&
      ! grep -q leaked check.out || { cat check.out >&2; fail "fio image check ($opts)"; }
    serve fr f.qcow2 readonly=true
    same_as_qemu fr f.qcow2
    stop_nbdkit fr
  done
fi
