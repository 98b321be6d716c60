#!/usr/bin/env bash
# nbdkit-blk benchmark: the rbd plugin against the ceiling and against
# qemu-nbd, on one single-node cluster, in one run.
#
#   bench/bench-rbd.sh            (from a built tree; ROUNDS=3 RUNTIME=8)
#
# Three ways to reach the same RBD image with fio:
#   fio-rbd   fio's rbd engine straight into librbd (the ceiling)
#   qemu-nbd  qemu-nbd serving rbd:POOL/IMAGE, fio's nbd engine
#   nbdkit    nbdkit-rbd-plugin.so, fio's nbd engine
# Workloads: 4k random read and write at queue depth 16, 1M sequential
# read and write at queue depth 4.  Rounds alternate the three ways
# (wall-clock drifts ~10% on this box); the table shows medians, the
# ratio to fio-rbd, and CPU per request: the server's (nbdkit or
# qemu-nbd, from /proc) and fio's own (for fio-rbd that includes all of
# librbd, which the NBD servers carry instead).
#
# Uses the cluster named by $CEPH_CONF if set, else starts a private one
# with tests/ceph/ceph-cluster.sh and stops it at the end.
set -euo pipefail
PATH=/usr/bin:/usr/sbin:/bin:/sbin:$PATH

here="$(cd "$(dirname "$0")" && pwd)"
top="${abs_top_builddir:-$(cd "$here/.." && pwd)}"
src="${abs_top_srcdir:-$(cd "$here/.." && pwd)}"
plugin="$top/plugins/rbd/.libs/nbdkit-rbd-plugin.so"
: "${ROUNDS:=3}" "${RUNTIME:=8}" "${SIZE:=256M}" "${NBDKIT:=nbdkit}"

for c in fio jq qemu-nbd "$NBDKIT" ceph-mon ceph-osd rbd; do
  command -v "$c" >/dev/null || { echo "bench-rbd: SKIP: $c is not installed"; exit 0; }
done
[ -e "$plugin" ] || { echo "bench-rbd: build the tree first ($plugin missing)"; exit 1; }
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
  "$src/tests/ceph/ceph-cluster.sh" start "$work/ceph" --no-image >/dev/null 2>&1 ||
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
    nbdkit) "$NBDKIT" -f -U "$sock" "$plugin" rbd/bench ${NBDKIT_ARGS:-} >"$work/srv.log" 2>&1 & ;;
    qemu-nbd) qemu-nbd -k "$sock" -f raw -t \
                "rbd:rbd/bench:conf=$CEPH_CONF" >"$work/srv.log" 2>&1 & ;;
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
  /usr/bin/time -f "%U %S" -o "$work/fio.time" \
  fio --name=b "${engine[@]}" --rw=$rw --bs=$bs --iodepth=$qd --size="$SIZE" \
      --time_based --runtime="$RUNTIME" --ramp_time=1 --randrepeat=0 \
      --output-format=json --output="$work/fio.json"
  [ -n "$srv_pid" ] && t1=$(ticks "$srv_pid")
  o1=$(osd_ticks)
  # fio's own CPU, all threads (librbd's too for fio-rbd), from time(1).
  fcpu="$(awk '{print $1 + $2}' "$work/fio.time")"
  jq -r --arg way "$way" --arg wl "$wl" --arg srv "${t0:+$(( (t1 - t0) ))}" --arg hz "$hz" --arg fcpu "$fcpu" --arg osd "$((o1 - o0))" '
    .jobs[0] as $j
    | ($j.read.total_ios + $j.write.total_ios) as $n
    | (($j.read.iops + $j.write.iops)) as $iops
    | (($j.read.bw_bytes + $j.write.bw_bytes) / 1048576) as $mbs
    | ($j.job_runtime / 1000) as $secs
    | [$way, $wl, ($iops | floor), ($mbs * 10 | floor / 10),
       (if $srv == "" then "-" else ((($srv | tonumber) / ($hz | tonumber)) * 1e6 / ($iops * ($secs + 1)) | floor) end),
       (($fcpu | tonumber) * 1e6 / ($iops * ($secs + 1)) | floor),
       ((($osd | tonumber) / ($hz | tonumber)) * 1e6 / ($iops * ($secs + 1)) | floor)]
    | @tsv' "$work/fio.json" >> "$work/results.tsv"
  [ -n "$srv_pid" ] && stop_server
  t0=""
}

ways="${WAYS:-fio-rbd qemu-nbd nbdkit}"
wls="${WORKLOADS:-randread-4k randwrite-4k read-1M write-1M}"
: > "$work/results.tsv"
load0="$(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
  # Alternate the order each round.
  order="$ways"; [ $((r % 2)) = 0 ] && order="$(echo $ways | tr ' ' '\n' | tac | tr '\n' ' ')"
  for wl in $wls; do
    for way in $order; do run "$way" "$wl"; done
  done
  echo "bench-rbd: round $r of $ROUNDS done" >&2
done

echo "bench-rbd: $ROUNDS rounds x ${RUNTIME}s, image $SIZE, medians; CPU us per request"
echo "bench-rbd: load average before: $load0, after: $(cut -d' ' -f1-3 /proc/loadavg) (2 cores: above 2 means other work competed)"
python3 - "$work/results.tsv" <<'PY'
import sys, statistics as st, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    way, wl, iops, mbs, srv, fio, osd = line.rstrip("\n").split("\t")
    rows[(way, wl)].append((float(iops), float(mbs), srv, float(fio), float(osd)))
def med(xs): return st.median(xs) if xs else float("nan")
print("%-13s %-9s %9s %8s %7s %10s %8s %7s" % ("workload", "way", "IOPS", "MiB/s", "ratio", "server-us", "fio-us", "osd-us"))
for wl in ["randread-4k", "randwrite-4k", "read-1M", "write-1M"]:
    ceil = med([r[0] for r in rows[("fio-rbd", wl)]])
    for way in ["fio-rbd", "qemu-nbd", "nbdkit"]:
        rs = rows[(way, wl)]
        if not rs: continue
        iops = med([r[0] for r in rs]); mbs = med([r[1] for r in rs])
        srv = [float(r[2]) for r in rs if r[2] != "-"]
        print("%-13s %-9s %9.0f %8.1f %6.2fx %10s %8.0f %7.0f" % (
            wl, way, iops, mbs, iops / ceil if ceil else 0,
            "%.0f" % med(srv) if srv else "-", med([r[3] for r in rs]),
            med([r[4] for r in rs])))
PY
