#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdkit-blk benchmark: the rbd plugin against the ceiling and against
# qemu-nbd, on one single-node cluster, in one run.
#
#   bench/bench-rbd.sh            (from a built tree; ROUNDS=3 RUNTIME=8)
#   WAYS="fio-rbd nbdkit:writeback qemu-nbd:writeback" WORKLOADS=randwrite-4k \
#     ROUNDS=5 RUNTIME=5 bench/bench-rbd.sh
#
# Three ways to reach the same RBD image with fio:
#   fio-rbd          fio's rbd engine straight into librbd (the ceiling)
#   qemu-nbd:MODE    qemu-nbd --cache=MODE serving rbd:POOL/IMAGE, fio's
#                    nbd engine
#   nbdkit:MODE      nbdkit-rbd-plugin.so cache=MODE, fio's nbd engine
# MODE is one of QEMU's cache modes (CACHE_MODES, default "writeback
# writethrough none"): each server is compared with the other in the
# same mode, so that both make the same promise about an acknowledged
# write (see the plugin's man page: writeback acknowledges writes from
# librbd's cache, writethrough and none only once the OSDs have them).
# Plain "nbdkit" and "qemu-nbd" are each server's default mode
# (nbdkit:writethrough, qemu-nbd:writeback).
# and two ways that take Ceph out, to show what the NBD hop itself
# costs (bench/handoff.c, a RAM disk):
#   hop-direct   nbdkit does the copy on the worker that got the request
#   hop-handoff  another thread does it and wakes the worker, as librbd
#                completes a request: the wait that nbdkit 1.32's
#                synchronous plugin API imposes on every request
# Workloads: 4k random read and write at queue depth 16, 1M sequential
# read and write at queue depth 4.  Rounds alternate the ways
# (wall-clock drifts ~10% on this box); the table shows medians, the
# ratio to fio-rbd, and CPU per request: the server's (nbdkit or
# qemu-nbd, from /proc) and fio's own (for fio-rbd that includes all of
# librbd, which the NBD servers carry instead).  Then the plugin against
# qemu-nbd mode by mode, and the "floor fraction": the plugin's 4k
# random-read IOPS over hop-handoff's, i.e. how much of what nbdkit
# 1.32 leaves to a plugin over an asynchronous library it reaches (run
# in every invocation, added to WAYS/WORKLOADS if they leave it out).
#
# Uses the cluster named by $CEPH_CONF if set, else starts a private one
# with tests/ceph/ceph-cluster.sh and stops it at the end: with
# CEPH_STORE=bluestore (default memstore) its OSD keeps the data in
# Ceph's production store on a file under TMPDIR instead of in memory.
# memstore makes many concurrent writes to one object expensive (1M
# sequential writes in writeback mode measure memstore, not the
# servers: docs/rbd.md "1M writes and the object store").
set -euo pipefail
PATH=/usr/bin:/usr/sbin:/bin:/sbin:$PATH

here="$(cd "$(dirname "$0")" && pwd)"
top="${abs_top_builddir:-$(cd "$here/.." && pwd)}"
src="${abs_top_srcdir:-$(cd "$here/.." && pwd)}"
plugin="$top/plugins/rbd/.libs/nbdkit-rbd-plugin.so"
handoff="$top/bench/.libs/nbdkit-handoff-plugin.so"
# bench/run --quick: one short round, to see that it works.
[ "${BENCH_QUICK:-0}" = 1 ] && : "${ROUNDS:=1}" "${RUNTIME:=2}"
: "${ROUNDS:=3}" "${RUNTIME:=8}" "${SIZE:=256M}" "${NBDKIT:=nbdkit}"

for c in fio jq qemu-nbd "$NBDKIT" ceph-mon ceph-osd rbd; do
  command -v "$c" >/dev/null || { echo "bench-rbd: SKIP: $c is not installed"; exit 0; }
done
for m in "$plugin" "$handoff"; do
  [ -e "$m" ] || { echo "bench-rbd: build the tree first ($m missing)"; exit 1; }
done
fio --enghelp=rbd >/dev/null 2>&1 || { echo "bench-rbd: SKIP: fio has no rbd engine"; exit 0; }

