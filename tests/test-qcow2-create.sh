#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# create=SIZE makes a new v3 image (cluster-size= honoured) that QEMU
# accepts; an existing image is opened, never overwritten.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/qcow2-helpers.sh"
requires_cmd nbdsh jq
cd "$tmpdir"

for cs in 512 64k 2M; do
  rm -f n.qcow2
  serve n n.qcow2 create=64M cluster-size=$cs
  nbdsh -u "$(uri n)" -c '
assert h.get_size() == 64 * 1024 * 1024
h.pwrite(b"c" * 100000, 1000)
h.flush()
'
  stop_nbdkit n
  qemu-img info --output=json n.qcow2 > info.json
  jq -e --arg cs $cs '."virtual-size" == 67108864 and ."format-specific".data.compat == "1.1"' info.json >/dev/null ||
    fail "created image: $(cat info.json)"
  qemu-img create -q -f raw n.raw 64M
  qemu-io -f raw -c 'write -P 0x63 1000 100000' n.raw >/dev/null
  judge n.qcow2 n.raw
done
# Existing image: kept.  -D qcow2.meta=1 logs the metadata work.
start_nbdkit again -v -D qcow2.meta=1 "$QCOW2" n.qcow2 create=1M
nbdsh -u "$(uri again)" -c '
assert h.get_size() == 64 * 1024 * 1024
h.pwrite(b"d" * 512, 32 * 1024 * 1024)
'
stop_nbdkit again
grep -q "qcow2: opened .*n.qcow2: v3" "$(server_log again)" || fail "no -D qcow2.meta output"
grep -q "new L2 table\|guest cluster" "$(server_log again)" || fail "no allocation debug output"
qemu-io -f raw -c 'write -P 0x64 32M 512' n.raw >/dev/null
judge n.qcow2 n.raw
# Big virtual size with small clusters: many refcount blocks at once.
serve big big.qcow2 create=2G cluster-size=512
stop_nbdkit big
qemu-img check big.qcow2 | grep -q "No errors were found" || fail "big create"
# discard=ignore: no trim offered; readonly=true: no writes.
serve nt n.qcow2 discard=ignore
nbdinfo --can trim "$(uri nt)" && fail "discard=ignore still offers trim"
nbdinfo --can zero "$(uri nt)" || fail "zero not offered"
stop_nbdkit nt
serve ro n.qcow2 readonly=true
nbdinfo --can write "$(uri ro)" && fail "readonly=true still writable"
stop_nbdkit ro
