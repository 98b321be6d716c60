#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The log is append-only with nothing to fix up at exit: after nbdkit
# is killed with SIGKILL, the log holds every request that completed
# more than the writer's batch time (20ms) before, and reads cleanly.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh jq
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"

start_nbdkit rec --filter="$(filter blkreplay)" memory 4M \
  blkreplay-log="$tmpdir/rec.blog" blkreplay-data=full
nbdsh -u "$(uri rec)" -c '
for i in range(50):
    h.pwrite(bytes([i]) * 4096, i * 4096)
'
sleep 0.5
kill -KILL "$(server_pid rec)"
"$blkreplay" verify "$tmpdir/rec.blog" ||
  fail "the log of a killed server does not verify"
n="$("$blkreplay" dump --json "$tmpdir/rec.blog" | jq -s '[.[] | select(.type == "request")] | length')"
[ "$n" = 50 ] || fail "$n of 50 requests in the log of a killed server"

# The log replays: a fresh export gets the same data.
start_nbdkit rep memory 4M
"$blkreplay" run "$tmpdir/rec.blog" "$(uri rep)" --quiet > /dev/null ||
  fail "replay of the killed server's log"
nbdsh -u "$(uri rep)" -c 'assert h.pread(4096, 49 * 4096) == bytes([49]) * 4096'
