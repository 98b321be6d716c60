#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The helper library itself (tests/core-functions.sh via functions.sh):
# child scripts source it and exit, and what their cleanup did is
# checked from outside.  The cleanup stack runs last-registered first,
# servers included; PIDs added to $_blk_pids by hand and servers started
# inside $(...) are stopped too; `requires` skips with the tool's own
# reason; trace mode names file:line and leaves captured output alone;
# the sanitizer wrapper preloads; nbdtest.outcome names errors.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh
# Children decide for themselves (this test may be traced itself).
unset BLK_TEST_TRACE

child="$tmpdir/child.sh"
log="$tmpdir/order"
# run_child BODY: a script sourcing functions.sh with BODY after it;
# its stdout+stderr in $tmpdir/child.out, its exit status in $st.
run_child ()
{
  { echo '. "$abs_top_srcdir/tests/functions.sh"'; echo "$1"; } > "$child"
  st=0
  LOG="$log" bash "$child" > "$tmpdir/child.out" 2>&1 || st=$?
}
alive () { kill -0 "$1" 2>/dev/null && echo up || echo down; }

# 1. Order: hooks and servers unwind last-in first-out.
: > "$log"
run_child '
alive () { kill -0 "$1" 2>/dev/null && echo up || echo down; }
on_exit "echo \"first a=\$(alive \$(server_pid a))\" >> \$LOG"
start_nbdkit a memory 1M
on_exit "echo \"second a=\$(alive \$(server_pid a)) b=\$(alive \$(server_pid b))\" >> \$LOG"
start_nbdkit b memory 1M
on_exit echo "third  with spaces" ">>" "$LOG"
on_exit "echo \"third b=\$(alive \$(server_pid b))\" >> \$LOG"
sleep 600 & _blk_pids="$_blk_pids $!"; echo $! > "$LOG.legacy"
p="$(start_nbdkit sub memory 1M; server_pid sub)"; echo "$p" > "$LOG.sub"
echo "$tmpdir" > "$LOG.tmpdir"
exit 3'
cat "$tmpdir/child.out"
[ "$st" = 3 ] || fail "the child exited $st, not its own status 3"
# on_exit with several words keeps them as words: ">>" is echoed, not a
# redirection, so that line goes to the child's stdout.
grep -qx "third  with spaces >> $log" "$tmpdir/child.out" ||
  fail "on_exit WORDS... did not keep its words as they are"
printf '%s\n' "third b=up" "second a=up b=down" "first a=down" > "$tmpdir/want"
diff -u "$tmpdir/want" "$log" || fail "cleanup did not run last-in first-out"
[ "$(alive "$(cat "$log.legacy")")" = down ] || fail "a PID added to _blk_pids by hand survived"
[ "$(alive "$(cat "$log.sub")")" = down ] || fail "a server started inside \$(...) survived"
[ ! -e "$(cat "$log.tmpdir")" ] || fail "the child's tmpdir was not removed"

# 2. requires runs the tool and skips with its reason.
run_child 'requires sh -c "echo libfoo.so.1: cannot open shared object file >&2; exit 127"
echo NOT SKIPPED'
[ "$st" = 77 ] || fail "requires on a failing tool: exit $st"
grep -q "^SKIP: .*exit 127.*libfoo.so.1: cannot open shared object file" "$tmpdir/child.out" ||
  fail "requires did not give the tool's reason: $(cat "$tmpdir/child.out")"
run_child 'requires nbdkit --version; echo RAN'
[ "$st" = 0 ] && grep -qx RAN "$tmpdir/child.out" || fail "requires nbdkit --version skipped"
run_child 'requires_cmd no-such-tool-here'
[ "$st" = 77 ] && grep -q "SKIP: no-such-tool-here is not installed" "$tmpdir/child.out" ||
  fail "requires_cmd: exit $st"

# 3. Trace mode: file:line on stderr, captured output unchanged.
{ echo '. "$abs_top_srcdir/tests/functions.sh"'
  echo 'x="$(echo captured 2>&1)"'
  echo 'echo "x=$x"'; } > "$child"
BLK_TEST_TRACE=1 bash "$child" > "$tmpdir/trace.out" 2> "$tmpdir/trace.err"
grep -qx "x=captured" "$tmpdir/trace.out" || fail "trace mode changed captured output"
grep -q "child.sh:3: echo x=captured" "$tmpdir/trace.err" ||
  fail "no file:line trace: $(head -5 "$tmpdir/trace.err")"
bash "$child" 2> "$tmpdir/notrace.err" >/dev/null
[ ! -s "$tmpdir/notrace.err" ] || fail "trace output without BLK_TEST_TRACE"

# 4. The sanitizer wrapper preloads what SANITIZER_PRELOAD names.
{ echo '. "$abs_top_srcdir/tests/functions.sh"'
  echo 'cat "$(nbdkit_wrapper)"; nbdkit_env'; } > "$child"
SANITIZER_PRELOAD="/lib/a.so /lib/b.so" bash "$child" > "$tmpdir/san.out" 2>&1 ||
  fail "nbdkit_wrapper failed: $(cat "$tmpdir/san.out")"
grep -q "^exec env LD_PRELOAD=/lib/a.so:/lib/b.so ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:.*nbdkit \"\$@\"$" \
  "$tmpdir/san.out" || fail "wrapper: $(cat "$tmpdir/san.out")"
grep -q "^LD_PRELOAD=/lib/a.so:/lib/b.so " "$tmpdir/san.out" || fail "nbdkit_env: $(cat "$tmpdir/san.out")"

# 5. stop_nbdkit is bounded: a server that ignores SIGTERM is killed
# (after _blk_stop_secs); under the sanitizer preload that is reported
# and the script goes on, in a plain build it is the server's failure
# (137).  A fake nbdkit: opens its -U socket, ignores SIGTERM.
fake="$tmpdir/fake-nbdkit"
cat > "$fake" <<'FAKE'
#!/bin/sh
while [ "$1" != -U ]; do shift; done
exec /usr/bin/python3 -c 'import signal, socket, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen()
time.sleep(600)' "$2"
FAKE
chmod +x "$fake"
run_child "NBDKIT=$fake; _blk_stop_secs=1; SANITIZER_PRELOAD=/nonexistent/libx.so
start_nbdkit hang memory 1M
stop_nbdkit hang
echo STOPPED"
[ "$st" = 0 ] && grep -qx STOPPED "$tmpdir/child.out" &&
  grep -q "killed after 1 s at exit" "$tmpdir/child.out" ||
  fail "stop_nbdkit under the preload, server ignoring SIGTERM: exit $st: $(cat "$tmpdir/child.out")"
run_child "NBDKIT=$fake; _blk_stop_secs=1; SANITIZER_PRELOAD=
start_nbdkit hang memory 1M
st=0; stop_nbdkit hang || st=\$?
echo STATUS \$st"
[ "$st" = 0 ] && grep -qx "STATUS 137" "$tmpdir/child.out" ||
  fail "stop_nbdkit, plain, server ignoring SIGTERM: exit $st: $(cat "$tmpdir/child.out")"

# 6. nbdtest.outcome, imported through PYTHONPATH.
start_nbdkit srv memory 1M
nbdsh -u "$(uri srv)" -c '
from nbdtest import outcome
assert outcome(h.pread, 512, 0) == "ok"
r = outcome(h.pread, 512, 1 << 30)          # past the end
assert r.startswith("E") and r.isupper(), r
'
stop_nbdkit srv
echo "helper library: cleanup order, requires, trace mode, sanitizer wrapper, bounded stop, outcome: ok"
