#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Observable fault injection (issue 14): every injection is logged with
# the rule, its origin (file:line, parameter, control socket), the
# request and the errno, rate-limited per rule; set-state rules that
# acted count as fired; blkdebug-strict=qemu refuses what QEMU's
# blkdebug cannot read, naming the option and its line; QEMU's
# sector = "-1" (any sector) is accepted.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh
F="$(filter blkdebug)"
ctl="$abs_top_builddir/tools/blkctl/blkdebug-ctl"
[ -x "$ctl" ] || fail "blkdebug-ctl not built: $ctl"

cfg="$tmpdir/rules.cfg"
cat > "$cfg" <<'CFG'
# line 1
[set-state]
event = "write_aio"
new_state = "2"

[inject-error]
event = "read_aio"
state = "2"
sector = "-1"
errno = "28"
CFG

cs="$tmpdir/ctl.sock"
start_nbdkit a --filter="$F" memory 1M blkdebug-config="$cfg" \
  blkdebug-control="$cs" \
  blkdebug-inject=event=flush_to_disk,iotype=flush,errno=EPERM,count=1
nbdsh -u "$(uri a)" -c '
from nbdtest import outcome
assert outcome(h.pread, 512, 0) == "ok"
h.pwrite(b"x" * 512, 0)                 # state 1 -> 2
# sector -1: any sector, ENOSPC from the file rule
assert outcome(h.pread, 512, 8192) == "ENOSPC"
assert outcome(h.pread, 4096, 65536) == "ENOSPC"
assert outcome(h.flush) == "EPERM"
'
log="$(server_log a)"
grep -Fq "blkdebug: injected ENOSPC into read offset=8192 count=512 layer=client: rule 2 ($cfg:6), fired 1" "$log" ||
  { cat "$log"; fail "no log line naming the rule file's line"; }
grep -Fq "blkdebug: injected ENOSPC into read offset=65536 count=4096 layer=client: rule 2 ($cfg:6), fired 2" "$log" ||
  { cat "$log"; fail "second injection not logged"; }
grep -Fq "blkdebug: injected EPERM into flush offset=0 count=0 layer=client: rule 3 (blkdebug-inject #1), fired 1" "$log" ||
  { cat "$log"; fail "inline rule's injection not logged"; }

# set-state: the rule that changed the state fired once.
out="$("$ctl" "$cs" rules)"
echo "$out" | grep -q "^1 set-state event=write_aio state=0 new_state=2 hits=1 fired=1 " ||
  fail "set-state fired not counted: $out"

# Rate limit: a burst of failing reads logs at most 5 lines per second;
# the first line of a later second reports the ones left out.
# (Rule 2 would fail these reads first: remove it.)
"$ctl" "$cs" remove 2 | grep -q '^OK' || fail "remove 2"
"$ctl" "$cs" inject event=read_aio,iotype=read,offset=512K,errno=EIO | grep -qx 'OK 4' ||
  fail "inject did not make rule 4"
before="$(grep -c "rule 4 (control)" "$log" || true)"
[ "$before" = 0 ] || fail "rule 4 logged before it fired"
nbdsh -u "$(uri a)" -c '
import time
from nbdtest import outcome
t = time.monotonic()
for _ in range(40):
    assert outcome(h.pread, 512, 512 * 1024) == "EIO"
print("burst took %.3fs" % (time.monotonic() - t))
time.sleep(1.1)
assert outcome(h.pread, 512, 512 * 1024) == "EIO"
'
n="$(grep -c "blkdebug: injected EIO into read offset=524288 count=512 layer=client: rule 4 (control)" "$log")"
# 40 reads in (usually) under a second: 5 logged; if the burst crosses a
# second boundary, 10 at most.  Plus the one after the pause.
[ "$n" -ge 6 ] && [ "$n" -le 11 ] || { cat "$log"; fail "rate limit: $n lines for 41 injections"; }
grep -Eq "rule 4 \(control\), fired 41 \([0-9]+ earlier injections of this rule not logged: rate limit\)" "$log" ||
  { cat "$log"; fail "no 'not logged' count after the burst"; }
