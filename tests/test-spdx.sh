#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Every tracked source file carries the SPDX licence tag (LICENSE):
# build-aux/add-spdx.sh --check lists any that does not.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd git
git -C "$abs_top_srcdir" rev-parse --git-dir >/dev/null 2>&1 ||
  skip "the source tree is not a git checkout (add-spdx.sh asks git for the file list)"
"$abs_top_srcdir/build-aux/add-spdx.sh" --check ||
  fail "files without an SPDX-License-Identifier line (above): run build-aux/add-spdx.sh"
