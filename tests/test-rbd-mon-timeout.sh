#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# No monitor answers.  (No cluster needed: the conf names a port
# nobody listens on.)
# - timeout=3s: nbdkit exits non-zero after about 3 s, naming the
#   monitors it tried, instead of librados' default 300 s; also with
#   --run, which must not start its command.
# - the default is 30 s, and while nbdkit connects its socket does not
#   exist yet and SIGTERM ends it at once (it used to connect after
#   binding the socket and installing its signal handlers: clients
#   waited and SIGTERM was ignored for 300 s).
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/rbd-functions.sh"
requires_cmd ceph-authtool

# A port that is closed now: bind it, note it, release it.
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
ceph-authtool --create-keyring "$tmpdir/kr" --gen-key -n client.admin >/dev/null
cat > "$tmpdir/ceph.conf" <<EOC
[global]
mon host = 127.0.0.1:$port
ms bind ipv6 = false
[client]
keyring = $tmpdir/kr
log file = /dev/null
EOC

start=$(date +%s%N)
rbd_expect_fail "no monitor of cluster 'ceph' answered within 3s \\(mon host 127.0.0.1:$port, from $tmpdir/ceph.conf\\)" \
  "$(plugin rbd)" rbd/img conf="$tmpdir/ceph.conf" timeout=3s
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "gave up after $ms ms"
[ "$ms" -ge 2500 ] || fail "gave up after $ms ms: the timeout was not waited for"
[ "$ms" -lt 9000 ] || fail "gave up after $ms ms, timeout=3s"

# The same for qcow2 on RBD, with --run: nbdkit exits non-zero, the
# command never runs.
st=0
# shellcheck disable=SC2046
timeout -k 5 20 env $(nbdkit_env) "$NBDKIT" -U - "$(plugin qcow2)" rbd:rbd/img \
  rbd-conf="$tmpdir/ceph.conf" rbd-timeout=3s --run 'echo RAN' \
  >"$tmpdir/run.log" 2>&1 || st=$?
cat "$tmpdir/run.log"
# (124, cut off by timeout: allowed only under the sanitizer preload,
# where exit() can hang once librados was loaded; see rbd_expect_fail.)
[ "$st" != 0 ] || fail "--run: status 0"
[ "$st" != 124 ] || [ -n "$SANITIZER_PRELOAD" ] || fail "--run: still running after 20 s"
! grep -q RAN "$tmpdir/run.log" || fail "--run: the command ran"
grep -q "no monitor of cluster 'ceph' answered within 3s" "$tmpdir/run.log" ||
  fail "--run: no message"

# Default limit, and SIGTERM while connecting.
s="$tmpdir/t.sock"
# shellcheck disable=SC2046
env $(nbdkit_env) "$NBDKIT" -v -f -U "$s" "$(plugin rbd)" rbd/img \
  conf="$tmpdir/ceph.conf" >"$tmpdir/t.log" 2>&1 &
pid=$!
_blk_pids="$_blk_pids $pid"
for _ in $(seq 1 100); do
  grep -q "rbd: limits" "$tmpdir/t.log" && break
  sleep 0.1
done
grep -q "rbd: limits: monitors and close 30s, each OSD request 60s" "$tmpdir/t.log" ||
  { cat "$tmpdir/t.log" >&2; fail "default limits are not 30s/60s"; }
sleep 1
kill -0 $pid || { cat "$tmpdir/t.log" >&2; fail "nbdkit ended early"; }
[ ! -e "$s" ] || fail "the socket exists while nbdkit still connects"
start=$(date +%s%N)
kill -TERM $pid
for _ in $(seq 1 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
kill -0 $pid 2>/dev/null && fail "nbdkit still runs ${ms} ms after SIGTERM"
st=0; wait $pid || st=$?
echo "SIGTERM while connecting: gone after $ms ms, status $st"
[ "$st" != 0 ] || fail "status 0 after SIGTERM while connecting"
