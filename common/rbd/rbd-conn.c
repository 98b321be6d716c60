/* nbdkit-blk: connection to a Ceph cluster and an RBD image (see
 * rbd-conn.h), for the rbd plugin and the qcow2 plugin's rbd backend.
 *
 * Runs from .after_fork: librados starts threads, and threads do not
 * survive nbdkit's fork into the background.  Every failure names
 * what the user gave (conf, id, keyring, pool, image, snapshot) and
 * what to check, because "error -2" from rados_connect is not
 * something a user can act on.
 *
 * Thread model: called once, before any connection; writes *c, which
 * is read-only afterwards.  No global state.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "duration.h"
#include "rbd-conn.h"

static const char *
cluster_name (const struct blk_rbd_params *p)
{
  return p->cluster ? p->cluster : "ceph";
}

/* "pool 'p'" or "pool 'p' namespace 'n'", for messages. */
static const char *
where (const struct blk_rbd_params *p, char *buf, size_t len)
{
  if (p->spec.nspace[0])
    snprintf (buf, len, "pool '%s' namespace '%s'",
              p->spec.pool, p->spec.nspace);
  else
    snprintf (buf, len, "pool '%s'", p->spec.pool);
  return buf;
}

static int
set_option (struct blk_rbd_conn *c, const char *key, const char *value)
{
  int r = rados_conf_set (c->cluster, key, value);

  if (r < 0) {
    nbdkit_error ("rbd: cannot set Ceph option %s=%s: %s",
                  key, value, strerror (-r));
    return -1;
  }
  return 0;
}

static int
read_conf (const struct blk_rbd_params *p, struct blk_rbd_conn *c)
{
  const char *conf = p->conf;
  int r;

  r = rados_conf_read_file (c->cluster, conf);
  if (r < 0) {
    if (conf)
      nbdkit_error ("%sconf: cannot parse '%s' as a Ceph configuration: %s",
                    p->key_prefix, conf, strerror (-r));
    else
      nbdkit_error ("rbd: no Ceph configuration found (looked at $CEPH_CONF, "
                    "/etc/ceph/%s.conf, ~/.ceph/%s.conf, ./%s.conf): "
                    "give %sconf=FILE", cluster_name (p), cluster_name (p),
                    cluster_name (p), p->key_prefix);
    return -1;
  }
  /* CEPH_ARGS, as every Ceph client honours it. */
  r = rados_conf_parse_env (c->cluster, NULL);
  if (r < 0) {
    nbdkit_error ("rbd: cannot parse $CEPH_ARGS: %s", strerror (-r));
    return -1;
  }
  return 0;
}

static int
apply_parameters (const struct blk_rbd_params *p, struct blk_rbd_conn *c)
{
  /* Why: by default librbd queues every rbd_aio_* call to one of its
   * own threads and returns at once, so that the caller never blocks.
   * Our callers (an nbdkit worker per request) block anyway until the
   * completion, so the queue only adds a thread hand-off per request:
   * dispatching in the caller's thread saves ~1 context switch and
   * 10-20% of the server's CPU per 4k request (docs/rbd.md).
   */
  if (set_option (c, "rbd_non_blocking_aio", "false") == -1)
    return -1;
  if (p->keyring &&
      set_option (c, "keyring", p->keyring) == -1)
    return -1;
  if (p->rbd_cache >= 0 &&
      set_option (c, "rbd_cache", p->rbd_cache ? "true" : "false") == -1)
    return -1;
  if (p->timeout_ns) {
    /* Both options take whole seconds: round up, so that a short
     * timeout is never turned into "no timeout" (0).
     */
    char secs[32];
    uint64_t s = (p->timeout_ns + 999999999) / 1000000000;

    snprintf (secs, sizeof secs, "%" PRIu64, s);
    if (set_option (c, "client_mount_timeout", secs) == -1 ||
        set_option (c, "rados_mon_op_timeout", secs) == -1)
      return -1;
  }
  return 0;
}

