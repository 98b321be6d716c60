#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Several outputs at once: a Prometheus file rewritten every interval
# for monitoring, a JSON file, and the text report on stderr at exit
# (latency-output=FORMAT:PATH, repeatable; PATH - is stderr).
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh jq
F="$(filter latency)"

start_nbdkit srv --filter="$F" memory 1M \
  latency-output=prometheus:"$tmpdir/m.prom" \
  latency-output=json:"$tmpdir/r.json" \
  latency-output=text:- \
  latency-interval=100ms
nbdsh -u "$(uri srv)" -c 'h.pread(512, 0)' -c 'h.pread(512, 512)'
# Periodic: both files appear while nbdkit runs, with the two reads.
for _ in $(seq 1 50); do
  grep -q '^nbdkit_latency_seconds_count{layer="nbdkit",op="read"} 2$' "$tmpdir/m.prom" 2>/dev/null &&
    jq -e '.ops.read.count == 2' "$tmpdir/r.json" >/dev/null 2>&1 && break
  sleep 0.1
done
grep -q '^nbdkit_latency_seconds_count{layer="nbdkit",op="read"} 2$' "$tmpdir/m.prom" ||
  fail "no periodic prometheus file"
jq -e '.ops.read.count == 2' "$tmpdir/r.json" >/dev/null || fail "no periodic json file"
# stderr is not written every interval, only at exit.
grep -q '^@nbdkit_read' "$(server_log srv)" && fail "text report on stderr before exit"
nbdsh -u "$(uri srv)" -c 'h.pread(512, 0)'
stop_nbdkit srv
log="$(server_log srv)"
[ "$(grep -c '^@nbdkit_read: count 3,' "$log")" = 1 ] ||
  { cat "$log"; fail "no single text report with 3 reads on stderr at exit"; }
grep -q '^nbdkit_latency_seconds_count{layer="nbdkit",op="read"} 3$' "$tmpdir/m.prom" ||
  fail "prometheus file not rewritten at exit"
jq -e '.ops.read.count == 3' "$tmpdir/r.json" >/dev/null || fail "json file not rewritten at exit"
if command -v promtool >/dev/null; then
  promtool check metrics < "$tmpdir/m.prom" || fail "promtool rejects the metrics"
fi

# latency-file/latency-format still make one output, beside latency-output.
start_nbdkit both --filter="$F" memory 1M latency-file="$tmpdir/old.json" \
  latency-format=json latency-output=prometheus:"$tmpdir/new.prom"
nbdsh -u "$(uri both)" -c 'h.pread(512, 0)'
stop_nbdkit both
jq -e '.ops.read.count == 1' "$tmpdir/old.json" >/dev/null || fail "latency-file output"
grep -q 'op="read"} 1$' "$tmpdir/new.prom" || fail "latency-output beside latency-file"
grep -q '^@nbdkit_read' "$(server_log both)" &&
  fail "text report on stderr although outputs were given"

# Bad outputs are refused, echoing the value.
expect_fail_nbdkit "latency-output: 'prometheus' is not FORMAT:PATH" \
  --filter="$F" memory 1M latency-output=prometheus
expect_fail_nbdkit "latency-output: unknown value 'xml' \\(expected one of: text, json, prometheus\\)" \
  --filter="$F" memory 1M latency-output=xml:/tmp/x
expect_fail_nbdkit "latency-output: 'json:': no path" \
  --filter="$F" memory 1M latency-output=json:
expect_fail_nbdkit "latency-output: '$tmpdir/same' is given twice" \
  --filter="$F" memory 1M latency-output=json:"$tmpdir/same" \
  latency-output=text:"$tmpdir/same"
expect_fail_nbdkit "latency-file: cannot create a file in '$tmpdir/nodir'" \
  --filter="$F" memory 1M latency-output=json:"$tmpdir/nodir/r.json"
expect_fail_nbdkit "latency-interval needs latency-file=PATH or latency-output=FORMAT:PATH" \
  --filter="$F" memory 1M latency-output=text:- latency-interval=1s
exit 0
