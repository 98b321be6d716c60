#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Every shell snippet in README.md and docs/*.md runs as written, so the
# docs cannot rot.  tests/doc-snippets.py pulls out each ```sh block (and
# a CI job's yaml script:) by its marker comment; runnable blocks of one
# file run in order in one scratch directory (later blocks use what the
# earlier ones made), each under bash -e -o pipefail; servers a block
# leaves running are stopped after it.  The docs say what
# a user types after make install; this harness makes that work from
# the build tree instead:
#   - bin/nbdkit first on PATH maps --filter=NAME and the plugins qcow2
#     and rbd to the built .so files, binds to a Unix socket in the
#     scratch directory when the snippet names none (tests never listen
#     on TCP), and keeps a pid file of every server, so the test stops
#     the servers a snippet leaves running;
#   - blkreplay, blkctl and blkdebug-ctl from the build tree are first
#     on PATH.
# Blocks marked skip are listed with their reasons.  Set
# DOC_SNIPPET_FILES to check other Markdown files (paths relative to
# the source tree).

. "${abs_top_srcdir:-..}/tests/functions.sh"
requires_cmd python3 qemu-img qemu-io nbdinfo zstd jq
requires test -x "$abs_top_builddir/tools/blkreplay/blkreplay"
requires test -x "$abs_top_builddir/tools/blkctl/blkctl"

ex="$tmpdir/snippets"
bin="$tmpdir/bin"
piddir="$tmpdir/pids"
mkdir "$ex" "$bin" "$piddir"

