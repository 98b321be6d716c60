#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdkit-blk benchmark: the qcow2 plugin against qemu-nbd (every
# cache x aio setting) and against nbdkit's file plugin on a raw copy
# (the format-free ceiling), with fio's nbd engine.
#
#   bench/bench-qcow2.sh            (ROUNDS=5 RUNTIME=3 by default)
#   ROUNDS=7 RUNTIME=5 WORKLOADS="rr16 rwu" bench/bench-qcow2.sh
#   SERVERS="qnbd-wb-uring plugin plugin-t2 raw" bench/bench-qcow2.sh
# (plugin-tN is the plugin under nbdkit -t N: any N works.)
# (abs_top_builddir=DIR for a build outside the source tree; _build/
# is found by itself.)  Needs about 3 GB free in /var/tmp.
#
# Each round runs every workload on every server, in an order that
# alternates between rounds; the figures are medians over rounds.
# Ratios are against qemu-nbd's fastest setting for that workload and
# against the raw ceiling.  p99 completion latency in microseconds.
top="$(cd "$(dirname "$0")/.." && pwd)"
. "$top/bench/functions.sh"
plugin="$abs_top_builddir/plugins/qcow2/.libs/nbdkit-qcow2-plugin.so"
# quickstart.sh builds out of tree, in _build/.
[ -e "$plugin" ] || plugin="$top/_build/plugins/qcow2/.libs/nbdkit-qcow2-plugin.so"
# bench/run --quick: one short round, to see that it works.
[ "${BENCH_QUICK:-0}" = 1 ] && : "${ROUNDS:=1}" "${RUNTIME:=1}"
ROUNDS="${ROUNDS:-5}"
RUNTIME="${RUNTIME:-3}"
SIZE="${SIZE:-1G}"
WORKLOADS="${WORKLOADS:-rr1 rr16 rwa rwu sr sw}"
SERVERS="${SERVERS:-qnbd-none-threads qnbd-none-uring qnbd-wb-threads qnbd-wb-uring plugin plugin-t1 raw}"

for c in fio qemu-img qemu-io qemu-nbd nbdkit jq; do
  command -v $c >/dev/null || { echo "bench-qcow2: $c missing, skipped"; exit 0; }
done
[ -e "$plugin" ] || { echo "bench-qcow2: build first ($plugin)"; exit 1; }
fio --enghelp=nbd >/dev/null 2>&1 || { echo "bench-qcow2: fio lacks the nbd engine"; exit 0; }

# The images need room: /var/tmp, not $tmpdir (often a small tmpfs).
# Removed after the servers (the cleanup stack runs last-in first-out).
tmp="$(mktemp -d /var/tmp/bench-qcow2.XXXXXX)"
on_exit rm -rf "$tmp"
srv_pid=""
sock="$tmp/s.sock"
uri="nbd+unix:///?socket=$sock"

echo "bench-qcow2: preparing a fully allocated $SIZE image and a raw copy..."
qemu-img create -q -f qcow2 "$tmp/full.qcow2" "$SIZE"
qemu-io -f qcow2 -c "write -P 0x5a 0 $SIZE" "$tmp/full.qcow2" >/dev/null
qemu-img convert -O raw "$tmp/full.qcow2" "$tmp/full.raw"

# start SERVER IMAGE-KIND: IMAGE-KIND full (allocated) or empty.
start () {
  local s="$1" kind="$2" img raw
  rm -f "$sock"
  if [ "$kind" = empty ]; then
    rm -f "$tmp/empty.qcow2" "$tmp/empty.raw"
    qemu-img create -q -f qcow2 "$tmp/empty.qcow2" 64G
    truncate -s 64G "$tmp/empty.raw"
    img="$tmp/empty.qcow2"; raw="$tmp/empty.raw"
  else
    img="$tmp/full.qcow2"; raw="$tmp/full.raw"
  fi
  case "$s" in
    qnbd-*)
      local cache=none aio=threads
      case "$s" in *-wb-*) cache=writeback ;; esac
      case "$s" in *-uring) aio=io_uring ;; esac
      qemu-nbd -t -f qcow2 --cache=$cache --aio=$aio -k "$sock" "$img" \
        >"$tmp/srv.log" 2>&1 & ;;
    plugin) nbdkit -f -U "$sock" "$plugin" "$img" >"$tmp/srv.log" 2>&1 & ;;
    # plugin-tN: N nbdkit workers (-t N).  One worker means no thread
    # hand-off per request (QD1 latency); a few mean less contention
    # for the connection's socket locks on two cores (sequential p99).
    plugin-t*) nbdkit -f -t "${s#plugin-t}" -U "$sock" "$plugin" "$img" >"$tmp/srv.log" 2>&1 & ;;
    raw) nbdkit -f -U "$sock" file "$raw" >"$tmp/srv.log" 2>&1 & ;;
  esac
  srv_pid=$!
  on_exit_kill "$srv_pid" "$s"
  wait_socket "$sock" "$srv_pid" 10 "$tmp/srv.log"
}
stop ()
{
  kill "$srv_pid" 2>/dev/null; wait "$srv_pid" 2>/dev/null || true
  forget_pid "$srv_pid"; srv_pid=""
}

