#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Crash consistency of ext4 through the stack: mkfs and a workload of
# fsync'ed creates, appends, renames and unlinks on ext4 (nbdfuse + loop
# over nbdkit's file plugin with the blkreplay filter) are recorded,
# with a mark "after-mkfs" between them (blkreplay-control, blkctl), then
# blkreplay crash --from=mark:after-mkfs mounts every flush point after
# the mark (a crash during mkfs leaves no file system to check; the
# journal replays),
# checks every file made durable before the point, unmounts and runs
# e2fsck -fn: all points pass.  Negative control: an application that
# fsyncs only its commit file, not its data, fails at named points.
# CRASH_FS=xfs runs the same on xfs (test-blkreplay-crash-xfs.sh).
. "$abs_top_srcdir/tests/functions.sh"
fs="${CRASH_FS:-ext4}"
[ "$(id -u)" = 0 ] || skip "needs root (loop devices, mount)"
[ -c /dev/fuse ] || skip "/dev/fuse is missing"
[ -e /dev/loop-control ] || skip "no loop devices (/dev/loop-control)"
requires_cmd nbdfuse losetup mount umount blockdev jq python3
case "$fs" in
  ext4) requires_cmd mkfs.ext4 e2fsck; fsck="e2fsck -fn" ;;
  xfs) requires_cmd mkfs.xfs xfs_repair; fsck="xfs_repair -n" ;;
  *) fail "CRASH_FS=$fs: use ext4 or xfs" ;;
esac
losetup -f > /dev/null 2>&1 || skip "no free loop device"
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"
blkctl="$abs_top_builddir/tools/blkctl/blkctl"
srcdir="$abs_top_srcdir/tests"

mnt="$tmpdir/mnt"
fuse="$tmpdir/fuse"
cm="$tmpdir/cm"
mkdir "$mnt" "$fuse" "$cm"
loop=""
teardown ()
{
  mountpoint -q "$cm" && umount "$cm"
  mountpoint -q "$mnt" && umount "$mnt"
  [ -n "$loop" ] && losetup -d "$loop"
  mountpoint -q "$fuse" && umount "$fuse"
  # Loop devices of a check interrupted mid-way.
  losetup -j "$tmpdir/blkreplay-crash."*/check.raw 2>/dev/null |
    cut -d: -f1 | xargs -r -n1 losetup -d
}
on_exit teardown

# The base is a blank device: mkfs runs through the stack, recorded.
# No lazy init (the recording holds mkfs's whole work, then only what
# the workload does), no discards.
if [ "$fs" = ext4 ]; then
  truncate -s 32M "$tmpdir/base.img"
  mkfs="mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0,nodiscard"
else
  truncate -s 300M "$tmpdir/base.img"  # xfs's minimum
  mkfs="mkfs.xfs -q -f -K"
fi

# record MODE: mkfs, the mark "after-mkfs", then the workload in MODE,
# on a copy of base.img, recorded.
record ()
{
  cp --sparse=always "$tmpdir/base.img" "$tmpdir/dev-$1.img"
  start_nbdkit "rec-$1" --filter="$(filter blkreplay)" \
    file "$tmpdir/dev-$1.img" \
    blkreplay-log="$tmpdir/$1.blog" blkreplay-data=full \
    blkreplay-control="$tmpdir/ctl-$1.sock"
  nbdfuse "$fuse" --unix "$(sock "rec-$1")" &
  fusepid=$!
  for _ in $(seq 1 100); do [ -e "$fuse/nbd" ] && break; sleep 0.1; done
  [ -e "$fuse/nbd" ] || fail "nbdfuse did not expose $fuse/nbd"
  loop="$(losetup -f --show --direct-io=on "$fuse/nbd")"
  $mkfs "$loop" > /dev/null
  blockdev --flushbufs "$loop"
  "$blkctl" "$tmpdir/ctl-$1.sock" mark after-mkfs > /dev/null
  mount -t "$fs" "$loop" "$mnt"
  python3 "$srcdir/crash-fs-workload.py" "$1" "$mnt" "$(sock "rec-$1")" \
    "$tmpdir/$1.history"
  umount "$mnt"
  losetup -d "$loop"
  loop=""
  umount "$fuse"
  wait "$fusepid"
  stop_nbdkit "rec-$1"
  "$blkreplay" dump --json "$tmpdir/$1.blog" > "$tmpdir/$1.json"
}

