#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# cache=MODE: each of QEMU's five names is accepted, sets librbd's
# cache options as the man page's table says (read back from the
# server's librbd through its admin socket), and does what it promises
# with a FUA write and a flush (counted at the librbd layer by the
# latency filter): none, directsync and writethrough need no flush for
# FUA (every reply already means "on the OSDs"), writeback flushes
# after a FUA write and on flush, unsafe never calls rbd_aio_flush.
# Bad values and cache= with rbd-cache= are refused, naming the
# parameter and the choices.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/rbd-functions.sh"
requires_cmd nbdsh jq ceph
rbd_shared_cluster
rbd_image img 16M
plug="$(plugin rbd)"

rbd_expect_fail "cache: unknown value 'fast' \(expected one of: none, writethrough, writeback, directsync, unsafe\)" \
  "$plug" "rbd/$img" cache=fast
rbd_expect_fail "cache: unknown value 'WriteBack'" "$plug" "rbd/$img" cache=WriteBack
rbd_expect_fail "rbd-cache: give either cache=writeback or rbd-cache=on, not both" \
  "$plug" "rbd/$img" cache=writeback rbd-cache=on

# check NAME ARGS EXPECT-RBD_CACHE EXPECT-MAX-DIRTY EXPECT-UNTIL-FLUSH EXPECT-FLUSHES
# ("nonzero" and "any" match as they say).
check ()
{
  local name="$1" arg="$2" want_cache="$3" want_dirty="$4" want_until="$5"
  local want_flushes="$6" asok="$tmpdir/$1.asok" got v
  export CEPH_ARGS="--admin-socket=$asok"
  # shellcheck disable=SC2086
  start_nbdkit "$name" -v --filter="$(filter latency)" "$plug" "rbd/$img" $arg \
    latency-file="$tmpdir/$name.json" latency-format=json
  unset CEPH_ARGS
  # The options as the serving librbd has them.
  got="$(ceph --admin-daemon "$asok" config get rbd_cache | jq -r .rbd_cache)"
  [ "$got" = "$want_cache" ] || fail "$name: rbd_cache=$got, expected $want_cache"
  v="$(ceph --admin-daemon "$asok" config get rbd_cache_max_dirty | jq -r .rbd_cache_max_dirty)"
  case "$want_dirty" in
    any) ;;
    nonzero) [ "$v" != 0 ] || fail "$name: rbd_cache_max_dirty=0: that is writethrough" ;;
    *) [ "$v" = "$want_dirty" ] || fail "$name: rbd_cache_max_dirty=$v, expected $want_dirty" ;;
  esac
  v="$(ceph --admin-daemon "$asok" config get rbd_cache_writethrough_until_flush |
       jq -r .rbd_cache_writethrough_until_flush)"
  [ "$want_until" = any ] || [ "$v" = "$want_until" ] ||
    fail "$name: rbd_cache_writethrough_until_flush=$v, expected $want_until"

  nbdsh -u "$(uri "$name")" -c '
assert h.can_flush() and h.can_fua()
h.pwrite(b"m" * 65536, 0, nbd.CMD_FLAG_FUA)
h.flush()
assert h.pread(65536, 0) == b"m" * 65536
' || fail "$name: FUA write, flush or read back failed"
  stop_nbdkit "$name"
  got="$(jq -r '.layers.librbd.ops.flush.count // 0' "$tmpdir/$name.json")"
  [ "$got" = "$want_flushes" ] ||
    fail "$name: $got rbd_aio_flush for one FUA write and one flush, expected $want_flushes"
  echo "$name: rbd_cache=$want_cache, $got librbd flush(es) for FUA write + flush: ok"
}

check none         cache=none         false any     any   1
check directsync   cache=directsync   false any     any   1
check writethrough cache=writethrough true  0       any   1
check writeback    cache=writeback    true  nonzero false 2
check unsafe       cache=unsafe       true  nonzero false 0
# The default is writethrough, and says so with -v.
check default      ""                 true  0       any   1
grep -q 'rbd: cache=writethrough: rbd_cache=true rbd_cache_max_dirty=0' "$(server_log default)" ||
  fail "default: no 'cache=writethrough' debug line"
# The older switch alone: librbd as the conf says, so FUA and flush
# both go to librbd.
check rbd-cache-off rbd-cache=off     false any     any   2
