#!/usr/bin/env bash
# The control socket: rules with hit counts, run-time inject/remove,
# state; a bad command gets ERR and the connection stays usable.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh python3

ctl="$abs_top_builddir/filters/blkdebug/blkdebug-ctl"
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
stop_nbdkit srv
[ ! -e "$cs" ] || fail "control socket left behind"
