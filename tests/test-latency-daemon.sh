#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdkit without -f daemonises and points stderr at /dev/null: the exit
# report must still land somewhere documented.  A report file works as
# always; the default text report on stderr goes to syslog instead.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh
F="$(filter latency)"

# start_daemon NAME ARGS...: nbdkit without -f, -P pidfile.
start_daemon ()
{
  local name="$1"; shift
  # shellcheck disable=SC2046
  env $(nbdkit_env) "$NBDKIT" -U "$tmpdir/$name.sock" -P "$tmpdir/$name.pid" "$@" \
    >"$tmpdir/$name.log" 2>&1 || { cat "$tmpdir/$name.log"; fail "nbdkit $name did not start"; }
  for _ in $(seq 1 200); do
    [ -s "$tmpdir/$name.pid" ] && [ -S "$tmpdir/$name.sock" ] && break
    sleep 0.05
  done
  [ -s "$tmpdir/$name.pid" ] || fail "nbdkit $name wrote no pid file"
  _blk_pids="$_blk_pids $(cat "$tmpdir/$name.pid")"
}
# stop_daemon NAME: SIGTERM, and wait until it has gone (not our child).
stop_daemon ()
{
  local p
  p="$(cat "$tmpdir/$1.pid")"
  kill -TERM "$p"
  for _ in $(seq 1 200); do
    kill -0 "$p" 2>/dev/null || return 0
    sleep 0.05
  done
  fail "nbdkit $1 ($p) did not exit"
}

# 1. A report file: written at exit although nbdkit is a daemon.
start_daemon d1 --filter="$F" memory 1M latency-output=text:"$tmpdir/exit.txt"
nbdsh -u "nbd+unix:///?socket=$tmpdir/d1.sock" -c 'h.pread(512, 0)'
stop_daemon d1
grep -q '^@nbdkit_read: count 1,' "$tmpdir/exit.txt" ||
  fail "daemon: no exit report in the file"

# 2. No output given: the text report goes to syslog.  glibc's syslog
# writes to /dev/log, which this machine may not have; in a private
# mount namespace a socket of ours stands in for it.
if ! unshare -m true 2>/dev/null; then
  echo "note: unshare -m not permitted, the syslog case is not tested"
  exit 0
fi
cat > "$tmpdir/in-ns.sh" <<'NS'
set -e
tmpdir="$1"; shift
mkdir "$tmpdir/realdev"
mount --bind /dev "$tmpdir/realdev"
mount -t tmpfs tmpfs /dev
for d in null zero random urandom; do
  : > "/dev/$d"
  mount --bind "$tmpdir/realdev/$d" "/dev/$d"
done
/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
open(sys.argv[1] + "/ready", "w").close()
with open(sys.argv[1] + "/syslog.txt", "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536) + b"\n")
' "$tmpdir" &
py=$!
for _ in $(seq 1 100); do [ -e "$tmpdir/ready" ] && break; sleep 0.05; done
"$@" -U "$tmpdir/d2.sock" -P "$tmpdir/d2.pid"
for _ in $(seq 1 200); do [ -s "$tmpdir/d2.pid" ] && [ -S "$tmpdir/d2.sock" ] && break; sleep 0.05; done
p="$(cat "$tmpdir/d2.pid")"
nbdsh -u "nbd+unix:///?socket=$tmpdir/d2.sock" -c 'h.pread(512, 0)' -c 'h.pread(512, 0)'
kill -TERM "$p"
for _ in $(seq 1 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
sleep 0.2
kill "$py"
NS
# shellcheck disable=SC2046
unshare -m bash "$tmpdir/in-ns.sh" "$tmpdir" \
  env $(nbdkit_env) "$NBDKIT" --filter="$F" memory 1M ||
  fail "the syslog run failed"
cat "$tmpdir/syslog.txt"
grep -q 'nbdkit\[[0-9]*\]: latency: @nbdkit_read: count 2,' "$tmpdir/syslog.txt" ||
  fail "daemon: the default text report did not reach syslog"
grep -q 'latency: nbdkit latency report after' "$tmpdir/syslog.txt" ||
  fail "daemon: no report header in syslog"
