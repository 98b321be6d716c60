#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Serving without writing leaves the image byte for byte untouched:
# nbdkit -r (without readonly=true), or a read-write server no client
# writes to, on images whose header a writer must change (lazy
# refcounts, a persistent bitmap's autoclear bit).  A file that cannot
# be written is served read-only instead of refused.  A real write
# still makes the header changes (bitmaps removed, autoclear cleared,
# dirty bit while lazy metadata is in flight), and if they fail the
# write fails.  (More bitmap cases: test-qcow2-bitmaps.sh.)
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/qcow2-helpers.sh"
requires_cmd nbdsh md5sum jq
cd "$tmpdir"

EVF="$abs_top_builddir/tests/.libs/nbdkit-hookevents-filter.so"
[ -e "$EVF" ] || fail "hookevents test filter not built"

# Header fields (qcow2 v3): incompatible at 72, compatible at 80,
# autoclear at 88, big-endian.
hdr64 () { od -An -tx1 -j "$2" -N 8 "$1" | tr -d ' \n'; }
incompat () { hdr64 "$1" 72; }
autoclear () { hdr64 "$1" 88; }

# Two images QEMU made, with data, whose headers a writer changes.
qemu-img create -q -f qcow2 -o lazy_refcounts=on lazy.qcow2 8M
qemu-img create -q -f qcow2 bm.qcow2 8M
qemu-img bitmap --add bm.qcow2 b0
qemu-img bitmap --add -g 512 bm.qcow2 b1
for i in lazy bm; do
  qemu-io -f qcow2 -c 'write -P 0x5a 0 1M' -c 'write -P 0xa5 5M 64k' \
    -c 'write -z 6M 64k' $i.qcow2 >/dev/null
done
[ "$(autoclear bm.qcow2)" = 0000000000000001 ] ||
  fail "qemu-img bitmap did not set the bitmaps autoclear bit: $(autoclear bm.qcow2)"
md5sum lazy.qcow2 bm.qcow2 > before.md5

# read_all NAME: every byte, the map and a flush, as a client would.
read_all ()
{
  nbdcopy "$(uri "$1")" - >/dev/null
  nbdinfo --map "$(uri "$1")" >/dev/null
  nbdsh -u "$(uri "$1")" -c 'h.flush()'
}

for i in lazy bm; do
  # nbdkit -r, no readonly=true.
  start_nbdkit r-$i -r "$QCOW2" $i.qcow2
  same_as_qemu r-$i $i.qcow2
  read_all r-$i
  stop_nbdkit r-$i
  # Read-write, but nothing is written.
  serve rw-$i $i.qcow2
  read_all rw-$i
  stop_nbdkit rw-$i
done
md5sum -c --quiet before.md5 || fail "serving without writing changed an image"

# no_bitmaps_no_leaks IMAGE: the bitmaps are gone from the header and
# their clusters were freed: qemu-img check finds no errors, no leaks.
no_bitmaps_no_leaks ()
{
  qemu-img info --output=json "$1" > info.json
  jq -e '."format-specific".data.bitmaps // [] | length == 0' info.json >/dev/null ||
    fail "$1 still has bitmaps: $(cat info.json)"
  qemu-img check "$1" > check.out 2>&1 || { cat check.out; fail "qemu-img check $1 failed"; }
  grep -q "No errors were found" check.out && ! grep -q leaked check.out ||
    { cat check.out; fail "qemu-img check $1 reports errors or leaks"; }
}

# The first write-class request makes the header changes, once.
for i in lazy bm; do
  cp $i.qcow2 w-$i.qcow2
  qemu-img convert -O raw $i.qcow2 w-$i.raw
  serve w-$i w-$i.qcow2
  both w-$i w-$i.raw 'write -P 0x11 2M 64k' 'write -z 5M 4k'
  nbdsh -u "$(uri w-$i)" -c 'h.flush()'
  case $i in
    bm) [ "$(autoclear w-$i.qcow2)" = 0000000000000000 ] ||
          fail "autoclear bits not cleared by a write: $(autoclear w-$i.qcow2)" ;;
    lazy) [ "$(incompat w-$i.qcow2)" = 0000000000000001 ] ||
          fail "lazy refcounts: dirty bit not set while serving: $(incompat w-$i.qcow2)" ;;
  esac
  stop_nbdkit w-$i
  [ "$(incompat w-$i.qcow2)" = 0000000000000000 ] ||
    fail "$i: dirty bit left set after a clean shutdown"
  if [ $i = lazy ]; then
    judge w-$i.qcow2 w-$i.raw
  else
    no_bitmaps_no_leaks w-$i.qcow2
    judge w-$i.qcow2 w-$i.raw
  fi
