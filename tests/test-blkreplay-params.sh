#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Bad parameters of the filter and the tool get clear errors.
. "$abs_top_srcdir/tests/functions.sh"
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"
f="$(filter blkreplay)"

expect_fail_nbdkit 'blkreplay-log=FILE is required' --filter="$f" memory 1M
expect_fail_nbdkit "blkreplay-mode: unknown value 'play' \\(expected one of: record, replay\\)" --filter="$f" memory 1M \
  blkreplay-log="$tmpdir/x" blkreplay-mode=play
expect_fail_nbdkit "blkreplay-data: unknown value 'some' \\(expected one of: none, hash, full\\)" --filter="$f" memory 1M \
  blkreplay-log="$tmpdir/x" blkreplay-data=some
expect_fail_nbdkit "blkreplay-sync: unknown value 'often' \\(expected one of: none, interval, always\\)" --filter="$f" memory 1M \
  blkreplay-log="$tmpdir/x" blkreplay-sync=often
expect_fail_nbdkit "blkreplay-sync-interval: cannot parse '1 fortnight'" --filter="$f" \
  memory 1M blkreplay-log="$tmpdir/x" blkreplay-sync-interval='1 fortnight'
expect_fail_nbdkit "blkreplay-queue: '1K' is too small" --filter="$f" memory 1M \
  blkreplay-log="$tmpdir/x" blkreplay-queue=1K
expect_fail_nbdkit "blkreplay-divergence: unknown value 'maybe' \\(expected one of: fail, warn\\)" --filter="$f" \
  memory 1M blkreplay-log="$tmpdir/x" blkreplay-divergence=maybe
expect_fail_nbdkit "blkreplay-on-error: unknown value 'sometimes' \\(expected one of: fail, passthrough\\)" \
  --filter="$f" memory 1M blkreplay-log="$tmpdir/x" blkreplay-on-error=sometimes
# A misspelt parameter is refused by the filter, not passed to the plugin.
expect_fail_nbdkit "blkreplay-verbose: unknown blkreplay filter parameter \\(valid: blkreplay-log, blkreplay-mode, blkreplay-data, blkreplay-sync, blkreplay-sync-interval, blkreplay-queue, blkreplay-on-error, blkreplay-divergence, blkreplay-order-timeout, blkreplay-layer, blkreplay-control, blkreplay-hash;" \
  --filter="$f" memory 1M blkreplay-log="$tmpdir/x" blkreplay-verbose=1
expect_fail_nbdkit "blkreplay-layer: unknown value 'plugin' \\(expected one of: nbdkit, backend\\)" \
  --filter="$f" memory 1M blkreplay-log="$tmpdir/x" blkreplay-layer=plugin
expect_fail_nbdkit "blkreplay-layer: 'backend' records the plugin's own I/O on its image file, which cannot be replayed through the filter .*'blkreplay crash' or 'blkreplay image'" \
  --filter="$f" memory 1M blkreplay-log="$tmpdir/x" blkreplay-layer=backend \
  blkreplay-mode=replay
expect_fail_nbdkit "blkreplay-queue: cannot parse 'lots'" --filter="$f" memory 1M \
  blkreplay-log="$tmpdir/x" blkreplay-queue=lots
expect_fail_nbdkit "cannot create '$tmpdir/no/such/dir/log'" --filter="$f" memory 1M \
  blkreplay-log="$tmpdir/no/such/dir/log"
# Record mode maps its log: a pipe, a device or a directory is refused,
# naming the path and what it is (and a pipe is not opened: no hang).
mkfifo "$tmpdir/fifo"
expect_fail_nbdkit "blkreplay-log: '$tmpdir/fifo' is not a regular file \\(a pipe\\): record mode maps its log" \
  --filter="$f" memory 1M blkreplay-log="$tmpdir/fifo"
expect_fail_nbdkit "blkreplay-log: '/dev/null' is not a regular file \\(a character device\\)" \
  --filter="$f" memory 1M blkreplay-log=/dev/null
expect_fail_nbdkit "blkreplay-log: '$tmpdir' is not a regular file \\(a directory\\)" \
  --filter="$f" memory 1M blkreplay-log="$tmpdir"
expect_fail_nbdkit "$tmpdir/missing: No such file" --filter="$f" memory 1M \
  blkreplay-log="$tmpdir/missing" blkreplay-mode=replay
echo "garbage garbage garbage garbage garbage garbage" > "$tmpdir/garbage"
expect_fail_nbdkit "not a blkreplay log" --filter="$f" memory 1M \
  blkreplay-log="$tmpdir/garbage" blkreplay-mode=replay

t () {
  want="$1"; shift
  st=0
  "$blkreplay" "$@" > "$tmpdir/out" 2>&1 || st=$?
  [ $st = 2 ] || { cat "$tmpdir/out"; fail "blkreplay $*: exit $st, expected 2"; }
  grep -q -- "$want" "$tmpdir/out" || { cat "$tmpdir/out"; fail "blkreplay $*: no '$want'"; }
}
t "unknown command 'replay'" replay x
t 'Usage' run
t "not a blkreplay log" dump "$tmpdir/garbage"
t "$tmpdir/missing: No such file" stats "$tmpdir/missing"
t "--timing: unknown value 'slow' (expected one of: fast, recorded, scale=X)" run "$tmpdir/garbage" nbd://x --timing=slow
t "--timing: cannot parse '-1'" run "$tmpdir/garbage" nbd://x --timing=scale=-1
t "--queue-depth: cannot parse '0'" run "$tmpdir/garbage" nbd://x --queue-depth=0
t "import needs one of" import -o "$tmpdir/o"
"$blkreplay" --help | grep -q 'blkreplay run LOG URI' || fail "--help"
