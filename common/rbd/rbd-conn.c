/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: connection to a Ceph cluster and an RBD image (see
 * rbd-conn.h), for the rbd plugin and the qcow2 plugin's rbd backend.
 *
 * Connects twice: once in .get_ready to check and close again
 * (blk_rbd_probe), then for good in .after_fork, as librados' threads
 * do not survive nbdkit's fork into the background.  Every failure
 * names what the user gave (conf, id, keyring, pool, image, snapshot)
 * and what to check, because "error -2" from rados_connect is not
 * something a user can act on.  Every wait on the cluster is bounded:
 * librados' own timeouts for connecting and for requests, a watchdog
 * thread for the teardown (blk_rbd_deadline_*), which librados cannot
 * bound.
 *
 * Thread model: connect and disconnect run once each, before any
 * connection and after the last; they write *c, which is read-only in
 * between.  No global state but secs()'s buffer (same threads).  A
 * deadline's struct is shared by its watchdog and the caller, under
 * its own lock.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* NS in whole seconds, rounded up, as a string (static buffer: only
 * used while connecting, which runs on one thread, before any request).
 */
static const char *
secs (uint64_t ns)
{
  static char buf[32];

  snprintf (buf, sizeof buf, "%" PRIu64, (ns + 999999999) / 1000000000);
  return buf;
}

/* cache=MODE: librbd's cache options as the mode says (cache-mode.c),
 * over whatever the conf set, as QEMU's cache= overrides the conf.
 */
