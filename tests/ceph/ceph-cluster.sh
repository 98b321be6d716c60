#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdkit-blk: a throw-away single-node Ceph cluster for tests and demos.
#
#   ceph-cluster.sh start DIR [--image NAME] [--size SIZE] [--no-image]
#                             [--linger SECS] [--owner PID]
#                             [--store memstore|bluestore]
#   ceph-cluster.sh stop DIR          # OSD, then monitor, by recorded PID
#   ceph-cluster.sh status DIR        # exit 0 if both daemons run
#   ceph-cluster.sh env DIR           # prints: export CEPH_CONF=DIR/ceph.conf
#   ceph-cluster.sh stop-osd DIR / start-osd DIR   # for fault tests
#   ceph-cluster.sh hold DIR PID / release DIR PID # users (see --linger)
#
# One ceph-mon and one ceph-osd with the in-memory memstore backend, as
# plain processes bound to 127.0.0.1, every file under DIR (conf,
# keyrings, logs, sockets, PIDs).  No mgr: librbd does not need one.
# `start` creates pool "rbd" and (unless --no-image) image rbd/test of
# --size (default 256M).  Clients find everything through
# CEPH_CONF=DIR/ceph.conf (the conf names the admin keyring).
#
# --linger SECS starts a watchdog that stops the cluster once no
# process registered with `hold` has been alive for SECS seconds, or at
# once when --owner PID exits: so a cluster shared by many test
# scripts is started once and is never left behind.
#
# --store bluestore gives the OSD Ceph's production object store on a
# sparse 4 GiB file, DIR/osd.0/block (starts in ~7 s instead of ~2 s;
# DIR must be on a filesystem with O_DIRECT, not tmpfs).  Tests use
# memstore; benchmarks take bluestore where memstore's own costs would
# be measured instead of the client's (docs/rbd.md, "1M writes").
#
# Facts behind the configuration: ../../docs/rbd.md ("Test cluster").
set -u
set -o pipefail

PATH=/usr/bin:/usr/sbin:/bin:/sbin:$PATH

die () { echo "ceph-cluster.sh: $*" >&2; exit 1; }

need_cmds ()
{
  for c in ceph-mon ceph-osd ceph rbd monmaptool ceph-authtool; do
    command -v "$c" >/dev/null 2>&1 ||
      { echo "ceph-cluster.sh: $c is not installed (Debian: ceph-mon ceph-osd ceph-common)" >&2
        exit 3; }
  done
}

# Is TCP port P free on 127.0.0.1?
# ss (iproute2) sees listeners of any user; without it, try to connect.
port_free ()
{
  if command -v ss >/dev/null 2>&1; then
    [ -z "$(ss -Htln "sport = :$1")" ]
  else
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

# Choose a block of 20 free ports: mon v2, mon v1, then 18 for the OSD
# (it binds 8: public, cluster, heartbeat front and back, v1 and v2).
# A taken port makes a daemon retry for ~10 s and exit, so check them.
pick_ports ()
{
  for _ in $(seq 1 50); do
    base=$(( 20000 + (RANDOM % 2000) * 20 ))
    ok=1
    for p in $(seq "$base" $((base + 19))); do
      port_free "$p" || { ok=0; break; }
    done
    [ $ok = 1 ] && { echo "$base"; return 0; }
  done
  die "no block of 20 free TCP ports found on 127.0.0.1"
}

# store_conf STORE: the [osd] lines of the object store.
store_conf ()
{
  case "$1" in
    memstore) printf '%s\n' 'osd objectstore = memstore' \
      '# Without page sets random overwrites get slower run after run.' \
      'memstore page set = true' 'memstore device bytes = 2147483648' ;;
    bluestore) printf '%s\n' 'osd objectstore = bluestore' \
      'bluestore block create = true' 'bluestore block size = 4294967296' \
      'bluestore block db create = false' 'bluestore block wal create = false' \
      'bluestore fsck on mkfs = false' 'bluestore fsck on mount = false' ;;
  esac
}

