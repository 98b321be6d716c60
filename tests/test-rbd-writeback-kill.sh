#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# cache=writeback keeps what it promises when nbdkit dies: data written
# and flushed is on the cluster (`rbd export`) after the server is
# killed with SIGKILL (no close, no cache write-back at exit).  The
# same steps with cache=unsafe lose the flushed data, which shows the
# check can fail: with a flush that did not reach librbd the data
# would still be in the dead process's cache.
#
# Why CEPH_ARGS: Ceph 16's default cache policy (writearound) sends
# each write to the OSDs at once, so even unflushed data usually
# arrives before a kill; the writeback policy with a 60 s dirty age
# holds it in the cache until a flush, so only the flush can have
# written it.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/rbd-functions.sh"
requires_cmd nbdsh cmp ceph rbd
rbd_shared_cluster
plug="$(plugin rbd)"
head -c $((1 << 20)) /dev/urandom > "$tmpdir/flushed"
head -c $((1 << 20)) /dev/urandom > "$tmpdir/unflushed"

# The killed server's watch and exclusive lock would keep its image
# for 30 s: blocklist its address so that the image can be removed.
blocklisted=""
unblock () { for a in $blocklisted; do ceph osd blocklist rm "$a" >/dev/null 2>&1; done; }
on_exit unblock
release_image ()
{
  local a
  for a in $(rbd status "rbd/$1" 2>/dev/null | sed -n 's/.*watcher=\([^ ]*\).*/\1/p'); do
    ceph osd blocklist add "$a" >/dev/null 2>&1 && blocklisted="$blocklisted $a"
  done
}

# run MODE: write 1M and flush, write another 1M without flush,
# SIGKILL, export.  Sets $exported.
run ()
{
  local mode="$1" pid
  rbd_image img 16M
  export CEPH_ARGS="--rbd_cache_policy=writeback --rbd_cache_max_dirty_age=60"
  start_nbdkit "$mode" "$plug" "rbd/$img" cache="$mode"
  unset CEPH_ARGS
  nbdsh -u "$(uri "$mode")" -c "
h.pwrite(open('$tmpdir/flushed', 'rb').read(), 0)
h.flush()
h.pwrite(open('$tmpdir/unflushed', 'rb').read(), 4 << 20)
" || fail "$mode: writes failed"
  pid="$(server_pid "$mode")"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  forget_pid "$pid"
  release_image "$img"
  exported="$tmpdir/$mode.raw"
  rbd export --no-progress "rbd/$img" "$exported" || fail "$mode: rbd export failed"
}

run writeback
cmp -n $((1 << 20)) "$tmpdir/flushed" "$exported" ||
  fail "cache=writeback: data flushed before SIGKILL is not on the cluster"
if cmp -s -n $((1 << 20)) -i 0:$((4 << 20)) "$tmpdir/unflushed" "$exported"; then
  echo "cache=writeback: the unflushed write reached the cluster too (allowed)"
else
  echo "cache=writeback: the unflushed write was lost with the process (allowed)"
fi

run unsafe
if cmp -s -n $((1 << 20)) "$tmpdir/flushed" "$exported"; then
  fail "cache=unsafe: the flushed data reached the cluster: the check above cannot tell a real flush from none"
fi
echo "cache=unsafe: flushed data lost with the process, as documented"
