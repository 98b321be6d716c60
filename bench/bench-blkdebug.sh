#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# bench-blkdebug: what the blkdebug filter costs a request when its
# rules never fire, in instructions per request under callgrind (the
# foundation's measure), against bare nbdkit and nbdkit's own error
# filter at error-rate=0, all in the same run.
#
#   bench/bench-blkdebug.sh [N]       (N requests per round, default 4000)
#
# Two loads, each served twice, with N and 2N requests; the difference
# divided by N is the cost per request with start-up and shut-down
# cancelled out:
#  - mixed: 4K reads and writes alternating, one client (nbdsh), one
#    request in flight: both request paths and all their events;
#  - read QD4: 4K reads at queue depth 4 (bench/readload, the load of
#    bench/run), the issue 15 measure.
# Each figure comes twice: all instructions of the nbdkit process, and
# without glibc's contended-mutex slow paths (bench_cg_lockwait: how
# valgrind interleaved nbdkit's threads, the run-to-run noise, about
# +-30 per request in the first column).  Compare the second.
#
# BENCH_BLKDEBUG_BASELINE=/path/to/nbdkit-blkdebug-filter.so (e.g. one
# built from an older commit) adds its figures to the same run, to
# compare before and after under the same load on the machine.
#
# The last lines check issue 15's target: ten armed rules that never
# fire cost at most +175 over bare, and no more than the error filter.
. "$(dirname "$0")/functions.sh"
F="$(filter blkdebug)"
N="${1:-4000}"
requires_cmd "$VALGRIND" "$NBDKIT" nbdsh
[ -e "$F" ] || bench_fail "build first (make): $F is missing"
[ -x "$(readload)" ] || bench_fail "build first (make): $(readload) is missing"
tmp="$tmpdir"

# Ten rules that never fire, three kinds:
#  idle:   on events of the client layer that these reads and writes
#          never raise (plugin events would be refused there);
#  armed:  on read_aio/write_aio (armed by every request) for sectors no
#          request touches, so every request is judged against them;
#  inside: like armed, but on sectors between and around the ones the
#          mixed load touches (reads at 0, writes at 8192), so that the
#          writes fall inside the bounds of the armed rules and only
#          the index's interval search tells them apart.
# readarmed: ten rules on read_aio beyond the 1M disk, for the read load.
idle=() armed=() inside=() readarmed=()
ev=(pwritev_zero zero_aio trim_aio cache_aio extents_aio
    flush_to_os flush_to_disk pwritev_zero zero_aio trim_aio)
sec=(8 9 10 11 12 13 14 15 24 25)
for i in 0 1 2 3 4 5 6 7 8 9; do
  rw="$([ $((i % 2)) = 0 ] && echo read_aio || echo write_aio)"
  idle+=("blkdebug-inject=event=${ev[$i]},errno=EIO")
  armed+=("blkdebug-inject=event=$rw,sector=$((100000 + i))")
  inside+=("blkdebug-inject=event=$rw,sector=${sec[$i]}")
  readarmed+=("blkdebug-inject=event=read_aio,sector=$((100000 + i))")
done

# instructions LABEL N ARGS...: "TOTAL LOCKWAIT" instructions of nbdkit
# serving N requests of the mixed load.
instructions ()
{
  name="$1" n="$2"; shift 2
  out="$tmp/$name.cg"
  rm -f "$out"
  bench_start "$name" "$VALGRIND" --tool=callgrind --dump-instr=no \
    --callgrind-out-file="$out" -- "$@"
  nbdsh -u "$(uri "$name")" -c "
buf = b'x' * 4096
for i in range($n // 2):
    h.pread(4096, 0)
    h.pwrite(buf, 8192)
"
  bench_stop "$name"
  # The file holds the total twice (summary: and totals:): count one.
  echo "$(sed -n 's/^summary: *//p; s/^totals: *//p' "$out" | head -1)" \
       "$(bench_cg_lockwait "$out")"
}

# mixed LABEL ARGS...: "PER_REQUEST PER_REQUEST_EXCL_LOCKWAIT".
mixed ()
{
  label="$1"; shift
  a="$(instructions "$label-1" "$N" "$@")"
  b="$(instructions "$label-2" $((2 * N)) "$@")"
  echo "$a $b" | awk -v n="$N" '{
    printf "%.0f %.0f\n", ($3 - $1) / n, (($3 - $4) - ($1 - $2)) / n }'
}