static int
open_image (const struct blk_rbd_params *p, struct blk_rbd_conn *c)
{
  const struct rbd_spec *s = &p->spec;
  char wbuf[512];
  int r;

  if (p->readonly)
    r = rbd_open_read_only (c->ioctx, s->image, &c->image,
                            s->snap);
  else
    r = rbd_open (c->ioctx, s->image, &c->image, NULL);
  if (r == -ENOENT && s->snap) {
    /* Which one is missing, the image or its snapshot? */
    rbd_image_t img;

    if (rbd_open_read_only (c->ioctx, s->image, &img, NULL) == 0) {
      rbd_close (img);
      nbdkit_error ("%s: image '%s' in %s has no snapshot '%s' "
                    "(list them with: rbd snap ls %s/%s%s%s)",
                    p->key_prefix[0] ? p->image_key : "snapshot",
                    s->image, where (p, wbuf, sizeof wbuf), s->snap, s->pool,
                    s->nspace, s->nspace[0] ? "/" : "", s->image);
      return -1;
    }
  }
  if (r == -ENOENT) {
    nbdkit_error ("%s: no image '%s' in %s of cluster '%s' "
                  "(list them with: rbd ls %s%s%s)",
                  p->image_key, s->image, where (p, wbuf, sizeof wbuf), cluster_name (p),
                  s->pool, s->nspace[0] ? "/" : "", s->nspace);
    return -1;
  }
  if (r < 0) {
    nbdkit_error ("%s: cannot open '%s' in %s: %s",
                  p->image_key, s->image, where (p, wbuf, sizeof wbuf), strerror (-r));
    return -1;
  }
  c->image_open = 1;
  return 0;
}

static int
read_layout (const struct blk_rbd_params *p, struct blk_rbd_conn *c)
{
  rbd_image_info_t info;
  int r;

  if ((r = rbd_stat (c->image, &info, sizeof info)) < 0 ||
      (r = rbd_get_features (c->image, &c->features)) < 0 ||
      (r = rbd_get_stripe_unit (c->image,
                                &c->stripe_unit)) < 0) {
    nbdkit_error ("%s: cannot read the layout of '%s': %s",
                  p->image_key, p->spec.image, strerror (-r));
    return -1;
  }
  c->obj_size = info.obj_size;
  nbdkit_debug ("rbd: opened %s/%s%s%s%s%s: size %" PRIu64 ", object size %"
                PRIu64 ", stripe unit %" PRIu64 ", features 0x%" PRIx64
                "%s",
                p->spec.pool, p->spec.nspace,
                p->spec.nspace[0] ? "/" : "", p->spec.image,
                p->spec.snap ? "@" : "",
                p->spec.snap ? p->spec.snap : "",
                info.size, info.obj_size, c->stripe_unit,
                c->features,
                p->readonly ? ", read-only" : "");
  return 0;
}

int
blk_rbd_connect (const struct blk_rbd_params *p, struct blk_rbd_conn *c)
{
  char name[256];
  const char *id = p->id ? p->id : "admin";
  char wbuf[512], tbuf[32];
  int r;

  /* Files first, before librados exists: a missing file is the most
   * common mistake, and the message is clearer from here.
   */
  if (p->conf && access (p->conf, R_OK) == -1) {
    nbdkit_error ("%sconf: cannot read '%s': %m", p->key_prefix, p->conf);
    return -1;
  }
  if (p->keyring && access (p->keyring, R_OK) == -1) {
    nbdkit_error ("%skeyring: cannot read '%s': %m", p->key_prefix,
                  p->keyring);
    return -1;
  }

  snprintf (name, sizeof name, "client.%s", id);
  r = rados_create2 (&c->cluster, cluster_name (p), name, 0);
  if (r < 0) {
    nbdkit_error ("rbd: cannot create a Ceph client '%s' for cluster '%s': %s",
                  name, cluster_name (p), strerror (-r));
    return -1;
  }
  c->cluster_created = 1;
  if (read_conf (p, c) == -1 || apply_parameters (p, c) == -1)
    return -1;

  r = rados_connect (c->cluster);
  if (r < 0) {
    const char *conf = p->conf ? p->conf : "the default conf";

    switch (-r) {
    case ETIMEDOUT:
      nbdkit_error ("rbd: no monitor of cluster '%s' (mon host in %s) answered "
                    "within %s: is the cluster up and reachable?%s%s%s",
                    cluster_name (p), conf,
                    p->timeout_ns
                    ? blk_format_duration (p->timeout_ns, tbuf,
                                           sizeof tbuf)
                    : "client_mount_timeout",
                    p->timeout_ns ? "" : " (set ",
                    p->timeout_ns ? "" : p->key_prefix,
                    p->timeout_ns ? "" : "timeout=)");
      break;
    case EACCES: case EPERM:
      nbdkit_error ("rbd: cluster '%s' refused %s: %s: check %sid= and the "
                    "key in %s%s%s", cluster_name (p), name, strerror (-r),
                    p->key_prefix,
                    p->keyring ? p->keyring
                    : "the keyring named by the conf (or give ",
                    p->keyring ? "" : p->key_prefix,
                    p->keyring ? "" : "keyring=)");
      break;
    case ENOENT:
      nbdkit_error ("rbd: no key for %s in %s: %s: give %skeyring=FILE",
                    name,
                    p->keyring ? p->keyring
                    : "the keyring named by the conf",
                    strerror (-r), p->key_prefix);
      break;
    default:
      nbdkit_error ("rbd: cannot connect to cluster '%s' as %s (conf: %s): %s",
                    cluster_name (p), name, conf, strerror (-r));
    }
    return -1;
  }

  r = rados_ioctx_create (c->cluster, p->spec.pool,
                          &c->ioctx);
  if (r < 0) {
    if (r == -ENOENT)
      nbdkit_error ("%s: no pool '%s' in cluster '%s' "
                    "(list them with: ceph osd lspools)",
                    p->image_key, p->spec.pool, cluster_name (p));
    else
      nbdkit_error ("%s: cannot open %s: %s", p->image_key,
                    where (p, wbuf, sizeof wbuf), strerror (-r));
    return -1;
  }
  c->ioctx_created = 1;
  rados_ioctx_set_namespace (c->ioctx, p->spec.nspace);

  if (open_image (p, c) == -1 || read_layout (p, c) == -1)
    return -1;
  return 0;
}

