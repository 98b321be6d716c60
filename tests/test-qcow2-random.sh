#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Seeded random writes, zeroes and trims through the plugin, mirrored
# in a raw reference; small clusters so that L2 tables, refcount
# blocks and the refcount table all have to grow.  Then qemu-img
# check + compare.  SEED=n reproduces a run.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/qcow2-helpers.sh"
requires_cmd nbdsh
cd "$tmpdir"
seed="${SEED:-$RANDOM}"
echo "seed=$seed"

# A base with data, for the backing-chain and snapshot cases.
qemu-img create -q -f qcow2 base.qcow2 16M
qemu-io -f qcow2 -c 'write -P 0xba 0 10M' -c 'write -P 0xbb 12M 1M' base.qcow2 >/dev/null

for opts in "cluster_size=512" "compat=0.10,cluster_size=1k" \
            "cluster_size=64k,refcount_bits=4" "extended_l2=on,cluster_size=16k" \
            backing backing-v2-4k snapshots; do
  rm -f r.qcow2 r.raw
  case "$opts" in
    backing) qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 r.qcow2 16M ;;
    backing-v2-4k)
      qemu-img create -q -f qcow2 -o compat=0.10,cluster_size=4k \
        -b base.qcow2 -F qcow2 r.qcow2 16M ;;
    snapshots)
      qemu-img convert -O qcow2 base.qcow2 r.qcow2
      qemu-img snapshot -c s1 r.qcow2
      qemu-io -f qcow2 -c 'write -P 0xbc 1M 3M' r.qcow2 >/dev/null
      qemu-img snapshot -c s2 r.qcow2 ;;
    *) qemu-img create -q -f qcow2 -o "$opts" r.qcow2 16M ;;
  esac
  qemu-img convert -O raw r.qcow2 r.raw
  # Small clusters with the smallest cache: tables evicted all the time.
  extra=""
  case "$opts" in cluster_size=512|backing-v2-4k) extra="cache-size=64K" ;; esac
  serve r r.qcow2 $extra
  nbdsh -u "$(uri r)" -c - <<PY || fail "random I/O ($opts, seed $seed)"
import random
rnd = random.Random($seed)
size = h.get_size()
ref = bytearray(open("r.raw", "rb").read())
for i in range(600):
    op = rnd.random()
    off = rnd.randrange(0, size - 1)
    n = min(rnd.choice([512, 4096, 65536, rnd.randrange(1, 300000)]), size - off)
    if op < 0.70:
        data = bytes([rnd.randrange(1, 256)]) * n
        h.pwrite(data, off)
        ref[off:off + n] = data
    elif op < 0.85:
        f = rnd.choice([0, nbd.CMD_FLAG_NO_HOLE, nbd.CMD_FLAG_FAST_ZERO])
        try:
            h.zero(n, off, f)
            ref[off:off + n] = bytes(n)
        except nbd.Error as e:
            # Fast zero may refuse (nothing written); nothing else may fail.
            assert f == nbd.CMD_FLAG_FAST_ZERO and e.errno == "ENOTSUP", e
    else:
        # A trim leaves undefined data: trim, then rewrite the range.
        h.trim(n, off)
        data = bytes([rnd.randrange(1, 256)]) * n
        h.pwrite(data, off)
        ref[off:off + n] = data
    if rnd.random() < 0.1:
        ro = rnd.randrange(0, size - 1)
        rn = min(rnd.randrange(1, 200000), size - ro)
        assert h.pread(rn, ro) == bytes(ref[ro:ro + rn]), "read at %d+%d (op %d)" % (ro, rn, i)
    if i % 100 == 99:
        h.flush()
assert h.pread(size, 0) == bytes(ref), "read-back differs"
open("r.raw", "wb").write(ref)
PY
  stop_nbdkit r
  judge r.qcow2 r.raw
done