write_conf ()
{
  local dir="$1" fsid="$2" base="$3" store="$4"
  cat > "$dir/ceph.conf" <<EOF
# Written by nbdkit-blk tests/ceph/ceph-cluster.sh: a single-node test cluster.
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$base,v1:127.0.0.1:$((base + 1))]
mon initial members = a
public addr = 127.0.0.1
ms bind ipv6 = false
ms bind port min = $((base + 2))
ms bind port max = $((base + 19))
run dir = $dir/run
crash dir = $dir/crash
log file = $dir/log/\$name.log
admin socket = $dir/run/\$name.asok
osd pool default size = 1
osd pool default min size = 1
osd crush chooseleaf type = 0
# Paxos proposes every second by default: start-up would take ~10 s.
paxos propose interval = 0.05
auth allow insecure global id reclaim = false
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
# No mgr on purpose: do not raise MGR_DOWN.
mon mgr mkfs grace = 315360000
mon allow pool delete = true

[mon]
mon data = $dir/mon.\$id

[osd]
osd data = $dir/osd.\$id
keyring = $dir/osd.\$id/keyring
$(store_conf "$store")
# memstore saves its data on SIGTERM only without fast shutdown:
# needed to stop and restart the OSD in fault tests.
osd fast shutdown = false

[client]
keyring = $dir/client.admin.keyring
EOF
}

# pidfile_alive FILE PATTERN: the PID in FILE runs and its command line
# contains PATTERN (PIDs are recycled fast: never signal a stranger).
pid_ok ()
{
  local f="$1" pat="$2" p
  [ -s "$f" ] || return 1
  p="$(cat "$f")"
  [ -r "/proc/$p/cmdline" ] || return 1
  # A zombie (state Z) has exited already.
  [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] || return 1
  tr '\0' ' ' < "/proc/$p/cmdline" | grep -qF -- "$pat"
}

stop_daemon ()
{
  local dir="$1" name="$2" p
  if pid_ok "$dir/$name.pid" "$dir/ceph.conf"; then
    p="$(cat "$dir/$name.pid")"
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 1 100); do
      pid_ok "$dir/$name.pid" "$dir/ceph.conf" || break
      sleep 0.1
    done
    if pid_ok "$dir/$name.pid" "$dir/ceph.conf"; then
      echo "ceph-cluster.sh: $name (pid $p) ignores SIGTERM, killing it" >&2
      kill -KILL "$p" 2>/dev/null
    fi
  fi
  rm -f "$dir/$name.pid"
}

