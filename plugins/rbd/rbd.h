/* nbdkit-blk: the rbd plugin's internal interface.
 *
 * connect.c  cluster connection and image open (after fork)
 * aio.c      one asynchronous librbd request, bracketed by the hook
 * extents.c  block status from rbd_diff_iterate2
 * rbd.c      nbdkit glue: parameters and callbacks
 *
 * Names here use the prefix blkrbd_ because librbd owns rbd_*.
 */
#ifndef NBDKIT_BLK_RBD_H
#define NBDKIT_BLK_RBD_H

#include <stdbool.h>
#include <stdint.h>

#include <rados/librados.h>
#include <rbd/librbd.h>

#include "blk-hook.h"
#include "spec.h"

/* Parameters: written by .config/.config_complete, read-only after. */
struct blkrbd_config {
  struct rbd_spec spec;         /* image= (and snapshot=) */
  char *conf;                   /* conf= (NULL: librados' search) */
  char *id;                     /* id= (NULL: "admin") */
  char *keyring;                /* keyring= */
  char *cluster;                /* cluster= (NULL: "ceph") */
  int rbd_cache;                /* rbd-cache=: -1 as in the conf, 0, 1 */
  uint64_t timeout_ns;          /* timeout= (0: as in the conf) */
  bool readonly;                /* readonly= or a snapshot */
};
extern struct blkrbd_config blkrbd_cfg;

/* The connection: set up once per process in .after_fork, read-only
 * until .cleanup tears it down.  librbd's image handle is thread-safe,
 * so every connection and request uses the same one.
 */
struct blkrbd_conn {
  rados_t cluster;
  rados_ioctx_t ioctx;
  rbd_image_t image;
  uint64_t features;            /* RBD_FEATURE_* */
  uint64_t obj_size;            /* object size (layout) */
  uint64_t stripe_unit;
  bool cluster_created, ioctx_created, image_open; /* for teardown */
};
extern struct blkrbd_conn blkrbd_conn;

extern int blkrbd_connect (void);
extern void blkrbd_disconnect (void);

/* Run one request (READ, WRITE, ZERO, TRIM or FLUSH) through librbd's
 * asynchronous API and wait for it on this thread.  HOOK_FLAGS go to
 * the hook (BLK_HOOK_F_FUA).  Returns 0 or a positive errno.
 */
extern int blkrbd_io (enum blk_hook_op op, void *buf, uint32_t count,
                      uint64_t offset, uint32_t hook_flags);

/* Block status of [OFFSET, OFFSET+COUNT) into EX: 0 or a positive errno. */
struct nbdkit_extents;
extern int blkrbd_extents (uint32_t count, uint64_t offset,
                           struct nbdkit_extents *ex);

/* Whether block status is reported per whole object (see extents.c). */
extern bool blkrbd_whole_object (void);

/* -D rbd.aio=1: one debug line per request submitted and completed. */
extern __attribute__ ((visibility ("default"))) int rbd_debug_aio;

#endif /* NBDKIT_BLK_RBD_H */
