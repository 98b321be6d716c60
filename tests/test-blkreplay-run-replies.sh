#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# blkreplay run asks for NBD structured replies only when the log has
# block status requests (they need them; a read costs one receive call
# more with them): a log with block status still replays it (not
# skipped as unsupported), a log without does not negotiate them, and
# both verify every read.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"

for kind in plain extents; do
  start_nbdkit rec --filter="$(filter blkreplay)" memory 1M \
    blkreplay-log="$tmpdir/$kind.blog" blkreplay-data=full
  nbdsh --base-allocation -u "$(uri rec)" -c "
h.pwrite(b'a' * 65536, 0)
h.pread(4096, 4096)
h.pread(65536, 65536)
if '$kind' == 'extents':
    h.block_status(65536, 0, lambda *a: 0)
h.pread(512, 1000)
"
  stop_nbdkit rec

  start_nbdkit rep memory 1M
  LIBNBD_DEBUG=1 "$blkreplay" run "$tmpdir/$kind.blog" "$(uri rep)" \
    > "$tmpdir/run.out" 2> "$tmpdir/debug.out" ||
    { cat "$tmpdir/run.out" "$tmpdir/debug.out"; fail "replay of $kind"; }
  stop_nbdkit rep
  cat "$tmpdir/run.out"
  grep -q 'verified reads 3, .* skipped (unsupported by the server) 0, mismatches 0$' \
    "$tmpdir/run.out" || fail "$kind: not every read verified, or something skipped"
  if [ $kind = extents ]; then
    grep -Eq '^ +extents +1 ' "$tmpdir/run.out" || fail "block status not replayed"
    grep -q 'OPT_STRUCTURED_REPLY.SEND' "$tmpdir/debug.out" ||
      fail "a log with block status did not ask for structured replies"
  else
    grep -q 'OPT_STRUCTURED_REPLY.SEND' "$tmpdir/debug.out" &&
      fail "a log without block status asked for structured replies"
  fi
done
