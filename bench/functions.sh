# SPDX-License-Identifier: BSD-3-Clause
# nbdkit-blk: helpers sourced by bench/run and by every bench/bench-*.sh.
#
#   . "$(dirname "$0")/functions.sh"
#   read -r raw base <<< "$(bench_instr bare -- memory 1G)"
#   read -r raw mine <<< "$(bench_instr mine -- --filter="$(filter latency)" memory 1G)"
#   echo "latency: $(echo "$mine - $base" | bc) instructions/request"
#   read -r iops p99 <<< "$(bench_fio mine 4 3 -- --filter="$(filter latency)" memory 1G)"
#   bench_cg_compare bare mine "$BENCH_REQUESTS" | head   # where they go
#
# bench_instr prints two figures: the raw one, and the one without the
# instructions spent on contended mutexes (scheduling noise under
# valgrind, see bench_cg_lockwait): compare the second.
#
# Contract for a module benchmark bench/bench-AREA.sh (bench/run calls
# every one of them, each standalone, after its own figures):
# - it runs from a built tree: `bench/bench-AREA.sh` or via bench/run;
#   abs_top_srcdir/abs_top_builddir default to the tree it lives in;
# - it prints its numbers and its ratios against its baseline to stdout
#   (bench/run keeps a copy in bench/results/bench-AREA.log);
# - it may write a machine-readable summary to
#   "$BENCH_RESULTS/AREA.json"; bench/run embeds it in latest.json;
# - BENCH_QUICK=1 asks for a short run (bench/run --quick);
# - BENCH_KEEP_TMP=1 keeps $tmpdir (profiles, server logs) for a look;
# - exit 0 = ran, 77 = skipped (say why on stdout), anything else = failed.
#
# Servers run on Unix sockets in a private $tmpdir, removed at exit
# after every server these helpers started has been stopped.  The
# mechanism (temporary directory, cleanup stack, server start/stop,
# skip/fail/requires, trace mode BLK_TEST_TRACE=1) is the tests' own,
# in tests/core-functions.sh: bench sources that core rather than
# tests/functions.sh, which insists on make check's environment and a
# 10 s start-up; here the policy differs (60 s for valgrind, sanitizer
# builds refused, messages prefixed "bench:").
#
# Methods (see bench/run for the reasoning):
# - bench_instr: nbdkit under `valgrind --tool=callgrind` serves N and
#   then 2N reads from bench/readload (deterministic offsets, fixed
#   queue depth); (total(2N) - total(N)) / N cancels start-up; the
#   profile is dumped before nbdkit's exit, so exit-time work (reports)
#   is left out.  Only the nbdkit process is counted.
# - bench_fio: IOPS and p99 completion latency from fio's nbd engine.

set -e
set -u
# Helpers run in $(...) too: keep -e there (bash drops it otherwise).
shopt -s inherit_errexit

_bench_here="$(cd "$(dirname "$0")" && pwd)"
: "${abs_top_srcdir:=$(cd "$_bench_here/.." && pwd)}"
: "${abs_top_builddir:=$abs_top_srcdir}"
: "${NBDKIT:=nbdkit}"
: "${VALGRIND:=valgrind}"
: "${FIO:=fio}"
: "${SANITIZER_PRELOAD:=}"
: "${BENCH_QUICK:=0}"
: "${BENCH_RESULTS:=$abs_top_builddir/bench/results}"
export abs_top_srcdir abs_top_builddir NBDKIT VALGRIND FIO BENCH_QUICK \
       BENCH_RESULTS

# Instruction-count parameters (bench/run may override them).
: "${BENCH_REQUESTS:=10000}"        # N; the second run serves 2N
: "${BENCH_DEPTH:=4}"
: "${BENCH_BLOCKSIZE:=4096}"
: "${BENCH_SEED:=1}"

if [ -n "$SANITIZER_PRELOAD" ]; then
  echo "bench: this tree is configured with --enable-sanitizers;" \
       "benchmark a normal build (./configure without it)" >&2
  exit 1
fi

BLK_TMP_PREFIX=nbdkit-blk-bench
BLK_START_TIMEOUT=60                # valgrind on a busy machine
BLK_LOG_LINES=20
BLK_FAIL_PREFIX=bench:
BLK_KEEP_TMP="${BENCH_KEEP_TMP:-${BLK_KEEP_TMP:-0}}"
# tmpdir, cleanup stack, skip/fail/requires(_cmd), filter/plugin/uri.
. "$abs_top_srcdir/tests/core-functions.sh"

bench_fail () { fail "$@"; }
bench_skip () { skip "$@"; }

readload () { echo "$abs_top_builddir/bench/readload"; }

