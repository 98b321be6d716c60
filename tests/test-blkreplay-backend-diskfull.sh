#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# blkreplay-layer=backend on a filling disk: the log of the qcow2
# plugin's file I/O fails, the plugin's next file I/O fails with the
# log's error (blkreplay-on-error=fail), and no client request is
# acknowledged whose file I/O may lack a record.  Proof: every write the
# client committed (write, then a successful flush) reads back from the
# file state rebuilt from the log, and the log reads cleanly.  Needs
# root (a small tmpfs).
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/qcow2-helpers.sh"
requires_cmd nbdsh mount umount
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"
[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs"
# The same open issue as test-blkreplay-diskfull.sh: under the
# sanitizer preload nbdkit hangs at exit after a log failure.
[ -z "$SANITIZER_PRELOAD" ] ||
  skip "nbdkit hangs at exit under the sanitizer preload after a log failure (open issue)"
cd "$tmpdir"

full="$tmpdir/full"
mkdir "$full"
mount -t tmpfs -o size=2m tmpfs "$full" 2>/dev/null ||
  skip "cannot mount a tmpfs"
unmount_full () { umount "$full" 2>/dev/null || :; }
on_exit unmount_full

qemu-img create -q -f qcow2 -o cluster_size=65536 img.qcow2 16M
cp img.qcow2 base.qcow2
start_nbdkit rec -v --filter="$(filter blkreplay)" "$QCOW2" img.qcow2 \
  blkreplay-layer=backend blkreplay-data=full blkreplay-on-error=fail \
  blkreplay-log="$full/rec.blog"
# 4 KiB writes into distinct clusters, each followed by a flush (which
# writes back a 64 KiB L2 table and refcount block): a dozen or so fit
# in the log.  Committed writes (write and flush succeeded).
nbdsh -u "$(uri rec)" -c "
ok = open('$tmpdir/ok', 'w')
errs = set()
for i in range(200):
    try:
        h.pwrite(bytes([1 + i % 250]) * 4096, i * 65536)
        h.flush()
        print(i, file=ok)
    except nbd.Error as e:
        errs.add(e.errnum)
print(sorted(errs), file=open('$tmpdir/errs', 'w'))
"
stop_nbdkit rec || :
log="$(server_log rec)"
nok=$(wc -l < ok)
echo "$nok writes committed; errors seen: $(cat errs)"
[ "$nok" -gt 0 ] && [ "$nok" -lt 200 ] ||
  fail "$nok of 200 writes committed: the log's disk did not fill as planned"
grep -q "blkreplay-log: writing '$full/rec.blog' failed: No space left" "$log" ||
  { cat "$log"; fail "no error for the failed log"; }
[ "$(cat errs)" = "[28]" ] || fail "refused with $(cat errs), not only ENOSPC (28)"

"$blkreplay" verify "$full/rec.blog" > verify.out 2>&1 ||
  { cat verify.out; fail "the log does not verify"; }
# The file as the log has it (every recorded write on disk), read as
# the guest sees it: every committed write is there.
"$blkreplay" image "$full/rec.blog" base.qcow2 --base-format=raw --acked \
  -o state.qcow2 2>/dev/null
qemu-img check -q -f qcow2 state.qcow2 2>/dev/null || [ $? = 3 ] ||
  fail "the state rebuilt from the log fails qemu-img check"
cmds=()
while read -r i; do
  cmds+=(-c "read -P $((1 + i % 250)) $((i * 65536)) 4096")
done < ok
qemu-io -r -f qcow2 "${cmds[@]}" state.qcow2 > io.out 2>&1 || :
! grep -q "verification failed" io.out ||
  fail "a committed write is not in the file rebuilt from the log: $(grep -m1 'verification failed' io.out)"
[ "$(grep -c "read 4096/4096" io.out)" = "$nok" ] ||
  { head io.out; fail "not every committed write could be read back"; }
