#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The latency filter twice in one stack: nbdkit loads a module once per
# process, so both share the filter's globals.  It is refused with a
# clear error, and unloading twice (--dump-plugin) does not double-free.
. "$abs_top_srcdir/tests/functions.sh"
F="$(filter latency)"

expect_fail_nbdkit "the latency filter can be loaded only once per nbdkit process" \
  --filter="$F" --filter="$F" memory 1M
expect_fail_nbdkit "the latency filter can be loaded only once per nbdkit process" \
  --filter="$F" --filter=delay --filter="$F" memory 1M latency-file="$tmpdir/r"

# --dump-plugin loads and unloads both instances without config_complete.
out="$tmpdir/dump.log"
# shellcheck disable=SC2046
env $(nbdkit_env) "$NBDKIT" --filter="$F" --filter="$F" memory 1M \
  latency-file="$tmpdir/r" latency-boundaries=1ms --dump-plugin \
  >"$out" 2>&1 || { cat "$out"; fail "--dump-plugin with the filter twice failed"; }
grep -Eiq "double free|AddressSanitizer|abort" "$out" && { cat "$out"; fail "crash at unload"; }
exit 0
