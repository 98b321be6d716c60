/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: a small cache of metadata tables (L2 tables,
 * refcount blocks), one cluster per slot, keyed by table index (L1
 * index or refcount-table index).  It only does bookkeeping: loading,
 * write-back and its ordering live in the callers (l2.c, refcount.c).
 *
 * Thread model: not thread-safe; every call is made with the image's
 * meta_lock held (see image.h).  A slot pointer stays valid until the
 * next call that may evict (mcache_victim).
 */
#ifndef QCOW2_CACHE_H
#define QCOW2_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct mslot {
  uint64_t key;                 /* table index */
  uint64_t offset;              /* where the table lives in the image */
  uint64_t lru;
  int valid;
  int dirty;
  uint8_t *data;                /* one cluster, NULL until first use */
};

/* Memory shared by several caches (the backing images of one chain):
 * a cache allocates a slot's table only while USED stays within
 * LIMIT, except its first one.  USED is updated atomically, since the
 * caches sharing it belong to different images (different meta_locks).
 */
struct mcache_budget {
  uint64_t limit;
  uint64_t used;
};

struct mcache {
  size_t table_size;
  unsigned n;                   /* slots at most */
  unsigned nalloc;              /* slots whose table is allocated */
  struct mcache_budget *budget; /* NULL: no limit but N */
  struct mslot *slots;
  int32_t *map;                 /* key -> slot index, or -1 */
  uint64_t nkeys;
  uint64_t tick;
  unsigned ndirty;
};

extern int mcache_init (struct mcache *c, size_t table_size, unsigned n,
                        uint64_t nkeys);
extern void mcache_free (struct mcache *c);
/* Make room for keys up to NKEYS (the table grew). */
extern int mcache_resize (struct mcache *c, uint64_t nkeys);

static inline struct mslot *
mcache_find (struct mcache *c, uint64_t key)
{
  int32_t i;

  if (key >= c->nkeys || (i = c->map[key]) < 0)
    return NULL;
  c->slots[i].lru = ++c->tick;
  return &c->slots[i];
}

/* The slot to reuse: an invalid one, else a new one (tables are
 * allocated on first use, within the budget), else the least recently
 * used clean one, else the least recently used dirty one (the caller
 * must write it back before mcache_install).  NULL only if no table
 * could be allocated at all (out of memory).
 */
extern struct mslot *mcache_victim (struct mcache *c);
extern void mcache_install (struct mcache *c, struct mslot *s,
                            uint64_t key, uint64_t offset);
extern void mcache_mark_dirty (struct mcache *c, struct mslot *s);
extern void mcache_mark_clean (struct mcache *c, struct mslot *s);
extern void mcache_drop (struct mcache *c, struct mslot *s);

#endif /* QCOW2_CACHE_H */
