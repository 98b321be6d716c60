#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Each report format parses with a real consumer: jq for JSON, promtool
# (or the Python client's parser) for Prometheus, and the text format
# has the bpftrace shape.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh jq

run () {
  fmt="$1"; out="$tmpdir/lat.$fmt"
  start_nbdkit "$fmt" --filter="$(filter latency)" --filter=delay memory 1M \
    delay-read=3ms latency-file="$out" latency-format="$fmt"
  nbdsh -u "$(uri "$fmt")" -c '
for i in range(20):
    h.pread(512, 0)
h.pwrite(b"x" * 512, 0)
h.flush()
'
  stop_nbdkit "$fmt"
  [ -s "$out" ] || fail "$fmt: no report written"
}

run json
jq -e '.ops.read.count == 20 and .ops.write.count == 1 and .ops.flush.count == 1' \
  "$tmpdir/lat.json" >/dev/null || fail "json counts"
jq -e '.ops | keys == ["cache","extents","flush","read","trim","write","zero"]' \
  "$tmpdir/lat.json" >/dev/null || fail "json ops: $(jq -c '.ops|keys' "$tmpdir/lat.json")"

run prometheus
p="$tmpdir/lat.prometheus"
if command -v promtool >/dev/null; then
  promtool check metrics < "$p" || fail "promtool rejects the metrics"
fi
/usr/bin/python3 - "$p" <<'PY' || fail "prometheus parse"
import math, sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
h = fams["nbdkit_latency_seconds"]
assert h.type == "histogram", h.type
s = {(x.name, x.labels.get("op"), x.labels.get("le")): x.value for x in h.samples
     if x.labels.get("layer") == "nbdkit"}
assert s[("nbdkit_latency_seconds_count", "read", None)] == 20, s
assert s[("nbdkit_latency_seconds_bucket", "read", "+Inf")] == 20
# cumulative buckets never decrease
les = sorted((float(k[2]), v) for k, v in s.items()
             if k[0] == "nbdkit_latency_seconds_bucket" and k[1] == "read")
assert all(a[1] <= b[1] for a, b in zip(les, les[1:])), les
assert s[("nbdkit_latency_seconds_sum", "read", None)] >= 0.060
# the recent-window summary: 3ms reads, the quantiles near 3ms; no
# writes of 0.5: NaN (the only write was a 512 byte one, so write has a
# value; trim had none)
q = fams["nbdkit_latency_recent_seconds"]
assert q.type == "summary", q.type
v = {(x.labels.get("op"), x.labels.get("quantile")): x.value for x in q.samples
     if x.name == "nbdkit_latency_recent_seconds" and x.labels.get("layer") == "nbdkit"}
assert 0.003 <= v[("read", "0.5")] < 0.1, v
assert v[("read", "0.5")] <= v[("read", "0.99")] <= v[("read", "0.999")], v
assert math.isnan(v[("trim", "0.99")]), v
assert "nbdkit_latency_percentile_seconds" not in fams
PY

# Constant labels on every sample, escaped: two servers in one textfile
# directory stay apart.
start_nbdkit lab --filter="$(filter latency)" memory 1M \
  latency-file="$tmpdir/lab.prom" latency-format=prometheus \
  'latency-labels=export=vm1,host=a' 'latency-labels=note=a "b" \c'
nbdsh -u "$(uri lab)" -c 'h.pread(512, 0)'
stop_nbdkit lab
if command -v promtool >/dev/null; then
  promtool check metrics < "$tmpdir/lab.prom" || fail "promtool rejects the labelled metrics"
fi
/usr/bin/python3 - "$tmpdir/lab.prom" <<'PY' || fail "labelled prometheus parse"
import sys
from prometheus_client.parser import text_string_to_metric_families
n = 0
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    for x in f.samples:
        assert x.labels["export"] == "vm1" and x.labels["host"] == "a", x
        assert x.labels["note"] == 'a "b" \\c', x.labels["note"]
        n += 1
assert n > 100, n
PY
expect_fail_nbdkit "latency-labels: 'ex-port=1': 'ex-port' is not a Prometheus label name" \
  --filter="$(filter latency)" memory 1M latency-labels=ex-port=1
expect_fail_nbdkit "latency-labels: 'op=x': 'op' is a label the filter sets itself" \
  --filter="$(filter latency)" memory 1M latency-labels=op=x

run text
t="$tmpdir/lat.text"
grep -q '^@nbdkit_read: count 20,' "$t" || fail "text: no read header"
grep -q '^@nbdkit_write: count 1,' "$t" || fail "text: no write header"
# 3ms reads: the (2.097ms, 4.194ms] row holds some of them, none is in a
# faster row.  (How many land there is the machine's business: under
# load or ASan most replies come later, so the count is not asserted.)
grep -Eq '^\(2.097ms, 4.194ms\] +[1-9][0-9]* \|@+ *\|$' "$t" ||
  { cat "$t"; fail "text: 3ms reads not in the (2.097ms, 4.194ms] row"; }
# (In the read section only: the write, not delayed, may take over 1ms
# under ASan.)
sed -n '/^@nbdkit_read/,/^$/p' "$t" | grep -Eq '^\(1.049ms, 2.097ms\]' &&
  { cat "$t"; fail "text: reads faster than the delay"; }
true
