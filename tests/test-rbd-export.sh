#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# What a client writes through the plugin is what Ceph stores: compare
# the image exported with `rbd export` to the data written, byte for
# byte, and read it back through the plugin too.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/rbd-functions.sh"
requires_cmd nbdcopy nbdsh cmp
rbd_shared_cluster
rbd_image img 64M

# Data with holes and odd, unaligned pieces.
head -c $((64 << 20)) /dev/zero > "$tmpdir/want"
head -c $((3 << 20)) /dev/urandom | dd of="$tmpdir/want" bs=1 seek=12345 conv=notrunc status=none
head -c 777777 /dev/urandom | dd of="$tmpdir/want" bs=1 seek=$((40 << 20)) conv=notrunc status=none
head -c 4096 /dev/urandom | dd of="$tmpdir/want" bs=4096 seek=$(((64 << 20) / 4096 - 1)) conv=notrunc status=none

start_nbdkit srv "$(plugin rbd)" "rbd/$img"
nbdcopy "$tmpdir/want" "$(uri srv)" || fail "nbdcopy to the plugin failed"
nbdcopy "$(uri srv)" "$tmpdir/back" || fail "nbdcopy from the plugin failed"
cmp "$tmpdir/want" "$tmpdir/back" || fail "read back through the plugin differs"
stop_nbdkit srv

rbd export --no-progress "rbd/$img" "$tmpdir/exported" || fail "rbd export failed"
cmp "$tmpdir/want" "$tmpdir/exported" || fail "rbd export differs from what was written"
