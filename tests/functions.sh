# SPDX-License-Identifier: BSD-3-Clause
# nbdkit-blk: helpers sourced by every integration test script.
#
#   . "${abs_top_srcdir:-..}/tests/functions.sh"
#   requires_cmd nbdsh              # on PATH, or skip
#   requires qemu-img --version     # runs, or skip with its reason
#   start_nbdkit srv --filter="$(filter latency)" memory 1M
#   nbdsh -u "$(uri srv)" -c 'from nbdtest import outcome; ...'
#   stop_nbdkit srv                 # also done automatically at exit
#   on_exit "umount '$mnt'"         # cleanup, last registered runs first
#
# Every server runs on a Unix socket in a private temporary directory
# ($tmpdir), which is removed at exit after every process the test
# started has been stopped.  Exit 77 means "skipped" to automake.
# The mechanism (cleanup stack and its order, trace mode, sanitizer
# preload, server start) is in tests/core-functions.sh, shared with
# bench/functions.sh; docs/testing.md is the guide.

set -e
set -u

: "${abs_top_builddir:?run the tests with make check}"
: "${abs_top_srcdir:?run the tests with make check}"

BLK_TMP_PREFIX=nbdkit-blk-test
BLK_START_TIMEOUT=10
BLK_LOG_LINES=0
. "$abs_top_srcdir/tests/core-functions.sh"

# start_nbdkit NAME ARGS...: nbdkit -f on $tmpdir/NAME.sock, stderr in
# $tmpdir/NAME.log.  Waits until it accepts connections; stopped at
# exit in its place on the cleanup stack.
start_nbdkit ()
{
  local name="$1"; shift
  _blk_start "$name" "" "$@"
}

# stop_nbdkit NAME: SIGTERM, wait for a clean exit; returns its status.
stop_nbdkit () { _blk_stop "$1" gone-ok; }

# expect_fail_nbdkit PATTERN ARGS...: nbdkit must refuse to start, with
# an error message matching the extended regex PATTERN.
expect_fail_nbdkit ()
{
  local pat out
  pat="$1"; shift
  out="$tmpdir/expect-fail.log"
  rm -f "$tmpdir/expect-fail.sock"
  # shellcheck disable=SC2046
  if timeout -k 5 10 env $(nbdkit_env) "$NBDKIT" -f -U "$tmpdir/expect-fail.sock" "$@" \
       >"$out" 2>&1; then
    fail "nbdkit accepted: $*"
  fi
  if ! grep -Eq -- "$pat" "$out"; then
    cat "$out" >&2
    fail "nbdkit's error does not match '$pat'"
  fi
}
