/* nbdkit-blk: the rbd plugin's connection to the cluster.
 *
 * Runs from .after_fork: librados starts threads, and threads do not
 * survive nbdkit's fork into the background.  Every failure names
 * what the user gave (conf, id, keyring, pool, image, snapshot) and
 * what to check, because "error -2" from rados_connect is not
 * something a user can act on.
 *
 * Thread model: called once, before any connection; writes
 * blkrbd_conn, which is read-only afterwards.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "duration.h"
#include "rbd.h"

struct blkrbd_conn blkrbd_conn;

static const char *
cluster_name (void)
{
  return blkrbd_cfg.cluster ? blkrbd_cfg.cluster : "ceph";
}

/* "pool 'p'" or "pool 'p' namespace 'n'", for messages. */
static const char *
where (char *buf, size_t len)
{
  if (blkrbd_cfg.spec.nspace[0])
    snprintf (buf, len, "pool '%s' namespace '%s'",
              blkrbd_cfg.spec.pool, blkrbd_cfg.spec.nspace);
  else
    snprintf (buf, len, "pool '%s'", blkrbd_cfg.spec.pool);
  return buf;
}

static int
set_option (const char *key, const char *value)
{
  int r = rados_conf_set (blkrbd_conn.cluster, key, value);

  if (r < 0) {
    nbdkit_error ("rbd: cannot set Ceph option %s=%s: %s",
                  key, value, strerror (-r));
    return -1;
  }
  return 0;
}

static int
read_conf (void)
{
  const char *conf = blkrbd_cfg.conf;
  int r;

  r = rados_conf_read_file (blkrbd_conn.cluster, conf);
  if (r < 0) {
    if (conf)
      nbdkit_error ("conf: cannot parse '%s' as a Ceph configuration: %s",
                    conf, strerror (-r));
    else
      nbdkit_error ("rbd: no Ceph configuration found (looked at $CEPH_CONF, "
                    "/etc/ceph/%s.conf, ~/.ceph/%s.conf, ./%s.conf): "
                    "give conf=FILE", cluster_name (), cluster_name (),
                    cluster_name ());
    return -1;
  }
  /* CEPH_ARGS, as every Ceph client honours it. */
  r = rados_conf_parse_env (blkrbd_conn.cluster, NULL);
  if (r < 0) {
    nbdkit_error ("rbd: cannot parse $CEPH_ARGS: %s", strerror (-r));
    return -1;
  }
  return 0;
}

static int
apply_parameters (void)
{
  if (blkrbd_cfg.keyring &&
      set_option ("keyring", blkrbd_cfg.keyring) == -1)
    return -1;
  if (blkrbd_cfg.rbd_cache >= 0 &&
      set_option ("rbd_cache", blkrbd_cfg.rbd_cache ? "true" : "false") == -1)
    return -1;
  if (blkrbd_cfg.timeout_ns) {
    /* Both options take whole seconds: round up, so that a short
     * timeout is never turned into "no timeout" (0).
     */
    char secs[32];
    uint64_t s = (blkrbd_cfg.timeout_ns + 999999999) / 1000000000;

    snprintf (secs, sizeof secs, "%" PRIu64, s);
    if (set_option ("client_mount_timeout", secs) == -1 ||
        set_option ("rados_mon_op_timeout", secs) == -1)
      return -1;
  }
  return 0;
}

static int
open_image (void)
{
  const struct rbd_spec *s = &blkrbd_cfg.spec;
  char wbuf[512];
  int r;

  if (blkrbd_cfg.readonly)
    r = rbd_open_read_only (blkrbd_conn.ioctx, s->image, &blkrbd_conn.image,
                            s->snap);
  else
    r = rbd_open (blkrbd_conn.ioctx, s->image, &blkrbd_conn.image, NULL);
  if (r == -ENOENT && s->snap) {
    /* Which one is missing, the image or its snapshot? */
    rbd_image_t img;

    if (rbd_open_read_only (blkrbd_conn.ioctx, s->image, &img, NULL) == 0) {
      rbd_close (img);
      nbdkit_error ("snapshot: image '%s' in %s has no snapshot '%s' "
                    "(list them with: rbd snap ls %s/%s%s%s)",
                    s->image, where (wbuf, sizeof wbuf), s->snap, s->pool,
                    s->nspace, s->nspace[0] ? "/" : "", s->image);
      return -1;
    }
  }
  if (r == -ENOENT) {
    nbdkit_error ("image: no image '%s' in %s of cluster '%s' "
                  "(list them with: rbd ls %s%s%s)",
                  s->image, where (wbuf, sizeof wbuf), cluster_name (),
                  s->pool, s->nspace[0] ? "/" : "", s->nspace);
    return -1;
  }
  if (r < 0) {
    nbdkit_error ("image: cannot open '%s' in %s: %s",
                  s->image, where (wbuf, sizeof wbuf), strerror (-r));
    return -1;
  }
  blkrbd_conn.image_open = 1;
  return 0;
}