work="$(mktemp -d "${TMPDIR:-/tmp}/bench-rbd.XXXXXX")"
own_cluster=0
srv_pid=""
cleanup ()
{
  set +e
  [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
  [ -n "${CEPH_CONF:-}" ] && rbd rm --no-progress rbd/bench >/dev/null 2>&1
  [ $own_cluster = 1 ] && "$src/tests/ceph/ceph-cluster.sh" stop "$work/ceph"
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${CEPH_CONF:-}" ]; then
  "$src/tests/ceph/ceph-cluster.sh" start "$work/ceph" --no-image \
    --store "${CEPH_STORE:-memstore}" >/dev/null 2>&1 ||
    { echo "bench-rbd: cannot start a cluster"; exit 1; }
  own_cluster=1
  export CEPH_CONF="$work/ceph/ceph.conf"
fi
rbd rm --no-progress rbd/bench >/dev/null 2>&1 || true
rbd create --size "$SIZE" rbd/bench
# Fill the image: reads of never-written objects cost the OSD nothing.
fio --name=fill --ioengine=rbd --clientname=admin --pool=rbd --rbdname=bench \
    --rw=write --bs=4M --iodepth=4 --size="$SIZE" --output=/dev/null

sock="$work/nbd.sock"

# start_server WAY: nbdkit or qemu-nbd on $sock; sets srv_pid.
start_server ()
{
  rm -f "$sock"
  case "$1" in
    nbdkit:*) "$NBDKIT" -f -U "$sock" "$plugin" rbd/bench cache="${1#nbdkit:}" \
                ${NBDKIT_ARGS:-} >"$work/srv.log" 2>&1 & ;;
    qemu-nbd:*) qemu-nbd -k "$sock" -f raw -t --cache="${1#qemu-nbd:}" \
                  "rbd:rbd/bench:conf=$CEPH_CONF" >"$work/srv.log" 2>&1 & ;;
    hop-*) "$NBDKIT" -f -U "$sock" "$handoff" size="$SIZE" mode="${1#hop-}" \
             >"$work/srv.log" 2>&1 & ;;
  esac
  srv_pid=$!
  for _ in $(seq 1 100); do [ -S "$sock" ] && return 0; sleep 0.1; done
  cat "$work/srv.log"; echo "bench-rbd: $1 did not start"; exit 1
}
stop_server () { kill "$srv_pid"; wait "$srv_pid" 2>/dev/null || true; srv_pid=""; }

# CPU ticks (user + system) of a process.
ticks () { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# The OSD's CPU, when the cluster is ours (else "-").
osd_ticks ()
{
  if [ $own_cluster = 1 ]; then ticks "$(cat "$work/ceph/osd.pid")"; else echo 0; fi
}

# run WAY WORKLOAD ROUND: one fio run; appends "way wl iops mbs srv_us fio_us".
run ()
{
  local way="$1" wl="$2" rw bs qd engine t0 t1
  case "$wl" in
    randread-4k) rw=randread bs=4k qd=16 ;;
    randwrite-4k) rw=randwrite bs=4k qd=16 ;;
    read-1M) rw=read bs=1M qd=4 ;;
    write-1M) rw=write bs=1M qd=4 ;;
  esac
  if [ "$way" = fio-rbd ]; then
    engine=(--ioengine=rbd --clientname=admin --pool=rbd --rbdname=bench)
  else
    start_server "$way"
    engine=(--ioengine=nbd --uri="nbd+unix:///?socket=$sock")
  fi
  [ -n "$srv_pid" ] && t0=$(ticks "$srv_pid")
  o0=$(osd_ticks)
  # The server's context switches (all its threads, also those that
  # exit with the connection), when perf is there.
  cs_pid=""
  if [ -n "$srv_pid" ] && command -v perf >/dev/null; then
    perf stat -x, -e context-switches -p "$srv_pid" -o "$work/cs.txt" &
    cs_pid=$!
  fi
  /usr/bin/time -f "%U %S" -o "$work/fio.time" \
  fio --name=b "${engine[@]}" --rw=$rw --bs=$bs --iodepth=$qd --size="$SIZE" \
      --time_based --runtime="$RUNTIME" --ramp_time=1 --randrepeat=0 \
      --output-format=json --output="$work/fio.json"
  [ -n "$srv_pid" ] && t1=$(ticks "$srv_pid")
  o1=$(osd_ticks)
  cs="-"
  if [ -n "$cs_pid" ]; then
    kill -INT "$cs_pid"; wait "$cs_pid" 2>/dev/null || true
    cs="$(awk -F, '/context-switches/ {print $1}' "$work/cs.txt")"
  fi
  # fio's own CPU, all threads (librbd's too for fio-rbd), from time(1).
  fcpu="$(awk '{print $1 + $2}' "$work/fio.time")"
  jq -r --arg way "$way" --arg wl "$wl" --arg srv "${t0:+$(( (t1 - t0) ))}" --arg hz "$hz" --arg fcpu "$fcpu" --arg osd "$((o1 - o0))" --arg cs "${cs:--}" '
    .jobs[0] as $j
    | ($j.read.total_ios + $j.write.total_ios) as $n
    | (($j.read.iops + $j.write.iops)) as $iops
    | (($j.read.bw_bytes + $j.write.bw_bytes) / 1048576) as $mbs
    | ($j.job_runtime / 1000) as $secs
    | [$way, $wl, ($iops | floor), ($mbs * 10 | floor / 10),
       (if $srv == "" then "-" else ((($srv | tonumber) / ($hz | tonumber)) * 1e6 / ($iops * ($secs + 1)) | floor) end),
       (($fcpu | tonumber) * 1e6 / ($iops * ($secs + 1)) | floor),
       ((($osd | tonumber) / ($hz | tonumber)) * 1e6 / ($iops * ($secs + 1)) | floor),
       (if ($cs | test("^[0-9]+$")) then (($cs | tonumber) / ($iops * ($secs + 1)) * 100 | floor / 100) else "-" end)]
    | @tsv' "$work/fio.json" >> "$work/results.tsv"
  [ -n "$srv_pid" ] && stop_server
  t0=""
}

