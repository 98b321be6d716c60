#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# bench-crash.sh: how fast blkreplay crash builds crash states.
#
# A 256 MiB memory export is recorded with blkreplay-data=full while
# nbdsh sends 4000 writes of 4, 16 or 64 KiB at random offsets, eight
# or so in flight, with a flush after every ten: 400 flush points.
# blkreplay crash then builds every state with --check true (so the
# figure is the builder's, not a checker's), three rounds; the states
# built per second of each round and their median are printed.
#
# Usage: bench/bench-crash.sh   (from the top of a built tree)
set -e
set -u
PATH=/usr/bin:/usr/sbin:/bin:/sbin:$PATH
top="${abs_top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}"
filter="$top/filters/blkreplay/.libs/nbdkit-blkreplay-filter.so"
blkreplay="$top/tools/blkreplay/blkreplay"

for c in nbdkit nbdsh jq; do
  command -v "$c" >/dev/null || { echo "bench-crash: $c is not installed, skipped"; exit 0; }
done
[ -x "$blkreplay" ] && [ -e "$filter" ] ||
  { echo "bench-crash: build the tree first (make)"; exit 1; }

tmp="$(mktemp -d /tmp/bench-crash.XXXXXX)"
pid=""
cleanup () { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

nbdkit -f -U "$tmp/s" --filter="$filter" memory 256M \
  blkreplay-log="$tmp/w.blog" blkreplay-data=full &
pid=$!
for _ in $(seq 1 100); do [ -S "$tmp/s" ] && break; sleep 0.1; done
nbdsh -u "nbd+unix:///?socket=$tmp/s" -c '
import random
random.seed(5)
for i in range(4000):
    ln = random.choice([4096, 16384, 65536])
    off = random.randrange(0, (256 << 20) - ln) // 4096 * 4096
    h.aio_pwrite(bytes([i & 255]) * ln, off)
    if i % 10 == 9:
        while h.aio_in_flight() > 0:
            h.poll(-1)
        h.flush()
while h.aio_in_flight() > 0:
    h.poll(-1)
'
kill "$pid"
wait "$pid" || :
pid=""
truncate -s 256M "$tmp/base.raw"

rates=""
for round in 1 2 3; do
  TMPDIR="$tmp" "$blkreplay" crash "$tmp/w.blog" "$tmp/base.raw" \
    --check true --json > "$tmp/out.json"
  r="$(jq -r '"\(.points) points, \(.states_per_second | floor) states/s, \(.build_seconds) s building, \(.check_seconds) s in the check command"' "$tmp/out.json")"
  echo "round $round: $r"
  rates="$rates $(jq '.states_per_second | floor' "$tmp/out.json")"
done
echo "bench-crash: median $(echo $rates | tr ' ' '\n' | sort -n | sed -n 2p) states built per second (256 MiB image, 400 flush points)"
