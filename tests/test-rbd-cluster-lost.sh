#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The cluster goes away under a running server.
# - OSD stopped: a read, and a write's flush, fail with EIO within
#   request-timeout= instead of hanging (librbd would wait for ever).
# - OSD and monitor stopped: SIGTERM ends nbdkit within timeout=, with
#   a message saying what could not be closed, and a non-zero status;
#   it used to block for ever in rbd_close.  The same for qcow2 on RBD.
# A private cluster: stopping the shared one would stall other tests.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/rbd-functions.sh"
requires_cmd nbdsh qemu-img
t0=$SECONDS
rbd_private_cluster
echo "cluster up after $((SECONDS - t0)) s"

# kill_daemon osd|mon: the cluster host dies (SIGKILL: quicker than a
# clean stop, and nothing is said to the clients).  By recorded PID,
# checked against its command line.
kill_daemon ()
{
  local p
  p="$(cat "$RBD_DIR/$1.pid")"
  tr '\0' ' ' < "/proc/$p/cmdline" | grep -qF "$RBD_DIR/ceph.conf" ||
    fail "$1 pid $p is not our daemon"
  kill -KILL "$p"
}
rbd create --size 16M rbd/lost || fail "rbd create failed"
qemu-img create -q -f qcow2 "$tmpdir/q.qcow2" 16M
rbd import --no-progress "$tmpdir/q.qcow2" rbd/lostq >/dev/null || fail "rbd import failed"

limits="timeout=4s request-timeout=3s"
start_nbdkit srv "$(plugin rbd)" rbd/lost $limits
start_nbdkit q "$(plugin qcow2)" rbd:rbd/lostq rbd-timeout=4s rbd-request-timeout=3s
for s in srv q; do
  nbdsh -u "$(uri $s)" -c 'h.pwrite(b"x" * 65536, 0); h.flush()' ||
    fail "$s: write before the fault failed"
done

kill_daemon osd
# A read and a write+flush now: each ends with EIO within the bound.
nbdsh -u "$(uri srv)" -c '
import errno, time
for what, f in (("read", lambda: h.pread(4096, 1 << 20)),
                ("write+flush", lambda: (h.pwrite(b"y" * 4096, 2 << 20), h.flush()))):
    t = time.monotonic()
    try:
        f()
        raise SystemExit("%s succeeded with the OSD down" % what)
    except nbd.Error as e:
        ms = (time.monotonic() - t) * 1000
        print("%s failed after %d ms: %s" % (what, ms, e))
        assert e.errnum == errno.EIO, e
        assert 2000 <= ms < 10000, ms
' || fail "a request did not fail within request-timeout=3s"

# Now the monitor too, then SIGTERM: each server ends within
# timeout=4s (plus what the requests still in librbd take).
kill_daemon mon
start=$(date +%s%N)
for s in srv q; do kill -TERM "$(server_pid $s)"; done
for s in srv q; do
  p="$(server_pid $s)"
  for _ in $(seq 1 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  kill -0 "$p" 2>/dev/null && { cat "$(server_log $s)" >&2; fail "$s: still running ${ms} ms after SIGTERM"; }
  st=0; wait "$p" || st=$?
  echo "$s: exited within $ms ms after SIGTERM with status $st"
  cat "$(server_log $s)"
  [ "$st" != 0 ] || fail "$s: exit status 0 although the image could not be closed"
  grep -Eq "closing .* did not finish within 4s" "$(server_log $s)" ||
    fail "$s: no message about the close"
  [ "$ms" -lt 12000 ] || fail "$s: took $ms ms to exit"
done
echo "test done after $((SECONDS - t0)) s"
