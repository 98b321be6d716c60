#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# blkctl, the one CLI for every filter's control socket (and its old
# name blkdebug-ctl): help from the filter's registry, --json answers
# that jq parses, multi-line replies framed without knowing the
# command, exit statuses 0/1/2, the line-length cap.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd jq

blkctl="$abs_top_builddir/tools/blkctl/blkctl"
oldname="$abs_top_builddir/tools/blkctl/blkdebug-ctl"
cs="$tmpdir/ctl.sock"
start_nbdkit srv --filter="$(filter blkdebug)" memory 1M \
  blkdebug-control="$cs" blkdebug-inject=event=read_aio,errno=EIO,once=on

# help: one line, every blkdebug command and the built-ins.
out="$("$blkctl" "$cs" help)"
[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "help is not one line: $out"
case "$out" in
  "OK commands: break EVENT TAG | "*"| clear | ping | help") ;;
  *) fail "help: $out" ;;
esac
"$blkctl" --json "$cs" help |
  jq -e '.ok and .filter == "blkdebug" and
         ([.commands[].name] | index("wait_break") != null) and
         (.commands | length) == 11' >/dev/null ||
  fail "json help: $("$blkctl" --json "$cs" help | head -c 300)"

# Every answer kind as JSON, one line each.
"$blkctl" --json "$cs" state | jq -e '. == {"ok":true,"value":1}' >/dev/null ||
  fail "json state"
"$blkctl" --json "$cs" inject event=write_aio,errno=ENOSPC |
  jq -e '.ok and .value == 2' >/dev/null || fail "json inject"
out="$("$blkctl" --json "$cs" rules)"
[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "json rules not one line"
printf '%s\n' "$out" |
  jq -e '.ok and .count == 2 and (.lines[0] | startswith("1 inject event=read_aio")) and
         (.lines[1] | startswith("2 inject event=write_aio"))' >/dev/null ||
  fail "json rules: $out"
"$blkctl" --json "$cs" clear | jq -e '. == {"ok":true}' >/dev/null || fail "json clear"
"$blkctl" --json "$cs" ping | jq -e '.text == "pong"' >/dev/null || fail "json ping"
st=0; out="$("$blkctl" --json "$cs" remove 7)" || st=$?
[ "$st" = 1 ] || fail "json ERR gave exit status $st"
printf '%s\n' "$out" | jq -e '.ok == false and (.error | startswith("no rule with id"))' \
  >/dev/null || fail "json error: $out"

# Text: "OK N" + N lines, printed whole by both names.
"$blkctl" "$cs" inject event=read_aio,errno=EIO >/dev/null
"$blkctl" "$cs" inject event=write_aio,errno=EIO >/dev/null
a="$("$blkctl" "$cs" rules)"
b="$("$oldname" "$cs" rules)"
[ "$a" = "$b" ] || fail "blkdebug-ctl and blkctl differ: $a / $b"
[ "$(printf '%s\n' "$a" | wc -l)" = 3 ] || fail "rules: $a"
[ "$(printf '%s\n' "$a" | head -1)" = "OK 2" ] || fail "rules head: $a"
# A numeric answer is not a line count: nothing follows "OK 1".
[ "$("$blkctl" "$cs" state)" = "OK 1" ] || fail "state"

# Exit statuses and usage.
"$blkctl" --help | grep -q '^usage: blkctl \[--json\] SOCKET' || fail "--help"
"$oldname" --help | grep -q '^usage: blkdebug-ctl ' || fail "old name's --help"
st=0; "$blkctl" "$cs" 2>/dev/null || st=$?
[ "$st" = 2 ] || fail "missing command gave exit status $st"
st=0; err="$("$blkctl" "$tmpdir/none.sock" ping 2>&1)" || st=$?
[ "$st" = 2 ] || fail "no socket gave exit status $st"
case "$err" in
  "blkctl: cannot connect to $tmpdir/none.sock: "*) ;;
  *) fail "no socket: $err" ;;
esac
st=0; out="$("$blkctl" "$cs" frobnicate)" || st=$?
[ "$st" = 1 ] && [ "$out" = "ERR unknown command 'frobnicate' (try 'help')" ] ||
  fail "unknown command: $st $out"
# A command line over 4096 bytes: the server says so and closes.
st=0; out="$("$blkctl" "$cs" "$(head -c 5000 /dev/zero | tr '\0' x)")" || st=$?
[ "$st" = 1 ] || fail "long line gave exit status $st"
case "$out" in
  "ERR line longer than 4096 bytes: closing the connection") ;;
  *) fail "long line: $out" ;;
esac
# The server still answers.
[ "$("$blkctl" "$cs" ping)" = "OK pong" ] || fail "ping after long line"
stop_nbdkit srv

# A second server given the same control socket path is refused, and
# the first one keeps its socket (it was unlinked and taken over, and
# then removed by the second server's exit, leaving the first one
# unreachable).  A stale socket of a killed server is still replaced.
start_nbdkit one --filter="$(filter blkdebug)" memory 1M blkdebug-control="$cs"
expect_fail_nbdkit "blkdebug-control.*$cs.*(in use|Address already in use)" \
  --filter="$(filter blkdebug)" memory 1M blkdebug-control="$cs"
[ "$("$blkctl" "$cs" ping)" = "OK pong" ] ||
  fail "the first server lost its control socket to a second one"
kill -KILL "$(server_pid one)"
sleep 0.2
[ -S "$cs" ] || fail "expected a stale socket after SIGKILL"
start_nbdkit two --filter="$(filter blkdebug)" memory 1M blkdebug-control="$cs"
[ "$("$blkctl" "$cs" ping)" = "OK pong" ] || fail "a stale socket was not replaced"
stop_nbdkit two
