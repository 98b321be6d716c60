#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# make install puts the modules where nbdkit finds them by name, and the
# installed filter finds the hook library through its RUNPATH.  Uses a
# staged install (DESTDIR), so the test needs no root and leaves no trace.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh
dest="$tmpdir/root"
# make install relinks the modules in place (libtool's hardcode_into_libs
# rewrites .libs/*.so), and a test running beside this one would load a
# half-written module ("file too short").  So install from a private copy
# of the build tree, whose libtool archives point at the copy.
# The copy sits beside the original, so a build configured with a
# relative source path (srcdir = ..) still finds its sources.
build="$(mktemp -d "$abs_top_builddir.install-test.XXXXXX")"
on_exit rm -rf "$build"
rmdir "$build"
cp -a "$abs_top_builddir" "$build"
grep -rlZ --include='*.la' --include='*.lai' "$abs_top_builddir" "$build" |
  xargs -0 -r sed -i "s|$abs_top_builddir|$build|g"
make -C "$build" install DESTDIR="$dest" >"$tmpdir/install.log" 2>&1 ||
  { tail -20 "$tmpdir/install.log"; fail "make install"; }
filterdir="$(pkg-config --variable=filterdir nbdkit)"
so="$dest$filterdir/nbdkit-latency-filter.so"
[ -e "$so" ] || fail "not installed: $so"
readelf -d "$so" | grep -q 'RUNPATH.*nbdkit-blk' || fail "no RUNPATH to the hook library"
# With the hook library from the staged root on the library path, the
# installed filter loads into nbdkit.
hookdir="$(dirname "$(find "$dest" -name 'libnbdkit-blk-hook.so.0' | head -1)")"
[ -n "$hookdir" ] || fail "hook library not installed"
LD_LIBRARY_PATH="$hookdir" start_nbdkit srv --filter="$so" memory 1M
nbdsh -u "$(uri srv)" -c 'h.pread(512, 0)'
stop_nbdkit srv
grep -q '@nbdkit_read: count 1' "$(server_log srv)" || fail "installed filter did not report"
leftover="$(find "$dest$filterdir" "$dest$(pkg-config --variable=plugindir nbdkit)" -name '*.la' 2>/dev/null)"
[ -z "$leftover" ] || fail "libtool archives installed into nbdkit's directories: $leftover"
for m in $(find "$dest" -name 'nbdkit-*.so'); do
  case "$m" in
    "$dest$filterdir"/*|"$dest$(pkg-config --variable=plugindir nbdkit)"/*) ;;
    *) fail "module installed outside nbdkit's directories: $m" ;;
  esac
done
