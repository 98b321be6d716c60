/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: the L1 table and the L2 table cache.
 *
 * Thread model: every function here runs with img->meta_lock held
 * (see image.h for the locks and the write-back order).
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "blk-hook.h"
#include "image.h"

/* Writing an L2 table early (cache eviction) is only safe once the
 * refcounts of the clusters it references are on disk.
 */
static int
writeback_l2_slot (struct qcow2_image *img, struct mslot *s)
{
  if (qcow2_lazy_mark_dirty (img) == -1)
    return -1;
  if (rc_writeback_all (img) == -1)
    return -1;
  if (img->data != img->file && store_flush (img->data) == -1)
    return -1;
  if (store_flush (img->file) == -1)
    return -1;
  blk_hook_event (BLK_EV_L2_UPDATE);
  if (store_pwrite (img->file, s->data, img->cluster_size, s->offset, 1) == -1)
    return -1;
  mcache_mark_clean (&img->l2c, s);
  return 0;
}

int
l2_writeback_all (struct qcow2_image *img)
{
  unsigned i;

  for (i = 0; i < img->l2c.n; i++) {
    struct mslot *s = &img->l2c.slots[i];
    if (s->valid && s->dirty) {
      blk_hook_event (BLK_EV_L2_UPDATE);
      if (store_pwrite (img->file, s->data, img->cluster_size,
                        s->offset, 1) == -1)
        return -1;
      mcache_mark_clean (&img->l2c, s);
    }
  }
  if (img->l1_dirty) {
    size_t n = (size_t) img->l1_size * 8;
    uint8_t *buf = malloc (n ? n : 1);
    uint32_t i2;
    int r;

    if (buf == NULL) {
      nbdkit_error ("%s: %s", img->path, qcow2_errstr (errno));
      return -1;
    }
    for (i2 = 0; i2 < img->l1_size; i2++)
      blk_store_be64 (buf + (size_t) i2 * 8, img->l1[i2]);
    blk_hook_event (BLK_EV_L1_UPDATE);
    r = store_pwrite (img->file, buf, n, img->l1_offset, 1);
    free (buf);
    if (r == -1)
      return -1;
    img->l1_dirty = 0;
  }
  return 0;
}

/* A slot for a new table: the victim, written back first if dirty. */
static struct mslot *
take_slot (struct qcow2_image *img)
{
  struct mslot *s = mcache_victim (&img->l2c);

  if (s == NULL) {
    nbdkit_error ("%s: cannot allocate a metadata cache slot: %s",
                  img->path, qcow2_errstr (ENOMEM));
    errno = ENOMEM;
    return NULL;
  }
  if (s->valid && s->dirty && writeback_l2_slot (img, s) == -1)
    return NULL;
  mcache_drop (&img->l2c, s);
  return s;
}

int
l2_check_entry (struct qcow2_image *img, uint64_t e, uint64_t guest_off)
{
  if (e & QCOW2_OFLAG_COMPRESSED) {
    if (e & QCOW2_OFLAG_COPIED) {
      nbdkit_error ("%s: corrupt L2 entry 0x%016" PRIx64 " for guest offset %"
                    PRIu64 " (compressed cluster with the copied flag)",
                    img->path, e, guest_off);
      errno = EIO;
      return -1;
    }
    if (img->external_data) {
      nbdkit_error ("%s: compressed cluster at guest offset %" PRIu64
                    " in an image with an external data file", img->path,
                    guest_off);
      errno = EIO;
      return -1;
    }
    return 0;
  }
  if ((e & QCOW2_L2_RESERVED) ||
      ((e & QCOW2_OFLAG_ZERO) && (img->h.version < 3 || img->extl2))) {
    nbdkit_error ("%s: corrupt L2 entry 0x%016" PRIx64 " for guest offset %"
                  PRIu64 " (reserved bits set)", img->path, e, guest_off);
    errno = EIO;
    return -1;
  }
  if ((e & QCOW2_OFFSET_MASK) & (img->cluster_size - 1)) {
    nbdkit_error ("%s: corrupt L2 entry 0x%016" PRIx64 " for guest offset %"
                  PRIu64 " (host offset not cluster aligned)", img->path, e,
                  guest_off);
    errno = EIO;
    return -1;
  }
  return 0;
}

void
compressed_range (struct qcow2_image *img, uint64_t e, uint64_t *off,
                  uint64_t *len)
{
  unsigned x = 62 - (img->cluster_bits - 8);
  uint64_t host = e & ((1ull << x) - 1);
  uint64_t sectors = ((e >> x) & ((1ull << (img->cluster_bits - 8)) - 1)) + 1;

  *off = host;
  *len = sectors * 512 - (host & 511);
}

