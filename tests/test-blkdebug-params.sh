#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Bad rules and parameters: a clear error at start-up naming the file,
# the line and the value; good ones start.
. "$abs_top_srcdir/tests/functions.sh"
F="$(filter blkdebug)"
requires_cmd nbdsh
# nbdkit started outside start_nbdkit: the sanitizer runtimes preloaded
# like start_nbdkit does (sanitizer builds only).
NBDKIT="$(nbdkit_wrapper)"

cfg="$tmpdir/rules.cfg"
printf '[inject-error]\nevent = write_aio\n' > "$cfg"
expect_fail_nbdkit "rules.cfg:2: the value of 'event' must be in double quotes" \
  --filter="$F" memory 1M blkdebug-config="$cfg"
printf '# ok\n[inject-error]\nevent="write_aio"\n' > "$cfg"
expect_fail_nbdkit "rules.cfg:3: write 'event = ...' with spaces around '='" \
  --filter="$F" memory 1M blkdebug-config="$cfg"
printf '[inject-error]\nevent = "refblock_alloc.write"\n' > "$cfg"
expect_fail_nbdkit "rules.cfg:2: event: 'refblock_alloc.write' is the old dotted name; use 'refblock_alloc_write'" \
  --filter="$F" memory 1M blkdebug-config="$cfg"
printf '[inject-error]\nevent = "read_aio"\nerrno = "EWHAT"\n' > "$cfg"
expect_fail_nbdkit "rules.cfg:3: errno: 'EWHAT' is not an errno" \
  --filter="$F" memory 1M blkdebug-config="$cfg"
expect_fail_nbdkit "blkdebug-config: cannot open '$tmpdir/nope.cfg'" \
  --filter="$F" memory 1M blkdebug-config="$tmpdir/nope.cfg"
expect_fail_nbdkit "blkdebug-inject: cannot parse 'event=read_aoi': event: unknown event 'read_aoi'" \
  --filter="$F" memory 1M blkdebug-inject=event=read_aoi
expect_fail_nbdkit "blkdebug-inject: .*unknown inject-error attribute 'erno'" \
  --filter="$F" memory 1M blkdebug-inject=event=read_aio,erno=5
expect_fail_nbdkit "blkdebug-set-state: .*new_state: 'x' is not a state number" \
  --filter="$F" memory 1M blkdebug-set-state=event=read_aio,new_state=x
expect_fail_nbdkit "blkdebug-inject: .*sector: '-2' is not a sector number \(512-byte units, or -1 for any sector\)" \
  --filter="$F" memory 1M blkdebug-inject=event=read_aio,sector=-2
expect_fail_nbdkit "blkdebug-layer: unknown value 'middle' .expected one of: client, backend." \
  --filter="$F" memory 1M blkdebug-layer=middle
expect_fail_nbdkit "blkdebug-align: '3000' is not a power of two" \
  --filter="$F" memory 1M blkdebug-align=3000
expect_fail_nbdkit "blkdebug-max-transfer: 1000 is not a multiple of blkdebug-align=512" \
  --filter="$F" memory 1M blkdebug-align=512 blkdebug-max-transfer=1000
expect_fail_nbdkit "blkdebug-frob: unknown blkdebug parameter" \
  --filter="$F" memory 1M blkdebug-frob=1

# Rules that can never fire.  In the client layer (the default) only
# the filter's own events are raised: a plugin event is refused.
expect_fail_nbdkit "blkdebug-inject #1: event 'l2_load' is raised only by plugins.*blkdebug-layer=backend" \
  --filter="$F" memory 1M blkdebug-inject=event=l2_load,errno=EIO
printf '[inject-error]\nevent = "read_aio"\n\n[set-state]\nevent = "cluster_alloc"\nstate = "1"\nnew_state = "2"\n' > "$cfg"
expect_fail_nbdkit "rules.cfg:[0-9]+: event 'cluster_alloc' is raised only by plugins" \
  --filter="$F" memory 1M blkdebug-config="$cfg"
# In the backend layer it depends on the plugin: the memory plugin
# reports nothing through the hook, which a warning says after the
# first connection.
start_nbdkit be --filter="$F" memory 1M blkdebug-layer=backend \
  blkdebug-inject=event=read_aio,errno=EIO
nbdsh -u "$(uri be)" -c 'h.pread(512, 0)'
nbdsh -u "$(uri be)" -c 'h.pread(512, 0)'
stop_nbdkit be
grep -q "warning: blkdebug-layer=backend, but the plugin reported no event and no I/O" \
  "$(server_log be)" || { cat "$(server_log be)"; fail "no warning for a backend layer without the hook"; }
[ "$(grep -c "warning: blkdebug-layer=backend" "$(server_log be)")" = 1 ] ||
  fail "the backend-layer warning is not given once"

# Stacked twice: nbdkit loads the module once, the layers would share
# all state; refused (also with a control socket and rules, which the
# two unloads must release once).
expect_fail_nbdkit "blkdebug: the filter is stacked 2 times.*give --filter=blkdebug once" \
  --filter="$F" --filter="$F" memory 1M
expect_fail_nbdkit "blkdebug: the filter is stacked 2 times" \
  --filter="$F" --filter="$F" memory 1M blkdebug-control="$tmpdir/twice.sock" \
  blkdebug-inject=event=read_aio,errno=EIO
[ ! -e "$tmpdir/twice.sock" ] || fail "control socket of the refused server left behind"

# Out-of-range values: refused, not wrapped.
expect_fail_nbdkit "sector: '18014398509481984' is out of range" \
  --filter="$F" memory 1M blkdebug-inject=event=read_aio,sector=18014398509481984
expect_fail_nbdkit "delay: '5124095.6h': duration too large" \
  --filter="$F" memory 1M blkdebug-inject=event=read_aio,delay=5124095.6h
expect_fail_nbdkit "torn: '99999999999' is larger than any request" \
  --filter="$F" memory 1M blkdebug-inject=event=write_aio,iotype=write,torn=99999999999

printf '[inject-error]\nevent = "read_aio"\nerrno = "28"\n\n[set-state]\nevent = "none"\nnew_state = "2"\n' > "$cfg"
start_nbdkit ok --filter="$F" memory 1M blkdebug-config="$cfg" \
  blkdebug-inject=event=write_aio,errno=ENOSPC,sector=2048,once=on \
  blkdebug-set-state=event=read_aio,state=1,new_state=2 blkdebug-seed=5
stop_nbdkit ok