# bench_start NAME [WRAPPER...] -- NBDKIT-ARGS...: nbdkit -f on
# $tmpdir/NAME.sock (optionally under WRAPPER, e.g. valgrind), stderr
# in $tmpdir/NAME.log; waits until it accepts connections (valgrind
# can take a while on a busy machine).  Same as the tests' start_nbdkit.
bench_start ()
{
  local name="$1" wrap=""
  shift
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    wrap="$wrap $1"; shift
  done
  [ $# -gt 0 ] || bench_fail "bench_start $name: missing -- before the nbdkit arguments"
  shift
  _blk_start "$name" "$wrap" "$@"
}

# bench_stop NAME: SIGTERM and wait for a clean exit (callgrind writes
# its profile only then); fails if nbdkit did not exit with status 0.
bench_stop ()
{
  local st=0
  _blk_stop "$1" || st=$?
  if [ "$st" -ne 0 ]; then
    tail -n 20 "$tmpdir/$1.log" >&2
    bench_fail "nbdkit $1 exited with status $st"
  fi
}

# bench_callgrind OUT REQUESTS -- NBDKIT-ARGS...: serve REQUESTS reads
# from readload under callgrind, profile in OUT.  Prints
# "TOTAL LOCKWAIT": all instructions of the nbdkit process, and those
# spent in glibc's contended-mutex slow paths (__lll_lock_wait/_wake).
# The second depends on how valgrind happened to interleave the
# threads, and is most of the run-to-run noise.
#
# The profile is dumped (callgrind_control -d) once the client has
# gone and nbdkit is idle again, before SIGTERM: what nbdkit does at
# exit (a filter writing its report, whose size depends on the
# latencies seen) is left out, as it would not cancel exactly between
# the N and 2N runs.
bench_callgrind ()
{
  _out="$1" _n="$2"; shift 2
  [ "${1:-}" = "--" ] && shift
  rm -f "$_out" "$_out".*
  bench_start cg "$VALGRIND" --tool=callgrind --dump-instr=no \
    --callgrind-out-file="$_out" -- "$@"
  _p="$(cat "$tmpdir/cg.pid")"
  _idle="$(ls "/proc/$_p/task" | wc -l)"
  if ! "$(readload)" -n "$_n" -q "$BENCH_DEPTH" -b "$BENCH_BLOCKSIZE" \
         -s "$BENCH_SEED" "$(uri cg)" >"$tmpdir/readload.out"; then
    tail -n 20 "$tmpdir/cg.log" >&2
    bench_fail "readload failed against: $*"
  fi
  # Idle again: the connection's threads have exited.
  for _ in $(seq 1 400); do
    [ "$(ls "/proc/$_p/task" | wc -l)" -le "$_idle" ] && break
    sleep 0.05
  done
  if ! callgrind_control -d requests-done "$_p" >"$tmpdir/cgctl.out" 2>&1 ||
     ! [ -s "$_out.1" ]; then
    cat "$tmpdir/cgctl.out" >&2
    bench_fail "callgrind_control could not dump the profile of: $*"
  fi
  bench_stop cg
  mv "$_out" "$_out.exit"
  mv "$_out.1" "$_out"
  _total="$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$_out")"
  [ -n "$_total" ] || bench_fail "no summary line in $_out"
  echo "$_total $(bench_cg_lockwait "$_out")"
}

# bench_cg_lockwait OUT: instructions a callgrind profile spent because
# a mutex was contended: glibc's slow paths __lll_lock_wait/_wake, and
# in their callers the branch into them (4 instructions per contended
# pthread_mutex_lock, 2 per pthread_mutex_unlock that wakes a waiter,
# as measured on Debian 12's glibc 2.36: set BENCH_LOCK_CALLER_COST=
# "LOCK UNLOCK" for another libc).  How often that happens depends on
# how valgrind interleaved the threads, not on the code measured.
bench_cg_lockwait ()
{
  awk -v cost="${BENCH_LOCK_CALLER_COST:-4 2}" '
    function name(kind, v,   id) {
      if (match (v, /^\([0-9]+\)/)) {
        id = substr (v, 2, RLENGTH - 2)
        if (length (v) > RLENGTH) names[kind, id] = substr (v, RLENGTH + 2)
        return names[kind, id]
      }
      return v
    }
    BEGIN { split (cost, k, " ") }
    /^positions:/ { npos = NF - 1; next }
    /^fn=/  { fn = name("fn", substr ($0, 4)); next }
    /^cfn=/ { cfn = name("fn", substr ($0, 5)); next }
    /^calls=/ {
      skip = 1
      split (substr ($0, 7), a, " ")
      if (fn ~ /^pthread_mutex_lock/ && cfn ~ /^__lll_lock_wait/) s += k[1] * a[1]
      if (fn ~ /^__pthread_mutex_unlock/ && cfn ~ /^__lll_lock_wake/) s += k[2] * a[1]
      next
    }
    /^[0-9+*-]/ {
      if (skip) { skip = 0; next }
      if (fn ~ /^__lll_lock_wa(it|ke)/) s += $(npos + 1)
      next
    }
    END { print s + 0 }
  ' "$1"
}

