#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# latency-interval rewrites the file while nbdkit runs, atomically.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh jq

f="$tmpdir/live.json"
start_nbdkit srv --filter="$(filter latency)" memory 1M \
  latency-file="$f" latency-format=json latency-interval=100ms
nbdsh -u "$(uri srv)" -c 'h.pread(512, 0)'
for _ in $(seq 1 50); do
  [ -s "$f" ] && jq -e '.ops.read.count == 1' "$f" >/dev/null 2>&1 && break
  sleep 0.1
done
jq -e '.ops.read.count == 1' "$f" >/dev/null || fail "no periodic report with the first read"
nbdsh -u "$(uri srv)" -c 'h.pread(512, 0)' -c 'h.pread(512, 0)'
# Poll while it is being rewritten: every read must parse (rename is atomic).
n=0
for _ in $(seq 1 50); do
  jq . "$f" >/dev/null || fail "half-written report seen"
  jq -e '.ops.read.count == 3' "$f" >/dev/null && n=$((n + 1)) && break
  sleep 0.05
done
[ $n -eq 1 ] || fail "periodic report never showed 3 reads"
kill -0 "$(server_pid srv)" || fail "server died"
stop_nbdkit srv
jq -e '.ops.read.count == 3' "$f" >/dev/null || fail "final report"
ls "$tmpdir" | grep -q 'live.json.' && fail "temporary files left behind"
exit 0
