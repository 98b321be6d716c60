/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: connecting to a Ceph cluster and opening an RBD image,
 * shared by the rbd plugin and the qcow2 plugin's rbd storage backend.
 *
 * The parameters and their parser are in params.h.
 *
 * Start-up, in two steps: blk_rbd_probe in .get_ready (before nbdkit
 * binds its socket or forks: a wrong pool, image, snapshot, key or an
 * unreachable cluster makes nbdkit exit non-zero before any client can
 * connect), then blk_rbd_connect in .after_fork for the connection
 * that serves (librados' threads do not survive nbdkit's fork).
 *
 * Thread model: blk_rbd_probe, blk_rbd_connect and blk_rbd_disconnect
 * run once each (.get_ready, .after_fork, .cleanup or unload), when no
 * request runs.  The struct blk_rbd_conn they fill is
 * read-only in between; librbd's image handle is itself thread-safe.
 */
#ifndef NBDKIT_BLK_RBD_CONN_H
#define NBDKIT_BLK_RBD_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <rados/librados.h>
#include <rbd/librbd.h>

#include "params.h"

struct blk_rbd_conn {
  rados_t cluster;
  rados_ioctx_t ioctx;
  rbd_image_t image;
  uint64_t features;            /* RBD_FEATURE_* */
  uint64_t obj_size;            /* object size (layout) */
  uint64_t stripe_unit;
  bool cluster_created, ioctx_created, image_open; /* for teardown */
  bool probe;                   /* blk_rbd_probe's: never written */
};

/* Connect and open P->spec (read-only if P->readonly).  On failure
 * nbdkit_error says what to check; call blk_rbd_disconnect anyway.
 * Never before nbdkit forks: librados' threads do not survive it.
 */
extern int blk_rbd_connect (const struct blk_rbd_params *p,
                            struct blk_rbd_conn *c);

/* Tear down whatever blk_rbd_connect set up (rbd_close writes back
 * librbd's cache and releases the exclusive lock).  Bounded by
 * P->timeout_ns: past it, nbdkit_error says so and the process ends
 * with _exit (EXIT_FAILURE), as a close stuck on a lost cluster can
 * neither be cancelled nor waited for.  Returns 0, or -1 after
 * nbdkit_error when the close failed (writes may be lost).
 */
extern int blk_rbd_disconnect (const struct blk_rbd_params *p,
                               struct blk_rbd_conn *c);

/* Connect, open and close again, in .get_ready: every error a user can
 * fix is reported before nbdkit listens.  Leaves no librados thread
 * behind (rados_shutdown joins them).  Returns 0 or -1.
 */
extern int blk_rbd_probe (const struct blk_rbd_params *p);

/* A deadline for something that may block for ever on a lost cluster
 * (teardown): a watchdog thread that, unless blk_rbd_deadline_end is
 * called within NS, logs "WHAT did not finish within ...: CONSEQUENCE"
 * and ends the process with _exit (EXIT_FAILURE).
 */
struct blk_rbd_deadline;
extern struct blk_rbd_deadline *blk_rbd_deadline_start (uint64_t ns,
                                                        const char *what,
                                                        const char *consequence);
extern void blk_rbd_deadline_end (struct blk_rbd_deadline *d);

#endif /* NBDKIT_BLK_RBD_CONN_H */
