#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# latency-control=SOCKET: query counts what was sent, reset zeroes,
# boundaries changes the bins of the next query, interval changes how
# often the file is rewritten, bad commands get ERR lines, --json
# answers parse.  Real clients: blkctl and nbdsh.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh jq

ctl="$abs_top_builddir/tools/blkctl/blkctl"
[ -x "$ctl" ] || fail "no $ctl"
cs="$tmpdir/lat.sock"
f="$tmpdir/live.json"
start_nbdkit srv --filter="$(filter latency)" memory 1M \
  latency-control="$cs" latency-file="$f" latency-format=json
[ -S "$cs" ] || fail "no control socket"

q () { "$ctl" --json "$cs" query "$@" | jq -c '.result'; }

# query: the counts of what nbdsh sent.
nbdsh -u "$(uri srv)" -c '
for i in range(5): h.pread(512, 0)
for i in range(3): h.pwrite(b"x" * 4096, 0)
h.flush()'
q | jq -e '.ops.read.count == 5 and .ops.write.count == 3 and
           .ops.flush.count == 1 and .ops.write.bytes == 12288' >/dev/null ||
  fail "query counts: $(q)"
# The recent window: min/max/mean, and a query does not restart it.
q | jq -e '.ops.read.recent.count == 5 and .ops.read.recent.min_ns > 0 and
           .ops.read.recent.max_ns >= .ops.read.recent.min_ns and
           .ops.read.recent.mean_ns > 0 and .recent_ns > 0' >/dev/null ||
  fail "recent window: $(q)"
# query OP: only that op; text mode answers OK + the same JSON.
q write | jq -e '(.ops | keys) == ["write"] and .ops.write.count == 3' \
  >/dev/null || fail "query write: $(q write)"
"$ctl" "$cs" query read | sed -n 's/^OK //p' | jq -e '.ops.read.count == 5' \
  >/dev/null || fail "text query"
q all nbdkit | jq -e '.layers == {} and .ops.read.count == 5' >/dev/null ||
  fail "query all nbdkit"

# reset zeroes everything, and counting goes on after it.
"$ctl" "$cs" reset | grep -qx OK || fail "reset"
q | jq -e '[.ops[] | .count, .bytes, .recent.count, .total_ns] | all(. == 0)' \
  >/dev/null || fail "after reset: $(q)"
q | jq -e '.ops.read.min_ns == null and ([.ops.read.histogram.bins[]] | add) == 0' \
  >/dev/null || fail "after reset, min/bins: $(q)"
nbdsh -u "$(uri srv)" -c 'h.pread(512, 0); h.pread(512, 0)'
q read | jq -e '.ops.read.count == 2 and .ops.read.bytes == 1024 and
                ([.ops.read.histogram.bins[]] | add) == 2' >/dev/null ||
  fail "counts after reset: $(q read)"

# boundaries: the next query has the new bins, all samples in them.
"$ctl" "$cs" boundaries read 1ns,1h | grep -qx OK || fail "boundaries read"
q read | jq -e '.ops.read.histogram.boundaries == [1, 3600000000000] and
                .ops.read.histogram.bins == [0, 2, 0]' >/dev/null ||
  fail "bins after boundaries: $(q read)"
q write | jq -e '(.ops.write.histogram.boundaries | length) > 2' >/dev/null ||
  fail "boundaries read changed write"
"$ctl" "$cs" boundaries all 10s | grep -qx OK || fail "boundaries all"
q | jq -e '[.ops[] | .histogram.boundaries == [10000000000]] | all' \
  >/dev/null || fail "boundaries all: $(q)"
"$ctl" "$cs" boundaries all | grep -qx OK || fail "boundaries all (clear)"
q read | jq -e '(.ops.read.histogram.boundaries | length) == 25' >/dev/null ||
  fail "default boundaries back: $(q read)"

# interval: no periodic file until asked; then it is rewritten; 0 stops.
sleep 0.5
[ -e "$f" ] && fail "report file written without an interval"
"$ctl" "$cs" interval 100ms | grep -qx OK || fail "interval 100ms"
for _ in $(seq 1 50); do [ -s "$f" ] && break; sleep 0.1; done
jq -e '.ops.read.count == 2' "$f" >/dev/null || fail "periodic file"
# ~10 rewrites a second: the elapsed_ns in the file moves.
e1=$(jq .elapsed_ns "$f"); sleep 0.5; e2=$(jq .elapsed_ns "$f")
[ "$e2" -gt "$e1" ] || fail "file not rewritten at 100ms ($e1, $e2)"
"$ctl" "$cs" interval 0 | grep -qx OK || fail "interval 0"
sleep 0.3
e1=$(jq .elapsed_ns "$f"); sleep 0.6; e2=$(jq .elapsed_ns "$f")
[ "$e2" -eq "$e1" ] || fail "file still rewritten after interval 0"
"$ctl" "$cs" interval 200ms | grep -qx OK || fail "interval 200ms"
e1=$(jq .elapsed_ns "$f"); sleep 0.7; e2=$(jq .elapsed_ns "$f")
[ "$e2" -gt "$e1" ] || fail "file not rewritten after interval 200ms"

# Bad commands: ERR lines naming the bad value, the server lives on.
expect_err () {
  local out
  out=$("$ctl" "$cs" "$@") && fail "'$*' succeeded: $out"
  echo "$out" | grep -q "^ERR .*$1\|^ERR" || fail "'$*': no ERR line: $out"
  echo "$out"
}
expect_err query bogus | grep -q "'bogus'" || fail "query bogus"
expect_err query read nosuchlayer | grep -q "nosuchlayer" || fail "query layer"
expect_err boundaries read 4ms,2ms | grep -q "4ms,2ms" || fail "boundaries order"
expect_err boundaries frob 1ms | grep -q "'frob'" || fail "boundaries op"
expect_err interval 1us | grep -q "1us" || fail "interval too short"
expect_err interval soon | grep -q "soon" || fail "interval junk"
expect_err reset now >/dev/null
expect_err nosuchcommand >/dev/null
"$ctl" --json "$cs" interval soon | jq -e '.ok == false and (.error | test("soon"))' \
  >/dev/null || fail "--json ERR"
"$ctl" --json "$cs" reset | jq -e '.ok == true' >/dev/null || fail "--json OK"
"$ctl" "$cs" help | grep -q boundaries || fail "help lists boundaries"
kill -0 "$(server_pid srv)" || fail "server died"
stop_nbdkit srv
[ -e "$cs" ] && fail "control socket left behind"

# Without a report file, interval has nothing to write: ERR.
cs2="$tmpdir/lat2.sock"
start_nbdkit srv2 --filter="$(filter latency)" memory 1M latency-control="$cs2"
out=$("$ctl" "$cs2" interval 1s) && fail "interval without a file: $out"
echo "$out" | grep -q "^ERR .*no report file" || fail "interval without a file: $out"
"$ctl" "$cs2" query read | grep -q '^OK {' || fail "query on srv2"
stop_nbdkit srv2

# A path it cannot listen on stops nbdkit with a clear error.
expect_fail_nbdkit "latency-control: cannot listen on '$tmpdir/no/such/dir/s'" \
  --filter="$(filter latency)" memory 1M latency-control="$tmpdir/no/such/dir/s"
exit 0