done

# If the header cannot be written, the write fails with a clear error
# (and the next write tries again).  Count the I/Os opening makes,
# then fail the one after: the first I/O of removing the bitmaps
# (reading the header area back).
cp bm.qcow2 f.qcow2
start_nbdkit probe --filter="$EVF" "$QCOW2" f.qcow2 hookevents-file="$tmpdir/open.ev"
stop_nbdkit probe
cmp -s bm.qcow2 f.qcow2 || fail "open + close changed the image"
n=$(( $(awk '$1 == "io" && $2 == "read" { print $3 }' open.ev) + 1 ))
start_nbdkit f --filter="$EVF" "$QCOW2" f.qcow2 hookevents-fail-nth=$n
nbdsh -u "$(uri f)" -c '
try:
    h.pwrite(b"x" * 4096, 0)
    assert False, "the first write succeeded though the header write failed"
except nbd.Error as e:
    assert e.errno == "EIO", e.errno
h.pwrite(b"y" * 4096, 0)
h.flush()
'
stop_nbdkit f
grep -q "cannot prepare the image for writing: removing its persistent bitmaps" \
  "$(server_log f)" || { cat "$(server_log f)"; fail "no clear error for the failed header write"; }
[ "$(autoclear f.qcow2)" = 0000000000000000 ] || fail "retry did not clear autoclear"
no_bitmaps_no_leaks f.qcow2

# A file that cannot be written: served read-only without readonly=true.
# unwritable NAME HOW: serve ro.qcow2 made unwritable by HOW, check it.
unwritable ()
{
  local name=$1
  nbdinfo --can write "$(uri "$name")" && fail "$2: unwritable file offered writes"
  same_as_qemu "$name" lazy.qcow2
  read_all "$name"
  nbdsh -u "$(uri "$name")" -c '
try:
    h.pwrite(b"x" * 512, 0)
    assert False, "write to a read-only export succeeded"
except nbd.Error:
    pass
'
  stop_nbdkit "$name"
  grep -q "cannot open read-write .*serving it read-only" "$(server_log "$name")" ||
    { cat "$(server_log "$name")"; fail "$2: no debug message saying why read-only"; }
  cmp -s lazy.qcow2 ro/ro.qcow2 || fail "$2: the unwritable image changed"
}
mkdir ro
cp lazy.qcow2 ro/ro.qcow2
chmod 444 ro/ro.qcow2
tested=""
if [ "$(id -u)" != 0 ]; then
  start_nbdkit m444 -v "$QCOW2" ro/ro.qcow2
  unwritable m444 "chmod 444"
  tested="chmod 444 (EACCES)"
else
  # Root ignores the mode: a read-only bind mount in a private mount
  # namespace (EROFS), and an immutable file (EPERM), where possible.
  if unshare -m --propagation private \
       sh -c 'mount --bind -o ro "$1" "$1"' sh "$tmpdir/ro" 2>/dev/null; then
    # nbdkit in its own mount namespace where ro/ is read-only (the
    # wrapper execs all the way, so the PID is nbdkit's).
    cat > rofs-nbdkit <<EOF
#!/bin/sh
exec unshare -m --propagation private sh -c \
  'mount --bind -o ro "$tmpdir/ro" "$tmpdir/ro" && exec "\$0" "\$@"' \
  "$NBDKIT" "\$@"
EOF
    chmod +x rofs-nbdkit
    NBDKIT="$tmpdir/rofs-nbdkit" start_nbdkit rofs -v "$QCOW2" ro/ro.qcow2
    unwritable rofs "read-only bind mount"
    tested="read-only bind mount (EROFS)"
  fi
  if chattr +i ro/ro.qcow2 2>/dev/null; then
    undo_immutable () { chattr -i "$tmpdir/ro/ro.qcow2" 2>/dev/null; }
    on_exit undo_immutable
    start_nbdkit immut -v "$QCOW2" ro/ro.qcow2
    unwritable immut "chattr +i"
    undo_immutable
    tested="$tested${tested:+, }chattr +i (EPERM)"
  fi
  [ -n "$tested" ] ||
    echo "NOTE: running as root without mount namespaces or chattr +i:" \
         "the unwritable-file case cannot be tested here"
fi
echo "unwritable file served read-only: ${tested:-not tested}"
