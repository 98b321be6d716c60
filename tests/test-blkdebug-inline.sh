#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Inline rules: the second write fails with ENOSPC (errno by name); a
# rule armed by a state change fails reads in one sector only.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh

start_nbdkit srv --filter="$(filter blkdebug)" memory 1M \
  blkdebug-set-state=event=write_aio,state=1,new_state=2 \
  blkdebug-inject=event=write_aio,state=2,iotype=write,errno=ENOSPC,once=on \
  blkdebug-inject=event=read_aio,iotype=read,sector=16,errno=1
nbdsh -u "$(uri srv)" -c '
from nbdtest import outcome
r = [outcome(h.pwrite, b"a" * 512, 0),
     outcome(h.pwrite, b"b" * 512, 0),
     outcome(h.pwrite, b"c" * 512, 0),
     outcome(h.pread, 512, 0),
     outcome(h.pread, 512, 8192),
     outcome(h.pread, 16384, 0),
     outcome(h.pwrite, b"d" * 512, 8192)]
assert r == ["ok", "ENOSPC", "ok", "ok", "EPERM", "EPERM", "ok"], r
assert h.pread(512, 0) == b"c" * 512
'

# block-status is only failed when asked for (QEMU's default iotypes
# leave it out); the filter raises extents_aio for it.
start_nbdkit bs --filter="$(filter blkdebug)" memory 1M \
  blkdebug-inject=event=none,errno=EIO \
  blkdebug-inject=event=extents_aio,iotype=block-status,errno=ENOSPC,once=on
nbdsh --base-allocation -u "$(uri bs)" -c '
from nbdtest import outcome
cb = lambda *args: 0
r = [outcome(h.pread, 512, 0), outcome(h.block_status, 65536, 0, cb),
     outcome(h.block_status, 65536, 0, cb), outcome(h.pread, 512, 0)]
assert r == ["EIO", "ENOSPC", "ok", "ok"], r
'
