#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# When the report cannot be written at exit, nbdkit says so, naming the
# file, and exits non-zero; a failed periodic write is reported too.
. "$abs_top_srcdir/tests/functions.sh"
F="$(filter latency)"

# Remove the directory while nbdkit runs (root can always write to a
# directory, but not to one that is gone).
mkdir "$tmpdir/d"
start_nbdkit srv --filter="$F" memory 1M latency-file="$tmpdir/d/r.json"
rmdir "$tmpdir/d"
st=0
stop_nbdkit srv || st=$?
log="$(server_log srv)"
cat "$log"
[ "$st" -ne 0 ] || fail "nbdkit exited 0 although the report was lost"
grep -Eq "latency-file: .*'$tmpdir/d/r.json'.*No such file or directory" "$log" ||
  fail "no error naming the report file"
grep -q "report .* lost" "$log" || fail "no line saying the report was lost"

# The same with the periodic writer: each failed interval is an error
# (once, not at every interval), and the exit status is still non-zero.
mkdir "$tmpdir/e"
start_nbdkit per --filter="$F" memory 1M latency-file="$tmpdir/e/r.json" \
  latency-interval=50ms
# The writer may be creating its temporary file while rm empties the
# directory ("Directory not empty"): retry until it is gone.
for _ in $(seq 1 50); do
  rm -rf "$tmpdir/e" 2>/dev/null && break
done
[ ! -e "$tmpdir/e" ] || fail "could not remove $tmpdir/e"
sleep 0.5
st=0
stop_nbdkit per || st=$?
log="$(server_log per)"
cat "$log"
[ "$st" -ne 0 ] || fail "nbdkit exited 0 although the report was lost (interval)"
n="$(grep -c "latency-file: .*'$tmpdir/e/r.json'" "$log")"
[ "$n" -ge 2 ] || fail "expected an interval error and an exit error, got $n"
[ "$n" -le 3 ] || fail "the same interval error repeated $n times"

# A good run still exits 0.
start_nbdkit ok --filter="$F" memory 1M latency-file="$tmpdir/ok.json"
stop_nbdkit ok || fail "nbdkit exited non-zero after a good report"
[ -s "$tmpdir/ok.json" ] || fail "no report"
exit 0
