/* nbdkit-blk qcow2: guest offset -> L2 entry classification, shared by
 * the read path, the write path and extents.
 *
 * Thread model: called with img->meta_lock held.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>

#include <nbdkit-plugin.h>

#include "image.h"

static int
corrupt_bitmap (struct qcow2_image *img, uint64_t off, uint64_t bm)
{
  nbdkit_error ("%s: corrupt extended L2 entry for guest offset %" PRIu64
                ": subcluster bitmap 0x%016" PRIx64, img->path, off, bm);
  errno = EIO;
  return -1;
}

int
qcow2_map (struct qcow2_image *img, uint64_t off, uint64_t maxlen,
           struct seg *sg)
{
  uint64_t cs = img->cluster_size, g = off >> img->cluster_bits;
  uint64_t within = off & (cs - 1), e, bm, host;
  uint64_t l1_idx = g >> img->l2_bits;
  uint64_t l2_idx = g & ((1ull << img->l2_bits) - 1);
  struct mslot *s;

  if (l2_get (img, l1_idx, 0, &s) == -1)
    return -1;
  if (s == NULL) {
    uint64_t span = ((uint64_t) 1 << (img->l2_bits + img->cluster_bits));
    uint64_t left = span - (off & (span - 1));
    sg->t = SEG_UNALLOC;
    sg->len = left < maxlen ? left : maxlen;
    sg->entry = 0;
    return 0;
  }
  e = l2_entry (img, s, l2_idx, &bm);
  sg->entry = e;
  sg->len = cs - within < maxlen ? cs - within : maxlen;
  if (l2_check_entry (img, e, off) == -1)
    return -1;
  if (e & QCOW2_OFLAG_COMPRESSED) {
    sg->t = SEG_COMPRESSED;
    return 0;
  }
  host = e & QCOW2_OFFSET_MASK;
  if (img->extl2) {
    unsigned sc = (unsigned) (within >> img->sc_bits), i;
    uint64_t scs = 1ull << img->sc_bits;
    uint32_t alloc = (uint32_t) bm, zero = (uint32_t) (bm >> 32);
    int state, st;

    if (alloc & zero)
      return corrupt_bitmap (img, off, bm);
    if (host == 0 && !img->external_data && alloc)
      return corrupt_bitmap (img, off, bm);
#define SC_STATE(i) (((alloc >> (i)) & 1) ? 2 : ((zero >> (i)) & 1) ? 1 : 0)
    state = SC_STATE (sc);
    for (i = sc + 1; i < 32; i++) {
      st = SC_STATE (i);
      if (st != state)
        break;
    }
#undef SC_STATE
    {
      uint64_t run = (uint64_t) i * scs - within;
      if (run < sg->len)
        sg->len = run;
    }
    sg->t = state == 2 ? SEG_DATA : state == 1 ? SEG_ZERO : SEG_UNALLOC;
    sg->host = host + within;
    return 0;
  }
  if (e & QCOW2_OFLAG_ZERO)
    sg->t = SEG_ZERO;
  else if (host == 0 && !(img->external_data && (e & QCOW2_OFLAG_COPIED)))
    sg->t = SEG_UNALLOC;
  else {
    sg->t = SEG_DATA;
    sg->host = host + within;
  }
  return 0;
}
