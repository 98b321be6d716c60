#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Differential test: every scenario (a QEMU rule file and a sequence of
# qemu-io commands) runs through QEMU's own blkdebug driver on a raw
# image and through our filter over NBD, both driven by qemu-io; the
# per-command outcomes (ok / which error) must be identical.
#
# qemu-io prints nothing for "flush", failed or not, and its exit
# status says whether any command failed; so the outcome of the k-th
# flush is the exit status of the run that stops right after it.
# Most scenarios use -t writeback; the writethrough ones (qemu-io's
# default) check the flush QEMU adds after every write, which an NBD
# client sends as a FUA write (see docs/blkdebug.md).  Scenarios with
# opts= also set blkdebug options (QEMU) = blkdebug- parameters (ours).
#
# Our side runs over nbdkit's file plugin and over the qcow2 plugin (a
# fresh qcow2 image: the same zeroed guest view).  The qcow2 plugin
# reports its own events through the hook; in the client layer they
# must not count (QEMU's raw format over blkdebug never sees them), so
# both must give QEMU's outcomes.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd qemu-io qemu-img nbdkit

F="$(filter blkdebug)"
QCOW2="$(plugin qcow2)"
[ -e "$QCOW2" ] || fail "qcow2 plugin not built: $QCOW2"
# nbdkit started outside start_nbdkit needs the sanitizer runtimes
# preloaded like start_nbdkit does (sanitizer builds only).
NBDKIT="$(nbdkit_wrapper)"
img="$tmpdir/disk.raw"
wrap="$tmpdir/wrap.sh"
cat > "$wrap" <<'EOF'
#!/usr/bin/env bash
mapfile -t a < "$1"
# The sanitizer preload is for nbdkit, not for its --run child.
unset LD_PRELOAD ASAN_OPTIONS
exec qemu-io -f raw "${a[@]}" "$2"
EOF
chmod +x "$wrap"

# run SIDE CFG N CMDS...: run the first N commands; output on stdout,
# exit status of qemu-io in $rc.
run ()
{
  side="$1" cfg="$2" n="$3"; shift 3
  args=(-t "${cache:-writeback}")
  for c in "${@:1:$n}"; do args+=(-c "$c"); done
  rc=0
  if [ "$side" = qemu ]; then
    rm -f "$img"
    qemu-img create -q -f raw "$img" 1M
    if [ -z "${opts:-}" ]; then
      qemu-io -f raw "${args[@]}" "blkdebug:$cfg:$img" 2>&1 || rc=$?
    else
      o="driver=raw,file.driver=blkdebug,file.config=$cfg"
      for kv in $opts; do o="$o,file.$kv"; done
      qemu-io "${args[@]}" --image-opts \
        "$o,file.image.driver=file,file.image.filename=$img" 2>&1 || rc=$?
    fi
  else
    printf '%s\n' "${args[@]}" > "$tmpdir/args"
    extra=()
    for kv in ${opts:-}; do extra+=("blkdebug-$kv"); done
    case "$side" in
    file)
      rm -f "$tmpdir/disk.img"
      qemu-img create -q -f raw "$tmpdir/disk.img" 1M
      plug=(file "$tmpdir/disk.img") ;;
    qcow2)
      rm -f "$tmpdir/disk.img"
      qemu-img create -q -f qcow2 "$tmpdir/disk.img" 1M
      plug=("$QCOW2" "$tmpdir/disk.img") ;;
    esac
    "$NBDKIT" -U - --filter="$F" "${plug[@]}" blkdebug-config="$cfg" "${extra[@]}" \
      --run "$wrap $tmpdir/args \"\$uri\"" 2>&1 || rc=$?
  fi
}

# outcomes SIDE CFG CMDS...: one line per command.
outcomes ()
{
  side="$1" cfg="$2"; shift 2
  run "$side" "$cfg" $# "$@" > "$tmpdir/out"
  mapfile -t res < <(grep -E '^(read|wrote|discard) [0-9]+/[0-9]+ bytes|failed: ' "$tmpdir/out" |
                     sed -E 's/^.*failed: /ERR /; s/^(read|wrote|discard) [0-9].*/ok/')
  i=0 k=0
  for c in "$@"; do
    k=$((k + 1))
    if [ "$c" = flush ]; then
      run "$side" "$cfg" $k "$@" >/dev/null
      echo "$c -> flush(exit $rc)"
    else
      echo "$c -> ${res[$i]:-MISSING}"
      i=$((i + 1))
    fi
  done
}

nscen=0 nfail=0
# scenario NAME 'RULE FILE' CMD...
scenario ()
{
  name="$1" rules="$2"; shift 2
  cfg="$tmpdir/$name.cfg"
  printf '%s\n' "$rules" > "$cfg"
  outcomes qemu "$cfg" "$@" > "$tmpdir/$name.qemu"
  nscen=$((nscen + 1))
  for side in file qcow2; do
    outcomes $side "$cfg" "$@" > "$tmpdir/$name.$side"
    if ! cmp -s "$tmpdir/$name.qemu" "$tmpdir/$name.$side"; then
      nfail=$((nfail + 1))
      echo "MISMATCH in scenario $name over the $side plugin (QEMU | ours):"
      paste -d'|' "$tmpdir/$name.qemu" "$tmpdir/$name.$side" | sed 's/^/  /'
    fi
  done
}