: "${CACHE_MODES:=writeback writethrough none}"
if [ -z "${WAYS:-}" ]; then
  WAYS="fio-rbd"
  for m in $CACHE_MODES; do WAYS="$WAYS qemu-nbd:$m nbdkit:$m"; done
  WAYS="$WAYS hop-direct hop-handoff"
fi
ways=""
for w in $WAYS; do
  case "$w" in
    nbdkit) w=nbdkit:writethrough ;;
    qemu-nbd) w=qemu-nbd:writeback ;;
  esac
  ways="$ways $w"
done
wls="${WORKLOADS:-randread-4k randwrite-4k read-1M write-1M}"
# The floor fraction needs hop-handoff and the plugin at 4k random
# read in every run: add what the selection leaves out.
first_nbdkit="$(echo $ways | tr ' ' '\n' | grep -m1 '^nbdkit:' || echo nbdkit:writethrough)"
extra=""
case " $wls " in *" randread-4k "*) ;; *) extra="hop-handoff $first_nbdkit" ;; esac
case " $ways " in *" hop-handoff "*) ;; *) extra="${extra:-hop-handoff}" ;; esac
case " $ways $extra " in *" $first_nbdkit "*) ;; *) extra="$extra $first_nbdkit" ;; esac
: > "$work/results.tsv"
load0="$(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
  # Alternate the order each round.
  order="$ways"; [ $((r % 2)) = 0 ] && order="$(echo $ways | tr ' ' '\n' | tac | tr '\n' ' ')"
  for wl in $wls; do
    for way in $order; do run "$way" "$wl"; done
  done
  for way in $extra; do run "$way" randread-4k; done
  echo "bench-rbd: round $r of $ROUNDS done" >&2
done

if [ $own_cluster = 1 ]; then store="${CEPH_STORE:-memstore} OSD"; else store="cluster of CEPH_CONF"; fi
echo "bench-rbd: $ROUNDS rounds x ${RUNTIME}s, image $SIZE, $store, medians; CPU us per request"
echo "bench-rbd: load average before: $load0, after: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores: above that, other work competed)"
python3 - "$work/results.tsv" "$ways" "$first_nbdkit" <<'PY'
import sys, statistics as st, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    way, wl, iops, mbs, srv, fio, osd, cs = line.rstrip("\n").split("\t")
    rows[(way, wl)].append((float(iops), float(mbs), srv, float(fio), float(osd), cs))
def med(xs):
    xs = list(xs)
    return st.median(xs) if xs else float("nan")
def fig(way, wl):
    rs = rows[(way, wl)]
    if not rs:
        return None
    srv = [float(r[2]) for r in rs if r[2] != "-"]
    cs = [float(r[5]) for r in rs if r[5] != "-"]
    return dict(iops=med(r[0] for r in rs), mbs=med(r[1] for r in rs),
                srv=med(srv) if srv else None, fio=med(r[3] for r in rs),
                osd=med(r[4] for r in rs), cs=med(cs) if cs else None)