stop_nbdkit a

# blkdebug-strict=qemu: QEMU's syntax passes, extensions are refused
# with the option and its line, wherever blkdebug-strict= is given.
start_nbdkit q --filter="$F" memory 1M blkdebug-strict=qemu blkdebug-config="$cfg"
stop_nbdkit q
ext="$tmpdir/ext.cfg"
cat > "$ext" <<'CFG'
[inject-error]
event = "read_aio"
errno = "5"
probability = "0.5"
CFG
expect_fail_nbdkit "$ext:4: option 'probability' is not in QEMU's blkdebug rule syntax" \
  --filter="$F" memory 1M blkdebug-config="$ext" blkdebug-strict=qemu
printf '[inject-error]\nevent = "read_aio"\nerrno = "EIO"\n' > "$ext"
expect_fail_nbdkit "$ext:3: errno: a name is not QEMU's blkdebug syntax" \
  --filter="$F" memory 1M blkdebug-strict=qemu blkdebug-config="$ext"
expect_fail_nbdkit "blkdebug-inject #1: option 'delay' is not in QEMU's" \
  --filter="$F" memory 1M blkdebug-strict=qemu \
  blkdebug-inject=event=read_aio,delay=1ms
expect_fail_nbdkit "blkdebug-strict: unknown value 'posix' \(expected one of: none, qemu\)" \
  --filter="$F" memory 1M blkdebug-strict=posix
# Without strict the same file is fine.
start_nbdkit n --filter="$F" memory 1M blkdebug-config="$ext"
stop_nbdkit n
# Strict covers rules added at run time through the control socket too:
# a rule file written from a session's commands stays QEMU's syntax.
start_nbdkit qc --filter="$F" memory 1M blkdebug-strict=qemu \
  blkdebug-control="$tmpdir/qc.ctl"
out="$("$ctl" "$tmpdir/qc.ctl" inject event=read_aio,errno=5,once=on 2>&1)" ||
  fail "strict: a QEMU rule through the socket was refused: $out"
for bad in "inject event=read_aio,errno=5,delay=1ms|option 'delay' is not in QEMU's" \
           "inject event=read_aio,errno=EIO|errno: a name is not QEMU's" \
           "set-state-rule event=trim_aio,state=1,new_state=2|event .trim_aio. is not one of QEMU.s"; do
  cmd="${bad%%|*}"; want="${bad#*|}"
  # shellcheck disable=SC2086
  if out="$("$ctl" "$tmpdir/qc.ctl" $cmd 2>&1)"; then
    fail "strict: '$cmd' through the socket was accepted: $out"
  fi
  printf '%s\n' "$out" | grep -q "$want" ||
    fail "strict: '$cmd': error does not say '$want': $out"
done
stop_nbdkit qc

# Backend layer: the line names the plugin's I/O layer, so an injected
# EIO is told apart from the plugin's own "write ... failed" report.
if command -v qemu-io >/dev/null && command -v qemu-img >/dev/null; then
  QCOW2="$(plugin qcow2)"
  [ -e "$QCOW2" ] || fail "qcow2 plugin not built: $QCOW2"
  qemu-img create -q -f qcow2 "$tmpdir/q.qcow2" 1M
  start_nbdkit b --filter="$F" "$QCOW2" "$tmpdir/q.qcow2" blkdebug-layer=backend \
    blkdebug-inject=event=cluster_alloc,iotype=write,errno=EIO
  nbdsh -u "$(uri b)" -c '
from nbdtest import outcome
assert outcome(h.pwrite, b"x" * 512, 0) == "EIO"
'
  grep -Eq "blkdebug: injected EIO into write offset=[0-9]+ count=[0-9]+ layer=backend: rule 1 \(blkdebug-inject #1\), fired 1" "$(server_log b)" ||
    { cat "$(server_log b)"; fail "backend-layer injection not logged"; }
  stop_nbdkit b || true
fi
