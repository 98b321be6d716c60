#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# blkreplay-control=SOCKET: "mark NAME" between a real client's writes
# lands at that position in the log (dump, --json, stats); "status"
# agrees with what blkreplay stats finds in the file; "sync" makes the
# log durable and says so; bad mark names get a clear ERR; mark and
# sync are refused in replay mode.  Real clients: nbdsh and blkctl.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh jq
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"
ctl="$abs_top_builddir/tools/blkctl/blkctl"
[ -x "$ctl" ] || fail "no $ctl"
cs="$tmpdir/ctl.sock"
log="$tmpdir/rec.blog"

start_nbdkit rec --filter="$(filter blkreplay)" memory 8M \
  blkreplay-log="$log" blkreplay-control="$cs" blkreplay-sync=none
[ -S "$cs" ] || fail "no control socket"
"$ctl" "$cs" help | grep -q 'mark NAME' || fail "help does not list mark"

# Before any client: nothing to mark yet, said plainly.
if "$ctl" "$cs" mark early > "$tmpdir/out" 2>&1; then
  fail "a mark before the first connection was accepted"
fi
grep -q '^ERR mark: nothing is recorded yet' "$tmpdir/out" ||
  fail "mark before a connection: $(cat "$tmpdir/out")"

# Two writes, a mark, a write and a flush, a mark with a space in its
# name.  Each request has completed when nbdsh's call returns.
nbdsh -u "$(uri rec)" -c '
import subprocess
def mark(name):
    return subprocess.run(["'"$ctl"'", "'"$cs"'", "mark", name],
                          capture_output=True, text=True, check=True).stdout
h.pwrite(b"\1" * 4096, 0)
h.pwrite(b"\2" * 4096, 4096)
m = mark("before-upgrade")
assert m == "OK 2\n", m
h.pwrite(b"\3" * 4096, 8192, nbd.CMD_FLAG_FUA)
h.flush()
m = mark("after flush")
assert m == "OK 4\n", m
'
"$ctl" --json "$cs" mark "third mark" | jq -e '.ok and .value == 4' \
  >/dev/null || fail "--json mark"

# sync: answers once durable.
"$ctl" "$cs" sync > "$tmpdir/sync"
grep -Eq '^OK [0-9]+ records, [0-9]+ bytes durable$' "$tmpdir/sync" ||
  fail "sync: $(cat "$tmpdir/sync")"

# status agrees with the file: records, requests, bytes.
"$ctl" --json "$cs" status | jq -c .result > "$tmpdir/status.json"
"$blkreplay" dump --json "$log" > "$tmpdir/dump.json"
"$blkreplay" stats --json "$log" > "$tmpdir/stats.json" 2> "$tmpdir/stats.err"
nrec=$(( $(wc -l < "$tmpdir/dump.json") - 1 ))
# The live log is its records, then the preallocated space (zeros) up
# to the file's allocated size: the reader stops at the records' end.
alloc=$(stat -c %s "$log")
size="$(sed -nE 's/.*did not stop cleanly: .* the last one ends at byte ([0-9]+)\).*/\1/p' "$tmpdir/stats.err")"
[ -n "$size" ] || fail "stats of the live log: $(cat "$tmpdir/stats.err")"
jq -e --argjson n "$nrec" --argjson sz "$size" --argjson al "$alloc" \
  --argjson req "$(jq .requests "$tmpdir/stats.json")" '
  .mode == "record" and .records == $n and .requests == $req and
  .bytes == $sz and .durable_bytes == $sz and .allocated_bytes == $al and
  .lost == 0 and
  .error == null and .data == "hash" and (.log | endswith("rec.blog")) and
  .queue_bytes == 0 and .queue_bound == 0 and .waits == 0' \
  "$tmpdir/status.json" >/dev/null ||
  fail "status $(cat "$tmpdir/status.json") disagrees with the file ($nrec records, $size bytes, $alloc allocated, stats: $(cat "$tmpdir/stats.json"))"
jq -e '.requests == 4 and .marks == 3' "$tmpdir/stats.json" >/dev/null ||
  fail "stats: $(cat "$tmpdir/stats.json")"
"$blkreplay" stats "$log" | grep -Eq '^marks +3$' || fail "stats text: no marks line"
"$ctl" "$cs" status | grep -Eq "^OK mode record, $nrec records \(4 requests\), $size bytes written \($size durable\), $alloc bytes allocated, 0 lost records, data hash, log .*rec.blog$" ||
  fail "status text: $("$ctl" "$cs" status)"

# The marks sit where they were taken: after requests 1-2, after 1-4.
jq -s -e '[.[] | select(.type == "mark" or .type == "request") |
           if .type == "mark" then "m:" + .name + ":" + (.seq | tostring)
           else "r" + (.id | tostring) end] ==
          ["r1", "r2", "m:before-upgrade:2", "r3", "r4", "m:after flush:4",
           "m:third mark:4"]' "$tmpdir/dump.json" >/dev/null ||
  fail "marks in the wrong place: $(jq -c 'select(.type != "header") | [.type, .id, .name]' "$tmpdir/dump.json")"
