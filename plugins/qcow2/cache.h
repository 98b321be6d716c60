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
  uint8_t *data;                /* one cluster */
};

struct mcache {
  size_t table_size;
  unsigned n;
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

/* The slot to reuse: an invalid one, else the least recently used
 * clean one, else the least recently used dirty one (the caller must
 * write it back before mcache_install).
 */
extern struct mslot *mcache_victim (struct mcache *c);
extern void mcache_install (struct mcache *c, struct mslot *s,
                            uint64_t key, uint64_t offset);
extern void mcache_mark_dirty (struct mcache *c, struct mslot *s);
extern void mcache_mark_clean (struct mcache *c, struct mslot *s);
extern void mcache_drop (struct mcache *c, struct mslot *s);

#endif /* QCOW2_CACHE_H */
