#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# -D blkdebug.rules=1: every rule with its hit and fire counts at exit,
# including once-rules that were removed after firing.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh

start_nbdkit srv -D blkdebug.rules=1 --filter="$(filter blkdebug)" memory 1M \
  blkdebug-inject=event=read_aio,iotype=read,sector=8,errno=EIO \
  blkdebug-inject=event=write_aio,once=on
nbdsh -u "$(uri srv)" -c '
for off in (0, 4096, 4096, 8192):
    try:
        h.pread(512, off)
    except nbd.Error:
        pass
try:
    h.pwrite(b"x" * 512, 0)
except nbd.Error:
    pass
'
stop_nbdkit srv
log="$(server_log srv)"
grep -q 'blkdebug: 2 rules at exit' "$log" || fail "$(cat "$log")"
grep -Eq 'rule 1 inject event=read_aio .*sector=8 hits=2 fired=2 origin=blkdebug-inject #1' "$log" ||
  fail "rule 1: $(cat "$log")"
grep -Eq 'rule 2 inject event=write_aio .*count=1 hits=1 fired=1 .* removed' "$log" ||
  fail "rule 2: $(cat "$log")"
