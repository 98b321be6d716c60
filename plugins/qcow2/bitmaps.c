/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: dropping persistent dirty bitmaps at the first
 * write.
 *
 * We do not maintain bitmaps, so a writer must stop QEMU from trusting
 * them.  Clearing the bitmaps autoclear bit alone does that, but leaves
 * the bitmap directory, tables and data clusters allocated with nobody
 * referencing them: `qemu-img check` reports them as leaks.  So we
 * remove the bitmaps header extension (and the bit) and free every
 * cluster the bitmaps used (not when the autoclear bit was already
 * clear: see qcow2_drop_bitmaps).
 *
 * Crash safety: the header (without the extension) reaches the disk,
 * synced, before any refcount decrement; the decrements are queued
 * like any other free and applied at the next flush after the tables.
 * A crash in between only leaks the clusters.
 *
 * The directory and the tables are untrusted input: every offset and
 * size is checked (alignment, inside the file, not overlapping the
 * header / L1 / refcount table, no duplicates, refcount exactly 1).
 * On any inconsistency the extension is still dropped but nothing is
 * freed: leaking is allowed, freeing a cluster still in use is not.
 *
 * Thread model: called with meta_lock held, from begin_writing_locked
 * (once per image).
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "image.h"
#include "rounding.h"

/* Limits past which the bitmaps are treated as inconsistent (and
 * leaked): QEMU's own limits are at or below these.
 */
#define BM_MAX_BITMAPS      65535
#define BM_MAX_DIR_BYTES    (64ull * 1024 * 1024)
#define BM_MAX_TABLE_BYTES  (64ull * 1024 * 1024)
#define BM_ENTRY_RESERVED   0xff000000000001feull   /* bits 1-8, 56-63 */

static int
cmp_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
  return x < y ? -1 : x > y;
}

/* Why the bitmaps are leaked instead of freed (debug only: the image
 * is still written correctly).
 */
static int
inconsistent (struct qcow2_image *img, const char *what, uint64_t v)
{
  nbdkit_debug ("qcow2: %s: persistent bitmaps: %s (%" PRIu64 "): "
                "dropping them without freeing their clusters (they leak; "
                "'qemu-img check -r leaks' reclaims them)",
                img->path, what, v);
  return 0;
}

/* Does [off, off+len) overlap [b, b+blen)? */
static int
overlaps (uint64_t off, uint64_t len, uint64_t b, uint64_t blen)
{
  return blen && off < b + blen && b < off + len;
}

/* Add the LEN bytes at OFF (table or directory) as whole clusters,
 * after checking them.  Returns 1 added, 0 inconsistent, -1 error.
 */
static int
add_range (struct qcow2_image *img, qcow2_u64s *l, uint64_t off,
           uint64_t len, uint64_t fsize, const char *what)
{
  uint64_t cs = img->cluster_size, c, n;

  if (off == 0 || off % cs || off > fsize || len > fsize - off)
    return inconsistent (img, what, off);
  n = div_round_up (len, cs);
  if (overlaps (off, n * cs, 0, cs) ||
      overlaps (off, n * cs, img->h.l1_table_offset,
                (uint64_t) img->h.l1_size * 8) ||
      overlaps (off, n * cs, img->h.refcount_table_offset,
                (uint64_t) img->h.refcount_table_clusters * cs) ||
      (img->h.nb_snapshots &&
       overlaps (off, n * cs, img->h.snapshots_offset, cs)))
    return inconsistent (img, "a bitmap structure overlaps the image's "
                         "own metadata at offset", off);
  for (c = 0; c < n; c++)
    if (qcow2_u64s_append (l, off / cs + c) == -1)
      return -1;
  return 1;
}

/* Read and check one bitmap table; add its clusters and its data
 * clusters.  Returns 1, 0 (inconsistent), -1 (error).
 */
