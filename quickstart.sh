#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdkit-blk quick start.
#
#   ./quickstart.sh          install what is missing, build, run the demo
#   ./quickstart.sh check    install what is missing, build, run all tests
#   ./quickstart.sh build    install what is missing and build only
#
# Works as root on a fresh Debian 12 machine.  The build goes to _build/
# (and _build-asan/, _build-fuzz/ for the sanitizer and fuzz passes of
# "check"), so the source tree stays clean.  Environment knobs:
#   QUICKSTART_SKIP_INSTALL=1  do not call apt-get (packages are there)
#   QUICKSTART_NO_ASAN=1       "check": skip the ASan/UBSan pass
#   QUICKSTART_NO_FUZZ=1       "check": skip the libFuzzer smoke runs
#   JOBS=N                     make -jN (default: number of CPUs)

set -euo pipefail

srcdir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mode="${1:-demo}"
jobs="${JOBS:-$(nproc 2>/dev/null || echo 2)}"

say () { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die () { printf 'quickstart: %s\n' "$*" >&2; exit 1; }

case "$mode" in
  demo|check|build) ;;
  *) die "unknown mode '$mode' (use: ./quickstart.sh [check|build])" ;;
esac

# ---- 1. Debian packages ----------------------------------------------------
# Why each is needed is in README.md ("Dependencies").
build_pkgs="build-essential autoconf automake libtool pkg-config perl
  nbdkit nbdkit-plugin-dev libnbd-dev librbd-dev librados-dev
  libcriterion-dev zlib1g-dev libzstd-dev libxxhash-dev"
run_pkgs="libnbd-bin python3-libnbd qemu-utils qemu-block-extra fio jq"
test_pkgs="ceph-mon ceph-osd ceph-common prometheus python3-prometheus-client
  valgrind clang libclang-rt-14-dev binutils procps iproute2 e2fsprogs util-linux
  debhelper lintian zstd qemu-user"

install_missing ()
{
  local want missing=""
  want="$build_pkgs $run_pkgs"
  [ "$mode" = check ] && want="$want $test_pkgs"
  for p in $want; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
      missing="$missing $p"
  done
  if [ -z "$missing" ]; then
    say "All Debian packages present"
    return
  fi
  if [ "${QUICKSTART_SKIP_INSTALL:-0}" = 1 ]; then
    die "missing Debian packages:$missing (unset QUICKSTART_SKIP_INSTALL to install them)"
  fi
  [ "$(id -u)" = 0 ] ||
    die "missing Debian packages:$missing; run as root or: sudo apt-get install$missing"
  say "Installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $missing
}

# ---- 2. build ---------------------------------------------------------------
build_tree ()
{
  local dir="$1"; shift
  if [ ! -x "$srcdir/configure" ] || [ "$srcdir/configure.ac" -nt "$srcdir/configure" ]; then
    say "autoreconf"
    (cd "$srcdir" && autoreconf -fi)
  fi
  mkdir -p "$dir"
  if [ ! -f "$dir/config.status" ]; then
    say "configure $* (in ${dir#"$srcdir"/})"
    (cd "$dir" && "$srcdir/configure" -q "$@")
  fi
  say "make (in ${dir#"$srcdir"/})"
  make -C "$dir" -j"$jobs" >/dev/null
}

# A tree configured in place (a developer's) cannot also host VPATH builds.
if [ -f "$srcdir/config.status" ]; then
  builddir="$srcdir"
  inplace=1
else
  builddir="$srcdir/_build"
  inplace=0
fi

install_missing
build_tree "$builddir"

# ---- 3a. check: the whole test suite (and again under ASan/UBSan) -----------
# Prints "N passed, N failed, N skipped" summed over the passes, from
# automake's own test-suite summaries.
summarise ()
{
  local log="$1" pass=0 fail=0 skip=0
  pass=$(sed -n 's/^# PASS: *//p' "$log" | awk '{s+=$1} END {print s+0}')
  fail=$(sed -n -e 's/^# FAIL: *//p' -e 's/^# ERROR: *//p' -e 's/^# XPASS: *//p' "$log" |
         awk '{s+=$1} END {print s+0}')
  skip=$(sed -n -e 's/^# SKIP: *//p' -e 's/^# XFAIL: *//p' "$log" | awk '{s+=$1} END {print s+0}')
  echo "$pass $fail $skip"
}

run_check ()
{
  local dir="$1" label="$2" log rc=0
  log="$dir/quickstart-check.log"
  say "make check ($label)"
  make -C "$dir" -j"$jobs" check 2>&1 | tee "$log" | grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP):|^# ' || true
  grep -q '^# TOTAL:' "$log" || { echo "make check ($label) did not complete" >&2; rc=1; }
  if grep -qE '^(FAIL|ERROR|XPASS):' "$log"; then
    for t in $(sed -n -E 's/^(FAIL|ERROR|XPASS): ([^ ]+).*/\2/p' "$log"); do
      f="$(find "$dir/tests" -name "$t.log" | head -1)"
      [ -n "$f" ] && { echo "---- $t ($label) ----"; tail -40 "$f"; }
    done
  fi
  return $rc
}

