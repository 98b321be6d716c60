/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: the rbd plugin's cache= modes, named as QEMU names its
 * cache= modes, and what each one means for librbd and for NBD.
 *
 * One table answers both questions a mode raises: which librbd options
 * to set (rbd_cache, rbd_cache_writethrough_until_flush,
 * rbd_cache_max_dirty), and what the server promises about an
 * acknowledged write (whether NBD_CMD_FLUSH must call rbd_aio_flush,
 * whether a FUA write needs a flush after it).  Keeping both in one
 * place is what keeps them from disagreeing: a mode whose librbd
 * options let writes be acknowledged from the cache must flush on FUA.
 *
 * Pure (no librados, no nbdkit): unit-rbd-cache-mode tests the table.
 * Thread model: read-only data.
 */
#ifndef NBDKIT_BLK_RBD_CACHE_MODE_H
#define NBDKIT_BLK_RBD_CACHE_MODE_H

#include <stdbool.h>

#include "enum-param.h"

enum blk_rbd_cache_mode {
  BLK_RBD_CACHE_UNSET = -1,     /* not given: librbd as in the conf */
  BLK_RBD_CACHE_NONE = 0,
  BLK_RBD_CACHE_WRITETHROUGH,
  BLK_RBD_CACHE_WRITEBACK,
  BLK_RBD_CACHE_DIRECTSYNC,
  BLK_RBD_CACHE_UNSAFE,
};

/* The rbd plugin's default: every acknowledged write is on the OSDs. */
#define BLK_RBD_CACHE_DEFAULT BLK_RBD_CACHE_WRITETHROUGH

/* Names for blk_parse_enum, in the order of the man page's table. */
extern const struct blk_enum_name blk_rbd_cache_modes[];

struct blk_rbd_cache_policy {
  /* librbd options, set after the conf is read (so they override it);
   * NULL leaves the option as the conf has it.
   */
  const char *rbd_cache;                  /* "true" / "false" */
  const char *writethrough_until_flush;   /* "true" / "false" / NULL */
  const char *max_dirty;                  /* "0" (writethrough) / NULL */
  /* What NBD sees. */
  bool flush_calls_librbd;      /* NBD_CMD_FLUSH is rbd_aio_flush (else
                                 * acknowledged without it: unsafe) */
  bool fua_flushes;             /* a FUA write is followed by
                                 * rbd_aio_flush before its reply */
  bool write_durable_on_ack;    /* a write's reply means it is on the
                                 * OSDs, FUA or not */
};

/* The policy of MODE; for BLK_RBD_CACHE_UNSET, the conservative one
 * for librbd as the conf set it up (every flush and FUA goes to
 * librbd, librbd options untouched).  Never NULL.
 */
extern const struct blk_rbd_cache_policy *
blk_rbd_cache_policy (enum blk_rbd_cache_mode mode);

#endif /* NBDKIT_BLK_RBD_CACHE_MODE_H */
