#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Events a plugin reports through the hook drive the same engine, and
# with blkdebug-layer=backend a failure hits the plugin's own bracketed
# backend I/O (as QEMU's blkdebug under qcow2 fails the I/O below it).
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh

start_nbdkit srv --filter="$(filter blkdebug)" "$(plugin hooktest)" size=1M \
  blkdebug-layer=backend \
  blkdebug-inject=event=write_aio,iotype=write,errno=ENOSPC,once=on \
  blkdebug-set-state=event=flush_to_disk,state=1,new_state=2 \
  blkdebug-inject=event=read_aio,state=2,iotype=read,errno=EPERM \
  blkdebug-inject=event=pwritev,errno=EIO
nbdsh -u "$(uri srv)" -c '
from nbdtest import outcome
r = [outcome(h.pwrite, b"a" * 512, 0),   # write_aio from the plugin
     outcome(h.pwrite, b"b" * 512, 0),   # once: gone
     outcome(h.pread, 512, 0),           # state 1: not armed
     outcome(h.flush),                   # flush_to_disk: state 2
     outcome(h.pread, 512, 0),           # armed by the plugin read_aio
     outcome(h.zero, 512, 0)]            # iotype read only
# pwritev is raised only by the filter in client mode: never here.
assert r == ["ENOSPC", "ok", "ok", "ok", "EPERM", "ok"], r
'
stop_nbdkit srv

# In client mode the plugin's events do not count (QEMU's raw format
# over blkdebug never sees them): the plugin's flush_to_disk (nothing
# written yet, so the filter raises none) arms nothing, and each write
# raises write_aio once, so a set-state chain advances once per write.
start_nbdkit cl --filter="$(filter blkdebug)" "$(plugin hooktest)" size=1M \
  blkdebug-inject=event=flush_to_disk,iotype=read,errno=EPERM \
  blkdebug-set-state=event=write_aio,state=1,new_state=2 \
  blkdebug-set-state=event=write_aio,state=2,new_state=3 \
  blkdebug-inject=event=write_aio,state=3,iotype=write,errno=ENOSPC
nbdsh -u "$(uri cl)" -c '
from nbdtest import outcome
r = [outcome(h.pread, 512, 0),
     outcome(h.flush),              # the plugin reports flush_to_disk
     outcome(h.pread, 512, 0),      # not armed by the plugin event
     outcome(h.pwrite, b"a" * 512, 0),   # state 1 -> 2
     outcome(h.pwrite, b"a" * 512, 0),   # state 2 -> 3
     outcome(h.pwrite, b"a" * 512, 0)]   # state 3: armed, fails
assert r == ["ok", "ok", "ok", "ok", "ok", "ENOSPC"], r
'
stop_nbdkit cl
