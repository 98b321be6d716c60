# SPDX-License-Identifier: BSD-3-Clause
# nbdkit-blk: helpers for the rbd tests, sourced after functions.sh.
#
#   . "$abs_top_srcdir/tests/functions.sh"
#   . "$abs_top_srcdir/tests/rbd-functions.sh"
#   rbd_shared_cluster                 # CEPH_CONF points at a live cluster
#   rbd_image img 64M                  # a fresh image rbd/$img, removed at exit
#   start_nbdkit srv "$(plugin rbd)" "rbd/$img"
#
# One cluster serves every rbd test of a `make check` (tests/ceph/
# ceph-cluster.sh start --linger): the first test starts it under a
# lock, each test registers itself as a user, and the cluster's
# watchdog stops it once make has exited or nobody used it for
# RBD_LINGER seconds.  So a single test (make check TESTS=...) works
# the same, and no cluster outlives the run, even when a test fails or
# make is interrupted.  Tests that stop daemons use rbd_private_cluster.

: "${RBD_LINGER:=20}"
ceph_cluster="$abs_top_srcdir/tests/ceph/ceph-cluster.sh"

rbd_requires_ceph ()
{
  for c in ceph-mon ceph-osd ceph rbd monmaptool ceph-authtool; do
    command -v "$c" >/dev/null 2>&1 ||
      skip "$c is not installed: rbd tests need a real Ceph cluster (Debian packages ceph-mon ceph-osd ceph-common)"
  done
}

# The nearest `make` among our ancestors (the one running the tests),
# or 0 when run by hand.
_rbd_make_pid ()
{
  local p=$PPID
  while [ "$p" -gt 1 ] 2>/dev/null; do
    case "$(cat "/proc/$p/comm" 2>/dev/null)" in
      make|gmake) echo "$p"; return ;;
    esac
    p="$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null || echo 0)"
  done
  echo 0
}

# Cleanup, through functions.sh's stack (last registered runs first,
# see tests/core-functions.sh): rbd_shared_cluster/rbd_private_cluster
# register the cluster's release or stop first, so it runs last; each
# rbd_image registers its removal when it is created, so it runs after
# every server started later (an image with a client cannot be removed)
# and before the cluster goes.
_rbd_images=""
_rbd_cleanup ()
{
  if [ "$RBD_DIR" != "$tmpdir/ceph" ]; then
    "$ceph_cluster" release "$RBD_DIR" $$
  else
    "$ceph_cluster" stop "$RBD_DIR"
  fi
}

# _rbd_rm_image NAME: remove rbd/NAME and its snapshots (shared cluster
# only: a private one goes away with its memstore).
_rbd_rm_image ()
{
  [ "$RBD_DIR" != "$tmpdir/ceph" ] || return 0
  timeout 30 rbd snap purge --no-progress "rbd/$1" >/dev/null 2>&1
  timeout 30 rbd rm --no-progress "rbd/$1" >/dev/null 2>&1 ||
    echo "warning: could not remove rbd/$1" >&2
}

rbd_shared_cluster ()
{
  rbd_requires_ceph
  # One cluster per build tree, outside it (git status stays clean).
  RBD_DIR="${RBD_TEST_CLUSTER:-${TMPDIR:-/tmp}/nbdkit-blk-rbd-$(echo "$abs_top_builddir" | md5sum | cut -c1-12)}"
  mkdir -p "$RBD_DIR"
  exec 8>"$RBD_DIR.lock"
  flock -w 180 8 || fail "cannot lock $RBD_DIR.lock"
  if ! "$ceph_cluster" status "$RBD_DIR"; then
    "$ceph_cluster" stop "$RBD_DIR"
    "$ceph_cluster" start "$RBD_DIR" --no-image --linger "$RBD_LINGER" \
      --owner "$(_rbd_make_pid)" || fail "cannot start the test cluster"
  fi
  "$ceph_cluster" hold "$RBD_DIR" $$
  exec 8>&-
  on_exit _rbd_cleanup
  CEPH_CONF="$RBD_DIR/ceph.conf"
  export CEPH_CONF
}

# A cluster of this test's own, in $tmpdir/ceph, stopped at exit.
# Arguments go to ceph-cluster.sh start (e.g. --store bluestore).
rbd_private_cluster ()
{
  rbd_requires_ceph
  RBD_DIR="$tmpdir/ceph"
  on_exit _rbd_cleanup
  "$ceph_cluster" start "$RBD_DIR" --no-image "$@" || fail "cannot start a cluster"
  CEPH_CONF="$RBD_DIR/ceph.conf"
  export CEPH_CONF
}

# rbd_image VAR SIZE [RBD-CREATE-OPTIONS...]: create a fresh image in
# pool rbd and store its name in VAR; it is removed at exit (memstore
# keeps it in RAM).
rbd_image ()
{
  local var="$1" size="$2"; shift 2
  local name="t-$(basename "$0" .sh)-$$-$RANDOM"
  rbd create --size "$size" "$@" "rbd/$name" || fail "rbd create rbd/$name failed"
  _rbd_images="$_rbd_images $name"
  on_exit _rbd_rm_image "$name"
  eval "$var=\$name"
}

# rbd_expect_fail PATTERN ARGS...: expect_fail_nbdkit, plus what a
# failed .after_fork needs: nbdkit leaves its socket behind then, so
# remove it before each attempt.  Under --enable-sanitizers (nbdkit_env
# preloads the runtimes, as for start_nbdkit) a process that loaded
# librados can hang in exit() (glibc's setlocale lock, taken by
# p11-kit's destructor; never seen without the preload): once the error
# is printed and the process has had 2 s to exit, it is killed.
rbd_expect_fail ()
{
  rm -f "$tmpdir/expect-fail.sock"
  if [ -z "$SANITIZER_PRELOAD" ]; then
    expect_fail_nbdkit "$@"
    return
  fi
  local pat="$1" out="$tmpdir/expect-fail.log" pid n=0 st=0
  shift
  # shellcheck disable=SC2046
  env $(nbdkit_env) "$NBDKIT" -f -U "$tmpdir/expect-fail.sock" "$@" >"$out" 2>&1 &
  pid=$!
  while kill -0 $pid 2>/dev/null && [ $n -lt 100 ]; do
    grep -q 'error:' "$out" && n=$((n + 10)) || n=$((n + 1))
    sleep 0.2
  done
  kill -KILL $pid 2>/dev/null && echo "(nbdkit killed after its error: sanitizer exit hang)"
  wait $pid || st=$?
  [ $st != 0 ] || fail "nbdkit accepted: $*"
  grep -Eq -- "$pat" "$out" || { cat "$out" >&2; fail "nbdkit's error does not match '$pat'"; }
}