ways = sys.argv[2].split()
for extra in ("hop-handoff", sys.argv[3]):
    if extra not in ways:
        ways.append(extra)
first_nbdkit = sys.argv[3]
wls = ["randread-4k", "randwrite-4k", "read-1M", "write-1M"]
print("%-13s %-20s %9s %8s %7s %10s %8s %7s %7s" % ("workload", "way", "IOPS", "MiB/s", "ratio", "server-us", "fio-us", "osd-us", "srv-cs"))
for wl in wls:
    ceil = fig("fio-rbd", wl)
    for way in ways:
        f = fig(way, wl)
        if not f:
            continue
        ratio = "%6.2fx" % (f["iops"] / ceil["iops"]) if ceil and not way.startswith("hop") else "     - "
        print("%-13s %-20s %9.0f %8.1f %s %10s %8.0f %7s %7s" % (
            wl, way, f["iops"], f["mbs"], ratio,
            "%.0f" % f["srv"] if f["srv"] is not None else "-", f["fio"],
            "%.0f" % f["osd"] if not way.startswith("hop") else "-",
            "%.2f" % f["cs"] if f["cs"] is not None else "-"))

# The plugin against qemu-nbd in the same cache mode.
modes = [w.split(":", 1)[1] for w in ways if w.startswith("nbdkit:")]
lines = []
for wl in wls:
    for m in modes:
        n, q = fig("nbdkit:" + m, wl), fig("qemu-nbd:" + m, wl)
        if n and q:
            lines.append("  %-13s cache=%-13s nbdkit %7.0f  qemu-nbd %7.0f IOPS  nbdkit/qemu-nbd %5.2fx" % (
                wl, m, n["iops"], q["iops"], n["iops"] / q["iops"]))
if lines:
    print("\nSame cache mode, plugin vs qemu-nbd (medians):")
    print("\n".join(lines))

# Floor fraction: the plugin's 4k random reads over hop-handoff's, the
# most that nbdkit 1.32's synchronous API leaves to a plugin whose
# backend completes on another thread.
h = fig("hop-handoff", "randread-4k")
if h:
    for w in ways:
        n = fig(w, "randread-4k")
        if w.startswith("nbdkit:") and n:
            print("floor fraction: %s randread-4k %.0f IOPS / hop-handoff %.0f = %.2f" % (
                w, n["iops"], h["iops"], n["iops"] / h["iops"]))

# Where the time goes: CPU per request, the plugin's chain against the
# ceiling's, with the NBD hop measured on its own (hop-*).  On two
# cores a saturated chain does at most 2e6 / (CPU us per request)
# requests a second.
print("\nWhere the CPU goes, us per request (medians; 'cores' = IOPS x CPU/req):")
for wl in wls:
    c, n = fig("fio-rbd", wl), fig(first_nbdkit, wl)
    d, h = fig("hop-direct", wl), fig("hop-handoff", wl)
    if not (c and n and n["srv"] is not None):
        continue
    ct = c["fio"] + c["osd"]
    nt = n["srv"] + n["fio"] + n["osd"]
    print(("%s: fio-rbd %.0f (fio+librbd %.0f, osd %.0f; %.2f cores)  " + first_nbdkit + " %.0f (server %.0f, fio-nbd %.0f, osd %.0f; %.2f cores)") % (
        wl, ct, c["fio"], c["osd"], c["iops"] * ct / 1e6, nt, n["srv"], n["fio"], n["osd"], n["iops"] * nt / 1e6))
    if d and h and d["srv"] is not None and h["srv"] is not None:
        hop = h["srv"] + h["fio"]
        print("  NBD hop alone: server %.0f direct / %.0f with the hand-off (+%.0f; context switches %.2f -> %.2f per request), client %.0f" % (
            d["srv"], h["srv"], h["srv"] - d["srv"], d["cs"] or 0, h["cs"] or 0, h["fio"]))
        print("  librbd in the server: %.0f (server minus the hop with hand-off); in fio-rbd librbd and fio together: %.0f" % (
            n["srv"] - h["srv"], c["fio"]))
        print("  at equal CPU, the hop alone (fio-rbd's chain plus hand-off and client) allows %.2fx of fio-rbd" % (ct / (ct + hop)))
PY
