# SPDX-License-Identifier: BSD-3-Clause
# nbdkit-blk: the core of the shell helper library, sourced by
# tests/functions.sh (the tests' entry point) and bench/functions.sh
# (the benchmarks' entry point); nothing else sources it directly.
#
# Why a shared core and not bench sourcing tests/functions.sh: the two
# entry points differ in policy, not in mechanism.  functions.sh insists
# on make check's environment (abs_top_* exported by tests/Makefile.am)
# and gives a server 10 s to start; bench runs standalone from a built
# tree, refuses sanitizer builds and gives valgrind 60 s.  Everything
# that is the same (temporary directory, cleanup stack, server start and
# stop, skip/fail/requires, the sanitizer preload, trace mode, module
# paths) lives here, once; each entry point sets its policy variables
# and then sources this file.  docs/testing.md is the user's guide.
#
# Set before sourcing (defaults in brackets):
#   abs_top_srcdir, abs_top_builddir    required
#   BLK_TMP_PREFIX      name of $tmpdir under $TMPDIR [nbdkit-blk]
#   BLK_START_TIMEOUT   seconds a server gets to open its socket [10]
#   BLK_STOP_TIMEOUT    seconds between SIGTERM and SIGKILL at exit [10]
#   BLK_LOG_LINES       server log lines shown when a start fails
#                       [0 = the whole log]
#   BLK_FAIL_PREFIX     what `fail` prints before its message [FAIL:]
# From the environment:
#   BLK_TEST_TRACE=1    trace every command (set -x), as FILE:LINE
#   BLK_KEEP_TMP=1      keep $tmpdir at exit (server logs, sockets)
#
# ---------------------------------------------------------------------
# Cleanup order (the contract every helper file relies on)
#
# One stack of exit actions, in $tmpdir/.cleanup, run last-registered
# first when the script exits (success, failure, skip or signal):
#   - on_exit CMD...        registers a command;
#   - start_nbdkit/bench_start (and on_exit_kill PID) register the
#     server when it starts; stop_nbdkit/bench_stop take it off again.
# Servers that are next to each other on the stack are stopped together
# (SIGTERM to all, then wait up to BLK_STOP_TIMEOUT s each, then
# SIGKILL).  So what a test set up before a server is torn down after
# it: an rbd image or a mount registered before the server that uses it
# outlives the server, and a cluster registered first goes last.
# Before the stack: PIDs a script appended to $_blk_pids by hand
# (older tests do) and functions appended to $_blk_cleanups by hand are
# handled first, since their place on the stack is unknown.  After the
# stack: $tmpdir is removed.  The stack is a file, not a variable, so
# that helpers called in $(...) subshells (bench_fio) register too; the
# EXIT trap runs in the main shell only.  A cleanup command must not
# call `exit` (it would cut the unwinding short).
# ---------------------------------------------------------------------

# Trace mode: BLK_TEST_TRACE=1 make check TESTS=test-x.sh, then read
# tests/test-x.sh.log.  The trace goes to a copy of the script's stderr
# taken now, so a command whose stderr the test captures (out=$(... 2>&1))
# does not get trace lines in its output and the test behaves the same.
if [ "${BLK_TEST_TRACE:-0}" != 0 ]; then
  exec {_blk_trace_fd}>&2
  BASH_XTRACEFD=$_blk_trace_fd
  PS4='+ ${BASH_SOURCE[0]##*/}:${LINENO}:${FUNCNAME[0]:+${FUNCNAME[0]}():} '
  set -x
fi

: "${NBDKIT:=nbdkit}"
: "${SANITIZER_PRELOAD:=}"
: "${BLK_TMP_PREFIX:=nbdkit-blk}"
: "${BLK_START_TIMEOUT:=10}"
: "${BLK_STOP_TIMEOUT:=10}"
: "${BLK_LOG_LINES:=0}"
: "${BLK_FAIL_PREFIX:=FAIL:}"

# nbdsh, fio and the Python bindings exist for Debian's python3 only.
PATH=/usr/bin:/usr/sbin:/bin:/sbin:$PATH
export PATH
# Python helpers for nbdsh snippets (tests/nbdtest.py: outcome()).
PYTHONPATH="$abs_top_srcdir/tests${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH

tmpdir="$(mktemp -d "${TMPDIR:-/tmp}/$BLK_TMP_PREFIX.XXXXXX")"
_blk_stack="$tmpdir/.cleanup"
: > "$_blk_stack"
# Kept for scripts that append to them by hand (see the order above).
_blk_pids=""
_blk_cleanups=""

skip () { echo "SKIP: $*"; exit 77; }
fail () { echo "$BLK_FAIL_PREFIX $*" >&2; exit 1; }

# requires_cmd CMD...: skip unless every CMD is on PATH.
requires_cmd ()
{
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || skip "$c is not installed"
  done
}

