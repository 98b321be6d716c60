#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# qemu-img as the client: `qemu-img convert -O qcow2` into a raw export
# (nbdkit's file plugin), recorded with blkreplay-data=full; at every
# flush point the file being converted passes `qemu-img check` (leaked
# clusters allowed: exit status 3), or is not a qcow2 image yet (the
# header is not written).  The state at the end is the converted image.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd qemu-img qemu-io jq
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"

truncate -s 64M "$tmpdir/dev.img" "$tmpdir/base.img"
start_nbdkit rec --filter="$(filter blkreplay)" file "$tmpdir/dev.img" \
  blkreplay-log="$tmpdir/rec.blog" blkreplay-data=full
qemu-img create -q -f raw "$tmpdir/src.raw" 16M
qemu-io -f raw -c 'write -P 0x11 0 3M' -c 'write -P 0x22 8M 2M' \
  -c 'write -P 0x33 15M 64k' "$tmpdir/src.raw" > /dev/null
qemu-img convert -O qcow2 "$tmpdir/src.raw" "$(uri rec)"
stop_nbdkit rec

cat > "$tmpdir/check.sh" <<'EOF'
#!/bin/sh
# A state before qemu-img wrote the qcow2 magic is not an image yet.
[ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' ')" = 514649fb ] || exit 0
qemu-img check -q -f qcow2 "$1"
st=$?
if [ $st != 0 ] && [ $st != 3 ]; then
  echo "point $BLKREPLAY_POINT (request #$BLKREPLAY_REQID): qemu-img check exited $st"
  exit 1
fi
EOF
chmod +x "$tmpdir/check.sh"

"$blkreplay" crash "$tmpdir/rec.blog" "$tmpdir/base.img" --points=flush \
  --check "$tmpdir/check.sh {}" --json > "$tmpdir/out.json" ||
  { cat "$tmpdir/out.json"; fail "a flush point of qemu-img convert fails qemu-img check"; }
cat "$tmpdir/out.json"
flushes="$("$blkreplay" dump --json "$tmpdir/rec.blog" |
  jq -s '[.[] | select(.type == "request" and .op == "flush" and .error == 0)] | length')"
[ "$flushes" -gt 2 ] || fail "qemu-img convert sent only $flushes flushes"
jq -e --argjson n "$flushes" '.points == $n and .failed == 0' \
  "$tmpdir/out.json" > /dev/null || fail "expected $flushes points, 0 failed"

# The last flush point holds the whole converted image.
"$blkreplay" image "$tmpdir/rec.blog" "$tmpdir/base.img" \
  --at="flush:$flushes" -o "$tmpdir/final.img"
qemu-img compare -q -f raw -F qcow2 "$tmpdir/src.raw" "$tmpdir/final.img" ||
  fail "the state at the last flush is not the converted image"
