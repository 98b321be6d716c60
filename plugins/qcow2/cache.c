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
  unsigned i;

  memset (c, 0, sizeof *c);
  c->table_size = table_size;
  c->n = n;
  c->slots = calloc (n, sizeof *c->slots);
  if (c->slots == NULL)
    return -1;
  for (i = 0; i < n; i++) {
    /* Aligned so that the tables could be used with O_DIRECT later. */
    if (posix_memalign ((void **) &c->slots[i].data, 4096, table_size))
      return -1;
  }
  return mcache_resize (c, nkeys);
}

void
mcache_free (struct mcache *c)
{
  unsigned i;

  if (c->slots)
    for (i = 0; i < c->n; i++)
      free (c->slots[i].data);
  free (c->slots);
  free (c->map);
  memset (c, 0, sizeof *c);
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
  struct mslot *clean = NULL, *dirty = NULL;
  unsigned i;

  for (i = 0; i < c->n; i++) {
    struct mslot *s = &c->slots[i];
    if (!s->valid)
      return s;
    if (s->dirty) {
      if (!dirty || s->lru < dirty->lru)
        dirty = s;
    }
    else if (!clean || s->lru < clean->lru)
      clean = s;
  }
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
