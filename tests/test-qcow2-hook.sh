#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Every backend I/O of the plugin is bracketed through the shared hook
# (layer "backend"): the latency filter sees the qcow2 metadata and
# data accesses beside the client's requests.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/qcow2-helpers.sh"
requires_cmd nbdsh jq
cd "$tmpdir"

qemu-img create -q -f qcow2 h.qcow2 4M
start_nbdkit srv --filter="$(filter latency)" "$QCOW2" h.qcow2 \
  latency-file="$tmpdir/lat.json" latency-format=json
nbdsh -u "$(uri srv)" -c '
h.pwrite(b"x" * 65536, 0)        # allocates: data + L2 + refcounts
h.flush()
assert h.pread(65536, 0) == b"x" * 65536
h.pwrite(b"y" * 4096, 4096)      # in-place overwrite
h.flush()
'
stop_nbdkit srv
j="$tmpdir/lat.json"
jq -e '.layers.backend.ops.read.count >= 1' "$j" >/dev/null ||
  fail "no backend reads: $(jq -c .layers "$j" | head -c 400)"
# Data (2 writes) + at least one L2 table, one refcount block, the L1.
jq -e '.layers.backend.ops.write.count >= 5' "$j" >/dev/null ||
  fail "backend writes not bracketed: $(jq -c .layers.backend.ops.write "$j")"
jq -e '.layers.backend.ops.flush.count >= 2' "$j" >/dev/null ||
  fail "backend flushes not bracketed"
qemu-img check h.qcow2 | grep -q "No errors were found" || fail "check"
