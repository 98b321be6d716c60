#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# bench-blkdebug: what the blkdebug filter costs a request when its
# rules never fire, in instructions per request under callgrind (the
# foundation's measure), against bare nbdkit and nbdkit's own error
# filter at error-rate=0.
#
#   bench/bench-blkdebug.sh [N]       (N requests per round, default 4000)
#
# Each configuration runs twice, with N and 2N requests (4K reads and
# writes alternating, one client); the difference divided by N is the
# cost per request with start-up and shut-down cancelled out.
. "$(dirname "$0")/functions.sh"
F="$(filter blkdebug)"
N="${1:-4000}"
requires_cmd "$VALGRIND" "$NBDKIT" nbdsh
[ -e "$F" ] || bench_fail "build first (make): $F is missing"
tmp="$tmpdir"

# Ten rules that never fire, two kinds:
#  idle:  on events of the client layer that these reads and writes
#         never raise (plugin events would be refused there);
#  armed: on read_aio/write_aio (armed by every request) for sectors no
#         request touches, so every request is judged against them.
idle=() armed=()
for i in 0 1 2 3 4 5 6 7 8 9; do
  ev=(pwritev_zero zero_aio trim_aio cache_aio extents_aio
      flush_to_os flush_to_disk pwritev_zero zero_aio trim_aio)
  idle+=("blkdebug-inject=event=${ev[$i]},errno=EIO")
  armed+=("blkdebug-inject=event=$([ $((i % 2)) = 0 ] && echo read_aio || echo write_aio),sector=$((100000 + i))")
done

# instructions SOCKNAME N ARGS...: total Ir of nbdkit serving N requests.
instructions ()
{
  name="$1" n="$2"; shift 2
  out="$tmp/$name.cg"
  rm -f "$out"
  bench_start "$name" "$VALGRIND" --tool=callgrind --callgrind-out-file="$out" -- "$@"
  nbdsh -u "$(uri "$name")" -c "
buf = b'x' * 4096
for i in range($n // 2):
    h.pread(4096, 0)
    h.pwrite(buf, 8192)
"
  bench_stop "$name"
  sed -n 's/^summary: *//p; s/^totals: *//p' "$out" | head -1
}

per_request ()
{
  label="$1"; shift
  a="$(instructions "$label-1" "$N" "$@")"
  b="$(instructions "$label-2" $((2 * N)) "$@")"
  echo $(( (b - a) / N ))
}

bare=$(per_request bare memory 1M)
err=$(per_request error --filter=error memory 1M error-rate=0)
bd0=$(per_request bd0 --filter="$F" memory 1M)
bdi=$(per_request bdi --filter="$F" memory 1M "${idle[@]}")
bda=$(per_request bda --filter="$F" memory 1M "${armed[@]}")

printf '%-44s %8s %8s\n' "configuration" "Ir/req" "+bare"
printf '%-44s %8d %8s\n' "bare (memory plugin)" "$bare" "-"
printf '%-44s %8d %+8d\n' "error filter, error-rate=0" "$err" $((err - bare))
printf '%-44s %8d %+8d\n' "blkdebug, no rules" "$bd0" $((bd0 - bare))
printf '%-44s %8d %+8d\n' "blkdebug, 10 idle rules (events not raised)" "$bdi" $((bdi - bare))
printf '%-44s %8d %+8d\n' "blkdebug, 10 armed rules that never fire" "$bda" $((bda - bare))
