/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: refcounts, cluster allocation, refcount-table
 * growth and deferred frees.
 *
 * Thread model: every function here runs with img->meta_lock held;
 * apply_pending_frees additionally needs free_lock held exclusively
 * (see image.h).
 *
 * Refcount blocks are cached (img->rbc) in their on-disk byte order.
 * A dirty refcount block may be written at any time: more references
 * counted than exist is only a leak.  Decrements are never made
 * directly: queue_free records them and apply_pending_frees runs them
 * at flush, after the tables that dropped the reference are on disk.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "blk-hook.h"
#include "image.h"
#include "rounding.h"

static uint64_t
rb_read (struct qcow2_image *img, const uint8_t *d, uint64_t i)
{
  switch (img->refcount_order) {
  case 0: return (d[i / 8] >> (i % 8)) & 1;
  case 1: return (d[i / 4] >> (2 * (i % 4))) & 3;
  case 2: return (d[i / 2] >> (4 * (i % 2))) & 15;
  case 3: return d[i];
  case 4: return blk_load_be16 (d + 2 * i);
  case 5: return blk_load_be32 (d + 4 * i);
  default: return blk_load_be64 (d + 8 * i);
  }
}

static void
rb_write (struct qcow2_image *img, uint8_t *d, uint64_t i, uint64_t v)
{
  unsigned sh;

  switch (img->refcount_order) {
  case 0: sh = i % 8; d[i / 8] = (d[i / 8] & ~(1u << sh)) | (v << sh); break;
  case 1: sh = 2 * (i % 4); d[i / 4] = (d[i / 4] & ~(3u << sh)) | (v << sh); break;
  case 2: sh = 4 * (i % 2); d[i / 2] = (d[i / 2] & ~(15u << sh)) | (v << sh); break;
  case 3: d[i] = (uint8_t) v; break;
  case 4: d[2 * i] = (uint8_t) (v >> 8); d[2 * i + 1] = (uint8_t) v; break;
  case 5: blk_store_be32 (d + 4 * i, (uint32_t) v); break;
  default: blk_store_be64 (d + 8 * i, v); break;
  }
}

static int
write_rb_slot (struct qcow2_image *img, struct mslot *s)
{
  blk_hook_event (BLK_EV_REFBLOCK_UPDATE);
  if (store_pwrite (img->file, s->data, img->cluster_size, s->offset, 1) == -1)
    return -1;
  mcache_mark_clean (&img->rbc, s);
  return 0;
}

static int
write_reftable (struct qcow2_image *img)
{
  size_t n = img->reftable_entries * 8;
  uint8_t *buf = malloc (n);
  uint64_t i;
  int r;

  if (buf == NULL) {
    nbdkit_error ("%s: %s", img->path, qcow2_errstr (errno));
    return -1;
  }
  for (i = 0; i < img->reftable_entries; i++)
    blk_store_be64 (buf + i * 8, img->reftable[i]);
  blk_hook_event (BLK_EV_REFTABLE_UPDATE);
  r = store_pwrite (img->file, buf, n, img->h.refcount_table_offset, 1);
  free (buf);
  if (r == 0)
    img->reftable_dirty = 0;
  return r;
}

int
rc_writeback_all (struct qcow2_image *img)
{
  unsigned i;

  for (i = 0; i < img->rbc.n && img->rbc.ndirty; i++) {
    struct mslot *s = &img->rbc.slots[i];
    if (s->valid && s->dirty && write_rb_slot (img, s) == -1)
      return -1;
  }
  if (img->reftable_dirty && write_reftable (img) == -1)
    return -1;
  return 0;
}

static struct mslot *
take_slot (struct qcow2_image *img)
{
  struct mslot *s = mcache_victim (&img->rbc);

  if (s == NULL) {
    nbdkit_error ("%s: cannot allocate a metadata cache slot: %s",
                  img->path, qcow2_errstr (ENOMEM));
    errno = ENOMEM;
    return NULL;
  }
  if (s->valid && s->dirty && write_rb_slot (img, s) == -1)
    return NULL;
  mcache_drop (&img->rbc, s);
  return s;
}

static int grow_reftable (struct qcow2_image *img, uint64_t need);

static void
note_end (struct qcow2_image *img, uint64_t cluster_end)
{
  if (cluster_end > img->host_end)
    img->host_end = cluster_end;
}

/* A store that does not grow on write (rbd) must be grown before
 * anything is written past its end (store.h).
 */