static int
add_table (struct qcow2_image *img, qcow2_u64s *l, uint64_t off,
           uint32_t entries, uint64_t fsize)
{
  uint64_t bytes = (uint64_t) entries * 8, i, e, data;
  CLEANUP_FREE uint8_t *t = NULL;
  int r;

  if (entries == 0)
    return off == 0 ? 1 : inconsistent (img, "empty table at offset", off);
  if (bytes > BM_MAX_TABLE_BYTES)
    return inconsistent (img, "bitmap table too large, entries", entries);
  r = add_range (img, l, off, bytes, fsize, "bitmap table offset");
  if (r != 1)
    return r;
  t = malloc (bytes);
  if (t == NULL)
    return -1;
  if (store_pread (img->file, t, bytes, off, 1) == -1)
    return -1;
  for (i = 0; i < entries; i++) {
    e = blk_load_be64 (t + i * 8);
    if (e & BM_ENTRY_RESERVED)
      return inconsistent (img, "reserved bits set in a bitmap table "
                           "entry at offset", off + i * 8);
    data = e & QCOW2_OFFSET_MASK;
    if (data == 0)
      continue;                 /* all zeroes (0) or all ones (1) */
    if (e & 1)
      return inconsistent (img, "bitmap table entry with both a cluster "
                           "and the all-ones flag at offset", off + i * 8);
    r = add_range (img, l, data, img->cluster_size, fsize,
                   "bitmap data cluster offset");
    if (r != 1)
      return r;
  }
  return 1;
}

/* Collect every cluster the bitmaps use into L.  Returns 1 (all
 * consistent), 0 (inconsistent: free nothing), -1 (I/O or memory
 * error: the request fails and the next one retries).
 */
static int
collect (struct qcow2_image *img, qcow2_u64s *l, uint64_t fsize)
{
  const struct qcow2_header *h = &img->h;
  uint64_t pos = 0, i, rc;
  CLEANUP_FREE uint8_t *dir = NULL;
  int r;

  if (h->bitmaps_ext_short)
    return inconsistent (img, "extension shorter than 24 bytes, offset",
                         h->bitmaps_ext_off);
  if (h->nb_bitmaps == 0 || h->nb_bitmaps > BM_MAX_BITMAPS)
    return inconsistent (img, "bad number of bitmaps", h->nb_bitmaps);
  if (h->bitmap_dir_size < 24 * (uint64_t) h->nb_bitmaps ||
      h->bitmap_dir_size > BM_MAX_DIR_BYTES)
    return inconsistent (img, "bad bitmap directory size", h->bitmap_dir_size);
  r = add_range (img, l, h->bitmap_dir_offset, h->bitmap_dir_size, fsize,
                 "bitmap directory offset");
  if (r != 1)
    return r;
  dir = malloc (h->bitmap_dir_size);
  if (dir == NULL)
    return -1;
  if (store_pread (img->file, dir, h->bitmap_dir_size,
                   h->bitmap_dir_offset, 1) == -1)
    return -1;

  for (i = 0; i < h->nb_bitmaps; i++) {
    uint64_t toff, ent;
    uint32_t tsize, extra;
    uint16_t name_size;

    if (h->bitmap_dir_size - pos < 24)
      return inconsistent (img, "bitmap directory truncated at entry", i);
    toff = blk_load_be64 (dir + pos);
    tsize = blk_load_be32 (dir + pos + 8);
    name_size = blk_load_be16 (dir + pos + 18);
    extra = blk_load_be32 (dir + pos + 20);
    ent = (24 + (uint64_t) extra + name_size + 7) & ~7ull;
    if (ent > h->bitmap_dir_size - pos)
      return inconsistent (img, "bitmap directory entry overruns the "
                           "directory, entry", i);
    r = add_table (img, l, toff, tsize, fsize);
    if (r != 1)
      return r;
    pos += ent;
  }

  /* Each cluster exactly once, and used by nothing else. */
  qsort (l->ptr, l->len, sizeof *l->ptr, cmp_u64);
  for (i = 0; i < l->len; i++) {
    if (i && l->ptr[i] == l->ptr[i - 1])
      return inconsistent (img, "cluster used twice by the bitmaps, offset",
                           l->ptr[i] * img->cluster_size);
    if (rc_get (img, l->ptr[i], &rc) == -1)
      return -1;
    if (rc != 1)
      return inconsistent (img, "bitmap cluster with a refcount other "
                           "than 1, offset", l->ptr[i] * img->cluster_size);
  }
  return 1;
}