scenario once-write '[inject-error]
event = "write_aio"
errno = "5"
once = "on"' 'read 0 512' 'write 0 512' 'write 0 512' 'read 0 512'

scenario armed-keeps-failing '[inject-error]
event = "write_aio"
errno = "5"' 'read 0 512' 'write 0 512' 'write 4096 512' 'read 0 512' \
  'write -z 0 4096' 'discard 0 65536' 'flush'

scenario iotype-read '[inject-error]
event = "read_aio"
iotype = "read"
errno = "28"' 'write 0 512' 'read 0 512' 'write 0 512' 'read 512 512'

scenario sector '[inject-error]
event = "read_aio"
sector = "8"
errno = "5"' 'read 0 4096' 'read 0 8192' 'read 4096 512' 'read 4608 512' \
  'write 4096 512' 'write 0 4096'

# QEMU's default written out: -1 is any sector.
scenario sector-any '[inject-error]
event = "read_aio"
sector = "-1"
errno = "5"' 'read 0 512' 'read 8192 4096' 'write 0 512'

scenario set-state '[set-state]
event = "read_aio"
state = "1"
new_state = "2"
[inject-error]
event = "write_aio"
state = "2"
errno = "1"' 'write 0 512' 'read 0 512' 'write 0 512' 'write 0 512'

scenario first-set-state-wins '[set-state]
event = "read_aio"
state = "1"
new_state = "2"
[set-state]
event = "read_aio"
state = "1"
new_state = "3"
[inject-error]
event = "write_aio"
state = "3"
errno = "1"
[inject-error]
event = "write_aio"
state = "2"
errno = "28"' 'read 0 512' 'write 0 512' 'read 0 512' 'write 0 512'

scenario state-before-event '[set-state]
event = "write_aio"
state = "1"
new_state = "2"
[inject-error]
event = "write_aio"
state = "2"
errno = "28"' 'write 0 512' 'write 0 512' 'read 0 512'

scenario replace-armed-set '[inject-error]
event = "read_aio"
iotype = "write"
errno = "5"
[inject-error]
event = "write_aio"
iotype = "read"
errno = "28"' 'read 0 512' 'write 0 512' 'read 0 512' 'write 0 512' 'read 0 512'

scenario none-at-open '[inject-error]
event = "none"
iotype = "read"
errno = "28"' 'read 0 512' 'write 0 512' 'read 0 512'

scenario none-once '[inject-error]
event = "none"
once = "on"
errno = "22"' 'read 0 512' 'read 0 512' 'write 0 512'

scenario errno-zero-hides '[inject-error]
event = "read_aio"
iotype = "read"
errno = "0"
[inject-error]
event = "read_aio"
errno = "5"' 'read 0 512' 'write 0 512' 'read 0 512'

scenario flush-rule '[inject-error]
event = "read_aio"
iotype = "flush"
errno = "28"' 'write 0 512' 'read 0 512' 'flush' 'flush' 'write 0 512'

scenario flush-elided '[inject-error]
event = "none"
iotype = "flush"
errno = "28"' 'flush' 'read 0 512' 'write 0 512' 'flush'

scenario flush-to-disk '[inject-error]
event = "flush_to_disk"
iotype = "read"
errno = "5"' 'flush' 'read 0 512' 'write 0 512' 'flush' 'read 0 512'

scenario flush-to-os '[inject-error]
event = "flush_to_os"
iotype = "read"
once = "on"
errno = "5"' 'read 0 512' 'flush' 'read 0 512' 'read 0 512'

scenario pwritev-events '[inject-error]
event = "pwritev"
errno = "28"
once = "on"
[inject-error]
event = "pwritev_done"
errno = "1"
sector = "8"' 'write 0 512' 'write 0 512' 'write 4096 512' 'write -z 4096 512' \
  'read 0 4096' 'read 0 8192'

scenario pwritev-zero '[inject-error]
event = "pwritev_zero"
iotype = "write-zeroes"
errno = "5"' 'write 0 512' 'write -z 0 512' 'write -z 0 4096' 'write 0 512'

scenario discard '[inject-error]
event = "none"
iotype = "discard"
errno = "1"' 'discard 0 65536' 'write 0 512' 'discard 0 65536'

scenario write-zeroes-iotype '[inject-error]
event = "write_aio"
iotype = "write-zeroes"
errno = "22"' 'write -z 0 512' 'write 0 512' 'write -z 0 512' 'write 0 512'

scenario failed-write-flush '[inject-error]
event = "none"
iotype = "write"
errno = "5"
[inject-error]
event = "read_aio"
iotype = "flush"
errno = "28"' 'write 0 512' 'read 0 512' 'flush'

