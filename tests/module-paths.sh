# SPDX-License-Identifier: BSD-3-Clause
# nbdkit-blk: where this build tree keeps its modules, for shell scripts
# (sourced by tests/core-functions.sh, for tests and bench).  Needs
# $abs_top_builddir; servers' sockets live in $tmpdir.

# filter NAME / plugin NAME: the .so built here (plugin falls back to the
# test fixtures in tests/, such as hooktest).
filter () { echo "$abs_top_builddir/filters/$1/.libs/nbdkit-$1-filter.so"; }
plugin ()
{
  if [ -e "$abs_top_builddir/plugins/$1/.libs/nbdkit-$1-plugin.so" ]; then
    echo "$abs_top_builddir/plugins/$1/.libs/nbdkit-$1-plugin.so"
  else
    echo "$abs_top_builddir/tests/.libs/nbdkit-$1-plugin.so"
  fi
}

# uri NAME: the NBD URI of the server started as NAME.
uri () { echo "nbd+unix:///?socket=$tmpdir/$1.sock"; }
