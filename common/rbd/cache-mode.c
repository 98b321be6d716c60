/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: the rbd plugin's cache= modes (see cache-mode.h).
 *
 * Facts the table relies on (librbd 16, measured in docs/rbd.md):
 * - rbd_cache=false: a write completes when the OSDs have committed
 *   it, so its reply already means "on the OSDs";
 * - rbd_cache=true with rbd_cache_max_dirty=0: the cache holds no
 *   dirty data, writes complete on commit as without it (writethrough);
 * - rbd_cache=true otherwise: a write completes once librbd holds it
 *   (Ceph 16's default policy, writearound, sends it to the OSDs at
 *   once but replies before they commit), and only rbd_aio_flush
 *   waits for the OSDs.  rbd_cache_writethrough_until_flush=true (the
 *   default) keeps the cache writethrough until the first flush, a
 *   guess for guests that never flush; the plugin knows whether its
 *   client flushes (NBD tells it), so writeback turns the guess off:
 *   qemu-nbd gets the same effect from the flush it sends when it
 *   opens the image (its librbd counts 1 flush before any client).
 */
#include <config.h>

#include <stddef.h>

#include "cache-mode.h"

const struct blk_enum_name blk_rbd_cache_modes[] = {
  { "none", BLK_RBD_CACHE_NONE },
  { "writethrough", BLK_RBD_CACHE_WRITETHROUGH },
  { "writeback", BLK_RBD_CACHE_WRITEBACK },
  { "directsync", BLK_RBD_CACHE_DIRECTSYNC },
  { "unsafe", BLK_RBD_CACHE_UNSAFE },
  { NULL, 0 },
};

/* Without the cache every reply means the OSDs have the write; a
 * flush still goes to librbd (it costs one pass through librbd's
 * layers, and covers anything the conf added below them).  QEMU's
 * directsync differs from none only in its own page-cache handling,
 * which has no counterpart here: the same policy.
 */
static const struct blk_rbd_cache_policy uncached = {
  .rbd_cache = "false",
  .flush_calls_librbd = true, .fua_flushes = false,
  .write_durable_on_ack = true,
};

static const struct blk_rbd_cache_policy writethrough = {
  .rbd_cache = "true", .max_dirty = "0",
  .flush_calls_librbd = true, .fua_flushes = false,
  .write_durable_on_ack = true,
};

static const struct blk_rbd_cache_policy writeback = {
  .rbd_cache = "true", .writethrough_until_flush = "false",
  .flush_calls_librbd = true, .fua_flushes = true,
  .write_durable_on_ack = false,
};

/* Flushes and FUA are acknowledged without librbd: nothing is on the
 * OSDs until librbd writes it back by itself or the image is closed.
 */
static const struct blk_rbd_cache_policy unsafe = {
  .rbd_cache = "true", .writethrough_until_flush = "false",
  .flush_calls_librbd = false, .fua_flushes = false,
  .write_durable_on_ack = false,
};

/* No mode given (the qcow2 plugin, or the rbd plugin's old
 * rbd-cache=on|off): the cache is whatever the conf says, so assume
 * the worst and send every flush and FUA to librbd.
 */
static const struct blk_rbd_cache_policy as_conf = {
  .flush_calls_librbd = true, .fua_flushes = true,
  .write_durable_on_ack = false,
};

const struct blk_rbd_cache_policy *
blk_rbd_cache_policy (enum blk_rbd_cache_mode mode)
{
  switch (mode) {
  case BLK_RBD_CACHE_NONE: case BLK_RBD_CACHE_DIRECTSYNC:
    return &uncached;
  case BLK_RBD_CACHE_WRITETHROUGH:
    return &writethrough;
  case BLK_RBD_CACHE_WRITEBACK:
    return &writeback;
  case BLK_RBD_CACHE_UNSAFE:
    return &unsafe;
  case BLK_RBD_CACHE_UNSET:
  default:
    return &as_conf;
  }
}