cd "$abs_top_srcdir"
# shellcheck disable=SC2086
python3 tests/doc-snippets.py "$ex" ${DOC_SNIPPET_FILES:-README.md docs/*.md} ||
  fail "docs: a snippet without a valid marker (above)"
cd "$tmpdir"

# ---- the build tree first on PATH --------------------------------------

ln -s "$abs_top_builddir/tools/blkreplay/blkreplay" "$bin/blkreplay"
ln -s "$abs_top_builddir/tools/blkctl/blkctl" "$bin/blkctl"
ln -s "$abs_top_builddir/tools/blkctl/blkctl" "$bin/blkdebug-ctl"

# shellcheck disable=SC2046
cat > "$bin/nbdkit" <<EOF
#!/usr/bin/env bash
# nbdkit for the doc snippets (tests/test-docs-snippets.sh).
filterdir='$abs_top_builddir/filters'
plugindir='$abs_top_builddir/plugins'
piddir='$piddir'
real=(env $(printf ' %q' $(nbdkit_env) "$NBDKIT"))
preload='$SANITIZER_PRELOAD'
EOF
cat >> "$bin/nbdkit" <<'EOF'
args=() listen=no pidfile= plugin=no prev=
for a; do
  case "$prev" in
    # A --run client inherits nbdkit's environment: keep the sanitizer
    # preload (for an nbdkit built without them) out of it (qemu-io's
    # coroutines hang under a preloaded ASan).
    --run) [ -n "$preload" ] &&
             a="unset LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS; $a" ;;
    --filter) [ -e "$filterdir/$a/.libs/nbdkit-$a-filter.so" ] &&
                a="$filterdir/$a/.libs/nbdkit-$a-filter.so" ;;
    -P|--pidfile) pidfile="$a" ;;
  esac
  case "$a" in
    --filter=*)
      n="${a#--filter=}"
      [ -e "$filterdir/$n/.libs/nbdkit-$n-filter.so" ] &&
        a="--filter=$filterdir/$n/.libs/nbdkit-$n-filter.so" ;;
    -U|--unix|-s|--single|-p|--port|--vsock|--unix=*|--port=*) listen=yes ;;
    --pidfile=*) pidfile="${a#--pidfile=}" ;;
    qcow2|rbd)
      if [ "$plugin" = no ]; then
        plugin=yes a="$plugindir/$a/.libs/nbdkit-$a-plugin.so"
      fi ;;
  esac
  args+=("$a") prev="$a"
done
if [ -z "$pidfile" ]; then
  pidfile="$piddir/$$.pid"
  args=(-P "$pidfile" "${args[@]}")
fi
echo "$(realpath -m "$pidfile")" >> "$piddir/list"
[ "$listen" = yes ] || args=(-U "$PWD/nbdkit-$$.sock" "${args[@]}")
exec "${real[@]}" "${args[@]}"
EOF
chmod +x "$bin/nbdkit"

# stop_snippet_servers: SIGTERM every server a snippet started and left
# running, and wait for it (a server that writes a file at exit has
# written it once this returns).
stop_snippet_servers ()
{
  local f pid i
  [ -e "$piddir/list" ] || return 0
  sort -u "$piddir/list" | while read -r f; do
    [ -s "$f" ] || continue
    pid="$(cat "$f")"
    kill "$pid" 2>/dev/null || continue
    for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -f "$piddir/list"
}
on_exit stop_snippet_servers

# ---- setups named by <!-- snippet: run setup=NAME --> -----------------

# a qcow2 image and a QEMU blkdebug rule file (README's stacking examples)
setup_disk ()
{
  qemu-img create -q -f qcow2 disk.qcow2 64M
  qemu-io -f qcow2 -c 'write -P 0x33 0 1M' disk.qcow2 >/dev/null
  printf '[inject-error]\nevent = "l2_load"\nerrno = "5"\n' > rules.cfg
}

# the starting image a workload is captured on (docs/ci-replay-guide.md)
setup_golden ()
{
  qemu-img create -q -f raw golden.img 64M
  qemu-io -f raw -c 'write -P 0x11 0 4M' golden.img >/dev/null
}

# the CI job's artefacts, from the guide's worked example that ran
# before it; and its build step: make check has just built this tree,
# so ./configure and make are stand-ins and filters/ and tools/ are the
# build tree's.  That the real build commands exist is checked here.
setup_ci_job ()
{
  test -e "$abs_top_srcdir/configure.ac" || fail "no configure.ac"
  mkdir artefacts .stub-bin
  zstd -q golden.img -o artefacts/golden.img.zst
  zstd -q boot.blog -o artefacts/boot.blog.zst
  cp work.img artefacts/expected-final.img
  rm golden.img boot.blog
  printf '#!/bin/sh\nexit 0\n' > .stub-bin/autoreconf
  printf '#!/bin/sh\nexit 0\n' > configure
  printf 'all:\n\t@:\n' > Makefile
  chmod +x .stub-bin/autoreconf configure
  ln -s "$abs_top_builddir/filters" filters
  ln -s "$abs_top_builddir/tools" tools
}

# ---- run ------------------------------------------------------------------

ran=0 skipped=0 failed=0 broken_file=
while IFS=$'\t' read -r n kind where setup reason; do
  file="${where%:*}"
  if [ "$kind" = skip ]; then
    echo "SKIP $where: $reason"
    skipped=$((skipped + 1))
    continue
  fi
  dir="$tmpdir/run/$(echo "$file" | tr / _)"
  if [ "$broken_file" = "$file" ]; then
    echo "NOT RUN $where: an earlier block of $file failed"
    failed=$((failed + 1))
    continue
  fi
  mkdir -p "$dir"
  if [ "$setup" != - ]; then
    (cd "$dir" && "setup_$(echo "$setup" | tr - _)") > "$ex/$n.setup" 2>&1 || {
      cat "$ex/$n.setup"
      fail "$where: setup $setup failed"
    }
  fi
  if (cd "$dir" &&
        PATH="$dir/.stub-bin:$bin:$PATH" timeout 30 bash -e -o pipefail "$ex/$n.sh") \
       > "$ex/$n.out" 2>&1; then
    echo "RUN  $where: ok"
    ran=$((ran + 1))
  else
    status=$?
    echo "FAIL $where: exit status $status"
    echo "---- the block ----"; cat "$ex/$n.sh"
    echo "---- what it printed ----"; cat "$ex/$n.out"
    echo "----"
    failed=$((failed + 1))
    broken_file="$file"
  fi
  # A block that starts a server for the next ones stops it itself, as
  # a user would; a server still running is one an example started to
  # show how, stopped here so the next example finds its image unlocked.
  stop_snippet_servers
done < "$ex/index"

echo "docs snippets: $ran run, $skipped skipped, $failed failed"
[ "$failed" -eq 0 ] || fail "$failed doc snippets failed (above)"
[ "$ran" -gt 0 ] || fail "no doc snippet ran"