# Does a failed write count as "written" for the flush elision?  The
# flush_to_disk event (only raised when something was written) tells.
scenario failed-write-gen '[inject-error]
event = "none"
iotype = "write"
errno = "5"
[inject-error]
event = "flush_to_disk"
iotype = "read"
errno = "28"' 'write 0 512' 'flush' 'read 0 512' 'write 0 512'

scenario discard-gen '[inject-error]
event = "flush_to_disk"
iotype = "read"
errno = "28"' 'flush' 'read 0 512' 'discard 0 65536' 'flush' 'read 0 512'

scenario done-after-failure '[inject-error]
event = "write_aio"
errno = "5"
once = "on"
[inject-error]
event = "pwritev_done"
iotype = "read"
errno = "28"' 'write 0 512' 'read 0 512'

scenario any-state '[set-state]
event = "read_aio"
new_state = "5"
[inject-error]
event = "write_aio"
state = "5"
errno = "1"' 'write 0 512' 'read 0 512' 'write 0 512'

scenario first-armed-wins '[inject-error]
event = "read_aio"
sector = "0"
errno = "1"
[inject-error]
event = "read_aio"
sector = "16"
errno = "22"' 'read 0 512' 'read 8192 512' 'read 0 16384' 'read 512 512'

scenario state-cycle '[set-state]
event = "read_aio"
state = "1"
new_state = "2"
[set-state]
event = "read_aio"
state = "2"
new_state = "1"
[inject-error]
event = "read_aio"
state = "2"
iotype = "read"
errno = "5"' 'read 0 512' 'read 0 512' 'read 0 512' 'read 0 512'

scenario sector-never-flush '# sector= never matches a flush
[inject-error]
event = "none"
sector = "0"
errno = "5"' 'write 0 512' 'flush' 'read 512 512' 'read 0 512'

scenario named-group-immediately '[inject-error "mine"]
event = "read_aio"
immediately = "on"
once = "yes"
errno = "0x1c"' 'read 0 512' 'read 0 512'

scenario trailing-comments '[inject-error]   # QEMU ignores the rest of a line
event = "write_aio"  # so comments after values are fine
errno = "0x1c"
state = "0"' 'read 0 512' 'write 0 512' 'read 0 512'

# QEMU's request limits (blkdebug options = filter parameters): small
# zero requests fall back to writes, small discards do nothing.
opts="opt-write-zero=65536 opt-discard=65536" scenario small-zero-discard '[inject-error]
event = "none"
iotype = "write"
errno = "28"' 'write -z 0 512' 'write -z 0 65536' 'discard 0 512' 'discard 0 65536' 'write 0 512'

opts="opt-write-zero=65536 max-write-zero=131072" scenario zero-limits '[inject-error]
event = "pwritev_zero"
iotype = "write-zeroes"
errno = "5"
once = "on"' 'write -z 0 4096' 'write -z 0 262144' 'write -z 0 262144' 'read 0 512'

# align / max-transfer: QEMU's blkdebug does the read-modify-write of
# a small write itself, over NBD the client does (see the man page:
# only rules on read_aio, on reads, with once, or on the rmw events can
# tell them apart).
opts="align=4096 max-transfer=65536" scenario align '[inject-error]
event = "write_aio"
iotype = "write"
errno = "5"
[inject-error]
event = "pwritev_done"
iotype = "discard"
errno = "28"' 'write 0 512' 'write 512 512' 'read 0 131072' 'discard 0 65536' 'write 0 4096'

# qemu-io's default cache mode: a flush inside every write.
cache=writethrough scenario wt-flush-rule '[inject-error]
event = "none"
iotype = "flush"
errno = "28"' 'read 0 512' 'write 0 512' 'write 0 512' 'write -z 0 512' 'flush'

cache=writethrough scenario wt-flush-armed-later '[inject-error]
event = "read_aio"
iotype = "flush"
errno = "28"
once = "on"' 'write 0 512' 'read 0 512' 'flush' 'write 0 512' 'write 0 512'

cache=writethrough scenario wt-flush-to-disk '[inject-error]
event = "flush_to_disk"
iotype = "read"
errno = "5"' 'write 0 512' 'read 0 512' 'write 0 512' 'read 0 512' 'flush' 'read 0 512'

cache=writethrough scenario wt-flush-to-os '[set-state]
event = "flush_to_os"
state = "1"
new_state = "2"
[inject-error]
event = "write_aio"
state = "2"
errno = "1"' 'write 0 512' 'read 0 512' 'write 0 512' 'write 0 512'

[ -n "${BD_DIFF_VERBOSE:-}" ] && for f in "$tmpdir"/*.file "$tmpdir"/*.qcow2; do echo "== $f"; cat "$f"; done
echo "$nscen scenarios over 2 plugins, $nfail mismatches"
[ "$nfail" -eq 0 ] || fail "$nfail of $nscen scenario runs (x2 plugins) differ from QEMU"
[ "$nscen" -ge 20 ] || fail "too few scenarios"
