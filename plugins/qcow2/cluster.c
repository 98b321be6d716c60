/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: guest -> host cluster lookup (see cluster.h).
 *
 * Thread model: called with img->meta_lock held.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>

#include <nbdkit-plugin.h>

#include "cluster.h"
#include "minmax.h"

static int
corrupt_bitmap (struct qcow2_image *img, uint64_t off, uint64_t bm)
{
  nbdkit_error ("%s: corrupt extended L2 entry for guest offset %" PRIu64
                ": subcluster bitmap 0x%016" PRIx64, img->path, off, bm);
  errno = EIO;
  return -1;
}

/* Extended L2: the state of the subcluster holding byte WITHIN and how
 * far (in bytes from WITHIN) the same state runs in this cluster.
 */
static int
subclusters (struct qcow2_image *img, struct qcow2_cluster *c,
             uint64_t off, uint64_t within)
{
  uint32_t alloc = (uint32_t) c->bitmap, zero = (uint32_t) (c->bitmap >> 32);
  unsigned sc = (unsigned) (within >> img->sc_bits), i;
  int has_backing = img->backing || img->backing_raw;
  enum seg_type t;

  if (alloc & zero)
    return corrupt_bitmap (img, off, c->bitmap);
  if (c->host == 0 && !img->external_data && alloc)
    return corrupt_bitmap (img, off, c->bitmap);

#define SC_KIND(i) (((alloc >> (i)) & 1) ? SEG_DATA :                   \
                    ((zero >> (i)) & 1) ? SEG_ZERO : SEG_UNALLOC)
  t = SC_KIND (sc);
  for (i = sc + 1; i < 32 && SC_KIND (i) == t; i++)
    ;
#undef SC_KIND
  c->kind = t;
  c->run = MIN (((uint64_t) i << img->sc_bits) - within, c->run);
  c->reads_zero = alloc == 0 && (!has_backing || zero == 0xffffffffu);
  return 0;
}

int
qcow2_cluster_lookup (struct qcow2_image *img, uint64_t off, int alloc,
                      struct qcow2_cluster *c)
{
  uint64_t cs = img->cluster_size, within = off & (cs - 1);
  uint64_t l1_idx;
  int has_backing = img->backing || img->backing_raw;

  c->g = off >> img->cluster_bits;
  l1_idx = c->g >> img->l2_bits;
  c->l2_idx = c->g & ((1ull << img->l2_bits) - 1);
  c->entry = c->bitmap = c->host = 0;
  c->copied = c->table_writable = 0;

  if (l2_get (img, l1_idx, alloc, &c->slot) == -1)
    return -1;
  if (c->slot == NULL) {
    /* No L2 table: the whole range it would map is unallocated. */
    uint64_t span = (uint64_t) 1 << (img->l2_bits + img->cluster_bits);
    c->kind = SEG_UNALLOC;
    c->run = span - (off & (span - 1));
    c->reads_zero = !has_backing;
    return 0;
  }
  /* l2_get checked l1_idx against the L1 size. */
  c->table_writable = (img->l1[l1_idx] & QCOW2_OFLAG_COPIED) != 0;
  c->entry = l2_entry (img, c->slot, c->l2_idx, &c->bitmap);
  if (l2_check_entry (img, c->entry, off) == -1)
    return -1;
  c->run = cs - within;
  if (c->entry & QCOW2_OFLAG_COMPRESSED) {
    c->kind = SEG_COMPRESSED;
    c->reads_zero = 0;
    return 0;
  }
  c->host = c->entry & QCOW2_OFFSET_MASK;
  c->copied = (c->entry & QCOW2_OFLAG_COPIED) != 0;
  if (img->extl2)
    return subclusters (img, c, off, within);
  if (c->entry & QCOW2_OFLAG_ZERO) {
    c->kind = SEG_ZERO;
    c->reads_zero = 1;
  }
  else if (c->host == 0 && !(img->external_data && c->copied)) {
    c->kind = SEG_UNALLOC;
    c->reads_zero = !has_backing;
  }
  else {
    /* Data, even at host offset 0: with an external data file that is
     * guest cluster 0 (test-qcow2-data-file-zero.sh).
     */
    c->kind = SEG_DATA;
    c->reads_zero = 0;
  }
  return 0;
}

int
qcow2_cluster_overwrite_ok (const struct qcow2_image *img,
                            const struct qcow2_cluster *c,
                            uint64_t within, uint64_t n)
{
  unsigned a, b;
  uint32_t m;

  if (c->slot == NULL || (c->entry & QCOW2_OFLAG_COMPRESSED) || !c->copied)
    return 0;
  if (c->host == 0 && !img->external_data)
    return 0;
  if (!img->extl2)
    return !(c->entry & QCOW2_OFLAG_ZERO);
  /* Every touched subcluster must be allocated already. */
  a = (unsigned) (within >> img->sc_bits);
  b = (unsigned) ((within + n - 1) >> img->sc_bits);
  m = (uint32_t) (((2ull << b) - 1) & ~((1ull << a) - 1));
  return ((uint32_t) c->bitmap & m) == m;
}

int
qcow2_map (struct qcow2_image *img, uint64_t off, uint64_t maxlen,
           struct seg *sg)
{
  struct qcow2_cluster c;

  if (qcow2_cluster_lookup (img, off, 0, &c) == -1)
    return -1;
  sg->t = c.kind;
  sg->len = MIN (c.run, maxlen);
  sg->entry = c.entry;
  sg->host = c.kind == SEG_DATA ? c.host + (off & (img->cluster_size - 1)) : 0;
  return 0;
}
