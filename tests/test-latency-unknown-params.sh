#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A latency-* parameter the filter does not know (a typo) is refused by
# the filter, naming it and listing the valid ones, instead of being
# passed to the plugin.
. "$abs_top_srcdir/tests/functions.sh"
F="$(filter latency)"
valid="valid: latency-file, latency-format, latency-output, latency-interval, latency-labels, latency-control, latency-boundaries, latency-boundaries-OP"
expect_fail_nbdkit "latency-fromat: unknown latency filter parameter \($valid; see" \
  --filter="$F" memory 1M latency-fromat=json
expect_fail_nbdkit "latency-: unknown latency filter parameter" \
  --filter="$F" memory 1M latency-=1
expect_fail_nbdkit "latency-files: unknown latency filter parameter" \
  --filter="$F" memory 1M latency-files=/tmp/x
# Parameters of the plugin still reach it.
start_nbdkit ok --filter="$F" memory size=1M latency-format=json
stop_nbdkit ok
exit 0