/* Also after a failed connect: tear down whatever was set up. */
void
blk_rbd_disconnect (const struct blk_rbd_params *p,
                    struct blk_rbd_conn *c)
{
  int r;

  if (c->image_open) {
    /* rbd_close flushes librbd's cache and releases the exclusive
     * lock, so another client gets it without waiting for a timeout.
     */
    r = rbd_close (c->image);
    if (r < 0)
      nbdkit_error ("rbd: closing image '%s': %s", p->spec.image,
                    strerror (-r));
    c->image_open = 0;
  }
  if (c->ioctx_created) {
    rados_ioctx_destroy (c->ioctx);
    c->ioctx_created = 0;
  }
  if (c->cluster_created) {
    rados_shutdown (c->cluster);
    c->cluster_created = 0;
  }
}

/* The options both modules take, named PREFIX + name ("rbd-cache" is
 * the same in both: it already says rbd).
 */
int
blk_rbd_set_string (char **dst, const char *key, const char *value)
{
  if (value[0] == '\0') {
    nbdkit_error ("%s: the value is empty", key);
    return -1;
  }
  free (*dst);
  *dst = strdup (value);
  if (*dst == NULL) {
    nbdkit_error ("%s: strdup: %m", key);
    return -1;
  }
  return 0;
}

static bool
is_key (const struct blk_rbd_params *p, const char *key, const char *name)
{
  size_t n = strlen (p->key_prefix);

  return strncmp (key, p->key_prefix, n) == 0 && strcmp (key + n, name) == 0;
}

int
blk_rbd_config (struct blk_rbd_params *p, const char *key, const char *value)
{
  char err[128];
  int b;

  if (is_key (p, key, "conf"))
    return blk_rbd_set_string (&p->conf, key, value) == -1 ? -1 : 1;
  if (is_key (p, key, "id"))
    return blk_rbd_set_string (&p->id, key, value) == -1 ? -1 : 1;
  if (is_key (p, key, "keyring"))
    return blk_rbd_set_string (&p->keyring, key, value) == -1 ? -1 : 1;
  if (is_key (p, key, "cluster"))
    return blk_rbd_set_string (&p->cluster, key, value) == -1 ? -1 : 1;
  if (strcmp (key, "rbd-cache") == 0) {
    b = nbdkit_parse_bool (value);
    if (b == -1) {
      nbdkit_error ("%s: cannot parse '%s': use on or off", key, value);
      return -1;
    }
    p->rbd_cache = b;
    return 1;
  }
  if (is_key (p, key, "timeout")) {
    if (blk_parse_duration (value, 1000000000, &p->timeout_ns,
                            err, sizeof err) == -1) {
      nbdkit_error ("%s: cannot parse '%s': %s", key, value, err);
      return -1;
    }
    if (p->timeout_ns == 0) {
      nbdkit_error ("%s: '%s' is zero: give a positive duration such as 10s",
                    key, value);
      return -1;
    }
    return 1;
  }
  return 0;
}

void
blk_rbd_params_free (struct blk_rbd_params *p)
{
  rbd_spec_free (&p->spec);
  free (p->conf);
  free (p->id);
  free (p->keyring);
  free (p->cluster);
  p->conf = p->id = p->keyring = p->cluster = NULL;
}
