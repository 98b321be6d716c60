#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Bad parameters give a clear error naming the key and the value.
. "$abs_top_srcdir/tests/functions.sh"
F="$(filter latency)"
expect_fail_nbdkit 'latency-boundaries: empty list' --filter="$F" memory 1M latency-boundaries=
expect_fail_nbdkit "latency-boundaries: boundary 2 \('1ms'.*not greater" \
  --filter="$F" memory 1M latency-boundaries=2ms,1ms
expect_fail_nbdkit 'latency-boundaries: boundary 1 .* is zero' --filter="$F" memory 1M latency-boundaries=0,1ms
expect_fail_nbdkit 'latency-boundaries: .*empty boundary at position 2' \
  --filter="$F" memory 1M latency-boundaries=1ms,,2ms
expect_fail_nbdkit "latency-boundaries-read: boundary 1: .*unknown unit 'xs'" \
  --filter="$F" memory 1M latency-boundaries-read=5xs
expect_fail_nbdkit "latency-boundaries-frobnicate: unknown operation" \
  --filter="$F" memory 1M latency-boundaries-frobnicate=1ms
expect_fail_nbdkit "latency-format: unknown value 'xml' \\(expected one of: text, json, prometheus\\)" --filter="$F" memory 1M latency-format=xml
expect_fail_nbdkit "latency-interval: .*too short" --filter="$F" memory 1M \
  latency-interval=1us latency-file="$tmpdir/x"
expect_fail_nbdkit "latency-interval needs latency-file" --filter="$F" memory 1M latency-interval=1s
expect_fail_nbdkit "latency-interval: .*negative" --filter="$F" memory 1M \
  latency-interval=-1s latency-file="$tmpdir/x"
# and good ones start
start_nbdkit ok --filter="$F" memory 1M latency-boundaries=10000,50000,100000 \
  latency-boundaries-flush=1ms,5ms latency-format=prometheus
stop_nbdkit ok
