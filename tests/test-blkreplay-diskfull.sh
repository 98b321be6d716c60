#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Recording onto a filling disk never loses an acknowledged request: in
# every sync mode, every write the client saw succeed has its record in
# the log, the log reads cleanly up to the failure, the error names the
# first request without a record, and blkreplay-on-error decides what
# happens next (fail: later requests fail with ENOSPC; passthrough:
# they succeed unrecorded).  The exit summary counts what was written.
# Needs root (a 64 KiB tmpfs).
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh jq mount umount
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"
[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs"
# Open issue: with the sanitizer runtimes preloaded, nbdkit hangs at
# exit after the log failed (libp11-kit's destructor waits forever in
# freelocale for glibc's setlocale lock); the plain build exits cleanly.
[ -z "$SANITIZER_PRELOAD" ] ||
  skip "nbdkit hangs at exit under the sanitizer preload after a log failure (open issue)"

full="$tmpdir/full"
mkdir "$full"
mount -t tmpfs -o size=64k tmpfs "$full" 2>/dev/null ||
  skip "cannot mount a tmpfs"
unmount_full () { umount "$full" 2>/dev/null || :; }
on_exit unmount_full

for sync in none interval always; do
for onerr in fail passthrough; do
  t="$sync-$onerr"
  rm -f "$full/rec.blog"
  start_nbdkit "$t" -v --filter="$(filter blkreplay)" memory 8M \
    blkreplay-log="$full/rec.blog" blkreplay-data=hash \
    blkreplay-sync=$sync blkreplay-on-error=$onerr
  # 2000 sequential 512-byte writes, offset 512*i: far more records
  # than 64 KiB hold.  Offsets acknowledged (ok) and refused (bad).
  nbdsh -u "$(uri "$t")" -c "
ok = open('$tmpdir/ok', 'w')
bad = open('$tmpdir/bad', 'w')
for i in range(2000):
    try:
        h.pwrite(b'x' * 512, 512 * i)
        print(512 * i, file=ok)
    except nbd.Error as e:
        print(512 * i, e.errnum, file=bad)
" || fail "$t: nbdsh failed"
  stop_nbdkit "$t" || :
  [ -z "${BLK_SHOW_LOG:-}" ] || grep -E "error|records," "$(server_log "$t")"
  log="$(server_log "$t")"

  # The log is whole up to the failure: verify reads it without a note
  # of truncation or corruption.
  "$blkreplay" verify "$full/rec.blog" > "$tmpdir/verify.out" 2>&1 ||
    { cat "$tmpdir/verify.out"; fail "$t: the log does not verify"; }
  grep -q truncated "$tmpdir/verify.out" &&
    fail "$t: the log ends inside a record: $(cat "$tmpdir/verify.out")"
  "$blkreplay" dump --json "$full/rec.blog" |
    jq -r 'select(.type == "request") | .offset' | sort -n > "$tmpdir/rec"
  nrec="$(wc -l < "$tmpdir/rec")"
  nok="$(wc -l < "$tmpdir/ok")"
  nbad="$(wc -l < "$tmpdir/bad")"
  echo "$t: $nok acknowledged, $nbad refused, $nrec recorded"
  [ "$nrec" -gt 0 ] && [ "$nrec" -lt 2000 ] ||
    fail "$t: $nrec records: the disk did not fill as planned"

  # The error names the first request without a record: the one after
  # the last recorded (the client is sequential, ids are 1, 2, ...).
  first="$(sed -nE 's/.*request #([0-9]+) is the first without a record.*/\1/p' "$log" | head -1)"
  [ -n "$first" ] || { cat "$log"; fail "$t: no error names the first lost request"; }
  [ "$first" = $((nrec + 1)) ] ||
    fail "$t: the error names request #$first, the log holds $nrec requests"
  # The exit summary counts what is in the file.
  grep -Eq "blkreplay: [0-9]+ records, $(stat -c %s "$full/rec.blog") bytes written" "$log" ||
    { grep 'records,' "$log"; fail "$t: the summary's byte count is not the file's size"; }

  case $onerr in
  fail)
    # Every acknowledged write is recorded, every later one refused.
    comm -23 "$tmpdir/ok" "$tmpdir/rec" > "$tmpdir/missing" || :
    [ ! -s "$tmpdir/missing" ] ||
      fail "$t: acknowledged but not recorded: $(head -3 "$tmpdir/missing" | tr '\n' ' ')"
    [ "$nok" = "$nrec" ] || fail "$t: $nok acknowledged, $nrec recorded"
    [ "$nbad" = $((2000 - nok)) ] || fail "$t: $nbad refused"
    awk '$2 != 28 { exit 1 }' "$tmpdir/bad" ||
      fail "$t: refused with $(awk '{print $2}' "$tmpdir/bad" | sort -u | tr '\n' ' '), not ENOSPC (28)"
    grep -q 'blkreplay-on-error=fail' "$log" || fail "$t: the error does not say fail"
    ;;
  passthrough)
    # Every write succeeds; the log holds the first ones, in order.
    [ "$nbad" = 0 ] || fail "$t: $nbad writes refused with on-error=passthrough"
    seq 0 512 $(( 512 * (nrec - 1) )) | cmp -s - "$tmpdir/rec" ||
      fail "$t: the log does not hold exactly the first $nrec writes"
    grep -q 'continue UNRECORDED' "$log" || fail "$t: no loud error for passthrough"
    ;;
  esac
done
done