if [ "$mode" = check ]; then
  totals="0 0 0"
  broken=0
  run_check "$builddir" "default build" || broken=1
  read -r p f s <<<"$(summarise "$builddir/quickstart-check.log")"
  totals="$p $f $s"
  if [ "${QUICKSTART_NO_ASAN:-0}" != 1 ]; then
    if [ "$inplace" = 1 ]; then
      say "Skipping the ASan/UBSan pass: the source tree is configured in place"
    else
      build_tree "$srcdir/_build-asan" --enable-sanitizers
      run_check "$srcdir/_build-asan" "ASan+UBSan" || broken=1
      read -r p2 f2 s2 <<<"$(summarise "$srcdir/_build-asan/quickstart-check.log")"
      read -r p f s <<<"$totals"
      totals="$((p + p2)) $((f + f2)) $((s + s2))"
    fi
  fi
  if [ "${QUICKSTART_NO_FUZZ:-0}" != 1 ] && [ "$inplace" = 0 ] && command -v clang >/dev/null; then
    # Fuzz smoke: every libFuzzer target builds and survives a short run
    # from its seeds (the long runs are for developers; see README).
    build_tree "$srcdir/_build-fuzz" CC=clang --enable-fuzzing
    say "fuzz smoke (5 s per target)"
    fp=0; ff=0
    for t in "$srcdir"/_build-fuzz/fuzz/fuzz-*; do
      case "$t" in *.o|*.c) continue ;; esac
      [ -x "$t" ] || continue
      name="$(basename "$t")"
      seeds="$srcdir/fuzz/seeds/${name#fuzz-}"
      corpus="$srcdir/_build-fuzz/fuzz/corpus-${name#fuzz-}"
      mkdir -p "$corpus"
      args=("$corpus")
      [ -d "$seeds" ] && args+=("$seeds")
      if "$t" -max_total_time=5 -seed=1 "${args[@]}" >"$t.log" 2>&1; then
        echo "PASS: $name"; fp=$((fp + 1))
      else
        echo "FAIL: $name"; tail -30 "$t.log"; ff=$((ff + 1))
      fi
    done
    read -r p f s <<<"$totals"
    totals="$((p + fp)) $((f + ff)) $s"
  fi
  read -r p f s <<<"$totals"
  [ "$broken" = 1 ] && f=$((f + 1))
  echo
  echo "$p passed, $f failed, $s skipped"
  [ "$f" = 0 ]
  exit $?
fi

[ "$mode" = build ] && { say "Built in $builddir"; exit 0; }

# ---- 3b. demo: a qcow2 image under the filter stack -------------------------
export PATH="/usr/bin:/usr/sbin:$PATH"   # Debian's python3 for nbdsh
demo="$(mktemp -d /tmp/nbdkit-blk-demo.XXXXXX)"
pids=""
cleanup () {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$demo"
}
trap cleanup EXIT

filter () { echo "$builddir/filters/$1/.libs/nbdkit-$1-filter.so"; }
plugin () { echo "$builddir/plugins/$1/.libs/nbdkit-$1-plugin.so"; }

serve ()   # serve NAME ARGS...: nbdkit on $demo/NAME.sock, log in $demo/NAME.log
{
  local name="$1"; shift
  nbdkit -f -U "$demo/$name.sock" "$@" >"$demo/$name.log" 2>&1 &
  pids="$pids $!"
  echo $! >"$demo/$name.pid"
  for _ in $(seq 1 100); do [ -S "$demo/$name.sock" ] && return; sleep 0.05; done
  cat "$demo/$name.log"; die "nbdkit did not start"
}
unserve () { local p; p="$(cat "$demo/$1.pid")"; kill "$p"; wait "$p" 2>/dev/null || true; }
uri () { echo "nbd+unix:///?socket=$demo/$1.sock"; }

say "Creating a 256 MiB qcow2 image with qemu-img"
qemu-img create -q -f qcow2 "$demo/start.qcow2" 256M
cp "$demo/start.qcow2" "$demo/disk.qcow2"
cp "$demo/start.qcow2" "$demo/replay.qcow2"
if [ -e "$(plugin qcow2)" ]; then
  image () { echo "$(plugin qcow2)" "$demo/$1.qcow2"; }
  compare () { qemu-img compare -q -f qcow2 -F qcow2 "$demo/$1.qcow2" "$demo/$2.qcow2"; }
  echo "served by nbdkit-qcow2-plugin"
else
  # Until the qcow2 plugin lands, serve the same disks as raw files.
  for d in disk replay; do qemu-img convert -O raw "$demo/$d.qcow2" "$demo/$d.raw"; done
  image () { echo file "$demo/$1.raw"; }
  compare () { cmp -s "$demo/$1.raw" "$demo/$2.raw"; }
  echo "served as raw files (qcow2 plugin not built)"
fi