# requires CMD [ARGS...]: skip unless CMD is installed and works:
# `requires qemu-img --version` runs it (60 s at most) and skips with
# the last line it printed when it fails, e.g. a missing library.
requires ()
{
  local out st=0 why
  requires_cmd "$1"
  if [ "$(type -t "$1")" = file ]; then
    out="$(timeout 60 "$@" </dev/null 2>&1)" || st=$?
  else
    out="$("$@" </dev/null 2>&1)" || st=$?
  fi
  if [ "$st" != 0 ]; then
    why="$(printf '%s\n' "$out" | grep -v '^[[:space:]]*$' | tail -n 1 | cut -c1-300)"
    [ "$st" = 124 ] && why="timed out after 60 s"
    skip "'$*' does not work (exit $st): ${why:-no output}"
  fi
}

# Paths of the modules built in this tree: filter, plugin, uri.
. "$abs_top_srcdir/tests/module-paths.sh"

sock () { echo "$tmpdir/$1.sock"; }
server_log () { echo "$tmpdir/$1.log"; }
server_pid () { cat "$tmpdir/$1.pid"; }

# ---- the cleanup stack ----------------------------------------------

# on_exit CMD [ARG...]: run at exit, in reverse order of registration.
# With one argument it is evaluated as a shell command (on_exit fn,
# on_exit "umount $dir"); with more, the words are kept as they are.
on_exit ()
{
  [ $# -gt 0 ] || return 0
  if [ $# = 1 ]; then
    printf 'C %s\n' "$1" >> "$_blk_stack"
  else
    printf 'C%s\n' "$(printf ' %q' "$@")" >> "$_blk_stack"
  fi
}

# on_exit_kill PID [NAME]: stop process PID at exit (SIGTERM, SIGKILL
# after BLK_STOP_TIMEOUT s), in its place on the stack.  For servers
# started without start_nbdkit (qemu-nbd, nbdfuse, ...).
on_exit_kill () { _blk_push_pid "$@"; }
_blk_push_pid ()
{
  printf 'P %s %s\n' "$1" "${2:-pid-$1}" >> "$_blk_stack"
}

# forget_pid PID: PID has been stopped (and waited for) by the script.
forget_pid () { _blk_forget "$@"; }
_blk_forget ()
{
  sed -i "/^P $1 /d" "$_blk_stack" 2>/dev/null || :
  _blk_pids="$(echo "$_blk_pids" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')"
}

# _blk_kill PID...: SIGTERM to all, then wait for each.
_blk_kill ()
{
  local p n
  [ $# -gt 0 ] || return 0
  for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
  for p in "$@"; do
    for ((n = 0; n < BLK_STOP_TIMEOUT * 4; n++)); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.25
    done
    kill -KILL "$p" 2>/dev/null && echo "cleanup: killed $p with SIGKILL" >&2
  done
  return 0
}

# Unwind the stack (see the order at the top).  The stack's bookkeeping
# goes through _blk_* names only, so a script that defines its own
# forget_pid or on_exit_kill cannot break start/stop or the unwinding.
_blk_unwind ()
{
  local fn p line i group=() legacy=() entries=()
  for fn in $_blk_cleanups; do "$fn"; done
  for p in $_blk_pids; do
    grep -q "^P $p " "$_blk_stack" 2>/dev/null || legacy+=("$p")
  done
  _blk_kill "${legacy[@]}"
  mapfile -t entries < "$_blk_stack" 2>/dev/null || :
  for ((i = ${#entries[@]} - 1; i >= 0; i--)); do
    line="${entries[i]}"
    case "$line" in
      "P "*)
        line="${line#P }"
        group+=("${line%% *}")
        ;;
      "C "*)
        _blk_kill "${group[@]}"; group=()
        eval "${line#C }"
        ;;
    esac
  done
  _blk_kill "${group[@]}"
  : > "$_blk_stack"
}

_blk_exit ()
{
  local status=$?
  set +e
  _blk_unwind
  if [ "${BLK_KEEP_TMP:-0}" = 1 ]; then
    echo "kept $tmpdir (BLK_KEEP_TMP=1)" >&2
  else
    rm -rf "$tmpdir"
  fi
  exit $status
}
trap _blk_exit EXIT
trap 'exit 130' INT TERM

# ---- nbdkit under the sanitizers -------------------------------------

# Environment for nbdkit: the sanitizer runtimes are preloaded when this
# tree was built with --enable-sanitizers (nbdkit itself is not
# instrumented).  Used as: env $(nbdkit_env) "$NBDKIT" ..., so that the
# PID of a background start is nbdkit's own.  The one place that knows
# how nbdkit is run under the sanitizers: nbdkit_wrapper below,
# start_nbdkit, expect_fail_nbdkit and rbd_expect_fail all use it.
nbdkit_env ()
{
  if [ -n "$SANITIZER_PRELOAD" ]; then
    echo "LD_PRELOAD=$(echo $SANITIZER_PRELOAD | tr ' ' ':')" \
         "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:${ASAN_OPTIONS:-}" \
         "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
  fi
}

# nbdkit_wrapper: a command that runs $NBDKIT as start_nbdkit does, for
# nbdkit started some other way (nbdkit -U - --run, a loop of
# attempts):  NBDKIT="$(nbdkit_wrapper)".  Without sanitizers it is
# $NBDKIT itself.
nbdkit_wrapper ()
{
  local w="$tmpdir/nbdkit-san"
  if [ -z "$SANITIZER_PRELOAD" ]; then
    echo "$NBDKIT"
    return
  fi
  if [ ! -x "$w" ]; then
    # shellcheck disable=SC2046
    printf '#!/bin/sh\nexec env%s "$@"\n' \
      "$(printf ' %q' $(nbdkit_env) "$NBDKIT")" > "$w"
    chmod +x "$w"
  fi
  echo "$w"
}

# ---- servers ----------------------------------------------------------

# wait_socket SOCKET [PID [SECONDS [LOG]]]: wait until SOCKET exists
# (remove a stale one before starting the server); fails, showing LOG,
# if PID exits first or after SECONDS [BLK_START_TIMEOUT].  For servers
# started by hand, with on_exit_kill:
#   qemu-nbd -k "$s" ... >"$tmpdir/q.log" 2>&1 &
#   on_exit_kill $! qemu-nbd
#   wait_socket "$s" $! "" "$tmpdir/q.log"
wait_socket ()
{
  local s="$1" p="${2:-}" secs="${3:-$BLK_START_TIMEOUT}" log="${4:-}" n
  for ((n = 0; n < secs * 20; n++)); do
    [ -S "$s" ] && return 0
    if [ -n "$p" ] && ! kill -0 "$p" 2>/dev/null; then
      [ -z "$log" ] || cat "$log" >&2
      fail "process $p exited before it opened $s"
    fi
    sleep 0.05
  done
  [ -z "$log" ] || cat "$log" >&2
  fail "$s did not appear within ${secs}s"
}

# _blk_start NAME WRAPPER NBDKIT-ARGS...: nbdkit -f on $tmpdir/NAME.sock
# under WRAPPER (words split on purpose, e.g. "valgrind --tool=..."; ""
# for none), stderr in $tmpdir/NAME.log, PID in $tmpdir/NAME.pid; put
# on the cleanup stack; waits BLK_START_TIMEOUT s for the socket.
_blk_start ()
{
  local name="$1" wrap="$2" s p n
  shift 2
  s="$tmpdir/$name.sock"
  # nbdkit 1.32 leaves its socket behind: wait for a fresh one.
  rm -f "$s"
  # shellcheck disable=SC2046,SC2086
  env $(nbdkit_env) $wrap "$NBDKIT" -f -U "$s" "$@" >"$tmpdir/$name.log" 2>&1 &
  p=$!
  echo "$p" > "$tmpdir/$name.pid"
  _blk_push_pid "$p" "$name"
  _blk_pids="$_blk_pids $p"
  for ((n = 0; n < BLK_START_TIMEOUT * 20; n++)); do
    [ -S "$s" ] && return 0
    if ! kill -0 "$p" 2>/dev/null; then
      _blk_show_log "$name"
      fail "nbdkit $name exited during start-up: $*"
    fi
    sleep 0.05
  done
  _blk_show_log "$name"
  fail "nbdkit $name did not open $s within ${BLK_START_TIMEOUT}s"
}

_blk_show_log ()
{
  if [ "$BLK_LOG_LINES" -gt 0 ]; then
    tail -n "$BLK_LOG_LINES" "$tmpdir/$1.log" >&2
  else
    cat "$tmpdir/$1.log" >&2
  fi
}

# _blk_stop NAME [gone-ok]: SIGTERM, wait for the exit; returns
# nbdkit's status.  With gone-ok (the tests' stop_nbdkit), a server that
# had already exited before the SIGTERM counts as stopped (status 0);
# without it (bench_stop), its exit status is still collected.  The
# server must have been started by this shell (wait needs a child).
_blk_stop ()
{
  local p st=0
  p="$(server_pid "$1")"
  if ! kill -TERM "$p" 2>/dev/null && [ "${2:-}" = gone-ok ]; then
    _blk_forget "$p"
    return 0
  fi
  # Bounded: a server that does not exit is killed after
  # $_blk_stop_secs.  Under the sanitizer preload nbdkit can hang in
  # exit() after its work is done (libp11-kit's destructor waiting for
  # glibc's locale lock, see docs/common.md "errno in messages"): there
  # the kill is reported and not counted as a failure; in a plain build
  # it is (status 137).
  ( sleep "${_blk_stop_secs:-30}"; kill -KILL "$p" 2>/dev/null ) &
  local timer=$!
  wait "$p" || st=$?
  # The timer is gone if it fired: kill fails then, and under set -e
  # that failure would end the script with status 1 and no message.
  kill "$timer" 2>/dev/null || true
  wait "$timer" 2>/dev/null || true
  if [ "$st" = 137 ] && [ -n "$SANITIZER_PRELOAD" ]; then
    echo "(nbdkit $1 killed after ${_blk_stop_secs:-30} s at exit: the sanitizer exit hang)" >&2
    st=0
  fi
  _blk_forget "$p"
  return $st
}
