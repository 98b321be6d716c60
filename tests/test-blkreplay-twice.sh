#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# --filter=blkreplay twice used to deadlock on SIGTERM (nbdkit loads a
# module once per process: both instances shared the log writer and the
# second .cleanup joined a thread already joined).  It is refused at
# start-up with a clear error, in both modes, and nothing is left
# running.
. "$abs_top_srcdir/tests/functions.sh"

f="$(filter blkreplay)"
# refused PATTERN ARGS...: nbdkit exits non-zero by itself within 10s
# (SIGKILL after: the old deadlock ignores SIGTERM), PATTERN on stderr.
refused () {
  pat="$1"; shift
  st=0
  # shellcheck disable=SC2046
  timeout -k 2 10 env $(nbdkit_env) "$NBDKIT" -f -U "$tmpdir/x.sock" "$@" \
    > "$tmpdir/x.log" 2>&1 || st=$?
  case $st in
  0) fail "nbdkit accepted: $*" ;;
  124|137) cat "$tmpdir/x.log"; fail "nbdkit did not refuse (it served, then hung or had to be killed): $*" ;;
  esac
  grep -Eq -- "$pat" "$tmpdir/x.log" ||
    { cat "$tmpdir/x.log"; fail "the error does not match '$pat'"; }
}
refused 'blkreplay: the filter is loaded 2 times \(--filter=blkreplay given more than once\)' \
  --filter="$f" --filter="$f" memory 1M blkreplay-log="$tmpdir/a.blog"
refused 'the filter is loaded 3 times' \
  --filter="$f" --filter=noextents --filter="$f" --filter="$f" memory 1M \
  blkreplay-log="$tmpdir/a.blog" blkreplay-mode=replay
# One instance still records.
start_nbdkit one --filter="$f" memory 1M blkreplay-log="$tmpdir/one.blog"
stop_nbdkit one || fail "one instance: nbdkit exited with an error"
"$abs_top_builddir/tools/blkreplay/blkreplay" verify "$tmpdir/one.blog"
