#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Breakpoints: a request stopped at "break read_aio T" holds only its
# own worker; another connection's write goes on; resume releases it.
# Then shutdown while a request is suspended: no hang, the request
# fails.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh

ctl="$abs_top_builddir/tools/blkctl/blkdebug-ctl"
cs="$tmpdir/ctl.sock"
export ctl cs
export pidfile="$tmpdir/srv.pid" uri="$(uri srv)"
start_nbdkit srv --filter="$(filter blkdebug)" memory 1M blkdebug-control="$cs"

nbdsh -u "$(uri srv)" -c '
import os, subprocess, time
ctl, cs = os.environ["ctl"], os.environ["cs"]
def c(*a):
    return subprocess.run([ctl, cs] + list(a), capture_output=True,
                          text=True, timeout=30).stdout.strip()
assert c("break", "read_aio", "T1") == "OK"
buf = nbd.Buffer(512)
cookie = h.aio_pread(buf, 0)
assert c("wait_break", "T1", "10s") == "OK"
# Another connection is not held up by the suspended read.
h2 = nbd.NBD()
h2.connect_uri(os.environ["uri"])
h2.pwrite(b"w" * 512, 4096)
assert h2.pread(512, 4096) == b"w" * 512
h.poll(0)
assert not h.aio_command_completed(cookie), "suspended read completed"
assert c("resume", "T1") == "OK"
while not h.aio_command_completed(cookie):
    h.poll(1000)
assert c("resume", "T1").startswith("ERR"), "breakpoints are one-shot"
h2.pread(512, 0)     # no breakpoint any more
# remove_break resumes every request with the tag
assert c("break", "read_aio", "T2") == "OK"
cookie = h.aio_pread(buf, 0)
assert c("wait_break", "T2", "10s") == "OK"
assert c("remove_break", "T2") == "OK"
while not h.aio_command_completed(cookie):
    h.poll(1000)
'

# Shutdown with a request suspended.
"$ctl" "$cs" break write_aio T3 | grep -qx OK
nbdsh -u "$(uri srv)" -c '
import os, subprocess
cookie = h.aio_pwrite(b"x" * 512, 0)
r = subprocess.run([os.environ["ctl"], os.environ["cs"], "wait_break", "T3", "10s"],
                   capture_output=True, text=True, timeout=30)
assert r.stdout.strip() == "OK", r
pid = int(open(os.environ["pidfile"]).read())
os.kill(pid, 15)
try:
    while not h.aio_command_completed(cookie):
        h.poll(1000)
    raise Exception("suspended write succeeded at shutdown")
except nbd.Error:
    pass
'
p="$(server_pid srv)"
for _ in $(seq 1 40); do
  kill -0 "$p" 2>/dev/null || break
  sleep 0.25
done
kill -0 "$p" 2>/dev/null && fail "nbdkit hangs at shutdown with a suspended request"
grep -q 'ERROR\|ASan\|runtime error' "$(server_log srv)" && fail "$(cat "$(server_log srv)")"
exit 0
