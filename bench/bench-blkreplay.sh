#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# bench-blkreplay.sh: what recording costs, and how fast a replay goes.
#
# 1. Recording overhead, as instructions per 4k read request counted by
#    valgrind --tool=callgrind over the whole nbdkit process (all its
#    threads, so the log writer thread is included): nbdkit serves the
#    memory plugin, a client sends N and then 2N reads in two runs, and
#    (I(2N) - I(N)) / N is the cost of one request without start-up and
#    shutdown.  Configurations: bare, blkreplay-data=none, =hash (issue
#    15's target: at most +750 over bare), =full, and nbdkit's own log
#    filter for comparison.  Where the cost goes and how +750 is met
#    with every read hashed: docs/blkreplay-cost.md.
# 2. Replay speed (issue 15): fio's nbd engine runs a 4k random
#    read/write load (randrw, QD 8, 30000 requests over 64 MiB) through
#    the filter; blkreplay run --timing=fast replays that log against a
#    fresh memory plugin, with the recorded ordering and with
#    --queue-depth=8, and fio runs the same load directly against the
#    same kind of server, at QD 8 and at QD 1.  The contenders take
#    turns, round after round (the machine is shared: alternating
#    spreads its noise over all of them), each against a fresh server;
#    medians of BENCH_REPLAY_ROUNDS (5) rounds and their ratios.  Then
#    callgrind counts the tool's instructions per replayed request:
#    (I(--until=2N) - I(--until=N)) / N.
#
#    Why fio at QD 1: fio at QD 8 keeps 8 requests on the wire, but the
#    server only saw them one after the other (the log's mean queue
#    depth is about 0.2), so the recorded ordering makes the replay a
#    chain of round trips, each request waiting for the one before it.
#    Its ceiling is fio at QD 1, not at QD 8.
#
# Usage: bench/bench-blkreplay.sh [N]   (from the top of a built tree)
. "$(dirname "$0")/functions.sh"
filter="$(filter blkreplay)"
# BENCH_BLKREPLAY: another build of the tool to compare (e.g. a copy of
# the binary before a change); the filter is always this tree's.
blkreplay="${BENCH_BLKREPLAY:-$abs_top_builddir/tools/blkreplay/blkreplay}"
N="${1:-2000}"

requires_cmd "$NBDKIT" nbdsh "$VALGRIND" callgrind_annotate "$FIO" jq
[ -x "$blkreplay" ] && [ -e "$filter" ] ||
  bench_fail "build the tree first (make): $blkreplay or $filter is missing"
tmp="$tmpdir"

# instr NREADS ARGS...: instructions of one nbdkit run serving NREADS reads.
instr () {
  n="$1"; shift
  out="$tmp/cg.out"
  rm -f "$out"
  bench_start cg "$VALGRIND" --tool=callgrind --callgrind-out-file="$out" -- "$@"
  nbdsh -u "$(uri cg)" -c "
for i in range($n):
    h.pread(4096, (i * 4096) % (32 << 20))
"
  bench_stop cg
  awk '/^summary:|^totals:/ { print $2; exit }' "$out"
}

per_request () {
  a="$(instr "$N" "$@")"
  b="$(instr $((2 * N)) "$@")"
  echo $(( (b - a) / N ))
}

if [ -z "${BENCH_SKIP_CALLGRIND:-}" ]; then
echo "== recording overhead: callgrind instructions per 4k read (N=$N, 2N=$((2 * N)))"
bare="$(per_request memory 32M)"
printf "%-28s %8d\n" "bare (memory plugin)" "$bare"
for d in none hash full; do
  v="$(per_request --filter="$filter" memory 32M \
        blkreplay-log="$tmp/bench.blog" blkreplay-data=$d)"
  printf "%-28s %8d  (+%d over bare)\n" "blkreplay-data=$d" "$v" $((v - bare))
  [ $d = hash ] && hash_over=$((v - bare))
done
v="$(per_request --filter=log memory 32M logfile="$tmp/nbdkit.log")"
printf "%-28s %8d  (+%d over bare)\n" "nbdkit log filter" "$v" $((v - bare))
if [ "$hash_over" -le 750 ]; then
  echo "blkreplay-data=hash: +$hash_over instructions per request: within the +750 target"
else
  echo "blkreplay-data=hash: +$hash_over instructions per request: over the +750 target (docs/blkreplay-cost.md)"
fi
fi

echo
rounds="${BENCH_REPLAY_ROUNDS:-5}"
nios="${BENCH_REPLAY_REQUESTS:-30000}"
if [ "$BENCH_QUICK" = 1 ]; then rounds=3; nios=6000; fi
echo "== replay speed: fio randrw 4k over 64 MiB, $nios requests, requests/s (median of $rounds alternating rounds)"
# fio prints "connected to NBD server" before its JSON.
fio_iops () {
  BENCH_URI="$1" "$FIO" "$2" --output-format=json 2>/dev/null |
    sed -n '/^{/,$p' | jq '.jobs[0].read.iops + .jobs[0].write.iops'
}
rep_rps () {
  "$blkreplay" run "$tmp/load.blog" "$1" --timing=fast --quiet --json "${@:2}" \
    2>/dev/null | jq .requests_per_second
}
for qd in 8 1; do
cat > "$tmp/load$qd.fio" <<EOF
[global]
ioengine=nbd
iodepth=$qd
rw=randrw
bs=4k
size=64M
io_size=$((nios * 4096))
randrepeat=1
uri=\${BENCH_URI}
[j]
EOF
done
rm -f "$tmp/load.blog"
bench_start rec -- --filter="$filter" memory 64M \
  blkreplay-log="$tmp/load.blog" blkreplay-data=hash