void
l2_set (struct qcow2_image *img, struct mslot *s, uint64_t i, uint64_t e,
        uint64_t bitmap)
{
  uint8_t *p = s->data + i * img->esize;

  blk_store_be64 (p, e);
  if (img->extl2)
    blk_store_be64 (p + 8, bitmap);
  mcache_mark_dirty (&img->l2c, s);
  img->wrote_meta = 1;
}

/* Copy-on-write of an L2 table shared with a snapshot: the cached
 * copy becomes the new table, at a new cluster.
 */
static int
l2_cow (struct qcow2_image *img, uint64_t l1_idx, struct mslot *s,
        uint64_t old)
{
  uint64_t rc, i, n = img->cluster_size / img->esize;
  int64_t newoff;

  if (rc_get (img, old / img->cluster_size, &rc) == -1)
    return -1;
  if (rc == 1) {                /* not shared after all: fix the flag */
    img->l1[l1_idx] |= QCOW2_OFLAG_COPIED;
    img->l1_dirty = 1;
    return 0;
  }
  blk_hook_event (BLK_EV_L2_ALLOC_COW_READ);
  newoff = alloc_clusters (img, 1, NULL);
  if (newoff == -1)
    return -1;
  /* Keep "copied" exact: set only where the data cluster's refcount is 1. */
  for (i = 0; i < n; i++) {
    uint64_t bm, e = l2_entry (img, s, i, &bm), h = e & QCOW2_OFFSET_MASK;
    if ((e & QCOW2_OFLAG_COMPRESSED) || h == 0 || img->external_data)
      continue;
    if (rc_get (img, h / img->cluster_size, &rc) == -1)
      return -1;
    e = rc == 1 ? e | QCOW2_OFLAG_COPIED : e & ~QCOW2_OFLAG_COPIED;
    blk_store_be64 (s->data + i * img->esize, e);
  }
  s->offset = (uint64_t) newoff;
  mcache_mark_dirty (&img->l2c, s);
  blk_hook_event (BLK_EV_L2_ALLOC_WRITE);
  img->l1[l1_idx] = (uint64_t) newoff | QCOW2_OFLAG_COPIED;
  img->l1_dirty = 1;
  blk_hook_event (BLK_EV_L1_UPDATE);
  if (queue_free (img, old, img->cluster_size) == -1)
    return -1;
  if (qcow2_debug_meta)
    nbdkit_debug ("qcow2: %s: L2 table %" PRIu64 " copied from %" PRIu64
                  " to %" PRIi64, img->path, l1_idx, old, newoff);
  return 0;
}

int
l2_get (struct qcow2_image *img, uint64_t l1_idx, int alloc,
        struct mslot **slot)
{
  uint64_t e, off;
  struct mslot *s;

  *slot = NULL;
  if (l1_idx >= img->l1_size) {
    nbdkit_error ("%s: guest offset beyond the L1 table", img->path);
    errno = EIO;
    return -1;
  }
  e = img->l1[l1_idx];
  off = e & QCOW2_OFFSET_MASK;
  if (off == 0) {
    int64_t newoff;

    if (!alloc)
      return 0;
    newoff = alloc_clusters (img, 1, NULL);
    if (newoff == -1)
      return -1;
    s = take_slot (img);
    if (s == NULL)
      return -1;
    memset (s->data, 0, img->cluster_size);
    mcache_install (&img->l2c, s, l1_idx, (uint64_t) newoff);
    mcache_mark_dirty (&img->l2c, s);
    blk_hook_event (BLK_EV_L2_ALLOC_WRITE);
    img->l1[l1_idx] = (uint64_t) newoff | QCOW2_OFLAG_COPIED;
    img->l1_dirty = 1;
    img->wrote_meta = 1;
    blk_hook_event (BLK_EV_L1_UPDATE);
    if (qcow2_debug_meta)
      nbdkit_debug ("qcow2: %s: new L2 table %" PRIu64 " at %" PRIi64,
                    img->path, l1_idx, newoff);
    *slot = s;
    return 0;
  }

  s = mcache_find (&img->l2c, l1_idx);
  if (s == NULL) {
    if (off / img->cluster_size >= img->host_end) {
      nbdkit_error ("%s: L1 entry %" PRIu64 " points to an L2 table at offset %"
                    PRIu64 ", past the end of the file", img->path, l1_idx, off);
      errno = EIO;
      return -1;
    }
    s = take_slot (img);
    if (s == NULL)
      return -1;
    blk_hook_event (BLK_EV_L2_LOAD);
    if (store_pread (img->file, s->data, img->cluster_size, off, 1) == -1)
      return -1;
    mcache_install (&img->l2c, s, l1_idx, off);
    if (qcow2_debug_meta)
      nbdkit_debug ("qcow2: %s: loaded L2 table %" PRIu64 " from %" PRIu64,
                    img->path, l1_idx, off);
  }
  if (alloc && !(e & QCOW2_OFLAG_COPIED) && l2_cow (img, l1_idx, s, off) == -1)
    return -1;
  *slot = s;
  return 0;
}