"$blkreplay" dump "$log" | grep -Eq '^mark +"before-upgrade" t=[0-9.]+(ns|µs|ms|s) after 2 requests$' ||
  fail "dump text: $("$blkreplay" dump "$log" | grep mark)"

# Bad names: a clear ERR (exit 1), nothing appended.
bad () {
  local want="$1"; shift
  if "$ctl" "$cs" mark "$@" > "$tmpdir/out" 2>&1; then
    fail "mark '$*' was accepted"
  fi
  grep -q "^ERR mark: $want" "$tmpdir/out" ||
    fail "mark '$*': $(cat "$tmpdir/out")"
}
bad 'a mark name must not be empty'
bad 'a mark name is at most 255 bytes, this one has 256' "$(printf 'x%.0s' $(seq 256))"
bad 'a mark name must not contain control characters (byte 0x01 at position 1)' $'a\001b'
bad 'a mark name must not contain control characters (byte 0x09' $'a\tb'
bad 'a mark name must be UTF-8 (invalid byte 0xff at position 3)' $'bad\377'
"$ctl" "$cs" mark "$(printf 'y%.0s' $(seq 255))" | grep -qx 'OK 4' ||
  fail "a 255-byte name was refused"
"$ctl" "$cs" mark $'caf\303\251' | grep -qx 'OK 4' || fail "UTF-8 name refused"
stop_nbdkit rec
"$blkreplay" stats --json "$log" | jq -e '.marks == 5' >/dev/null ||
  fail "expected 5 marks after the bad ones: $("$blkreplay" stats --json "$log")"

# Replay mode: the socket answers, mark and sync say why not.
start_nbdkit rep --filter="$(filter blkreplay)" memory 8M \
  blkreplay-log="$log" blkreplay-mode=replay blkreplay-control="$cs"
if "$ctl" "$cs" mark m > "$tmpdir/out" 2>&1; then
  fail "mark accepted in replay mode"
fi
grep -q "^ERR mark: the filter is replaying '.*rec.blog' (blkreplay-mode=replay)" \
  "$tmpdir/out" || fail "mark in replay: $(cat "$tmpdir/out")"
if "$ctl" "$cs" sync > "$tmpdir/out" 2>&1; then
  fail "sync accepted in replay mode"
fi
grep -q "^ERR sync: the filter is replaying" "$tmpdir/out" ||
  fail "sync in replay: $(cat "$tmpdir/out")"
"$ctl" --json "$cs" status | jq -e '.result.mode == "replay"' >/dev/null ||
  fail "status in replay mode"
stop_nbdkit rep

# A failed log (disk full): status says so, mark and sync refuse with
# the error.  Needs root for a small tmpfs; not under the sanitizer
# preload (nbdkit's exit hang after a log failure, see
# test-blkreplay-diskfull.sh).
if [ "$(id -u)" = 0 ] && [ -z "${SANITIZER_PRELOAD:-}" ] &&
   mkdir "$tmpdir/full" && mount -t tmpfs -o size=64k tmpfs "$tmpdir/full" 2>/dev/null; then
  unmount_full () { umount "$tmpdir/full" 2>/dev/null || :; }
  on_exit unmount_full
  start_nbdkit full --filter="$(filter blkreplay)" memory 8M \
    blkreplay-log="$tmpdir/full/rec.blog" blkreplay-control="$cs" \
    blkreplay-data=hash blkreplay-on-error=passthrough
  nbdsh -u "$(uri full)" -c '
for i in range(2000):
    h.pwrite(b"x" * 512, 512 * i)
'
  "$ctl" --json "$cs" status | jq -c .result > "$tmpdir/fstatus.json"
  jq -e '(.error | startswith("writing failed: No space left on device")) and
         .records > 0 and .lost >= 1 and .first_lost_id > 0' "$tmpdir/fstatus.json" >/dev/null ||
    fail "status after the failure: $(cat "$tmpdir/fstatus.json")"
  "$ctl" "$cs" status | grep -q ', FAILED: writing failed: No space left on device$' ||
    fail "status text after the failure: $("$ctl" "$cs" status)"
  st=0; "$ctl" "$cs" mark late > "$tmpdir/out" || st=$?
  [ $st = 1 ] && grep -q "^ERR mark: the log '.*rec.blog' has failed (No space left on device): the mark was not recorded$" \
    "$tmpdir/out" || fail "mark on a failed log: $(cat "$tmpdir/out")"
  st=0; "$ctl" "$cs" sync > "$tmpdir/out" || st=$?
  [ $st = 1 ] && grep -q "^ERR sync: the log '.*rec.blog' has failed: No space left on device" \
    "$tmpdir/out" || fail "sync on a failed log: $(cat "$tmpdir/out")"
  stop_nbdkit full || :
else
  echo "note: the failed-log part needs root and no sanitizer preload: not run"
fi