static int
apply_cache_mode (const struct blk_rbd_params *p, struct blk_rbd_conn *c)
{
  const struct blk_rbd_cache_policy *pol;

  if (p->cache_mode == BLK_RBD_CACHE_UNSET)
    return 0;
  pol = blk_rbd_cache_policy (p->cache_mode);
  if ((pol->rbd_cache &&
       set_option (c, "rbd_cache", pol->rbd_cache) == -1) ||
      (pol->writethrough_until_flush &&
       set_option (c, "rbd_cache_writethrough_until_flush",
                   pol->writethrough_until_flush) == -1) ||
      (pol->max_dirty &&
       set_option (c, "rbd_cache_max_dirty", pol->max_dirty) == -1))
    return -1;
  nbdkit_debug ("rbd: cache=%s: rbd_cache=%s%s%s%s%s",
                blk_enum_to_name (blk_rbd_cache_modes, p->cache_mode),
                pol->rbd_cache,
                pol->writethrough_until_flush
                ? " rbd_cache_writethrough_until_flush=" : "",
                pol->writethrough_until_flush
                ? pol->writethrough_until_flush : "",
                pol->max_dirty ? " rbd_cache_max_dirty=" : "",
                pol->max_dirty ? pol->max_dirty : "");
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
  if (apply_cache_mode (p, c) == -1)
    return -1;
  /* Every wait on the cluster is bounded (see FAILURE BEHAVIOUR in
   * the man page).  The options take whole seconds: round up, so that
   * a short timeout is never turned into "no timeout" (0).
   */
  if (set_option (c, "client_mount_timeout", secs (p->timeout_ns)) == -1 ||
      set_option (c, "rados_mon_op_timeout", secs (p->timeout_ns)) == -1 ||
      set_option (c, "rados_osd_op_timeout",
                  secs (p->request_timeout_ns)) == -1)
    return -1;
  nbdkit_debug ("rbd: limits: monitors and close %" PRIu64 "s, each OSD "
                "request %" PRIu64 "s (0: none)",
                (p->timeout_ns + 999999999) / 1000000000,
                (p->request_timeout_ns + 999999999) / 1000000000);
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
    case ETIMEDOUT: {
      /* Name the monitors tried: the conf may not be the one the user
       * thinks (CEPH_CONF, /etc/ceph).
       */
      char mons[256];

      if (rados_conf_get (c->cluster, "mon_host", mons, sizeof mons) < 0 ||
          mons[0] == '\0')
        snprintf (mons, sizeof mons, "(none configured)");
      nbdkit_error ("rbd: no monitor of cluster '%s' answered within %s "
                    "(mon host %s, from %s): is the cluster up and "
                    "reachable? (%stimeout= sets the limit)",
                    cluster_name (p),
                    blk_format_duration (p->timeout_ns, tbuf, sizeof tbuf),
                    mons, conf, p->key_prefix);
      break;
    }
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
int
blk_rbd_disconnect (const struct blk_rbd_params *p,
                    struct blk_rbd_conn *c)
{
  struct blk_rbd_deadline *d = NULL;
  char what[512];
  int r, ret = 0;

  if (!c->image_open && !c->ioctx_created && !c->cluster_created)
    return 0;
  /* With the cluster gone, rbd_close (cache write-back, exclusive lock
   * release, unwatch) and even rados_shutdown can wait for ever, and
   * nothing can cancel them: bound the whole teardown.
   */
  snprintf (what, sizeof what, "closing RBD image '%s' in pool '%s'",
            p->spec.image, p->spec.pool);
  if (c->image_open && !p->readonly && !c->probe)
    d = blk_rbd_deadline_start (p->timeout_ns, what,
                                "writes not yet flushed to the cluster are "
                                "lost, the exclusive lock stays held until "
                                "the cluster breaks it");
  else
    d = blk_rbd_deadline_start (p->timeout_ns, what,
                                "nothing is lost (no writes)");

  if (c->image_open) {
    /* rbd_close flushes librbd's cache and releases the exclusive
     * lock, so another client gets it without waiting for a timeout.
     */
    r = rbd_close (c->image);
    if (r < 0) {
      nbdkit_error ("rbd: %s: %s: writes not yet flushed to the cluster "
                    "may be lost", what, strerror (-r));
      ret = -1;
    }
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
  blk_rbd_deadline_end (d);
  return ret;
}

static int
count_threads (void)
{
  DIR *d = opendir ("/proc/self/task");
  struct dirent *e;
  int n = 0;

  if (d == NULL)
    return -1;
  while ((e = readdir (d)) != NULL)
    n += e->d_name[0] != '.';
  closedir (d);
  return n;
}

int
blk_rbd_probe (const struct blk_rbd_params *p)
{
  struct blk_rbd_conn c = { .probe = true };
  int r = blk_rbd_connect (p, &c);

  /* A failure here has already been reported: the teardown of a
   * half-made connection is bounded like any other.
   */
  if (blk_rbd_disconnect (p, &c) == -1)
    r = -1;
  if (r == 0)
    /* The thread count shows that nothing of librados survives into
     * nbdkit's fork (tests check it).
     */
    nbdkit_debug ("rbd: %s/%s: checked before serving; %d thread(s) left",
                  p->spec.pool, p->spec.image, count_threads ());
  return r;
}

/* The watchdog.  The struct is shared by the watchdog thread and the
 * caller; LOCK guards DONE.  The caller frees it after joining.
 */
struct blk_rbd_deadline {
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done;                    /* guarded by lock */
  bool started;                 /* the thread runs: join it */
  struct timespec when;         /* CLOCK_MONOTONIC */
  uint64_t ns;
  char what[512];
  char consequence[256];
};

static void *
deadline_thread (void *arg)
{
  struct blk_rbd_deadline *d = arg;
  char tbuf[32];
  int r = 0;

  pthread_mutex_lock (&d->lock);
  while (!d->done && r != ETIMEDOUT)
    r = pthread_cond_timedwait (&d->cond, &d->lock, &d->when);
  if (!d->done) {
    /* Whatever is stuck holds locks inside librados: exit() would run
     * destructors under it.  _exit ends the process as it stands.
     */
    nbdkit_error ("rbd: %s did not finish within %s (is the cluster "
                  "reachable?): %s; exiting with failure",
                  d->what, blk_format_duration (d->ns, tbuf, sizeof tbuf),
                  d->consequence);
    _exit (EXIT_FAILURE);
  }
  pthread_mutex_unlock (&d->lock);
  return NULL;
}

struct blk_rbd_deadline *
blk_rbd_deadline_start (uint64_t ns, const char *what,
                        const char *consequence)
{
  struct blk_rbd_deadline *d = calloc (1, sizeof *d);
  pthread_condattr_t attr;
  int r;

  if (d == NULL) {
    nbdkit_error ("rbd: %s: no deadline: %m", what);
    return NULL;
  }
  d->ns = ns;
  snprintf (d->what, sizeof d->what, "%s", what);
  snprintf (d->consequence, sizeof d->consequence, "%s", consequence);
  pthread_mutex_init (&d->lock, NULL);
  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (&d->cond, &attr);
  pthread_condattr_destroy (&attr);
  clock_gettime (CLOCK_MONOTONIC, &d->when);
  d->when.tv_sec += (time_t) (ns / 1000000000);
  d->when.tv_nsec += (long) (ns % 1000000000);
  if (d->when.tv_nsec >= 1000000000) {
    d->when.tv_sec++;
    d->when.tv_nsec -= 1000000000;
  }
  r = pthread_create (&d->thread, NULL, deadline_thread, d);
  if (r != 0)
    /* Go on unbounded rather than refuse to close. */
    nbdkit_error ("rbd: %s: no deadline: %s", what, strerror (r));
  else
    d->started = true;
  return d;
}

void
blk_rbd_deadline_end (struct blk_rbd_deadline *d)
{
  if (d == NULL)
    return;
  pthread_mutex_lock (&d->lock);
  d->done = true;
  pthread_cond_signal (&d->cond);
  pthread_mutex_unlock (&d->lock);
  if (d->started)
    pthread_join (d->thread, NULL);
  pthread_cond_destroy (&d->cond);
  pthread_mutex_destroy (&d->lock);
  free (d);
}