# run WORKLOAD -> "iops p99_us" on stdout
run () {
  local w="$1" args dir=read
  case "$w" in
    rr1)  args="--rw=randread --bs=4k --iodepth=1" ;;
    rr16) args="--rw=randread --bs=4k --iodepth=16" ;;
    rwa)  args="--rw=randwrite --bs=4k --iodepth=16"; dir=write ;;
    # Unallocated: every write lands in a new 64k cluster.
    rwu)  args="--rw=randwrite --bs=4k --blockalign=64k --iodepth=16 --size=64G"; dir=write ;;
    sr)   args="--rw=read --bs=1M --iodepth=4" ;;
    sw)   args="--rw=write --bs=1M --iodepth=4"; dir=write ;;
  esac
  fio --name=b --ioengine=nbd --uri="$uri" $args --time_based \
      --runtime="$RUNTIME" --ramp_time=0.5 --randrepeat=0 \
      --output-format=json >"$tmp/fio.json" 2>"$tmp/fio.err" || {
    cat "$tmp/fio.err"; echo "bench-qcow2: fio failed ($w)"; exit 1; }
  # fio's nbd engine prints a line before the JSON.
  sed -n '/^{/,$p' "$tmp/fio.json" > "$tmp/fio2.json"
  jq -r ".jobs[0].$dir | \"\(.iops) \(.clat_ns.percentile[\"99.000000\"] / 1000)\"" "$tmp/fio2.json"
}

res="$tmp/results"
: > "$res"
order="$SERVERS"
for r in $(seq 1 "$ROUNDS"); do
  for w in $WORKLOADS; do
    kind=full; [ "$w" = rwu ] && kind=empty
    for s in $order; do
      start "$s" $kind
      echo "$w $s $(run $w)" >> "$res"
      stop
    done
  done
  # Alternate: reverse the server order every round.
  order="$(echo $order | tr ' ' '\n' | tac | tr '\n' ' ')"
  echo "bench-qcow2: round $r/$ROUNDS done"
done

python3 - "$res" "$SERVERS" "$WORKLOADS" "$ROUNDS" "$RUNTIME" <<'PY'
import sys, statistics
res, servers, workloads = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
d = {}
for line in open(res):
    w, s, iops, p99 = line.split()
    d.setdefault((w, s), []).append((float(iops), float(p99)))
names = {"rr1": "4k randread QD1", "rr16": "4k randread QD16",
         "rwa": "4k randwrite QD16 allocated", "rwu": "4k randwrite QD16 unallocated",
         "sr": "1M seq read QD4", "sw": "1M seq write QD4"}
print(f"\nqcow2 plugin vs qemu-nbd and the raw ceiling: medians of {sys.argv[4]} rounds x {sys.argv[5]}s")
print(f"{'workload':32} {'server':20} {'IOPS':>10} {'p99 us':>9}")
for w in workloads:
    med = {}
    for s in servers:
        v = d.get((w, s), [])
        if v:
            med[s] = (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v))
            print(f"{names[w]:32} {s:20} {med[s][0]:10.0f} {med[s][1]:9.0f}")
    q = {s: m for s, m in med.items() if s.startswith("qnbd")}
    for p in [s for s in servers if s.startswith("plugin")]:
      if p in med and q:
        best = max(q, key=lambda s: q[s][0])
        line = f"  -> {p}/{best} = {med[p][0] / q[best][0]:.2f}x IOPS, p99 {med[p][1]:.0f} vs {q[best][1]:.0f} us"
        if "raw" in med:
            line += f"; {p}/raw = {med[p][0] / med['raw'][0]:.2f}x"
        print(line)
PY
