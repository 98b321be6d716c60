#!/usr/bin/env bash
# Bad rules and parameters: a clear error at start-up naming the file,
# the line and the value; good ones start.
. "$abs_top_srcdir/tests/functions.sh"
F="$(filter blkdebug)"

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
expect_fail_nbdkit "blkdebug-inject: .*sector: '-1' is not a sector number" \
  --filter="$F" memory 1M blkdebug-inject=event=read_aio,sector=-1
expect_fail_nbdkit "blkdebug-layer: unknown layer 'middle'" \
  --filter="$F" memory 1M blkdebug-layer=middle
expect_fail_nbdkit "blkdebug-align: '3000' is not a power of two" \
  --filter="$F" memory 1M blkdebug-align=3000
expect_fail_nbdkit "blkdebug-max-transfer: 1000 is not a multiple of blkdebug-align=512" \
  --filter="$F" memory 1M blkdebug-align=512 blkdebug-max-transfer=1000
expect_fail_nbdkit "blkdebug-frob: unknown blkdebug parameter" \
  --filter="$F" memory 1M blkdebug-frob=1

printf '[inject-error]\nevent = "read_aio"\nerrno = "28"\n\n[set-state]\nevent = "none"\nnew_state = "2"\n' > "$cfg"
start_nbdkit ok --filter="$F" memory 1M blkdebug-config="$cfg" \
  blkdebug-inject=event=write_aio,errno=ENOSPC,sector=2048,once=on \
  blkdebug-set-state=event=read_aio,state=1,new_state=2 blkdebug-seed=5
stop_nbdkit ok
