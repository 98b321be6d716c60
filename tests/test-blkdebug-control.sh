#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The control socket: rules with hit counts, run-time inject/remove,
# state; a bad command gets ERR and the connection stays usable.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh python3

ctl="$abs_top_builddir/tools/blkctl/blkdebug-ctl"
cs="$tmpdir/ctl.sock"
start_nbdkit srv --filter="$(filter blkdebug)" memory 2M blkdebug-control="$cs" \
  blkdebug-inject=event=read_aio,iotype=read,sector=2048,errno=EIO
[ -S "$cs" ] || fail "no control socket"

"$ctl" "$cs" state | grep -qx 'OK 1' || fail "state"
nbdsh -u "$(uri srv)" -c '
h.pread(512, 0)
try:
    h.pread(512, 2048 * 512)
    assert False, "read of sector 2048 did not fail"
except nbd.Error as e:
    pass
'
out="$("$ctl" "$cs" rules)"
echo "$out" | head -1 | grep -qx 'OK 1' || fail "rules: $out"
echo "$out" | grep -q '^1 inject event=read_aio .*errno=EIO sector=2048 hits=1 fired=1 .* armed$' ||
  fail "rules line: $out"

# Run-time rules, same syntax as the inline options.
id="$("$ctl" "$cs" inject event=write_aio,iotype=write,errno=ENOSPC | sed -n 's/^OK //p')"
[ "$id" = 2 ] || fail "inject gave '$id'"
"$ctl" "$cs" set-state-rule event=write_aio,state=1,new_state=3 | grep -qx 'OK 3'
nbdsh -u "$(uri srv)" -c '
import errno
try:
    h.pwrite(b"x" * 512, 0)
    assert False
except nbd.Error as e:
    assert e.errno == "ENOSPC", e
'
"$ctl" "$cs" state | grep -qx 'OK 3' || fail "set-state-rule did not apply"
"$ctl" "$cs" remove 2 | grep -qx OK
"$ctl" "$cs" set-state 1 | grep -qx OK
nbdsh -u "$(uri srv)" -c 'h.pwrite(b"x" * 512, 0)'
if "$ctl" "$cs" remove 2; then fail "removed twice"; fi
"$ctl" "$cs" clear | grep -qx OK
"$ctl" "$cs" rules | grep -qx 'OK 0' || fail "clear left rules"

# Errors keep the connection usable (speak the protocol directly).
python3 - "$cs" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
def cmd(c):
    f.write(c + "\n"); f.flush()
    return f.readline().rstrip("\n")
assert cmd("frobnicate").startswith("ERR unknown command 'frobnicate'")
assert cmd("break no_such_event T").startswith("ERR unknown event")
assert cmd("inject event=read_aio,errno=EWHAT").startswith("ERR errno: 'EWHAT'")
assert cmd("set-state -1").startswith("ERR")
assert cmd("state") == "OK 3"
assert cmd("ping") == "OK pong"
EOF
# blkdebug-ctl's exit status: 0 OK, 1 ERR, 2 cannot talk.
"$ctl" "$cs" ping >/dev/null || fail "ping"
st=0; "$ctl" "$cs" frobnicate >/dev/null || st=$?
[ "$st" = 1 ] || fail "ERR gave exit status $st"
st=0; "$ctl" "$tmpdir/nope.sock" state 2>/dev/null || st=$?
[ "$st" = 2 ] || fail "no socket gave exit status $st"

# Limits: at most 16 control connections at once (more get an ERR line
# and are closed, and NBD clients keep working with 300 control clients
# trying); a command line longer than 4096 bytes gets an ERR line and
# the connection is closed, without the server growing.
pid="$(server_pid srv)"
python3 - "$cs" "$pid" "$(uri srv)" <<'EOF'
import socket, subprocess, sys, time
path, pid, uri = sys.argv[1], sys.argv[2], sys.argv[3]
def rss():
    with open("/proc/%s/status" % pid) as f:
        for l in f:
            if l.startswith("VmRSS:"):
                return int(l.split()[1])
def conn():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    return s
def ask(s, c):
    s.sendall(c.encode() + b"\n")
    b = b""
    while not b.endswith(b"\n"):
        d = s.recv(4096)
        if not d:
            break
        b += d
    return b.decode()
held = [conn() for _ in range(16)]
for s in held:
    assert ask(s, "ping") == "OK pong\n"
extra = []
for _ in range(300):
    s = conn()
    extra.append(s)
    d = s.recv(4096)
    assert d.startswith(b"ERR too many control connections (at most 16 at once)"), d
    assert s.recv(4096) == b"", "an over-limit connection was not closed"
# The NBD side still serves.
subprocess.run(["nbdsh", "-u", uri, "-c", "h.pread(512, 0)"], check=True,
               timeout=30)
for s in held + extra:
    s.close()
time.sleep(0.3)
# A 64 MiB line without newline: ERR after 4096 bytes, closed.
before = rss()
s = conn()
assert ask(s, "ping") == "OK pong\n"
chunk = b"x" * 65536
sent = 0
try:
    while sent < 64 * 1024 * 1024:
        s.sendall(chunk)
        sent += len(chunk)
except (BrokenPipeError, ConnectionResetError, socket.timeout):
    pass
d = b""
try:
    while True:
        x = s.recv(4096)
        if not x:
            break
        d += x
except ConnectionResetError:
    pass
assert d.startswith(b"ERR line longer than 4096 bytes"), d[:200]
after = rss()
assert after - before < 8192, "RSS grew from %d to %d kB" % (before, after)
# A line of exactly 4096 bytes is still a command (too long for the
# parser, answered), and the connection stays usable.
s = conn()
r = ask(s, "x" * 4096)
assert r.startswith("ERR"), r
assert ask(s, "ping") == "OK pong\n"
print("control limits: 16 held, 300 refused, long line closed after %d bytes sent, RSS %d -> %d kB"
      % (sent, before, after))
EOF
stop_nbdkit srv
[ ! -e "$cs" ] || fail "control socket left behind"
