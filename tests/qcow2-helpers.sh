# SPDX-License-Identifier: BSD-3-Clause
# nbdkit-blk: helpers for the qcow2 plugin tests (sourced after
# functions.sh; see docs/testing.md).  qemu-img is the judge of
# everything the plugin writes.

requires_cmd qemu-img qemu-io nbdcopy nbdinfo
QCOW2="$(plugin qcow2)"
[ -e "$QCOW2" ] || fail "qcow2 plugin not built: $QCOW2"

# serve NAME IMAGE ARGS...: the plugin on IMAGE.
serve () { n="$1"; shift; start_nbdkit "$n" "$QCOW2" "$@"; }

# same_as_qemu NAME IMAGE: what the plugin serves is what qemu-img
# reads from IMAGE.
same_as_qemu ()
{
  qemu-img convert -O raw "$2" "$tmpdir/ref-$1.raw"
  rm -f "$tmpdir/got-$1.raw"
  nbdcopy "$(uri "$1")" "$tmpdir/got-$1.raw"
  cmp "$tmpdir/ref-$1.raw" "$tmpdir/got-$1.raw" ||
    fail "$1: data served differs from qemu-img convert of $2"
  rm -f "$tmpdir/ref-$1.raw" "$tmpdir/got-$1.raw"
}

# same_map NAME IMAGE: nbdinfo --map agrees with qemu-img map on
# data/zero for every byte (ranges are normalised to bytes flags).
same_map ()
{
  qemu-img map --output=json "$2" |
    jq -r '.[] | "\(.start) \(.length) \(if .data then 0 else 3 end)"' |
    awk '{ print $1, $2, $3 }' > "$tmpdir/map-q"
  nbdinfo --map --json "$(uri "$1")" |
    jq -r '.[] | "\(.offset) \(.length) \(.type)"' > "$tmpdir/map-n"
  python3 - "$tmpdir/map-q" "$tmpdir/map-n" <<'PY' || fail "$1: extents differ from qemu-img map of $2"
import sys
def runs(p):
    out = []
    for line in open(p):
        s, l, t = map(int, line.split())
        if out and out[-1][2] == t and out[-1][0] + out[-1][1] == s:
            out[-1][1] += l
        else:
            out.append([s, l, t])
    return out
a, b = runs(sys.argv[1]), runs(sys.argv[2])
if a != b:
    print("qemu:", a[:10], "\nnbd: ", b[:10], file=sys.stderr)
    sys.exit(1)
PY
}

# judge IMAGE RAW: qemu-img check finds nothing and compare agrees.
judge ()
{
  qemu-img check "$1" > "$tmpdir/check.out" 2>&1 || {
    cat "$tmpdir/check.out" >&2
    fail "qemu-img check $1 failed"
  }
  grep -q "No errors were found" "$tmpdir/check.out" || {
    cat "$tmpdir/check.out" >&2
    fail "qemu-img check $1 reports problems"
  }
  if grep -q "leaked" "$tmpdir/check.out"; then
    cat "$tmpdir/check.out" >&2
    fail "qemu-img check $1 reports leaks"
  fi
  qemu-img compare -f qcow2 -F raw "$1" "$2" >&2 || fail "qemu-img compare $1 $2"
}

# both NAME RAW CMD...: run each qemu-io command against the export
# and against the raw reference.
both ()
{
  n="$1"; r="$2"; shift 2
  for c in "$@"; do
    qemu-io -f raw -c "$c" "$(uri "$n")" >/dev/null ||
      fail "$n: qemu-io '$c' through the plugin failed"
    qemu-io -f raw -c "$c" "$r" >/dev/null
  done
}
