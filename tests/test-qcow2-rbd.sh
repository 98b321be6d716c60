#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# qcow2 on RBD: an image made by qemu-img and `rbd import`ed is served
# with `nbdkit qcow2 rbd:rbd/IMAGE`, written (qemu-io, fio verify, so
# the image grows: rbd_resize), stopped, `rbd export`ed back to a file
# which qemu-img check finds clean and qemu-img compare finds equal to
# a raw reference.  Served with -r it stays untouched.  Bad pool, image
# or spec: a clear error.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/rbd-functions.sh"
. "$abs_top_srcdir/tests/qcow2-helpers.sh"
requires_cmd fio jq nbdsh
rbd_shared_cluster
cd "$tmpdir"

# rbd_import VAR FILE: import FILE as a fresh image, removed at exit.
rbd_import ()
{
  local name="t-qcow2-rbd-$$-$RANDOM"
  rbd import --no-progress "$2" "rbd/$name" >/dev/null || fail "rbd import $2 failed"
  _rbd_images="$_rbd_images $name"
  eval "$1=\$name"
}

qemu-img create -q -f qcow2 q.qcow2 64M
qemu-img create -q -f raw ref.raw 64M
for c in 'write -P 0x61 0 1M' 'write -P 0x62 3M 100k' 'write -z 4M 64k'; do
  qemu-io -f qcow2 -c "$c" q.qcow2 >/dev/null
  qemu-io -f raw -c "$c" ref.raw >/dev/null
done
rbd_import img q.qcow2
size0=$(rbd info --format json "rbd/$img" | jq .size)

start_nbdkit srv -v "$QCOW2" "rbd:rbd/$img"
same_as_qemu srv q.qcow2
# (The socket exists before .after_fork connects: look only now.)
grep -q "rbd: opened rbd/$img" "$(server_log srv)" || fail "no rbd debug line"
# qemu-io writes (allocating, partial clusters, zero, discard), done to
# the reference too.
both srv ref.raw 'write -P 0x11 8M 64k' 'write -P 0x12 9M 1000' \
  'write -P 0x13 1M 4096' 'write -z 3M 64k' 'discard 0 64k' \
  'write -P 0x14 63M 1M'
# fio verify at QD16 on [16M, 48M): the plugin's reads must return
# what it wrote; the region is then copied into the reference, so the
# compare below checks that QEMU reads from the exported image what
# the plugin served.
fio --name=qr --ioengine=nbd --uri="$(uri srv)" --rw=randwrite --bs=4k \
    --offset=16M --size=32M --io_size=4M --iodepth=16 \
    --verify=crc32c --verify_fatal=1 --do_verify=1 --verify_state_save=0 \
    --output=fio.out --output-format=json ||
  { cat fio.out >&2; fail "fio verify through qcow2 on rbd failed"; }
[ "$(jq '.jobs[0].error' fio.out)" = 0 ] || fail "fio reported an error"
nbdsh -u "$(uri srv)" -c '
with open("region", "wb") as f:
    for off in range(16 << 20, 48 << 20, 4 << 20):
        f.write(h.pread(4 << 20, off))
h.flush()
'
dd if=region of=ref.raw bs=1M seek=16 conv=notrunc status=none
stop_nbdkit srv || fail "nbdkit did not stop cleanly"
size1=$(rbd info --format json "rbd/$img" | jq .size)
[ "$size1" -gt "$size0" ] || fail "the RBD image did not grow ($size0 -> $size1)"

rbd export --no-progress "rbd/$img" back.qcow2 >/dev/null || fail "rbd export failed"
judge back.qcow2 ref.raw

# Refcount-table growth writes past everything allocated: the RBD
# image must be grown first there too.  512-byte clusters and 64-bit
# refcounts: the image's one-cluster refcount table covers 2M of host.
qemu-img create -q -f qcow2 -o cluster_size=512,refcount_bits=64 s.qcow2 8M
qemu-img create -q -f raw s.raw 8M
rbd_import simg s.qcow2
start_nbdkit s "$QCOW2" "rbd:rbd/$simg"
both s s.raw 'write -P 0x21 0 3M' 'write -P 0x22 7M 4k'
stop_nbdkit s || fail "nbdkit did not stop cleanly (small clusters)"
rbd export --no-progress "rbd/$simg" s-back.qcow2 >/dev/null || fail "rbd export failed"
[ "$(od -An -tu4 --endian=big -j 56 -N 4 s-back.qcow2 | tr -d ' ')" -gt 1 ] ||
  fail "the refcount table did not grow"
judge s-back.qcow2 s.raw

# nbdkit -r (no readonly=true): nothing written to the RBD image.
# The hookevents fixture checks that RBD I/O is bracketed (layer
# "backend", as for files).
EVF="$abs_top_builddir/tests/.libs/nbdkit-hookevents-filter.so"
rbd_import ro back.qcow2
start_nbdkit ro -r --filter="$EVF" "$QCOW2" "rbd:rbd/$ro" hookevents-file="$tmpdir/ro.ev"
nbdcopy "$(uri ro)" - | cmp - ref.raw || fail "-r: data differs"
nbdsh -u "$(uri ro)" -c 'h.flush()'
stop_nbdkit ro
reads=$(awk '$1 == "io" && $2 == "read" { print $3 }' ro.ev)
[ "${reads:-0}" -gt 0 ] || fail "no bracketed backend reads on RBD: $(cat ro.ev)"
[ "$(awk '$1 == "io" && $2 == "write" { print $3 }' ro.ev)" = 0 ] ||
  fail "-r: backend writes on RBD: $(cat ro.ev)"
rbd export --no-progress "rbd/$ro" ro-back.qcow2 >/dev/null
cmp back.qcow2 ro-back.qcow2 || fail "serving with -r changed the RBD image"

# Clear errors.
rbd_expect_fail "file: no pool 'nosuchpool'" "$QCOW2" "rbd:nosuchpool/$img"
rbd_expect_fail "file: no image 'nosuch' in pool 'rbd'" "$QCOW2" rbd:rbd/nosuch
rbd_expect_fail "file: 'rbd:justanimage': .*expected rbd:POOL" "$QCOW2" rbd:justanimage
rbd_expect_fail "rbd-conf: cannot read '$tmpdir/missing.conf'" \
  "$QCOW2" "rbd:rbd/$img" rbd-conf="$tmpdir/missing.conf"
rbd_expect_fail "rbd-timeout: cannot parse 'soon'" "$QCOW2" "rbd:rbd/$img" rbd-timeout=soon
rbd_expect_fail "rbd-\* parameters need an image on RBD" "$QCOW2" q.qcow2 rbd-id=admin
rbd_expect_fail "create= does not work on RBD" "$QCOW2" "rbd:rbd/$img" create=1M
rbd_image raw 4M
rbd_expect_fail "rbd:rbd/$raw: .*(magic|not a qcow2)" "$QCOW2" "rbd:rbd/$raw"
