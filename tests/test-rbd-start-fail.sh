#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A wrong pool, image, snapshot or key makes nbdkit exit non-zero with
# the message, before any client can connect, in every mode: -f, as a
# daemon with a pid file, with --run, with -U - --run; for the rbd
# plugin and for qcow2 on RBD.  (The check runs in .get_ready, before
# nbdkit binds its socket; failing in .after_fork used to leave --run
# and its client waiting for ever, a daemon's pid file naming a dead
# process, and a bound socket nobody served.)
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/rbd-functions.sh"
requires_cmd nbdinfo
rbd_shared_cluster
rbd_image img 16M
ceph-authtool --create-keyring "$tmpdir/wrong.keyring" --gen-key -n client.admin >/dev/null
qemu-img create -q -f qcow2 "$tmpdir/q.qcow2" 16M
qimg="t-start-fail-q-$$-$RANDOM"
rbd import --no-progress "$tmpdir/q.qcow2" "rbd/$qimg" >/dev/null || fail "rbd import failed"
_rbd_images="$_rbd_images $qimg"
RBD="$(plugin rbd)"
QCOW2="$(plugin qcow2)"

# Under the sanitizer preload a process that loaded librados can hang
# in exit() (see rbd_expect_fail): there a run cut off by `timeout`
# after its error counts as an exit (seen after a refused key); without
# the preload it is a hang.
bound=20
[ -z "$SANITIZER_PRELOAD" ] || bound=10

# run_mode NAME MODE PATTERN PLUGIN ARGS...: nbdkit in MODE must exit
# non-zero within $bound s, print PATTERN, and leave nobody listening.
run_mode ()
{
  local name="$1" mode="$2" pat="$3" log="$tmpdir/$1.log" s="$tmpdir/$1.sock"
  local pidf="$tmpdir/$1.pid" st=0 t0 ms
  shift 3
  rm -f "$s" "$pidf"
  t0=$(date +%s%N)
  # shellcheck disable=SC2046
  case "$mode" in
    fg) timeout -k 5 $bound env $(nbdkit_env) "$NBDKIT" -f -U "$s" "$@" >"$log" 2>&1 || st=$? ;;
    daemon) timeout -k 5 $bound env $(nbdkit_env) "$NBDKIT" -P "$pidf" -U "$s" "$@" >"$log" 2>&1 || st=$? ;;
    run) timeout -k 5 $bound env $(nbdkit_env) "$NBDKIT" -U "$s" "$@" \
           --run 'timeout 30 nbdinfo --size "$uri"' >"$log" 2>&1 || st=$? ;;
    stdin) timeout -k 5 $bound env $(nbdkit_env) "$NBDKIT" -U - "$@" \
             --run 'timeout 30 nbdinfo --size "$uri"' >"$log" 2>&1 || st=$? ;;
  esac
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  echo "$name ($mode): status $st after $ms ms"
  grep -Eq -- "$pat" "$log" || { cat "$log" >&2; fail "$name ($mode): no error matching '$pat'"; }
  [ "$st" != 0 ] || { cat "$log" >&2; fail "$name ($mode): exit status 0"; }
  if [ "$st" = 124 ] && [ -z "$SANITIZER_PRELOAD" ]; then
    cat "$log" >&2; fail "$name ($mode): still running after $bound s"
  fi
  # Nothing was served: no socket was bound, no pid file written.
  [ ! -e "$s" ] || fail "$name ($mode): the socket $s was created"
  [ ! -e "$pidf" ] || fail "$name ($mode): a pid file names $(cat "$pidf")"
  ! grep -qx '[0-9]*' "$log" || fail "$name ($mode): a client got an answer"
}

# Where the check runs matters for the mode, not for the kind of
# mistake: every mode with a missing image (rbd, qcow2 on RBD), every
# kind of mistake with --run (the mode that used to hang).
for mode in fg daemon run stdin; do
  run_mode image $mode "no image 'nosuch' in pool 'rbd'" "$RBD" rbd/nosuch
  run_mode qimage $mode "file: no image 'nosuch' in pool 'rbd'" "$QCOW2" rbd:rbd/nosuch
done
run_mode pool run "no pool 'nosuchpool'" "$RBD" "nosuchpool/$img"
run_mode snap run "has no snapshot 'nosnap'" "$RBD" "rbd/$img@nosnap"
run_mode key run "refused client.admin" "$RBD" "rbd/$img" \
  keyring="$tmpdir/wrong.keyring" timeout=10s
run_mode qmagic run "rbd:rbd/$img: .*(magic|not a qcow2)" "$QCOW2" "rbd:rbd/$img"

# And with everything right each mode serves, and the check left no
# librados thread behind the fork (nbdkit is single-threaded then).
# good_status ST OUT: whether a good --run ended well.  Under the
# sanitizer preload nbdkit can hang in exit() once its work is done
# (docs/common.md, "errno in messages"): timeout's kill after the right
# answer is reported there, not counted.
good_status ()
{
  [ "$1" = 0 ] && return 0
  if [ -n "$SANITIZER_PRELOAD" ] && [ "$2" = $((16 << 20)) ] &&
     { [ "$1" = 124 ] || [ "$1" = 137 ]; }; then
    echo "(nbdkit killed after serving: the sanitizer exit hang)" >&2
    return 0
  fi
  return 1
}
gbound=20
[ -z "$SANITIZER_PRELOAD" ] || gbound=30
st=0
out="$(timeout -k 5 $gbound env $(nbdkit_env) "$NBDKIT" -v -U - "$RBD" "rbd/$img" \
  --run 'nbdinfo --size "$uri"' 2>"$tmpdir/ok.log")" || st=$?
good_status "$st" "$out" || { cat "$tmpdir/ok.log" >&2; fail "good image: --run failed (exit $st)"; }
[ "$out" = $((16 << 20)) ] || fail "good image: size '$out'"
grep -q "checked before serving; 1 thread(s) left" "$tmpdir/ok.log" ||
  { grep "checked before" "$tmpdir/ok.log" >&2; fail "librados threads left after the check"; }
st=0
out="$(timeout -k 5 $gbound env $(nbdkit_env) "$NBDKIT" -U - "$QCOW2" "rbd:rbd/$qimg" \
  --run 'nbdinfo --size "$uri"')" || st=$?
good_status "$st" "$out" || fail "good qcow2 image: --run failed (exit $st)"
[ "$out" = $((16 << 20)) ] || fail "good qcow2 image: size '$out'"
rm -f "$tmpdir/d.pid"
env $(nbdkit_env) "$NBDKIT" -P "$tmpdir/d.pid" -U "$tmpdir/d.sock" "$RBD" "rbd/$img" ||
  fail "good image: daemon failed"
_blk_pids="$_blk_pids $(cat "$tmpdir/d.pid")"
for _ in $(seq 1 100); do [ -S "$tmpdir/d.sock" ] && break; sleep 0.1; done
[ "$(nbdinfo --size "nbd+unix:///?socket=$tmpdir/d.sock")" = $((16 << 20)) ] ||
  fail "good image: the daemon does not serve"
