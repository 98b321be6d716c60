#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Crash safety: the server is killed (SIGKILL) in the middle of
# allocating writes, trims and flushes; qemu-img check may then find
# leaked clusters but never an error.  With lazy refcounts the image
# carries the dirty bit while served, clean after a clean shutdown,
# and repairs after a crash.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/qcow2-helpers.sh"
requires_cmd nbdsh python3
cd "$tmpdir"

incompat () { python3 -c "import struct,sys; print(struct.unpack('>Q', open(sys.argv[1],'rb').read(80)[72:80])[0])" "$1"; }

# Lazy refcounts: dirty while in use, clean after shutdown.
qemu-img create -q -f qcow2 -o lazy_refcounts=on lz.qcow2 8M
serve lz lz.qcow2
nbdsh -u "$(uri lz)" -c 'h.pwrite(b"l" * 100000, 5000); h.flush()'
[ $(( $(incompat lz.qcow2) & 1 )) = 1 ] || fail "lazy: dirty bit not set while serving"
stop_nbdkit lz
[ $(( $(incompat lz.qcow2) & 1 )) = 0 ] || fail "lazy: dirty bit left set"
qemu-img create -q -f raw lz.raw 8M
qemu-io -f raw -c 'write -P 0x6c 5000 100000' lz.raw >/dev/null
judge lz.qcow2 lz.raw

for opts in "cluster_size=4k" "compat=0.10,cluster_size=512" "lazy_refcounts=on"; do
  for delay in 0.3 0.8; do
    rm -f k.qcow2
    qemu-img create -q -f qcow2 -o "$opts" k.qcow2 32M
    # The smallest cache: dirty tables are evicted (written early).
    serve k k.qcow2 cache-size=64K
    nbdsh -u "$(uri k)" -c - >/dev/null 2>&1 <<'PY' &
import random
rnd = random.Random(1)
size = h.get_size()
try:
    for i in range(100000):
        off = rnd.randrange(0, size - 70000)
        r = rnd.random()
        if r < 0.8:
            h.pwrite(bytes([i % 255 + 1]) * rnd.choice([512, 4096, 65536]), off)
        elif r < 0.9:
            h.trim(65536, off)
        else:
            h.flush()
except Exception:
    pass
PY
    client=$!
    sleep $delay
    kill -KILL "$(server_pid k)"
    wait "$client" || true
    st=0
    qemu-img check k.qcow2 > check.out 2>&1 || st=$?
    echo "$opts, killed after ${delay}s: qemu-img check exit $st"
    case "$opts" in
      lazy*)
        [ $st = 0 ] || [ $st = 3 ] || {
          qemu-img check -r all k.qcow2 > check.out 2>&1 ||
            { cat check.out >&2; fail "lazy: repair failed"; }
          qemu-img check k.qcow2 > check.out 2>&1 ||
            { cat check.out >&2; fail "lazy: not clean after repair"; }
        } ;;
      *)
        if [ $st != 0 ] && [ $st != 3 ]; then
          cat check.out >&2
          fail "crash after ${delay}s ($opts) corrupted the image (check exit $st)"
        fi ;;
    esac
  done
done