# The check command: mount (journal replay), the strict checker,
# unmount, e2fsck -fn (xfs_repair -n).
cat > "$tmpdir/check.sh" <<EOF
#!/bin/sh
img="\$1"; mode="\$2"
echo "\$BLKREPLAY_POINT \${BLKREPLAY_MARK:-none}" >> "$tmpdir/\$mode.marks"
l="\$(losetup -f --show "\$img")" || exit 2
if ! mount -t $fs "\$l" "$cm"; then
  losetup -d "\$l"; echo "point \$BLKREPLAY_POINT: mount failed"; exit 3
fi
python3 "$srcdir/crash-fs-check.py" "\$mode" "$cm" \
  "$tmpdir/\$mode.history" "$tmpdir/\$mode.json"
st=\$?
umount "$cm"
losetup -d "\$l"
if ! $fsck "\$img" > "$tmpdir/fsck.log" 2>&1; then
  echo "point \$BLKREPLAY_POINT: $fsck found errors:"
  cat "$tmpdir/fsck.log"
  st=4
fi
exit \$st
EOF
chmod +x "$tmpdir/check.sh"

record fsync
"$blkreplay" dump "$tmpdir/fsync.blog" | grep -q '^mark *"after-mkfs"' ||
  fail "no mark after-mkfs in the log"
start=$(date +%s)
TMPDIR="$tmpdir" "$blkreplay" crash "$tmpdir/fsync.blog" "$tmpdir/base.img" \
  --from=mark:after-mkfs \
  --check "$tmpdir/check.sh {} fsync" --json > "$tmpdir/fsync.out" ||
  { cat "$tmpdir/fsync.out"; fail "$fs crash states failed the strict check"; }
cat "$tmpdir/fsync.out"
end=$(date +%s)
points="$(jq .points "$tmpdir/fsync.out")"
# 12 fsync'ed steps: at least one flush each (ext4's journal commits).
[ "$points" -ge 12 ] || fail "only $points flush points in the $fs log"
jq -e '.failed == 0 and .restores > 0' "$tmpdir/fsync.out" > /dev/null ||
  fail "expected 0 failures, and restores of the image the check mounted"
echo "$fs: $points points after mark after-mkfs in $((end - start)) s"
# Every state checked came after mkfs: its nearest mark is after-mkfs.
[ "$(wc -l < "$tmpdir/fsync.marks")" -ge "$points" ] ||
  fail "the check ran on fewer states than points"
if grep -v ' after-mkfs$' "$tmpdir/fsync.marks"; then
  fail "a state before the mark after-mkfs was checked"
fi
# mkfs's own flushes are in the log, before the mark: --from left them out.
all="$(TMPDIR="$tmpdir" "$blkreplay" crash "$tmpdir/fsync.blog" "$tmpdir/base.img" \
  --check true --json | jq .points)"
[ "$all" -gt "$points" ] ||
  fail "no flush point before the mark after-mkfs ($all points in all)"

record forget
set +e
TMPDIR="$tmpdir" "$blkreplay" crash "$tmpdir/forget.blog" "$tmpdir/base.img" \
  --from=after-mkfs \
  --check "$tmpdir/check.sh {} forget" > "$tmpdir/forget.out" 2>&1
st=$?
set -e
cat "$tmpdir/forget.out"
[ "$st" = 1 ] || fail "the forgotten fsync was not caught (exit $st)"
grep -q "commit says step [0-9]* but d[0-9]* holds .*, not its 6000 bytes of data" "$tmpdir/forget.out" ||
  fail "the checker's reason is missing"
grep -q "first failure: point [0-9]*/[0-9]* (flush, log position [0-9]*, request #[0-9]*, mark 'after-mkfs'" \
  "$tmpdir/forget.out" || fail "the first failing point is not named with its mark"