# wait_for SECS CMD...: poll CMD until it succeeds, for SECS seconds
# of wall-clock time (CMD itself may take a while to fail).
wait_for ()
{
  local deadline=$(( SECONDS + $1 )); shift
  while [ "$SECONDS" -lt "$deadline" ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# run CMD...: a set-up step; on failure show its output, stop what was
# started and give up.  (Not `set -e` in a subshell: bash ignores it
# when the subshell's status is tested.)
run ()
{
  if ! "$@" >>"$dir/log/setup.out" 2>&1; then
    tail -20 "$dir/log/setup.out" >&2
    cmd_stop "$dir"
    die "set-up step failed: $*"
  fi
}

osd_up () { ceph osd dump 2>/dev/null | grep -q '^osd\.0 up'; }

start_osd ()
{
  local dir="$1"
  ceph-osd -c "$dir/ceph.conf" -i 0 -f >>"$dir/log/osd.0.out" 2>&1 &
  echo $! > "$dir/osd.pid"
  if ! wait_for 60 osd_up; then
    tail -20 "$dir/log/osd.0.log" "$dir/log/osd.0.out" >&2
    die "osd.0 did not come up within 60 s (logs in $dir/log)"
  fi
}

cmd_start ()
{
  local dir="$1"; shift
  local image=test size=256M linger="" owner="" store=memstore
  while [ $# -gt 0 ]; do
    case "$1" in
      --image) image="$2"; shift 2 ;;
      --size) size="$2"; shift 2 ;;
      --no-image) image=""; shift ;;
      --linger) linger="$2"; shift 2 ;;
      --owner) owner="$2"; shift 2 ;;
      --store)
        case "${2:-}" in
          memstore|bluestore) store="$2" ;;
          *) die "start: --store takes memstore or bluestore, not '${2:-}'" ;;
        esac
        shift 2 ;;
      *) die "start: unknown option '$1'" ;;
    esac
  done
  need_cmds
  mkdir -p "$dir" || die "cannot create $dir"
  dir="$(cd "$dir" && pwd)"
  if pid_ok "$dir/mon.pid" "$dir/ceph.conf"; then
    die "a cluster already runs in $dir (stop it first)"
  fi
  rm -rf "$dir/mon.a" "$dir/osd.0" "$dir/run" "$dir/log" "$dir/crash" \
    "$dir/users" "$dir/monmap" "$dir"/*.keyring "$dir"/*.pid
  mkdir -p "$dir/run" "$dir/log" "$dir/crash" "$dir/osd.0" "$dir/users"

  local fsid base
  fsid="$(cat /proc/sys/kernel/random/uuid)"
  base="$(pick_ports)"
  write_conf "$dir" "$fsid" "$base" "$store"
  export CEPH_CONF="$dir/ceph.conf"

  run ceph-authtool --create-keyring "$dir/mon.keyring" --gen-key -n mon. \
    --cap mon 'allow *'
  run ceph-authtool --create-keyring "$dir/client.admin.keyring" --gen-key \
    -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
    --cap mds 'allow *' --cap mgr 'allow *'
  run ceph-authtool "$dir/mon.keyring" --import-keyring "$dir/client.admin.keyring"
  run monmaptool --create --clobber --fsid "$fsid" \
    --addv a "[v2:127.0.0.1:$base,v1:127.0.0.1:$((base + 1))]" "$dir/monmap"
  run ceph-mon -c "$dir/ceph.conf" --mkfs -i a --monmap "$dir/monmap" \
    --keyring "$dir/mon.keyring"

  ceph-mon -c "$dir/ceph.conf" -i a -f >>"$dir/log/mon.a.out" 2>&1 &
  echo $! > "$dir/mon.pid"
  if ! wait_for 30 ceph --connect-timeout 2 -s; then
    tail -20 "$dir/log/mon.a.log" "$dir/log/mon.a.out" >&2
    cmd_stop "$dir"
    die "the monitor did not answer within 30 s (logs in $dir/log)"
  fi

  local osd_uuid
  osd_uuid="$(cat /proc/sys/kernel/random/uuid)"
  local id
  id="$(ceph osd create "$osd_uuid" 2>>"$dir/log/setup.out")"
  [ "$id" = 0 ] || { cmd_stop "$dir"; die "ceph osd create gave '$id', not 0"; }
  run ceph-osd -c "$dir/ceph.conf" -i 0 --mkfs --mkkey --osd-uuid "$osd_uuid" \
    --no-mon-config
  run ceph auth add osd.0 osd 'allow *' mon 'allow profile osd' \
    -i "$dir/osd.0/keyring"
  start_osd "$dir"

  run ceph osd pool create rbd 8 8 replicated
  # Blocks until the pool's PGs are active: then rbd I/O works.
  run rbd pool init rbd
  if [ -n "$image" ]; then run rbd create --size "$size" "rbd/$image"; fi

  if [ -n "$linger" ]; then
    # The watchdog must not hold the caller's stdout/stderr open (make
    # would wait for it), and it survives the caller on purpose.
    setsid "$0" watch "$dir" "$linger" "${owner:-0}" \
      </dev/null >>"$dir/log/watchdog.out" 2>&1 &
    echo $! > "$dir/watchdog.pid"
  fi
  echo "ceph-cluster.sh: cluster up in $dir ($store, mon 127.0.0.1:$base); export CEPH_CONF=$dir/ceph.conf" >&2
}

cmd_stop ()
{
  local dir="$1"
  [ -d "$dir" ] || return 0
  # Order matters: with the monitor gone first the OSD waits for it.
  stop_daemon "$dir" osd
  stop_daemon "$dir" mon
  if [ -s "$dir/watchdog.pid" ] && [ "$(cat "$dir/watchdog.pid")" != "${WATCHDOG_SELF:-}" ] &&
     pid_ok "$dir/watchdog.pid" "$dir"; then
    kill -TERM "$(cat "$dir/watchdog.pid")" 2>/dev/null
  fi
  rm -f "$dir/watchdog.pid"
}

cmd_status ()
{
  local dir="$1"
  pid_ok "$dir/mon.pid" "$dir/ceph.conf" && pid_ok "$dir/osd.pid" "$dir/ceph.conf"
}

# The watchdog behind --linger: a user is a file users/PID; users whose
# process is gone are removed.  Decisions are taken under DIR.lock, the
# lock `hold` callers take, so a new user never gets a dying cluster.
cmd_watch ()
{
  local dir="$1" linger="$2" owner="$3" idle=0
  export WATCHDOG_SELF=$$
  while :; do
    sleep 1
    [ -d "$dir" ] || exit 0
    exec 9>"$dir.lock"
    flock 9
    for f in "$dir"/users/*; do
      [ -e "$f" ] || continue
      kill -0 "$(basename "$f")" 2>/dev/null || rm -f "$f"
    done
    if ! cmd_status "$dir"; then
      # Somebody stopped it (or it died): clean up what is left.
      cmd_stop "$dir"; exit 0
    fi
    if [ "$owner" != 0 ] && ! kill -0 "$owner" 2>/dev/null; then
      echo "owner $owner exited: stopping"
      cmd_stop "$dir"; exit 0
    fi
    if [ -n "$(ls -A "$dir/users" 2>/dev/null)" ]; then
      idle=0
    else
      idle=$((idle + 1))
      if [ "$idle" -ge "$linger" ]; then
        echo "no user for $linger s: stopping"
        cmd_stop "$dir"; exit 0
      fi
    fi
    exec 9>&-
  done
}

# Daemons and the watchdog live longer than the caller: they must not
# inherit its descriptors, which may hold a lock (the tests' DIR.lock)
# or a pipe that make or a test harness waits on.  Close all but stdio.
close_fds ()
{
  local fd
  for fd in /proc/$$/fd/*; do
    fd="${fd##*/}"
    [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
  done
  return 0
}

[ $# -ge 2 ] || die "usage: $0 start|stop|status|env|stop-osd|start-osd|hold|release DIR [...]"
cmd="$1"; dir="$2"; shift 2
case "$cmd" in
  start|start-osd|watch) close_fds ;;
esac
case "$cmd" in
  start) cmd_start "$dir" "$@" ;;
  stop) cmd_stop "$(cd "$dir" 2>/dev/null && pwd || echo "$dir")" ;;
  status) cmd_status "$(cd "$dir" 2>/dev/null && pwd || echo "$dir")" ;;
  env) echo "export CEPH_CONF=$(cd "$dir" && pwd)/ceph.conf" ;;
  stop-osd) dir="$(cd "$dir" && pwd)"; stop_daemon "$dir" osd ;;
  start-osd) dir="$(cd "$dir" && pwd)"; export CEPH_CONF="$dir/ceph.conf"; start_osd "$dir" ;;
  hold) mkdir -p "$dir/users" && : > "$dir/users/$1" ;;
  release) rm -f "$dir/users/$1" ;;
  watch) cmd_watch "$dir" "$@" ;;
  *) die "unknown command '$cmd'" ;;
esac
