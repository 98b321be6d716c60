#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# SIGKILL in the middle of a recording: the recorder stores records
# into its mapped, preallocated log and never gets to cut the
# preallocated space off.  The log still reads, up to its zero tail,
# with the note "the recorder did not stop cleanly", and it holds every
# write the clients had a reply for before the kill.  Four clients
# write concurrently; a small blkreplay-queue (the preallocation chunk
# and mapping window) makes the file grow and the window move during
# the run.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh jq
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"
log="$tmpdir/rec.blog"

for sync in none always; do
  rm -f "$log" "$tmpdir"/acked.*
  start_nbdkit "rec-$sync" --filter="$(filter blkreplay)" memory 1G \
    blkreplay-log="$log" blkreplay-data=hash blkreplay-queue=64K \
    blkreplay-sync=$sync
  # Client C writes 512 bytes at (4i + C) * 512 until the server goes
  # away, and prints each offset once its write was acknowledged.
  pids=
  for c in 0 1 2 3; do
    nbdsh -u "$(uri "rec-$sync")" -c "
ok = open('$tmpdir/acked.$c', 'w')
try:
    for i in range(1 << 20):
        off = (4 * i + $c) * 512
        h.pwrite(bytes([i % 251 + 1]) * 512, off)
        print(off, file=ok, flush=True)
except nbd.Error:
    pass
" > "$tmpdir/client.$c.out" 2>&1 &
    pids="$pids $!"
  done
  sleep 1
  kill -KILL "$(server_pid "rec-$sync")"
  for p in $pids; do wait "$p" || :; done
  cat "$tmpdir"/acked.* | sort -n > "$tmpdir/acked"
  nack=$(wc -l < "$tmpdir/acked")
  echo "sync=$sync: $nack writes acknowledged before the kill"
  [ "$nack" -gt 100 ] || fail "sync=$sync: only $nack writes before the kill"

  # The file still has its preallocated tail (nobody cut it off).
  "$blkreplay" stats --json "$log" > "$tmpdir/stats.json" 2> "$tmpdir/stats.err" ||
    { cat "$tmpdir/stats.err"; fail "sync=$sync: stats of the killed server's log failed"; }
  grep -q "the recorder did not stop cleanly: [0-9]* bytes of preallocated space after the last record" \
    "$tmpdir/stats.err" ||
    fail "sync=$sync: no unclean-stop note: $(cat "$tmpdir/stats.err")"
  grep -qi "corrupt" "$tmpdir/stats.err" &&
    fail "sync=$sync: the log reads as corrupt: $(cat "$tmpdir/stats.err")"
  end="$(sed -nE 's/.*the last one ends at byte ([0-9]+)[;)].*/\1/p' "$tmpdir/stats.err")"
  [ "$end" -lt "$(stat -c %s "$log")" ] ||
    fail "sync=$sync: no preallocated space after byte $end"

  # Every acknowledged write is in the log.
  "$blkreplay" dump --json "$log" 2> "$tmpdir/dump.err" |
    jq -r 'select(.type == "request" and .op == "write") | .offset' |
    sort -n > "$tmpdir/rec"
  grep -q "did not stop cleanly" "$tmpdir/dump.err" ||
    fail "sync=$sync: dump: $(cat "$tmpdir/dump.err")"
  comm -23 "$tmpdir/acked" "$tmpdir/rec" > "$tmpdir/missing"
  [ ! -s "$tmpdir/missing" ] ||
    fail "sync=$sync: $(wc -l < "$tmpdir/missing") acknowledged writes are not in the log, e.g. offset $(head -1 "$tmpdir/missing")"
  nrec=$(wc -l < "$tmpdir/rec")
  echo "sync=$sync: $nrec writes recorded"

  # A log that ends in the zero tail alone is whole up to there:
  # verify accepts it (a torn record before the zeros it would not).
  if ! grep -q torn "$tmpdir/stats.err"; then
    "$blkreplay" verify "$log" > "$tmpdir/verify.out" 2>&1 ||
      fail "sync=$sync: verify: $(cat "$tmpdir/verify.out")"
  fi
done
