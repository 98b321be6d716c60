#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Wrong pool, image, namespace, snapshot, conf, user or key: nbdkit
# refuses to start, at once, with a message naming the bad value.
. "$abs_top_srcdir/tests/functions.sh"
. "$abs_top_srcdir/tests/rbd-functions.sh"
rbd_shared_cluster
rbd_image img 16M
rbd snap create "rbd/$img@s1" >/dev/null 2>&1 || fail "rbd snap create failed"
plug="$(plugin rbd)"

# Parameters checked before connecting.
rbd_expect_fail "no image given" "$plug"
rbd_expect_fail "image: 'justanimage' has no pool" "$plug" justanimage
rbd_expect_fail "image: 'a/b/c/d' has too many '/'" "$plug" a/b/c/d
rbd_expect_fail "timeout: cannot parse 'soon'" "$plug" "rbd/$img" timeout=soon
rbd_expect_fail "rbd-cache: cannot parse 'maybe'" "$plug" "rbd/$img" rbd-cache=maybe
rbd_expect_fail "snapshot: 'x' contradicts the snapshot 's1'" "$plug" "rbd/$img@s1" snapshot=x
rbd_expect_fail "unknown parameter 'pool'" "$plug" "rbd/$img" pool=rbd

# Found wrong when connecting.
rbd_expect_fail "no pool 'nosuchpool'" "$plug" "nosuchpool/$img"
rbd_expect_fail "no image 'nosuch' in pool 'rbd'" "$plug" rbd/nosuch
rbd_expect_fail "no image '$img' in pool 'rbd' namespace 'ns9'" "$plug" "rbd/ns9/$img"
rbd_expect_fail "image '$img' in pool 'rbd' has no snapshot 'nosnap'" "$plug" "rbd/$img@nosnap"
rbd_expect_fail "image '$img' in pool 'rbd' has no snapshot 'nosnap'" "$plug" "rbd/$img" snapshot=nosnap
rbd_expect_fail "conf: cannot read '$tmpdir/missing.conf'" "$plug" "rbd/$img" conf="$tmpdir/missing.conf"
head -c 300 /dev/urandom | base64 > "$tmpdir/garbage.conf"
printf '[global\nmon host = \n' >> "$tmpdir/garbage.conf"
rbd_expect_fail "conf: cannot parse '$tmpdir/garbage.conf'" "$plug" "rbd/$img" conf="$tmpdir/garbage.conf"
rbd_expect_fail "keyring: cannot read '$tmpdir/missing.keyring'" "$plug" "rbd/$img" keyring="$tmpdir/missing.keyring"
# A key the cluster does not know, for a user it does know.
ceph-authtool --create-keyring "$tmpdir/wrong.keyring" --gen-key -n client.admin >/dev/null
rbd_expect_fail "refused client.admin: .* check id= and the key in $tmpdir/wrong.keyring" \
  "$plug" "rbd/$img" keyring="$tmpdir/wrong.keyring" timeout=10s
# A user the cluster does not know.
rbd_expect_fail "refused client.nobody" "$plug" "rbd/$img" id=nobody timeout=10s

# And the same image with everything right does start.
start_nbdkit ok "$plug" "rbd/$img" conf="$CEPH_CONF" id=admin cluster=ceph \
  keyring="$RBD_DIR/client.admin.keyring" rbd-cache=off timeout=10s
nbdinfo --size "$(uri ok)" | grep -qx $((16 << 20)) || fail "good parameters: wrong size"