static int
ensure_grown (struct qcow2_image *img, uint64_t cluster_end)
{
  uint64_t bytes = cluster_end * img->cluster_size;

  if ((img->file->caps & STORE_EXTENDS_ON_WRITE) || bytes <= img->grown_to)
    return 0;
  if (store_grow (img->file, bytes) == -1)
    return -1;
  img->grown_to = bytes;
  return 0;
}

/* The refcount block B.  CREATE: allocate it if missing (the block
 * lives in the first cluster of the range it covers, which is free
 * since nothing in that range has a refcount yet).  Returns 0 with
 * *S == NULL if it does not exist and !CREATE.
 */
static int
rb_get (struct qcow2_image *img, uint64_t b, int create, struct mslot **sp)
{
  struct mslot *s;
  uint64_t off;

  *sp = NULL;
  if (b >= img->reftable_entries) {
    if (!create)
      return 0;
    if (grow_reftable (img, b) == -1)
      return -1;
  }
  off = img->reftable[b] & QCOW2_OFFSET_MASK;
  if (off == 0) {
    uint64_t c = b * img->rb_entries;

    if (!create)
      return 0;
    if (c == 0) {
      nbdkit_error ("%s: corrupt image: no refcount block for the header",
                    img->path);
      errno = EIO;
      return -1;
    }
    blk_hook_event (BLK_EV_REFBLOCK_ALLOC);
    s = take_slot (img);
    if (s == NULL)
      return -1;
    memset (s->data, 0, img->cluster_size);
    mcache_install (&img->rbc, s, b, c * img->cluster_size);
    rb_write (img, s->data, 0, 1);        /* it counts itself */
    blk_hook_event (BLK_EV_REFBLOCK_ALLOC_WRITE);
    mcache_mark_dirty (&img->rbc, s);
    blk_hook_event (BLK_EV_REFBLOCK_ALLOC_HOOKUP);
    img->reftable[b] = c * img->cluster_size;
    img->reftable_dirty = 1;
    img->wrote_meta = 1;
    note_end (img, c + 1);
    if (qcow2_debug_meta)
      nbdkit_debug ("qcow2: %s: new refcount block %" PRIu64 " at %" PRIu64,
                    img->path, b, c * img->cluster_size);
    *sp = s;
    return 0;
  }
  s = mcache_find (&img->rbc, b);
  if (s == NULL) {
    if ((off & (img->cluster_size - 1)) ||
        off / img->cluster_size >= img->host_end) {
      nbdkit_error ("%s: refcount table entry %" PRIu64 " points to offset %"
                    PRIu64 ", not a cluster in the file", img->path, b, off);
      errno = EIO;
      return -1;
    }
    s = take_slot (img);
    if (s == NULL)
      return -1;
    blk_hook_event (BLK_EV_REFBLOCK_LOAD);
    if (store_pread (img->file, s->data, img->cluster_size, off, 1) == -1)
      return -1;
    mcache_install (&img->rbc, s, b, off);
  }
  *sp = s;
  return 0;
}

int
rc_get (struct qcow2_image *img, uint64_t cluster, uint64_t *rc)
{
  struct mslot *s;

  if (rb_get (img, cluster / img->rb_entries, 0, &s) == -1)
    return -1;
  *rc = s ? rb_read (img, s->data, cluster % img->rb_entries) : 0;
  return 0;
}

int
rc_add (struct qcow2_image *img, uint64_t cluster, int64_t delta)
{
  struct mslot *s;
  uint64_t v, i = cluster % img->rb_entries;

  /* A decrement never creates a block: no block means refcount 0. */
  if (rb_get (img, cluster / img->rb_entries, delta > 0, &s) == -1)
    return -1;
  v = s ? rb_read (img, s->data, i) : 0;
  if ((delta < 0 && v < (uint64_t) -delta) ||
      (delta > 0 && img->rc_max - v < (uint64_t) delta)) {
    nbdkit_error ("%s: refcount of cluster %" PRIu64 " would %s (is %" PRIu64
                  "): the image's refcounts are inconsistent, run "
                  "'qemu-img check -r all'", img->path, cluster,
                  delta < 0 ? "drop below 0" : "overflow", v);
    errno = EIO;
    return -1;
  }
  rb_write (img, s->data, i, v + (uint64_t) delta);
  mcache_mark_dirty (&img->rbc, s);
  img->wrote_meta = 1;
  return 0;
}

