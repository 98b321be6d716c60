# nbdkit-blk: helpers sourced by every integration test script.
#
#   . "${abs_top_srcdir:-..}/tests/functions.sh"
#   requires_cmd nbdsh
#   start_nbdkit srv --filter="$(filter latency)" memory 1M
#   nbdsh -u "$(uri srv)" -c '...'
#   stop_nbdkit srv                 # also done automatically at exit
#
# Every server runs on a Unix socket in a private temporary directory
# ($tmpdir), which is removed at exit together with every process the
# test started.  Exit 77 means "skipped" to automake.

set -e
set -u

: "${abs_top_builddir:?run the tests with make check}"
: "${abs_top_srcdir:?run the tests with make check}"
: "${NBDKIT:=nbdkit}"
: "${SANITIZER_PRELOAD:=}"

# nbdsh and the Python bindings exist for Debian's python3 only.
PATH=/usr/bin:/usr/sbin:/bin:/sbin:$PATH
export PATH

tmpdir="$(mktemp -d "${TMPDIR:-/tmp}/nbdkit-blk-test.XXXXXX")"
_blk_pids=""
_blk_cleanups=""

_blk_cleanup ()
{
  status=$?
  set +e
  for fn in $_blk_cleanups; do "$fn"; done
  for p in $_blk_pids; do
    kill -TERM "$p" 2>/dev/null
  done
  for p in $_blk_pids; do
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.25
    done
    kill -KILL "$p" 2>/dev/null
  done
  rm -rf "$tmpdir"
  exit $status
}
trap _blk_cleanup EXIT
trap 'exit 130' INT TERM

# Register a function to run at exit (before servers are stopped).
on_exit () { _blk_cleanups="$_blk_cleanups $1"; }

skip () { echo "SKIP: $*"; exit 77; }
fail () { echo "FAIL: $*" >&2; exit 1; }

requires_cmd ()
{
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || skip "$c is not installed"
  done
}

# Paths of the modules built in this tree: filter, plugin, uri.
. "$abs_top_srcdir/tests/module-paths.sh"

sock () { echo "$tmpdir/$1.sock"; }
server_log () { echo "$tmpdir/$1.log"; }
server_pid () { cat "$tmpdir/$1.pid"; }

# Environment for nbdkit: the sanitizer runtimes are preloaded when this
# tree was built with --enable-sanitizers (nbdkit itself is not
# instrumented).  Used as: env $(nbdkit_env) "$NBDKIT" ..., so that the
# PID of a background start is nbdkit's own.
nbdkit_env ()
{
  if [ -n "$SANITIZER_PRELOAD" ]; then
    echo "LD_PRELOAD=$(echo $SANITIZER_PRELOAD | tr ' ' ':')" \
         "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:${ASAN_OPTIONS:-}" \
         "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
  fi
}

# start_nbdkit NAME ARGS...: nbdkit -f on $tmpdir/NAME.sock, stderr in
# $tmpdir/NAME.log.  Waits until it accepts connections.
start_nbdkit ()
{
  local name s p
  name="$1"; shift
  s="$tmpdir/$name.sock"
  rm -f "$s"
  # shellcheck disable=SC2046
  env $(nbdkit_env) "$NBDKIT" -f -U "$s" "$@" >"$tmpdir/$name.log" 2>&1 &
  p=$!
  echo "$p" > "$tmpdir/$name.pid"
  _blk_pids="$_blk_pids $p"
  for _ in $(seq 1 200); do
    [ -S "$s" ] && return 0
    if ! kill -0 "$p" 2>/dev/null; then
      cat "$tmpdir/$name.log" >&2
      fail "nbdkit $name exited during start-up"
    fi
    sleep 0.05
  done
  cat "$tmpdir/$name.log" >&2
  fail "nbdkit $name did not open $s within 10s"
}

# stop_nbdkit NAME: SIGTERM, wait for a clean exit; returns its status.
stop_nbdkit ()
{
  local p st
  p="$(server_pid "$1")"
  kill -TERM "$p" 2>/dev/null || return 0
  st=0
  wait "$p" || st=$?
  _blk_pids="$(echo "$_blk_pids" | tr ' ' '\n' | grep -vx "$p" | tr '\n' ' ')"
  return $st
}

# expect_fail_nbdkit PATTERN ARGS...: nbdkit must refuse to start, with
# an error message matching the extended regex PATTERN.
expect_fail_nbdkit ()
{
  local pat out
  pat="$1"; shift
  out="$tmpdir/expect-fail.log"
  rm -f "$tmpdir/expect-fail.sock"
  # shellcheck disable=SC2046
  if timeout 10 env $(nbdkit_env) "$NBDKIT" -f -U "$tmpdir/expect-fail.sock" "$@" \
       >"$out" 2>&1; then
    fail "nbdkit accepted: $*"
  fi
  if ! grep -Eq -- "$pat" "$out"; then
    cat "$out" >&2
    fail "nbdkit's error does not match '$pat'"
  fi
}
