#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# nbdkit-blk: the check command of the qcow2 crash proofs with backing
# files and internal snapshots (tests/test-blkreplay-qcow2-cow.sh,
# bench/bench-qcow2-crash.sh).  blkreplay crash runs it on every state
# of the qcow2 FILE a power cut could leave (a backend-layer log):
#
#   qcow2-crash-check.sh STATE DIR
#
# DIR: "snapshots" (names, one a line; NAME.raw each one's content) and
# what tests/qcow2-crash-expect.py wrote.  A state passes when
#   1. qemu-img check exits 0 or 3 (leaked clusters: allowed after a
#      crash, not corruption);
#   2. qemu-img snapshot -l lists every snapshot and each one's content
#      is unchanged (writes to clusters shared with a snapshot copy
#      them first, never write in place);
#   3. the guest view holds what was flushed: BLKREPLAY_MARK (set by
#      blkreplay crash: the nearest mark at or before the point, here
#      phase-K after the flush ending phase K) selects expect-(K+1).raw;
#      the bytes later phases may have changed are zeroed in a copy of
#      the guest view (mask-N.cmds) and the rest must be equal.
# CHECK_AHEAD=N (negative control) claims N more phases flushed than
# the mark says: states where those writes are not durable must fail.
# Each state appends "POINT VARIANT MARK BYTES-CHECKED" to DIR/checked.
# Exit 0 pass, 1 fail (the reason on stderr).
state="$1"; d="$2"
at="point $BLKREPLAY_POINT (request #$BLKREPLAY_REQID, $BLKREPLAY_VARIANT, mark ${BLKREPLAY_MARK:-none})"
bad () { echo "$at: $*" >&2; rm -f "$state.guest"; exit 1; }

out="$(qemu-img check -q -f qcow2 "$state" 2>&1)"
st=$?
[ $st = 0 ] || [ $st = 3 ] || bad "qemu-img check exited $st: $out"

if [ -s "$d/snapshots" ]; then
  list="$(qemu-img snapshot -l "$state" 2>&1)" ||
    bad "qemu-img snapshot -l failed: $list"
  for s in $(cat "$d/snapshots"); do
    echo "$list" | awk -v s="$s" 'NR > 2 && $2 == s { f = 1 } END { exit !f }' ||
      bad "snapshot $s is not listed by qemu-img snapshot -l"
    qemu-img convert -f qcow2 -O raw -l "snapshot.name=$s" "$state" "$state.guest" ||
      bad "qemu-img convert of snapshot $s failed"
    diff="$(cmp "$d/$s.raw" "$state.guest" 2>&1)" || bad "snapshot $s changed: $diff"
  done
fi

case "${BLKREPLAY_MARK:-}" in
  phase-*) n=$(( ${BLKREPLAY_MARK#phase-} + 1 )) ;;
  *) n=0 ;;
esac
n=$((n + ${CHECK_AHEAD:-0}))
[ -e "$d/expect-$n.raw" ] || n=$((n - ${CHECK_AHEAD:-0}))
qemu-img convert -f qcow2 -O raw "$state" "$state.guest" ||
  bad "qemu-img convert of the guest view failed"
qemu-io -f raw "$state.guest" < "$d/mask-$n.cmds" > /dev/null ||
  bad "qemu-io could not mask the bytes that may differ"
diff="$(cmp "$d/expect-$n.raw" "$state.guest" 2>&1)" ||
  bad "guest data differs from what was flushed before the mark: $diff"
rm -f "$state.guest"
echo "$BLKREPLAY_POINT $BLKREPLAY_VARIANT ${BLKREPLAY_MARK:--} $(cat "$d/bytes-$n")" >> "$d/checked"
