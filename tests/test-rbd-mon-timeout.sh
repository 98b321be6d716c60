#!/usr/bin/env bash
# No monitor answers: with timeout=2s nbdkit gives up with a clear
# error after about 2 s, instead of librados' default 300 s.
# (No cluster needed: the conf names a port nobody listens on.)
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
rbd_expect_fail "no monitor of cluster 'ceph' \\(mon host in $tmpdir/ceph.conf\\) answered within 2s" \
  "$(plugin rbd)" rbd/img conf="$tmpdir/ceph.conf" timeout=2s
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "gave up after $ms ms"
[ "$ms" -ge 1500 ] || fail "gave up after $ms ms: the timeout was not waited for"
[ "$ms" -lt 8000 ] || fail "gave up after $ms ms, timeout=2s"