int64_t
alloc_clusters (struct qcow2_image *img, uint64_t n, int *fresh)
{
  uint64_t c = img->free_hint, rc;

  if (n != 1) {                 /* the engine only needs single clusters */
    errno = EINVAL;
    return -1;
  }
  for (;;) {
    uint64_t b = c / img->rb_entries;
    struct mslot *s;

    if (b >= img->reftable_entries || (img->reftable[b] & QCOW2_OFFSET_MASK) == 0) {
      /* Creates the block (and grows the table); loop to look again. */
      if (rb_get (img, b, 1, &s) == -1)
        return -1;
      continue;
    }
    if (rb_get (img, b, 0, &s) == -1)
      return -1;
    rc = rb_read (img, s->data, c % img->rb_entries);
    if (rc == 0)
      break;
    c++;
  }
  if (rc_add (img, c, 1) == -1)
    return -1;
  blk_hook_event (BLK_EV_CLUSTER_ALLOC);
  /* Past everything the file ever held: it reads as zeroes already. */
  if (fresh)
    *fresh = c >= img->host_end;
  img->free_hint = c + 1;
  note_end (img, c + 1);
  if (ensure_grown (img, c + 1) == -1)
    return -1;
  return (int64_t) (c * img->cluster_size);
}

/* Grow the refcount table so that block NEED has an entry.  The new
 * table and the refcount blocks needed to count it go after
 * everything allocated; they are written, then the header switches
 * to the new table, then the old table is queued for freeing.
 */
static int
grow_reftable (struct qcow2_image *img, uint64_t need)
{
  uint64_t cs = img->cluster_size, E = img->rb_entries;
  uint64_t per_cluster = cs / 8;
  uint64_t old_n = img->reftable_entries, new_n, tclusters, P, k, end, b, j;
  uint64_t old_off = img->h.refcount_table_offset;
  uint32_t old_clusters = img->h.refcount_table_clusters;
  uint64_t *nt;
  uint8_t *blk = NULL;
  uint8_t hdr[QCOW2_V3_HEADER_LEN];
  size_t hlen;

  if (need >= QCOW2_MAX_REFTABLE_BYTES / 8) {
    nbdkit_error ("%s: cluster %" PRIu64 " is beyond the largest possible "
                  "refcount table", img->path, need * E);
    errno = ENOSPC;
    return -1;
  }
  blk_hook_event (BLK_EV_REFTABLE_GROW);
  new_n = old_n * 2;
  if (new_n < need + 1)
    new_n = need + 1;
  if (new_n > QCOW2_MAX_REFTABLE_BYTES / 8)
    new_n = QCOW2_MAX_REFTABLE_BYTES / 8;
  for (;;) {
    new_n = div_round_up (new_n, per_cluster) * per_cluster;
    tclusters = new_n / per_cluster;
    P = img->host_end;
    k = 0;
    for (;;) {                  /* blocks to add for [P, P+tclusters+k) */
      uint64_t k2 = 0;
      end = P + tclusters + k;
      for (b = P / E; b <= (end - 1) / E; b++)
        if (b >= old_n || (img->reftable[b] & QCOW2_OFFSET_MASK) == 0)
          k2++;
      if (k2 == k)
        break;
      k = k2;
    }
    if ((end - 1) / E < new_n)
      break;
    new_n = (end - 1) / E + 1;
  }
  if ((uint64_t) tclusters * cs > QCOW2_MAX_REFTABLE_BYTES) {
    nbdkit_error ("%s: the refcount table would exceed %u bytes", img->path,
                  QCOW2_MAX_REFTABLE_BYTES);
    errno = ENOSPC;
    return -1;
  }

  nt = calloc (new_n, sizeof *nt);
  blk = malloc (cs);
  if (nt == NULL || blk == NULL || mcache_resize (&img->rbc, new_n) == -1) {
    nbdkit_error ("%s: %s", img->path, qcow2_errstr (errno));
    free (nt); free (blk);
    return -1;
  }
  memcpy (nt, img->reftable, old_n * sizeof *nt);
  if (ensure_grown (img, end) == -1)
    goto fail;

  /* Count the new clusters in the blocks that exist already. */
  for (j = P; j < end; j++) {
    b = j / E;
    if (b < old_n && (img->reftable[b] & QCOW2_OFFSET_MASK)) {
      if (rc_add (img, j, 1) == -1)
        goto fail;
    }
  }
  /* Write the new blocks (at P+tclusters...), each counting the new
   * clusters of its own range.
   */
  blk_hook_event (BLK_EV_REFBLOCK_ALLOC_WRITE_BLOCKS);
  j = P + tclusters;
  for (b = P / E; b <= (end - 1) / E; b++) {
    uint64_t c;
    if (b < old_n && (img->reftable[b] & QCOW2_OFFSET_MASK))
      continue;
    memset (blk, 0, cs);
    for (c = b * E; c < (b + 1) * E; c++)
      if (c >= P && c < end)
        rb_write (img, blk, c - b * E, 1);
    if (store_pwrite (img->file, blk, cs, j * cs, 1) == -1)
      goto fail;
    nt[b] = j * cs;
    j++;
  }
  if (rc_writeback_all (img) == -1)
    goto fail;
  /* Write the new table. */
  blk_hook_event (BLK_EV_REFBLOCK_ALLOC_WRITE_TABLE);
  free (blk);
  blk = calloc (tclusters, cs);
  if (blk == NULL) {
    nbdkit_error ("%s: %s", img->path, qcow2_errstr (errno));
    goto fail;
  }
  for (b = 0; b < new_n; b++)
    blk_store_be64 (blk + b * 8, nt[b]);
  if (store_pwrite (img->file, blk, tclusters * cs, P * cs, 1) == -1 ||
      store_flush (img->file) == -1)
    goto fail;
  /* Switch the header to it. */
  blk_hook_event (BLK_EV_REFBLOCK_ALLOC_SWITCH_TABLE);
  img->h.refcount_table_offset = P * cs;
  img->h.refcount_table_clusters = (uint32_t) tclusters;
  hlen = qcow2_header_encode (&img->h, hdr, sizeof hdr);
  if (store_pwrite (img->file, hdr, hlen, 0, 1) == -1 ||
      store_flush (img->file) == -1) {
    img->h.refcount_table_offset = old_off;
    img->h.refcount_table_clusters = old_clusters;
    goto fail;
  }
  free (img->reftable);
  img->reftable = nt;
  img->reftable_entries = new_n;
  img->reftable_dirty = 0;
  note_end (img, end);
  if (queue_free (img, old_off, (uint64_t) old_clusters * cs) == -1)
    return -1;
  if (qcow2_debug_meta)
    nbdkit_debug ("qcow2: %s: refcount table grown to %" PRIu64
                  " entries at %" PRIu64, img->path, new_n, P * cs);
  free (blk);
  return 0;

 fail:
  free (nt);
  free (blk);
  return -1;
}

