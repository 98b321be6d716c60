/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: the rbd plugin's internal interface.
 *
 * common/rbd cluster connection and image open (after fork)
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
#include "rbd-conn.h"

/* Parameters: written by .config/.config_complete, read-only after.
 * The connection: set up once per process in .after_fork, read-only
 * until .cleanup tears it down (common/rbd/rbd-conn.c, shared with the
 * qcow2 plugin's rbd backend).  librbd's image handle is thread-safe,
 * so every connection and request uses the same one.
 */
extern struct blk_rbd_params blkrbd_cfg;
extern struct blk_rbd_conn blkrbd_conn;

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
