#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The Debian package (debian/) builds from a clean copy of the source
# tree, puts every module where nbdkit looks for it, and what it installs
# works: the modules load into nbdkit from the unpacked package, the
# tools run, and lintian (when installed) finds no error or warning.
#
# The package is unpacked with dpkg-deb -x into a scratch root, never
# installed into the system.  Its modules carry RUNPATH
# /usr/lib/<triplet>/nbdkit-blk, an absolute path that the loader resolves
# on the real system, not in the scratch root: so the hook library is put
# first with LD_LIBRARY_PATH (searched before RUNPATH), and the test
# checks in /proc/PID/maps that nbdkit mapped the scratch root's copy, not
# one a "make install" or an installed package left in /usr.
. "$abs_top_srcdir/tests/functions.sh"

# The package is built with Debian's compiler flags whatever this tree
# was configured with, so the ASan/UBSan pass would only repeat the plain
# pass's package build (about a minute of CPU on CI's two cores).
[ -z "$SANITIZER_PRELOAD" ] ||
  skip "the package build does not depend on --enable-sanitizers; covered by the plain pass"
requires_cmd dpkg-buildpackage dpkg-deb dpkg-checkbuilddeps dh readelf nbdsh qemu-img
[ -d "$abs_top_srcdir/debian" ] || skip "no debian/ directory in $abs_top_srcdir"

# ---- a clean copy of the source tree ----------------------------------
# From git when the tree is a checkout: tracked and new, not-ignored
# files, so uncommitted work is what gets packaged, and no build output
# (an in-place configure, _build*) leaks into the copy.
src="$tmpdir/src/nbdkit-blk"
mkdir -p "$src"
if git -C "$abs_top_srcdir" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$abs_top_srcdir" &&
   git ls-files -z -c -o --exclude-standard |
     tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$src"
else
  (cd "$abs_top_srcdir" &&
   tar --exclude='./_build*' --exclude='./.git' -cf - .) | tar -xf - -C "$src"
fi
[ -x "$src/debian/rules" ] || fail "debian/rules missing or not executable in the copy"

if ! (cd "$src" && dpkg-checkbuilddeps) >"$tmpdir/builddeps.log" 2>&1; then
  skip "$(sed -n 's/.*Unmet build dependencies: */unmet build dependencies: /p' "$tmpdir/builddeps.log")"
fi

