#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A latency-file nbdkit cannot write is refused at start-up, naming the
# path and the reason, instead of failing at every interval and losing
# the report at exit.  Tests run as root, so the unwritable cases are
# ones root cannot write either.
. "$abs_top_srcdir/tests/functions.sh"
F="$(filter latency)"

# The directory does not exist.
expect_fail_nbdkit "latency-file: cannot create a file in '$tmpdir/nodir'.*No such file or directory" \
  --filter="$F" memory 1M latency-file="$tmpdir/nodir/r.json"
expect_fail_nbdkit "latency-file: cannot create a file in '$tmpdir/nodir'" \
  --filter="$F" memory 1M latency-file="$tmpdir/nodir/r.json" latency-interval=1s

# A path under a regular file (ENOTDIR, even for root).
: > "$tmpdir/plain"
expect_fail_nbdkit "latency-file: cannot create a file in '$tmpdir/plain'.*Not a directory" \
  --filter="$F" memory 1M latency-file="$tmpdir/plain/r.json"

# A directory root cannot create files in: sysfs (EACCES), or a
# read-only mount of it (EROFS) in some containers.
if ! mktemp -p /sys latency-probe.XXXXXX >/dev/null 2>&1; then
  expect_fail_nbdkit "latency-file: cannot create a file in '/sys'.*(Permission denied|Read-only)" \
    --filter="$F" memory 1M latency-file=/sys/r.json
else
  echo "note: /sys is writable here, that case is not tested"
fi

# The path is a directory: the final rename would fail.
mkdir "$tmpdir/adir"
expect_fail_nbdkit "latency-file: '$tmpdir/adir' is a directory" \
  --filter="$F" memory 1M latency-file="$tmpdir/adir"

# The probe leaves nothing behind in a good directory, and nbdkit starts.
mkdir "$tmpdir/good"
start_nbdkit ok --filter="$F" memory 1M latency-file="$tmpdir/good/r.json"
[ -z "$(ls "$tmpdir/good")" ] || fail "start-up probe left files: $(ls "$tmpdir/good")"
stop_nbdkit ok
[ -s "$tmpdir/good/r.json" ] || fail "no report at exit"
exit 0
