#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The engine under nbdkit's parallel thread model: 64 requests in
# flight on 4 connections while the control socket adds and removes
# rules; a count=25 rule fails exactly 25 requests, no more, and
# nothing hangs.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh

ctl="$abs_top_builddir/tools/blkctl/blkdebug-ctl"
export uri="$(uri srv)"
cs="$tmpdir/ctl.sock"
start_nbdkit srv --threads=16 --filter="$(filter blkdebug)" memory 16M \
  blkdebug-control="$cs" \
  blkdebug-inject=event=read_aio,iotype=read,count=25,errno=EIO \
  blkdebug-inject=event=write_aio,iotype=write,sector=999999,errno=EPERM \
  blkdebug-set-state=event=pwritev,state=1,new_state=2 \
  blkdebug-set-state=event=pwritev,state=2,new_state=1

# Rule churn from the side while the clients run.
(
  for i in $(seq 1 30); do
    id="$("$ctl" "$cs" inject event=flush_to_os,iotype=read,sector=999998 | sed -n 's/^OK //p')"
    "$ctl" "$cs" rules >/dev/null
    [ -n "$id" ] && "$ctl" "$cs" remove "$id" >/dev/null
  done
) &
churn=$!

nbdsh -u "$(uri srv)" -c '
import os
hs = [h] + [nbd.NBD() for _ in range(3)]
for x in hs[1:]:
    x.connect_uri(os.environ["uri"])
failed = ok = 0
buf = bytearray(4096)
for rnd in range(20):
    cookies = []
    for k, x in enumerate(hs):
        for j in range(16):
            off = ((rnd * 64 + k * 16 + j) % 4096) * 4096
            if j % 2:
                cookies.append((x, x.aio_pread(nbd.Buffer(4096), off)))
            else:
                cookies.append((x, x.aio_pwrite(nbd.Buffer.from_bytearray(buf), off)))
    for x, c in cookies:
        while True:
            try:
                if x.aio_command_completed(c):
                    ok += 1
                    break
            except nbd.Error as e:
                assert e.errno == "EIO", e
                failed += 1
                break
            x.poll(1000)
print(ok, failed)
assert failed == 25, (ok, failed)
' || fail "parallel run"
wait "$churn"
"$ctl" "$cs" rules | grep -q '^2 inject event=write_aio .*hits=0 fired=0' ||
  fail "the never-firing rule: $("$ctl" "$cs" rules)"