int
qcow2_drop_bitmaps (struct qcow2_image *img)
{
  struct qcow2_header *h = &img->h;
  uint64_t off = h->bitmaps_ext_off, len = h->bitmaps_ext_len;
  uint64_t end = h->ext_end, autoclear, i;
  qcow2_u64s l = empty_vector;
  CLEANUP_FREE uint8_t *buf = NULL;
  int64_t fsize;
  int ok, e;

  /* The header area as it is on disk: rewritten with the extension
   * cut out and everything after it (up to the end of the extension
   * area, which stays where it is, as does a backing file name after
   * it) moved down.  It stays inside the first cluster.
   */
  if (end > img->cluster_size || off < h->header_length ||
      off > end || len > end - off) {
    nbdkit_error ("%s: internal error: bitmaps extension at %" PRIu64
                  "+%" PRIu64 " outside the header area (%" PRIu64 ")",
                  img->path, off, len, end);
    errno = EIO;
    return -1;
  }
  buf = malloc (end);
  fsize = store_size (img->file);
  if (buf == NULL || fsize == -1) {
    e = errno;
    nbdkit_error ("%s: %s", img->path, qcow2_errstr (e));
    errno = e;
    return -1;
  }
  if (store_pread (img->file, buf, end, 0, 1) == -1)
    goto io_error;

  /* With the bit already clear, something that does not know bitmaps
   * wrote the image (QEMU calls them inconsistent): their clusters may
   * have been reclaimed as leaks and reused since, so freeing them
   * could free live data.  Drop the extension, free nothing (as QEMU
   * does: the clusters show as leaks).
   */
  if (!(h->autoclear & QCOW2_AUTOCLEAR_BITMAPS))
    ok = inconsistent (img, "stale (autoclear bit already clear), "
                       "extension at offset", off);
  else
    ok = collect (img, &l, (uint64_t) fsize);
  if (ok == -1)
    goto io_error;

  /* All autoclear bits go, as for an image without bitmaps. */
  autoclear = 0;
  blk_store_be64 (buf + 88, autoclear);
  memmove (buf + off, buf + off + len, end - off - len);
  memset (buf + end - len, 0, len);
  if (store_pwrite (img->file, buf, end, 0, 1) == -1 ||
      store_flush (img->file) == -1)
    goto io_error;
  h->autoclear = autoclear;
  h->has_bitmaps_ext = 0;
  if (qcow2_debug_meta)
    nbdkit_debug ("qcow2: %s: bitmaps extension removed (%" PRIu32
                  " bitmaps), %zu clusters to free", img->path,
                  h->nb_bitmaps, ok ? l.len : 0);

  /* Only now, with the header synced, queue the decrements: they are
   * applied at the next flush, like every other free.
   */
  for (i = 0; ok && i < l.len; i++) {
    if (queue_free (img, l.ptr[i] * img->cluster_size, img->cluster_size) == -1) {
      /* Out of memory: the clusters not queued just leak. */
      break;
    }
  }
  qcow2_u64s_reset (&l);
  return 0;

 io_error:
  e = errno ? errno : EIO;
  qcow2_u64s_reset (&l);
  nbdkit_error ("%s: cannot prepare the image for writing: removing its "
                "persistent bitmaps (header extension, autoclear bit "
                "0x%" PRIx64 ") failed: %s", img->path,
                (uint64_t) QCOW2_AUTOCLEAR_BITMAPS, qcow2_errstr (e));
  errno = e;
  return -1;
}