static int
read_layout (void)
{
  rbd_image_info_t info;
  int r;

  if ((r = rbd_stat (blkrbd_conn.image, &info, sizeof info)) < 0 ||
      (r = rbd_get_features (blkrbd_conn.image, &blkrbd_conn.features)) < 0 ||
      (r = rbd_get_stripe_unit (blkrbd_conn.image,
                                &blkrbd_conn.stripe_unit)) < 0) {
    nbdkit_error ("image: cannot read the layout of '%s': %s",
                  blkrbd_cfg.spec.image, strerror (-r));
    return -1;
  }
  blkrbd_conn.obj_size = info.obj_size;
  nbdkit_debug ("rbd: opened %s/%s%s%s%s%s: size %" PRIu64 ", object size %"
                PRIu64 ", stripe unit %" PRIu64 ", features 0x%" PRIx64
                "%s",
                blkrbd_cfg.spec.pool, blkrbd_cfg.spec.nspace,
                blkrbd_cfg.spec.nspace[0] ? "/" : "", blkrbd_cfg.spec.image,
                blkrbd_cfg.spec.snap ? "@" : "",
                blkrbd_cfg.spec.snap ? blkrbd_cfg.spec.snap : "",
                info.size, info.obj_size, blkrbd_conn.stripe_unit,
                blkrbd_conn.features,
                blkrbd_cfg.readonly ? ", read-only" : "");
  return 0;
}

int
blkrbd_connect (void)
{
  char name[256];
  const char *id = blkrbd_cfg.id ? blkrbd_cfg.id : "admin";
  char wbuf[512], tbuf[32];
  int r;

  /* Files first, before librados exists: a missing file is the most
   * common mistake, and the message is clearer from here.
   */
  if (blkrbd_cfg.conf && access (blkrbd_cfg.conf, R_OK) == -1) {
    nbdkit_error ("conf: cannot read '%s': %m", blkrbd_cfg.conf);
    return -1;
  }
  if (blkrbd_cfg.keyring && access (blkrbd_cfg.keyring, R_OK) == -1) {
    nbdkit_error ("keyring: cannot read '%s': %m", blkrbd_cfg.keyring);
    return -1;
  }

  snprintf (name, sizeof name, "client.%s", id);
  r = rados_create2 (&blkrbd_conn.cluster, cluster_name (), name, 0);
  if (r < 0) {
    nbdkit_error ("rbd: cannot create a Ceph client '%s' for cluster '%s': %s",
                  name, cluster_name (), strerror (-r));
    return -1;
  }
  blkrbd_conn.cluster_created = 1;
  if (read_conf () == -1 || apply_parameters () == -1)
    return -1;

  r = rados_connect (blkrbd_conn.cluster);
  if (r < 0) {
    const char *conf = blkrbd_cfg.conf ? blkrbd_cfg.conf : "the default conf";

    switch (-r) {
    case ETIMEDOUT:
      nbdkit_error ("rbd: no monitor of cluster '%s' (mon host in %s) answered "
                    "within %s: is the cluster up and reachable?%s",
                    cluster_name (), conf,
                    blkrbd_cfg.timeout_ns
                    ? blk_format_duration (blkrbd_cfg.timeout_ns, tbuf,
                                           sizeof tbuf)
                    : "client_mount_timeout",
                    blkrbd_cfg.timeout_ns ? "" : " (set timeout=)");
      break;
    case EACCES: case EPERM:
      nbdkit_error ("rbd: cluster '%s' refused %s: %s: check id= and the key "
                    "in %s", cluster_name (), name, strerror (-r),
                    blkrbd_cfg.keyring ? blkrbd_cfg.keyring
                    : "the keyring named by the conf (or give keyring=)");
      break;
    case ENOENT:
      nbdkit_error ("rbd: no key for %s in %s: %s: give keyring=FILE",
                    name,
                    blkrbd_cfg.keyring ? blkrbd_cfg.keyring
                    : "the keyring named by the conf",
                    strerror (-r));
      break;
    default:
      nbdkit_error ("rbd: cannot connect to cluster '%s' as %s (conf: %s): %s",
                    cluster_name (), name, conf, strerror (-r));
    }
    return -1;
  }

  r = rados_ioctx_create (blkrbd_conn.cluster, blkrbd_cfg.spec.pool,
                          &blkrbd_conn.ioctx);
  if (r < 0) {
    if (r == -ENOENT)
      nbdkit_error ("image: no pool '%s' in cluster '%s' "
                    "(list them with: ceph osd lspools)",
                    blkrbd_cfg.spec.pool, cluster_name ());
    else
      nbdkit_error ("image: cannot open %s: %s",
                    where (wbuf, sizeof wbuf), strerror (-r));
    return -1;
  }
  blkrbd_conn.ioctx_created = 1;
  rados_ioctx_set_namespace (blkrbd_conn.ioctx, blkrbd_cfg.spec.nspace);

  if (open_image () == -1 || read_layout () == -1)
    return -1;
  return 0;
}

/* Also after a failed connect: tear down whatever was set up. */
void
blkrbd_disconnect (void)
{
  int r;

  if (blkrbd_conn.image_open) {
    /* rbd_close flushes librbd's cache and releases the exclusive
     * lock, so another client gets it without waiting for a timeout.
     */
    r = rbd_close (blkrbd_conn.image);
    if (r < 0)
      nbdkit_error ("rbd: closing image '%s': %s", blkrbd_cfg.spec.image,
                    strerror (-r));
    blkrbd_conn.image_open = 0;
  }
  if (blkrbd_conn.ioctx_created) {
    rados_ioctx_destroy (blkrbd_conn.ioctx);
    blkrbd_conn.ioctx_created = 0;
  }
  if (blkrbd_conn.cluster_created) {
    rados_shutdown (blkrbd_conn.cluster);
    blkrbd_conn.cluster_created = 0;
  }
}
