#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The plugin takes QEMU's image locks (OFD byte locks at 100+bit /
# 200+bit), so that two writers never share an image: a second nbdkit,
# qemu-io and qemu-nbd are refused while we serve read-write, we refuse
# an image qemu-nbd serves, readers share, the backing file is locked
# against writers, locking=off lets a second one in, the locks are held
# by the process that serves (-f, daemon, --run), and nbdkit -r serves
# a dirty lazy-refcounts image as QEMU opens it.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/qcow2-helpers.sh"
requires_cmd nbdsh qemu-nbd
cd "$tmpdir"

qemu-img create -q -f qcow2 a.qcow2 16M
qemu-img create -q -f qcow2 base.qcow2 16M
qemu-io -f qcow2 -c 'write -P 0x11 0 1M' base.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2

# qemu_refused IMAGE CMD...: a QEMU tool must fail to get a lock.
qemu_refused ()
{
  img="$1"; shift
  if "$@" > qemu.out 2>&1; then
    cat qemu.out >&2
    fail "'$*' was let in while $img is in use"
  fi
  grep -q 'Failed to get .* lock' qemu.out || {
    cat qemu.out >&2
    fail "'$*' failed, but not on a lock"
  }
}
inuse="a.qcow2: another process is using the image"

# 1. We serve read-write.  Until the first read-write connection we
# hold a reader's locks (the plugin cannot tell nbdkit -r apart before
# that), which already keep every writer out; from then on a writer's.
serve rw a.qcow2
qemu_refused a.qcow2 qemu-io -f qcow2 -c 'write 0 4k' a.qcow2
nbdsh -u "$(uri rw)" -c 'h.pwrite(b"\x22" * 4096, 0); h.flush()'
# A second nbdkit (read-write, or readonly=true) is refused at start.
expect_fail_nbdkit "$inuse: failed to get shared \"write\" lock" "$QCOW2" a.qcow2
expect_fail_nbdkit "$inuse" "$QCOW2" a.qcow2 readonly=true
qemu_refused a.qcow2 qemu-io -f qcow2 -c 'write 0 4k' a.qcow2
qemu_refused a.qcow2 qemu-img info a.qcow2
qemu-img info -U a.qcow2 >/dev/null || fail "qemu-img info -U refused"
qemu-io -r -U -f qcow2 -c 'read -P 0x22 0 4k' a.qcow2 >/dev/null ||
  fail "qemu-io -r -U refused"
stop_nbdkit rw

# Two read-write servers started before any client: neither can take
# a writer's locks, so read-write connections are refused, with the
# reason, instead of two writers corrupting the image.
serve rw1 a.qcow2
serve rw2 a.qcow2
for n in rw1 rw2; do
  if nbdsh -u "$(uri $n)" -c 'h.pwrite(b"\x44" * 4096, 0)' 2>/dev/null; then
    fail "$n: a write was accepted while another server has the image"
  fi
  grep -q "$inuse: failed to get \"write\" lock" "$(server_log $n)" ||
    fail "$n: no 'in use' message for the refused connection"
done
stop_nbdkit rw2
nbdsh -u "$(uri rw1)" -c 'h.pwrite(b"\x22" * 4096, 0)' ||
  fail "rw1: still refused after the other server stopped"
stop_nbdkit rw1

# 2. qemu-nbd serves read-write: we refuse, read-write or read-only.
qemu-nbd -k "$tmpdir/qn.sock" -f qcow2 a.qcow2 2>qn.log &
qn=$!
_blk_pids="$_blk_pids $qn"
for _ in $(seq 1 100); do [ -S qn.sock ] && break; sleep 0.05; done
[ -S qn.sock ] || fail "qemu-nbd did not start"
expect_fail_nbdkit "$inuse" "$QCOW2" a.qcow2
expect_fail_nbdkit "$inuse: failed to get shared \"write\" lock" \
                   "$QCOW2" a.qcow2 readonly=true
kill "$qn"; wait "$qn" || true

# 3. Readers share: nbdkit readonly=true, nbdkit -r, qemu-io -r
# (which does not share write, like us) and qemu-img info; a writer
# is refused.
serve ro1 a.qcow2 readonly=true
start_nbdkit ro2 -r "$QCOW2" a.qcow2
nbdinfo --size "$(uri ro2)" >/dev/null
same_as_qemu ro2 a.qcow2
qemu-io -r -f qcow2 -c 'read -P 0x22 0 4k' a.qcow2 >/dev/null ||
  fail "qemu-io -r refused next to two readers"
qemu-img info a.qcow2 >/dev/null || fail "qemu-img info refused next to readers"
qemu_refused a.qcow2 qemu-io -f qcow2 -c 'write 0 4k' a.qcow2
serve w a.qcow2
if nbdsh -u "$(uri w)" -c 'h.pwrite(b"\x44" * 4096, 0)' 2>/dev/null; then
  fail "a write was accepted next to readers"
