#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Every subcommand names the option (or extra argument) it does not
# know, instead of printing the whole usage and leaving the user to
# guess which word was wrong.
. "$abs_top_srcdir/tests/functions.sh"
blkreplay="$abs_top_builddir/tools/blkreplay/blkreplay"

# t WANT ARGS...: blkreplay ARGS exits 2 and stderr holds WANT.
t ()
{
  local want="$1" st=0
  shift
  "$blkreplay" "$@" > "$tmpdir/out" 2>&1 || st=$?
  [ $st = 2 ] || { cat "$tmpdir/out"; fail "blkreplay $*: exit $st, expected 2"; }
  grep -qF -- "$want" "$tmpdir/out" ||
    { cat "$tmpdir/out"; fail "blkreplay $*: no \"$want\""; }
}
l="$tmpdir/x.blog"   # never read: the options are checked first
for cmd in run dump stats verify crash image; do
  t "blkreplay $cmd: unknown option '--foo'" $cmd "$l" --foo
  t "blkreplay $cmd: unknown option '-z'" $cmd -z "$l"
done
t "blkreplay import: unknown option '--foo'" import --foo -o "$l"
# Options that take a value, given without one.
t "blkreplay import: option '-o' needs a value" import --fio-iolog x -o
t "blkreplay import: option '--fio-iolog' needs a value" import -o "$l" --fio-iolog
t "blkreplay image: option '-o' needs a value" image "$l" base -o
# Too many words.
t "blkreplay run: unexpected argument 'extra'" run "$l" nbd://x extra
t "blkreplay dump: unexpected argument 'extra'" dump "$l" extra
t "blkreplay stats: unexpected argument 'extra'" stats "$l" extra
t "blkreplay verify: unexpected argument 'extra'" verify "$l" extra
t "blkreplay crash: unexpected argument 'extra'" crash "$l" base extra --check 'true {}'
t "blkreplay image: unexpected argument 'extra'" image "$l" base extra -o out
t "blkreplay import: unexpected argument 'extra'" import extra
# A known option still works (the check is not over-eager): --help.
"$blkreplay" --help | grep -q 'blkreplay run LOG URI' || fail "--help"
