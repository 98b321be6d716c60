#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The test cluster's --store bluestore (tests/ceph/ceph-cluster.sh),
# which bench/bench-rbd.sh uses with CEPH_STORE=bluestore: the OSD
# really runs bluestore, and the plugin's data goes through it intact;
# a bad --store value is refused by name.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/rbd-functions.sh"
requires_cmd nbdsh jq
rbd_requires_ceph
# bluestore opens its block file with O_DIRECT, which tmpfs refuses.
[ "$(stat -f -c %T "$tmpdir")" != tmpfs ] ||
  skip "$tmpdir is on tmpfs: bluestore needs O_DIRECT (set TMPDIR)"

out="$tmpdir/bad-store.out"
if "$abs_top_srcdir/tests/ceph/ceph-cluster.sh" start "$tmpdir/bad" \
     --store filestore >"$out" 2>&1; then
  fail "ceph-cluster.sh accepted --store filestore"
fi
grep -q "store takes memstore or bluestore, not 'filestore'" "$out" ||
  { cat "$out"; fail "the bad --store value is not named"; }

rbd_private_cluster --store bluestore
store="$(ceph osd metadata 0 -f json | jq -r .osd_objectstore)"
[ "$store" = bluestore ] || fail "the OSD runs '$store', not bluestore"
[ -s "$RBD_DIR/osd.0/block" ] || fail "no bluestore block file in $RBD_DIR/osd.0"

rbd_image img 16M
start_nbdkit srv "$(plugin rbd)" "rbd/$img" cache=writeback
nbdsh -u "$(uri srv)" -c '
import os
M = 1 << 20
data = os.urandom(8 * M)
for i in range(8):                      # 1M writes, as the bench sends
    h.pwrite(data[i * M:(i + 1) * M], 4 * M + i * M)
h.flush()
assert h.pread(8 * M, 4 * M) == data, "1M writes did not read back"
assert h.pread(4 * M, 0) == bytes(4 * M), "unwritten start is not zero"
'
stop_nbdkit srv
# What the OSD holds, read past the plugin.
rbd export --no-progress "rbd/$img" "$tmpdir/img.raw" >/dev/null
cmp <(head -c $((4 << 20)) /dev/zero) <(head -c $((4 << 20)) "$tmpdir/img.raw") ||
  fail "rbd export: the unwritten start is not zero"
echo "test-rbd-bluestore: bluestore OSD, 8 x 1M writes read back intact"