# bench_cg_functions OUT: "SELF-INSTRUCTIONS<TAB>FUNCTION [OBJECT]" for
# every function in a callgrind profile, read straight from the file
# (callgrind_annotate's labels vary between files: "???:" or not,
# object named or not) so that two profiles can be compared by name.
bench_cg_functions ()
{
  awk '
    # Name compression: "(id) name" defines, "(id)" refers.
    function name(kind, v,   id) {
      if (match (v, /^\([0-9]+\)/)) {
        id = substr (v, 2, RLENGTH - 2)
        if (length (v) > RLENGTH) names[kind, id] = substr (v, RLENGTH + 2)
        return names[kind, id]
      }
      return v
    }
    function base(o) { sub (/.*\//, "", o); return o }
    /^positions:/ { npos = NF - 1; next }
    /^ob=/  { ob = name("ob", substr ($0, 4)); next }
    /^cob=/ { name("ob", substr ($0, 5)); next }
    /^fn=/  { fn = name("fn", substr ($0, 4)) " [" base(ob) "]"; next }
    /^cfn=/ { name("fn", substr ($0, 5)); next }
    /^calls=/ { skip = 1; next }
    /^[0-9+*-]/ {
      if (skip) { skip = 0; next }     # inclusive cost of a call
      self[fn] += $(npos + 1)
      next
    }
    END { for (f in self) if (self[f]) print self[f] "\t" f }
  ' "$1"
}

# bench_cg_compare BASE CONFIG REQUESTS: where CONFIG's extra
# instructions go.  BASE and CONFIG are bench_instr labels (profiles
# $tmpdir/LABEL.N.cg and LABEL.2N.cg).  Prints, sorted,
# "DELTA_PER_REQUEST  PER_REQUEST  FUNCTION [OBJECT]": each function's
# (self(2N) - self(N)) / REQUESTS in CONFIG, and its difference from
# BASE.  glibc's lock-wait slow paths are left out (scheduling noise).
bench_cg_compare ()
{
  for _l in "$1" "$2"; do
    for _k in N 2N; do
      [ -s "$tmpdir/$_l.$_k.fn" ] ||
        bench_cg_functions "$tmpdir/$_l.$_k.cg" > "$tmpdir/$_l.$_k.fn"
    done
  done
  awk -F'\t' -v n="$3" '
    FILENAME == ARGV[1] { bn[$2] = $1; next }
    FILENAME == ARGV[2] { b2[$2] = $1; seen[$2] = 1; next }
    FILENAME == ARGV[3] { cn[$2] = $1; next }
    FILENAME == ARGV[4] { c2[$2] = $1; seen[$2] = 1; next }
    END {
      for (f in seen) {
        d = ((c2[f] - cn[f]) - (b2[f] - bn[f])) / n
        if ((d >= 0.5 || d <= -0.5) && f !~ /^__lll_lock_wa(it|ke) /)
          printf "%+9.1f  %9.1f  %s\n", d, (c2[f] - cn[f]) / n, f
      }
    }' "$tmpdir/$1.N.fn" "$tmpdir/$1.2N.fn" "$tmpdir/$2.N.fn" "$tmpdir/$2.2N.fn" |
    sort -g -r
}

# bench_instr LABEL [-- ] NBDKIT-ARGS...: instructions per request,
# from one run of N and one of 2N requests.  Prints
# "PER_REQUEST PER_REQUEST_EXCL_LOCKWAIT" and leaves the two profiles
# in $tmpdir/LABEL.N.cg and $tmpdir/LABEL.2N.cg.
bench_instr ()
{
  _label="$1"; shift
  [ "${1:-}" = "--" ] && shift
  _r1="$(bench_callgrind "$tmpdir/$_label.N.cg" "$BENCH_REQUESTS" -- "$@")"
  _r2="$(bench_callgrind "$tmpdir/$_label.2N.cg" $((2 * BENCH_REQUESTS)) -- "$@")"
  echo "$_r1 $_r2" | awk -v n="$BENCH_REQUESTS" '{
    printf "%.1f %.1f\n", ($3 - $1) / n, (($3 - $4) - ($1 - $2)) / n }'
}

# bench_fio NAME DEPTH SECONDS [-- ] NBDKIT-ARGS...: one fio run of 4k
# random reads at queue depth DEPTH against a fresh nbdkit.  Prints
# "IOPS P99_NS" (p99 of completion latency).
bench_fio ()
{
  _name="$1" _qd="$2" _secs="$3"; shift 3
  [ "${1:-}" = "--" ] && shift
  bench_start "$_name" -- "$@"
  if ! "$FIO" --name="$_name" --ioengine=nbd --uri="$(uri "$_name")" \
         --rw=randread --bs=4k --iodepth="$_qd" --time_based \
         --runtime="$_secs" --ramp_time="${BENCH_FIO_RAMP:-0.5}" \
         --randrepeat=1 --norandommap \
         --output-format=json --output="$tmpdir/$_name.fio.json" \
         >"$tmpdir/$_name.fio.out" 2>&1; then
    tail -n 20 "$tmpdir/$_name.fio.out" >&2
    bench_fail "fio failed against: $*"
  fi
  bench_stop "$_name"
  jq -r '.jobs[0].read | "\(.iops) \(.clat_ns.percentile["99.000000"])"' \
    "$tmpdir/$_name.fio.json"
}

# bench_median: the median of the numbers on stdin, one a line.
bench_median ()
{
  sort -g | awk '{ v[NR] = $1 }
    END { if (NR == 0) print "nan";
          else if (NR % 2) print v[(NR + 1) / 2];
          else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