# reads LABEL ARGS...: the same for the read load at queue depth 4.
reads ()
{
  BENCH_REQUESTS="$N" BENCH_DEPTH=4 BENCH_BLOCKSIZE=4096 bench_instr "$@" |
    awk '{ printf "%.0f %.0f\n", $1, $2 }'
}

# row TITLE "RAW EXCL" "BARE_RAW BARE_EXCL"
row ()
{
  set -- "$1" $2 $3
  printf '%-50s %7d %+6d %7d %+6d\n' "$1" "$2" $(($2 - $4)) "$3" $(($3 - $5))
}
header ()
{
  printf '%-50s %7s %6s %7s %6s\n' "$1" "Ir/req" "+bare" "excl." "+bare"
}

m_bare="$(mixed bare memory 1M)"
m_err="$(mixed error --filter=error memory 1M error-rate=0)"
m_bd0="$(mixed bd0 --filter="$F" memory 1M)"
m_bdi="$(mixed bdi --filter="$F" memory 1M "${idle[@]}")"
m_bda="$(mixed bda --filter="$F" memory 1M "${armed[@]}")"
m_bdx="$(mixed bdx --filter="$F" memory 1M "${inside[@]}")"
r_bare="$(reads rbare memory 1M)"
r_err="$(reads rerror --filter=error memory 1M error-rate=0)"
r_bd0="$(reads rbd0 --filter="$F" memory 1M)"
r_bda="$(reads rbda --filter="$F" memory 1M "${readarmed[@]}")"
B="${BENCH_BLKDEBUG_BASELINE:-}"
if [ -n "$B" ]; then
  [ -e "$B" ] || bench_fail "BENCH_BLKDEBUG_BASELINE: $B is missing"
  m_b0="$(mixed b0 --filter="$B" memory 1M)"
  m_ba="$(mixed ba --filter="$B" memory 1M "${armed[@]}")"
  m_bx="$(mixed bx --filter="$B" memory 1M "${inside[@]}")"
  r_b0="$(reads rb0 --filter="$B" memory 1M)"
  r_ba="$(reads rba --filter="$B" memory 1M "${readarmed[@]}")"
fi

header "mixed load (4K read/write alternating, QD1), N=$N"
row "bare (memory plugin)" "$m_bare" "$m_bare"
row "error filter, error-rate=0" "$m_err" "$m_bare"
row "blkdebug, no rules" "$m_bd0" "$m_bare"
row "blkdebug, 10 idle rules (events not raised)" "$m_bdi" "$m_bare"
row "blkdebug, 10 armed rules that never fire" "$m_bda" "$m_bare"
row "blkdebug, 10 armed rules around the requests" "$m_bdx" "$m_bare"
if [ -n "$B" ]; then
  row "baseline blkdebug, no rules" "$m_b0" "$m_bare"
  row "baseline blkdebug, 10 armed rules that never fire" "$m_ba" "$m_bare"
  row "baseline blkdebug, 10 armed rules around the req." "$m_bx" "$m_bare"
fi
header "read load (4K random reads, QD4), N=$N"
row "bare (memory plugin)" "$r_bare" "$r_bare"
row "error filter, error-rate=0" "$r_err" "$r_bare"
row "blkdebug, no rules" "$r_bd0" "$r_bare"
row "blkdebug, 10 armed rules that never fire" "$r_bda" "$r_bare"
if [ -n "$B" ]; then
  row "baseline blkdebug, no rules" "$r_b0" "$r_bare"
  row "baseline blkdebug, 10 armed rules that never fire" "$r_ba" "$r_bare"
fi

# Issue 15's target, on the figures without lock-wait noise.
verdict ()
{
  set -- "$1" $2
  local mine=$(($2 - $4)) err=$(($3 - $4))
  if [ "$mine" -le 175 ] && [ "$mine" -le "$err" ]; then
    echo "$1: 10 armed rules +$mine <= +175 and <= error filter +$err: met"
  else
    echo "$1: 10 armed rules +$mine, error filter +$err: target (<= +175 and <= error filter) NOT met"
  fi
}
verdict "target, mixed" "$(echo $m_bda | cut -d' ' -f2) $(echo $m_err | cut -d' ' -f2) $(echo $m_bare | cut -d' ' -f2)"
verdict "target, read QD4" "$(echo $r_bda | cut -d' ' -f2) $(echo $r_err | cut -d' ' -f2) $(echo $r_bare | cut -d' ' -f2)"
