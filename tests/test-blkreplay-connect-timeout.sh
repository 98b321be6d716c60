#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# blkreplay run never hangs on a server that accepts fewer connections
# than the recording has (issue 14): qemu-nbd started without -e takes
# one client at a time, so the second recorded connection is never
# served.  run must give up within --connect-timeout, name the
# connection it could not open, hint at qemu-nbd -t -e N, exit 2; and
# with -e 2 the same replay succeeds.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh qemu-nbd timeout
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"

# A recording of two connections (one client after the other).
start_nbdkit rec --filter="$(filter blkreplay)" memory 1M \
  blkreplay-log="$tmpdir/rec.blog" blkreplay-data=full
for c in 1 2; do
  nbdsh -u "$(uri rec)" -c "
h.pwrite(bytes([$c]) * 4096, $c * 4096)
h.pread(4096, $c * 4096)
"
done
stop_nbdkit rec
"$blkreplay" stats "$tmpdir/rec.blog" | grep -q 'on 2 connections' ||
  fail "the recording does not have 2 connections"
truncate -s 1M "$tmpdir/rep.img"

# start_qemu_nbd ARGS...: qemu-nbd on $tmpdir/q.sock, pid in $qpid.
start_qemu_nbd ()
{
  rm -f "$tmpdir/q.sock"
  qemu-nbd -f raw -k "$tmpdir/q.sock" "$@" "$tmpdir/rep.img" \
    > "$tmpdir/q.log" 2>&1 &
  qpid=$!
  on_exit_kill "$qpid" qemu-nbd
  wait_socket "$tmpdir/q.sock" "$qpid" "" "$tmpdir/q.log"
}
stop_qemu_nbd ()
{
  kill "$qpid" 2>/dev/null || :
  wait "$qpid" 2>/dev/null || :
  forget_pid "$qpid"
}
uri="nbd+unix:///?socket=$tmpdir/q.sock"

# run_bounded SECS ARGS...: blkreplay run under timeout(1); sets $st
# (124: it hung) and $secs (wall-clock seconds taken).
run_bounded ()
{
  local bound="$1" t0
  shift
  t0=$(date +%s)
  st=0
  timeout -k 5 "$bound" "$blkreplay" run "$tmpdir/rec.blog" "$uri" "$@" \
    > "$tmpdir/run.out" 2>&1 || st=$?
  secs=$(( $(date +%s) - t0 ))
  cat "$tmpdir/run.out"
}

expect_refused ()
{
  [ "$st" != 124 ] && [ "$st" != 137 ] ||
    fail "blkreplay run $*: still waiting after the bound (hang)"
  [ "$st" = 2 ] || fail "blkreplay run $*: exit $st, expected 2"
  grep -q 'opening connection 2 of 2' "$tmpdir/run.out" ||
    fail "no progress line for connection 2"
  grep -q "cannot open connection 2 of 2 (recorded connection [0-9]*): no NBD handshake within $1" \
    "$tmpdir/run.out" || fail "the connection that could not be opened is not named"
  grep -q 'the server may accept fewer connections at once; qemu-nbd accepts one unless started with -t -e N' \
    "$tmpdir/run.out" || fail "no hint about qemu-nbd -t -e N"
}

# qemu-nbd's default: one client at a time.  Short explicit timeout.
start_qemu_nbd -t
run_bounded 30 --connect-timeout=1s --progress
[ "$secs" -le 10 ] || fail "took ${secs}s with --connect-timeout=1s"
expect_refused 1s
stop_qemu_nbd

# The default timeout (10s) bounds it too, and progress is off when
# stderr is not a terminal: the failure still names the connection.
start_qemu_nbd -t
run_bounded 40
[ "$secs" -le 25 ] || fail "took ${secs}s with the default timeout"
[ "$st" = 2 ] || fail "default timeout: exit $st, expected 2"
grep -q 'cannot open connection 2 of 2 .*within 10s' "$tmpdir/run.out" ||
  fail "default timeout: connection 2 not named"
grep -q 'opening connection' "$tmpdir/run.out" &&
  fail "progress lines without a terminal or --progress"
stop_qemu_nbd

# Accepting two clients, the same replay succeeds.
start_qemu_nbd -t -e 2
run_bounded 30 --connect-timeout=5s
[ "$st" = 0 ] || fail "replay against qemu-nbd -e 2: exit $st"
grep -q 'mismatches 0' "$tmpdir/run.out" || fail "mismatches against -e 2"
stop_qemu_nbd

# Bad values are named.
st=0
"$blkreplay" run "$tmpdir/rec.blog" "$uri" --connect-timeout=soon \
  > "$tmpdir/run.out" 2>&1 || st=$?
cat "$tmpdir/run.out"
[ "$st" = 2 ] || fail "--connect-timeout=soon: exit $st"
grep -q -- "--connect-timeout: cannot parse 'soon'" "$tmpdir/run.out" ||
  fail "--connect-timeout=soon: bad value not named"
st=0
"$blkreplay" run "$tmpdir/rec.blog" "$uri" --connect-timeout=0 \
  > "$tmpdir/run.out" 2>&1 || st=$?
[ "$st" = 2 ] && grep -q -- "--connect-timeout: '0' " "$tmpdir/run.out" ||
  { cat "$tmpdir/run.out"; fail "--connect-timeout=0 accepted"; }
