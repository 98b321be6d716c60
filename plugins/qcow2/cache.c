/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: metadata table cache bookkeeping (see cache.h).
 * Thread model: callers hold the image's meta_lock.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "cache.h"

int
mcache_init (struct mcache *c, size_t table_size, unsigned n, uint64_t nkeys)
{
  memset (c, 0, sizeof *c);
  c->table_size = table_size;
  c->n = n;
  /* The tables themselves are allocated on first use (mcache_victim):
   * a cache sized for a big image costs nothing until it is used.
   */
  c->slots = calloc (n, sizeof *c->slots);
  if (c->slots == NULL)
    return -1;
  return mcache_resize (c, nkeys);
}

void
mcache_free (struct mcache *c)
{
  unsigned i;

  if (c->slots)
    for (i = 0; i < c->n; i++)
      free (c->slots[i].data);
  if (c->budget)
    __atomic_sub_fetch (&c->budget->used, (uint64_t) c->nalloc * c->table_size,
                        __ATOMIC_RELAXED);
  free (c->slots);
  free (c->map);
  memset (c, 0, sizeof *c);
}

/* Allocate S's table if the budget allows (always for the first). */
static int
alloc_table (struct mcache *c, struct mslot *s)
{
  if (c->budget && c->nalloc > 0 &&
      __atomic_add_fetch (&c->budget->used, c->table_size,
                          __ATOMIC_RELAXED) > c->budget->limit) {
    __atomic_sub_fetch (&c->budget->used, c->table_size, __ATOMIC_RELAXED);
    return -1;
  }
  if (c->budget && c->nalloc == 0)
    __atomic_add_fetch (&c->budget->used, c->table_size, __ATOMIC_RELAXED);
  /* Aligned so that the tables could be used with O_DIRECT later. */
  if (posix_memalign ((void **) &s->data, 4096, c->table_size)) {
    s->data = NULL;
    if (c->budget)
      __atomic_sub_fetch (&c->budget->used, c->table_size, __ATOMIC_RELAXED);
    return -1;
  }
  c->nalloc++;
  return 0;
}

int
mcache_resize (struct mcache *c, uint64_t nkeys)
{
  int32_t *m;
  uint64_t i;

  if (nkeys <= c->nkeys && c->map)
    return 0;
  m = realloc (c->map, (nkeys ? nkeys : 1) * sizeof *m);
  if (m == NULL)
    return -1;
  for (i = c->map ? c->nkeys : 0; i < nkeys; i++)
    m[i] = -1;
  c->map = m;
  c->nkeys = nkeys;
  return 0;
}

struct mslot *
mcache_victim (struct mcache *c)
{
  struct mslot *clean = NULL, *dirty = NULL, *unallocated = NULL;
  unsigned i;

  for (i = 0; i < c->n; i++) {
    struct mslot *s = &c->slots[i];
    if (s->data == NULL) {
      if (!unallocated)
        unallocated = s;
      continue;
    }
    if (!s->valid)
      return s;
    if (s->dirty) {
      if (!dirty || s->lru < dirty->lru)
        dirty = s;
    }
    else if (!clean || s->lru < clean->lru)
      clean = s;
  }
  if (unallocated && alloc_table (c, unallocated) == 0)
    return unallocated;
  return clean ? clean : dirty;
}

void
mcache_install (struct mcache *c, struct mslot *s, uint64_t key,
                uint64_t offset)
{
  if (s->valid)
    mcache_drop (c, s);
  s->key = key;
  s->offset = offset;
  s->valid = 1;
  s->dirty = 0;
  s->lru = ++c->tick;
  c->map[key] = (int32_t) (s - c->slots);
}

void
mcache_mark_dirty (struct mcache *c, struct mslot *s)
{
  if (!s->dirty) {
    s->dirty = 1;
    c->ndirty++;
  }
}

void
mcache_mark_clean (struct mcache *c, struct mslot *s)
{
  if (s->dirty) {
    s->dirty = 0;
    c->ndirty--;
  }
}

void
mcache_drop (struct mcache *c, struct mslot *s)
{
  if (!s->valid)
    return;
  mcache_mark_clean (c, s);
  if (s->key < c->nkeys)
    c->map[s->key] = -1;
  s->valid = 0;
}