say "1. Latency + recording: fio 4k random read/write (QD8, 64 MiB of I/O)"
echo "   nbdkit --filter=latency --filter=blkreplay qcow2 disk.qcow2"
# shellcheck disable=SC2046
serve rec --filter="$(filter latency)" --filter="$(filter blkreplay)" $(image disk) \
  latency-file="$demo/latency.txt" latency-format=text \
  blkreplay-mode=record blkreplay-log="$demo/workload.blog" blkreplay-data=full
fio --name=demo --ioengine=nbd --uri="$(uri rec)" --rw=randrw --rwmixread=70 \
    --bs=4k --iodepth=8 --size=128M --io_size=64M --randseed=42 \
    --output-format=terse --terse-version=3 >/dev/null
unserve rec
cat "$demo/latency.txt"

say "2. Replay: the recorded workload against a fresh copy of the start image"
"$builddir/tools/blkreplay/blkreplay" stats "$demo/workload.blog" | head -7
# shellcheck disable=SC2046
serve rep $(image replay)
"$builddir/tools/blkreplay/blkreplay" run "$demo/workload.blog" "$(uri rep)" --timing=fast --quiet |
  grep -Ev '^\[|^$|^replay latency:' | head -8
unserve rep
if compare disk replay; then
  echo "recorded and replayed images are identical"
else
  die "replayed image differs from the recorded one"
fi
if [ -e "$(plugin qcow2)" ]; then
  echo "\$ qemu-img check replay.qcow2"
  qemu-img check "$demo/replay.qcow2"
fi

say "3. Injected error: QEMU blkdebug rules armed at run time through the control socket"
echo "   nbdkit --filter=blkdebug ... blkdebug-control=ctl.sock"
# shellcheck disable=SC2046
serve dbg --filter="$(filter blkdebug)" $(image disk) blkdebug-control="$demo/ctl.sock"
ctl () { "$builddir/tools/blkctl/blkdebug-ctl" "$demo/ctl.sock" "$@"; }
echo "\$ blkdebug-ctl ctl.sock inject event=write_aio,errno=ENOSPC,once=on"
ctl inject event=write_aio,errno=ENOSPC,once=on
echo "\$ blkdebug-ctl ctl.sock rules"
ctl rules
echo "\$ qemu-io -c 'write -P 0x55 0 4k' -c 'write -P 0x55 0 4k' -c 'read -P 0x55 0 4k' NBD"
qemu-io -f raw -c 'write -P 0x55 0 4k' -c 'write -P 0x55 0 4k' -c 'read -P 0x55 0 4k' \
  "$(uri dbg)" 2>&1 | grep -v ' ops; ' || true
echo "\$ blkdebug-ctl ctl.sock rules      # once=on: the rule is gone after firing"
ctl rules
unserve dbg

if [ -e "$(plugin qcow2)" ]; then
  say "4. Crash consistency of the qcow2 plugin: every state a power cut could leave its file in"
  echo "   nbdkit --filter=blkreplay qcow2 crash.qcow2 blkreplay-layer=backend ..."
  qemu-img create -q -f qcow2 "$demo/crash.qcow2" 64M
  cp "$demo/crash.qcow2" "$demo/crash-base.qcow2"   # the states' base: the file before
  serve crash --filter="$(filter blkreplay)" "$(plugin qcow2)" "$demo/crash.qcow2" \
    blkreplay-layer=backend blkreplay-data=full blkreplay-log="$demo/crash.blog"
  echo "\$ qemu-io: writes (allocating, partial, unaligned), a discard, a zero, flushes"
  qemu-io -f raw -c 'write -P 1 0 1M' -c 'write -P 2 8M 192k' -c flush \
    -c 'write -P 3 4100 5000' -c 'write -P 4 60M 64k' -c flush \
    -c 'discard 0 64k' -c 'write -z 8M 64k' -c 'write -P 5 30M 300k' -c flush \
    "$(uri crash)" > /dev/null
  unserve crash
  "$builddir/tools/blkreplay/blkreplay" stats "$demo/crash.blog" | grep -E '^(log |layer:|write |flush )' || true
  echo "\$ blkreplay crash crash.blog crash-base.qcow2 --base-format=raw --points=flush,20 \\"
  echo "    --reorder=2 --seed=1 --check 'qemu-img check -q -f qcow2 {} >/dev/null 2>&1; [ \$? = 0 -o \$? = 3 ]'"
  TMPDIR="$demo" "$builddir/tools/blkreplay/blkreplay" crash "$demo/crash.blog" \
    "$demo/crash-base.qcow2" --base-format=raw --points=flush,20 --reorder=2 --seed=1 \
    --check 'qemu-img check -q -f qcow2 {} >/dev/null 2>&1; [ $? = 0 -o $? = 3 ]' |
    sed -n 1p || die "a crash state of the qcow2 file fails qemu-img check"
  echo "   (exit 3, leaked clusters only, is what a crash may leave: not corruption)"
fi

say "Done.  See README.md for what else the filters can do."