int
queue_free (struct qcow2_image *img, uint64_t host_off, uint64_t len)
{
  uint64_t c, first = host_off / img->cluster_size;
  uint64_t last = (host_off + len - 1) / img->cluster_size;

  if (len == 0)
    return 0;
  for (c = first; c <= last; c++) {
    if (qcow2_u64s_append (&img->pending, c) == -1) {
      nbdkit_error ("%s: %s", img->path, qcow2_errstr (errno));
      return -1;
    }
  }
  img->wrote_meta = 1;
  return 0;
}

/* Queue the release of whatever host clusters L2 entry E references. */
int
free_entry (struct qcow2_image *img, uint64_t e)
{
  uint64_t off, len;

  if (e & QCOW2_OFLAG_COMPRESSED) {
    compressed_range (img, e, &off, &len);
    return queue_free (img, off, len);
  }
  off = e & QCOW2_OFFSET_MASK;
  if (off == 0 || img->external_data)
    return 0;
  return queue_free (img, off, img->cluster_size);
}

int
apply_pending_frees (struct qcow2_image *img)
{
  size_t i;

  for (i = 0; i < img->pending.len; i++) {
    uint64_t c = img->pending.ptr[i], rc;

    if (rc_add (img, c, -1) == -1) {
      /* Drop the bad one, keep the rest queued (dropping only leaks). */
      memmove (img->pending.ptr, img->pending.ptr + i + 1,
               (img->pending.len - i - 1) * sizeof *img->pending.ptr);
      img->pending.len -= i + 1;
      return -1;
    }
    if (rc_get (img, c, &rc) == 0 && rc == 0) {
      blk_hook_event (BLK_EV_CLUSTER_FREE);
      if (c < img->free_hint)
        img->free_hint = c;
    }
  }
  qcow2_u64s_clear (&img->pending);
  return 0;
}