# ---- build ---------------------------------------------------------------
# nocheck: the unit tests already ran in this make check; noautodbgsym:
# the -dbgsym package is not under test.  The environment of the outer
# make (its MAKEFLAGS, jobserver and command-line variables such as
# TESTS=) must not reach the package's own make.
# (time on a group, not on the subshell: bash would time the subshell
# inside the child, whose stderr goes to build.log.)
TIMEFORMAT="package built in %R s wall, %U s user + %S s sys CPU"
rc=0
time {
  (cd "$src" &&
   env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
     DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=2" \
     dpkg-buildpackage -b -us -uc) >"$tmpdir/build.log" 2>&1 || rc=$?
}
if [ "$rc" != 0 ]; then
  tail -40 "$tmpdir/build.log"
  fail "dpkg-buildpackage -b failed (log above)"
fi
version="$(cd "$src" && dpkg-parsechangelog -S Version)"
arch="$(dpkg-architecture -qDEB_HOST_ARCH)"
deb="$tmpdir/src/nbdkit-blk_${version}_${arch}.deb"
[ -f "$deb" ] || fail "dpkg-buildpackage did not produce $deb: $(ls "$tmpdir/src")"

# ---- contents: where nbdkit looks -----------------------------------------
# nbdkit's own answer (--dump-config), not only the .pc file configure read.
filterdir="$("$NBDKIT" --dump-config | sed -n 's/^filterdir=//p')"
plugindir="$("$NBDKIT" --dump-config | sed -n 's/^plugindir=//p')"
[ -n "$filterdir" ] && [ -n "$plugindir" ] || fail "nbdkit --dump-config names no filterdir/plugindir"
root="$tmpdir/root"
dpkg-deb -x "$deb" "$root"
dpkg-deb -c "$deb" >"$tmpdir/contents"
multiarch="$(dpkg-architecture -qDEB_HOST_MULTIARCH)"
privdir="/usr/lib/$multiarch/nbdkit-blk"
for f in \
    "$filterdir/nbdkit-latency-filter.so" \
    "$filterdir/nbdkit-blkdebug-filter.so" \
    "$filterdir/nbdkit-blkreplay-filter.so" \
    "$plugindir/nbdkit-qcow2-plugin.so" \
    "$plugindir/nbdkit-rbd-plugin.so" \
    "$privdir/libnbdkit-blk-hook.so.0" \
    /usr/bin/blkreplay /usr/bin/blkctl /usr/bin/blkdebug-ctl \
    /usr/share/doc/nbdkit-blk/copyright; do
  [ -e "$root$f" ] || fail "the package does not install $f"
done
for m in nbdkit-latency-filter nbdkit-blkdebug-filter nbdkit-blkreplay-filter \
         nbdkit-qcow2-plugin nbdkit-rbd-plugin blkreplay blkctl blkdebug-ctl; do
  [ -e "$root/usr/share/man/man1/$m.1.gz" ] || fail "no man page $m(1) in the package"
done
! grep -E '\.la$' "$tmpdir/contents" || fail "libtool archives in the package (above)"
for m in $(cd "$root" && find . -name 'nbdkit-*.so' | sed 's/^\.//'); do
  case "$m" in
    "$filterdir"/*|"$plugindir"/*) ;;
    *) fail "module outside nbdkit's directories: $m" ;;
  esac
done
# Each module that needs the hook library finds it through a RUNPATH
# naming the directory the package puts it in.
hooked=0
for m in $(cd "$root" && find . -name 'nbdkit-*.so' | sed 's/^\.//'); do
  readelf -d "$root$m" | grep -q 'NEEDED.*\[libnbdkit-blk-hook\.so\.0\]' || continue
  hooked=$((hooked + 1))
  rp="$(readelf -d "$root$m" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')"
  [ "$rp" = "$privdir" ] || fail "$m: RUNPATH is '$rp', want $privdir"
done
[ "$hooked" -ge 2 ] || fail "only $hooked modules link the hook library (latency, qcow2 at least should)"

# The Depends pin nbdkit to the upstream version the filters were built
# against (nbdkit refuses filters built for another version), and the
# nbdkit installed here satisfies them.
depends="$(dpkg-deb -f "$deb" Depends)"
echo "Depends: $depends"
nbdkit_version="$(pkg-config --modversion nbdkit)"
echo "$depends" | grep -qF "nbdkit (>= $nbdkit_version)" &&
  echo "$depends" | grep -qF "nbdkit (<< $nbdkit_version.~)" ||
  fail "Depends do not pin nbdkit $nbdkit_version: $depends"
installed="$(dpkg-query -W -f='${Version}' nbdkit 2>/dev/null || true)"
if [ -n "$installed" ]; then
  dpkg --compare-versions "$installed" ge "$nbdkit_version" &&
    dpkg --compare-versions "$installed" lt "$nbdkit_version.~" ||
    fail "the installed nbdkit $installed does not satisfy: $depends"
fi

# ---- what it installs works ------------------------------------------------
export LD_LIBRARY_PATH="$root$privdir"
for p in qcow2 rbd; do
  "$NBDKIT" "$root$plugindir/nbdkit-$p-plugin.so" --dump-plugin >"$tmpdir/dump-$p" 2>&1 ||
    { cat "$tmpdir/dump-$p"; fail "nbdkit cannot load the packaged $p plugin"; }
done
"$root/usr/bin/blkreplay" --help >/dev/null || fail "packaged blkreplay --help failed"
"$root/usr/bin/blkdebug-ctl" --help >/dev/null || fail "packaged blkdebug-ctl --help failed"

# The three filters stacked over the qcow2 plugin, all from the package:
# a write and a read through them, recorded by blkreplay, counted by
# latency.
qemu-img create -q -f qcow2 "$tmpdir/disk.qcow2" 1M
start_nbdkit srv \
  --filter="$root$filterdir/nbdkit-latency-filter.so" \
  --filter="$root$filterdir/nbdkit-blkdebug-filter.so" \
  --filter="$root$filterdir/nbdkit-blkreplay-filter.so" \
  "$root$plugindir/nbdkit-qcow2-plugin.so" "$tmpdir/disk.qcow2" \
  blkreplay-log="$tmpdir/w.blog" blkdebug-control="$tmpdir/ctl.sock"
grep -F "$root$privdir/libnbdkit-blk-hook.so" "/proc/$(server_pid srv)/maps" >/dev/null ||
  fail "nbdkit did not map the packaged hook library: $(grep -F libnbdkit-blk-hook "/proc/$(server_pid srv)/maps")"
"$root/usr/bin/blkdebug-ctl" "$tmpdir/ctl.sock" ping >/dev/null ||
  fail "packaged blkdebug-ctl cannot talk to the packaged filter"
nbdsh -u "$(uri srv)" -c 'h.pwrite(b"\x55" * 512, 0)' \
  -c 'assert h.pread(512, 0) == b"\x55" * 512'
stop_nbdkit srv || fail "nbdkit exited with an error: $(cat "$(server_log srv)")"
grep -q '@nbdkit_read: count 1' "$(server_log srv)" ||
  { cat "$(server_log srv)"; fail "packaged latency filter did not report the read"; }
"$root/usr/bin/blkreplay" verify "$tmpdir/w.blog" >"$tmpdir/verify.log" 2>&1 ||
  { cat "$tmpdir/verify.log"; fail "packaged blkreplay cannot verify the packaged filter's log"; }

# ---- lintian ---------------------------------------------------------------
# Every warning is fixed or overridden with a reason
# (debian/nbdkit-blk.lintian-overrides, debian/README.source).
if command -v lintian >/dev/null 2>&1; then
  changes="$tmpdir/src/nbdkit-blk_${version}_${arch}.changes"
  start=$(date +%s)
  if ! lintian --fail-on error,warning --info --display-info "$changes" >"$tmpdir/lintian.log" 2>&1; then
    cat "$tmpdir/lintian.log"
    fail "lintian: errors or warnings (above)"
  fi
  grep -E '^[EWIPX]:' "$tmpdir/lintian.log" || true
  echo "lintian: no errors or warnings ($(( $(date +%s) - start )) s)"
else
  echo "lintian not installed: not run (apt-get install lintian)"
fi