BENCH_URI="$(uri rec)" "$FIO" "$tmp/load8.fio" --output=/dev/null 2>/dev/null
bench_stop rec
nreq="$("$blkreplay" stats --json "$tmp/load.blog" | jq .requests)"
"$blkreplay" stats "$tmp/load.blog" | grep '^queue depth' | sed 's/^/recorded /'
"$blkreplay" run "$tmp/load.blog" --dry-run 2>/dev/null | grep 'recorded ordering' |
  sed 's/^ *//'

# The server's CPU (user + system, all threads) per request, from
# /proc: the same server work for every contender, so where it fills
# the time it bounds them all.
srv_ticks () { awk '{ print $14 + $15 }' "/proc/$(cat "$tmp/srv.pid")/stat"; }
hz="$(getconf CLK_TCK)"
r_f8=""; r_rep=""; r_f1=""; r_qd=""; c_f8=""; c_rep=""; c_f1=""; c_qd=""
for round in $(seq "$rounds"); do
  for who in f8 rep f1 qd; do
    bench_start srv -- memory 64M
    u="$(uri srv)"
    t0="$(srv_ticks)"
    case $who in
      f8) r_f8="$r_f8 $(fio_iops "$u" "$tmp/load8.fio")" ;;
      f1) r_f1="$r_f1 $(fio_iops "$u" "$tmp/load1.fio")" ;;
      rep) r_rep="$r_rep $(rep_rps "$u")" ;;
      qd) r_qd="$r_qd $(rep_rps "$u" --queue-depth=8)" ;;
    esac
    us=$(( ($(srv_ticks) - t0) * 1000000 / hz / nreq ))
    eval "c_$who=\"\$c_$who $us\""
    bench_stop srv
  done
done
median () {
  printf '%s\n' $1 | sort -g |
    awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
m_f8="$(median "$r_f8")"; m_rep="$(median "$r_rep")"
m_f1="$(median "$r_f1")"; m_qd="$(median "$r_qd")"
printf "%-36s %8.0f req/s  (rounds:%s)\n" "fio, QD 8" "$m_f8" "$r_f8"
printf "%-36s %8.0f req/s  (rounds:%s)\n" "blkreplay run (recorded ordering)" "$m_rep" "$r_rep"
printf "%-36s %8.0f req/s  (rounds:%s)\n" "fio, QD 1" "$m_f1" "$r_f1"
printf "%-36s %8.0f req/s  (rounds:%s)\n" "blkreplay run --queue-depth=8" "$m_qd" "$r_qd"
awk -v f8="$m_f8" -v f1="$m_f1" -v a="$m_rep" -v q="$m_qd" -v n="$nreq" 'BEGIN {
  printf "recorded ordering: %.2fx fio QD 8, %.2fx fio QD 1; --queue-depth=8: %.2fx fio QD 8 (%d requests per run)\n",
    a / f8, a / f1, q / f8, n }'
# How much of each run the server itself was busy: near 1 (one core's
# worth of server CPU per second) the server, not the client, sets
# the pace, and a faster client cannot go much further.
for who in f8 rep f1 qd; do
  eval "c=\$c_$who r=\$m_$who"
  c="$(median "$c")"
  awk -v w="$who" -v c="$c" -v r="$r" 'BEGIN {
    split("f8:fio, QD 8|rep:blkreplay run (recorded ordering)|f1:fio, QD 1|qd:blkreplay run --queue-depth=8", L, "|")
    for (i in L) { split(L[i], kv, ":"); name[kv[1]] = kv[2] }
    printf "server CPU %-34s %5d us per request, %.2f cores busy\n", name[w], c, c * r / 1e6 }'
done

if [ -z "${BENCH_SKIP_REPLAY_CALLGRIND:-}" ]; then
  # The tool under callgrind, replaying the log's first N, then 2N requests.
  half=$((nreq / 3))
  rep_instr () {
    bench_start srv -- memory 64M
    "$VALGRIND" --tool=callgrind --callgrind-out-file="$tmp/rep.cg" \
      "$blkreplay" run "$tmp/load.blog" "$(uri srv)" --timing=fast --quiet \
      --until="$1" "${@:2}" > /dev/null 2>&1 || :
    bench_stop srv
    awk '/^summary:/ { print $2; exit }' "$tmp/rep.cg"
  }
  a="$(rep_instr "$half")"; b="$(rep_instr $((2 * half)))"
  echo "blkreplay run: $(( (b - a) / half )) instructions per replayed request" \
       "(callgrind, recorded ordering, --until=$half vs $((2 * half)))"
  a="$(rep_instr "$half" --queue-depth=8)"
  b="$(rep_instr $((2 * half)) --queue-depth=8)"
  echo "blkreplay run --queue-depth=8: $(( (b - a) / half )) instructions per replayed request"
fi