fi
grep -q "$inuse: failed to get \"write\" lock" "$(server_log w)" ||
  fail "no 'in use' message for the writer next to readers"
stop_nbdkit w
stop_nbdkit ro1
stop_nbdkit ro2

# 4. The backing file is locked shared-read: readable, not writable.
serve top top.qcow2
nbdinfo --size "$(uri top)" >/dev/null
qemu_refused base.qcow2 qemu-io -f qcow2 -c 'write 0 4k' base.qcow2
qemu-io -r -f qcow2 -c 'read -P 0x11 0 4k' base.qcow2 >/dev/null ||
  fail "reading the backing file refused"
serve wb base.qcow2
if nbdsh -u "$(uri wb)" -c 'h.pwrite(b"\x44" * 4096, 0)' 2>/dev/null; then
  fail "a write to the backing file of a served image was accepted"
fi
grep -q "base.qcow2: another process is using the image" "$(server_log wb)" ||
  fail "no 'in use' message for the writer of the backing file"
stop_nbdkit wb
stop_nbdkit top

# 5. locking=off lets a second server in (and takes no lock at all).
serve rw a.qcow2
nbdinfo --size "$(uri rw)" >/dev/null
serve second a.qcow2 locking=off
nbdsh -u "$(uri second)" -c 'h.pwrite(b"\x22" * 4096, 0)'
stop_nbdkit second
stop_nbdkit rw
expect_fail_nbdkit "locking: unknown value 'maybe' \\(expected one of: auto, on, off\\)" "$QCOW2" a.qcow2 locking=maybe

# 6. The process that serves holds the locks: --run (nbdkit forks
# the command) and daemon mode (nbdkit forks into the background).
# shellcheck disable=SC2016
env $(nbdkit_env) "$NBDKIT" -U - "$QCOW2" a.qcow2 --run '
  nbdinfo --size "$uri" >/dev/null &&
  ! qemu-io -f qcow2 -c "write 0 4k" a.qcow2 2>run-qemu.out &&
  grep -q "Failed to get .* lock" run-qemu.out
' || fail "--run: the image was not locked while served"
env $(nbdkit_env) "$NBDKIT" -U "$tmpdir/d.sock" -P "$tmpdir/d.pid" \
  "$QCOW2" a.qcow2 > d.log 2>&1 || fail "daemon start failed"
for _ in $(seq 1 100); do [ -s d.pid ] && [ -S d.sock ] && break; sleep 0.05; done
dpid="$(cat d.pid)"
_blk_pids="$_blk_pids $dpid"
[ "$(nbdinfo --size "nbd+unix:///?socket=$tmpdir/d.sock")" = 16777216 ] ||
  fail "daemon does not serve"
qemu_refused a.qcow2 qemu-io -f qcow2 -c 'write 0 4k' a.qcow2
kill "$dpid"
for _ in $(seq 1 100); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.05; done
qemu-io -f qcow2 -c 'write 0 4k' a.qcow2 >/dev/null ||
  fail "the lock outlived the daemon"

# 7. A dirty lazy-refcounts image: nbdkit -r serves it (QEMU opens it
# read-only too); a read-write connection is refused with the reason.
qemu-img create -q -f qcow2 -o lazy_refcounts=on lazy.qcow2 8M
qemu-io -f qcow2 -c 'write -P 0x33 0 64k' lazy.qcow2 >/dev/null
python3 - <<'PY'
import struct
with open("lazy.qcow2", "r+b") as f:
    f.seek(72); v = struct.unpack(">Q", f.read(8))[0]
    f.seek(72); f.write(struct.pack(">Q", v | 1))
PY
start_nbdkit dirty -r "$QCOW2" lazy.qcow2
nbdsh -u "$(uri dirty)" -c 'assert h.pread(4096, 0) == b"\x33" * 4096'
stop_nbdkit dirty
serve dirtyrw lazy.qcow2
if nbdinfo "$(uri dirtyrw)" >/dev/null 2>&1; then
  fail "a read-write connection to a dirty image was accepted"
fi
grep -q "lazy.qcow2: the image is dirty.*qemu-img check -r all" \
  "$(server_log dirtyrw)" || fail "no 'dirty' message for the rw connection"
stop_nbdkit dirtyrw
# Served read-only, it takes a reader's locks: qemu-io -r shares.
start_nbdkit dirty2 -r "$QCOW2" lazy.qcow2
qemu-io -r -f qcow2 -c 'read -P 0x33 0 4k' lazy.qcow2 >/dev/null ||
  fail "reader refused next to nbdkit -r on a dirty image"
stop_nbdkit dirty2
