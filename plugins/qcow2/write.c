/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: the write path (write, zero, trim).
 *
 * Thread model (locks in image.h):
 * - Overwrites of clusters this image owns alone ("copied" flag set,
 *   and for extended L2 every touched subcluster allocated) take the
 *   fast path: L2 lookup under meta_lock, then the data write under
 *   free_lock shared, in parallel with everything else.
 * - Anything else takes the slow path for that one guest cluster:
 *   under meta_lock the cluster is marked in flight (a concurrent
 *   writer of the same cluster waits on inflight_cond), the L2 table
 *   is made writable (allocated or copied from a snapshot) and a host
 *   cluster allocated; then, without meta_lock, the old contents
 *   (backing file, compressed or shared cluster, zeroes) are merged
 *   with the new data and written; finally, under meta_lock again,
 *   the L2 entry is switched and the old clusters queued for freeing.
 *   The data is therefore written before the L2 entry that makes it
 *   visible, and different clusters allocate in parallel.
 *
 * meta_lock passes between functions (qcow2_write takes it, write_slow
 * releases it) and is handed over to free_lock for the I/O, so it is
 * locked and unlocked by hand; a scope that owns a lock from start to
 * end uses the cleanup.h guards (LOCK_GUARD, RWLOCK_RDLOCK_GUARD).
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "blk-hook.h"
#include "cleanup.h"
#include "cluster.h"
#include "image.h"
#include "minmax.h"

#define MAX_SEGS 64
#define ALL_SC 0xffffffffull

static int
inflight_has (struct qcow2_image *img, uint64_t g)
{
  size_t i;

  for (i = 0; i < img->inflight.len; i++)
    if (img->inflight.ptr[i] == g)
      return 1;
  return 0;
}

static int
inflight_add (struct qcow2_image *img, uint64_t g)
{
  if (qcow2_u64s_append (&img->inflight, g) == -1) {
    nbdkit_error ("%s: %s", img->path, qcow2_errstr (errno));
    return -1;
  }
  return 0;
}

static void
inflight_remove (struct qcow2_image *img, uint64_t g)
{
  size_t i;

  for (i = 0; i < img->inflight.len; i++)
    if (img->inflight.ptr[i] == g) {
      img->inflight.ptr[i] = img->inflight.ptr[--img->inflight.len];
      break;
    }
  pthread_cond_broadcast (&img->inflight_cond);
}

/* The guest contents of [within, within+n) of cluster G as they are
 * now (entry E/BM), into OUT.  Called without meta_lock, with
 * free_lock shared.
 */
static int
read_old (struct qcow2_image *img, uint64_t g, uint64_t e, uint64_t bm,
          uint64_t within, uint64_t n, uint8_t *out)
{
  uint64_t cs = img->cluster_size, goff = (g << img->cluster_bits) + within;
  uint64_t host = e & QCOW2_OFFSET_MASK;

  if (n == 0)
    return 0;
  blk_hook_event (BLK_EV_COW_READ);
  if (e & QCOW2_OFLAG_COMPRESSED) {
    uint8_t *c = malloc (cs);
    int r;
    if (c == NULL)
      return -1;
    r = read_compressed (img, e, c);
    if (r == 0)
      memcpy (out, c + within, n);
    free (c);
    return r;
  }
  if (img->extl2) {
    uint64_t scs = 1ull << img->sc_bits, p = within;
    while (p < within + n) {
      unsigned sc = (unsigned) (p >> img->sc_bits);
      uint64_t len = (sc + 1) * scs - p;
      int r;
      if (len > within + n - p)
        len = within + n - p;
      if ((bm >> sc) & 1)
        r = store_pread (img->data, out + (p - within), len, host + p, 0);
      else if ((bm >> (32 + sc)) & 1) {
        memset (out + (p - within), 0, len);
        r = 0;
      }
      else
        r = read_unallocated (img, out + (p - within), len,
                              (g << img->cluster_bits) + p);
      if (r == -1)
        return -1;
      p += len;
    }
    return 0;
  }
  if (e & QCOW2_OFLAG_ZERO) {
    memset (out, 0, n);
    return 0;
  }
  if (host == 0 && !(img->external_data && (e & QCOW2_OFLAG_COPIED)))
    return read_unallocated (img, out, n, goff);
  return store_pread (img->data, out, n, host + within, 0);
}

/* Slow path for one guest cluster.  Entered with meta_lock held;
 * returns with it released (the caller's lock is handed over, so the
 * lock/unlock pairs here stay explicit).  KNOWN: the caller's lookup
 * of this cluster under the same hold of meta_lock, or NULL.
 */
static int
write_slow (struct qcow2_image *img, const uint8_t *buf, uint64_t g,
            uint64_t within, uint64_t n, const struct qcow2_cluster *known)
{
  uint64_t cs = img->cluster_size, e, bm, host_old, H, e_new, bm_new = 0;
  uint64_t goff = (g << img->cluster_bits) + within;
  struct qcow2_cluster c;
  uint8_t *cbuf = NULL;
  int is_new = 0, in_place = 0, fresh = 0, r = -1;

  while (inflight_has (img, g)) {
    pthread_cond_wait (&img->inflight_cond, &img->meta_lock);
    known = NULL;               /* the lock was dropped meanwhile */
  }
  /* The caller's lookup still holds unless the L2 table must first be
   * made writable (allocated or copied from a snapshot).
   */
  if (known && known->table_writable)
    c = *known;
  else if (qcow2_cluster_lookup (img, goff, 1, &c) == -1)
    goto unlock_out;
  e = c.entry;
  bm = c.bitmap;
  if (qcow2_cluster_overwrite_ok (img, &c, within, n)) {
    /* Someone allocated it meanwhile. */
    RWLOCK_RDLOCK_GUARD (&img->free_lock);
    H = (e & QCOW2_OFFSET_MASK) + within;
    pthread_mutex_unlock (&img->meta_lock);
    blk_hook_event (BLK_EV_WRITE_AIO);
    return store_pwrite (img->data, buf, n, H, 0);
  }
  if (inflight_add (img, g) == -1)
    goto unlock_out;

  host_old = c.host;
  if (img->external_data) {
    H = g << img->cluster_bits;
    in_place = host_old == H && c.copied && !(e & QCOW2_OFLAG_ZERO);
  }
  else if (host_old) {          /* 0 for compressed clusters */
    uint64_t rc = 1;
    if (!c.copied &&
        rc_get (img, host_old >> img->cluster_bits, &rc) == -1)
      goto inflight_out;
    if (rc == 1) {
      H = host_old;
      /* Plain (non-zero) data stays valid in place; extended L2
       * tracks that per subcluster.
       */
      in_place = img->extl2 || !(e & QCOW2_OFLAG_ZERO);
    }
    else
      goto allocate;
  }
  else {
  allocate:
    {
      int64_t h = alloc_clusters (img, 1, &fresh);
      if (h == -1)
        goto inflight_out;
      H = (uint64_t) h;
      is_new = 1;
    }
  }

  /* Merge and write, outside meta_lock, under free_lock shared. */
  {
    RWLOCK_RDLOCK_GUARD (&img->free_lock);
    pthread_mutex_unlock (&img->meta_lock);
    cbuf = malloc (cs);
    if (cbuf == NULL) {
      nbdkit_error ("%s: %s", img->path, qcow2_errstr (errno));
      r = -1;
    }
    else if (in_place && img->extl2) {
      /* Fill only the subclusters that are not allocated yet: a
       * concurrent fast-path writer may own the allocated ones.
       */
      uint64_t scs = 1ull << img->sc_bits;
      unsigned sc;
      r = 0;
      for (sc = 0; sc < 32 && r == 0; sc++) {
        uint64_t a = sc * scs, b = a + scs, lo, hi;
        if ((bm >> sc) & 1) {          /* allocated: only our bytes */
          lo = MAX (within, a);
          hi = MIN (within + n, b);
          if (lo < hi)
            r = store_pwrite (img->data, buf + (lo - within), hi - lo,
                              H + lo, 0);
          continue;
        }
        r = read_old (img, g, e, bm, a, scs, cbuf + a);
        lo = MAX (within, a);
        hi = MIN (within + n, b);
        if (r == 0 && lo < hi)
          memcpy (cbuf + lo, buf + (lo - within), hi - lo);
        if (r == 0) {
          blk_hook_event (BLK_EV_COW_WRITE);
          r = store_pwrite (img->data, cbuf + a, scs, H + a, 0);
        }
      }
    }
    else if (fresh && c.reads_zero) {
      /* A brand-new cluster past the end of the file is a hole: only
       * our bytes need writing.
       */
      blk_hook_event (BLK_EV_WRITE_AIO);
      r = store_pwrite (img->data, buf, n, H + within, 0);
    }
    else if (in_place) {
      /* Old data valid where it is: write just ours. */
      blk_hook_event (BLK_EV_WRITE_AIO);
      r = store_pwrite (img->data, buf, n, H + within, 0);
    }
    else {
      r = read_old (img, g, e, bm, 0, within, cbuf);
      if (r == 0)
        r = read_old (img, g, e, bm, within + n, cs - within - n,
                      cbuf + within + n);
      if (r == 0) {
        memcpy (cbuf + within, buf, n);
        blk_hook_event (n == cs ? BLK_EV_WRITE_AIO : BLK_EV_COW_WRITE);
        r = store_pwrite (img->data, cbuf, cs, H, 0);
      }
    }
    free (cbuf);
  }
  pthread_mutex_lock (&img->meta_lock);
  if (r == 0) {
    /* meta_lock was dropped: the table may have left the cache. */
    r = qcow2_cluster_lookup (img, goff, 1, &c);
    if (r == 0) {
      e_new = H | QCOW2_OFLAG_COPIED;
      if (img->extl2)
        bm_new = ALL_SC;
      qcow2_cluster_set (img, &c, e_new, bm_new);
      if ((e & QCOW2_OFLAG_COMPRESSED) || (host_old && host_old != H))
        r = free_entry (img, e);
      if (qcow2_debug_meta)
        nbdkit_debug ("qcow2: %s: guest cluster %" PRIu64 " -> %" PRIu64
                      "%s", img->path, g, H, is_new ? " (new)" : "");
    }
  }
  if (r == -1 && is_new)
    queue_free (img, H, cs);    /* leak-proof: release it at flush */
 inflight_out:
  inflight_remove (img, g);
 unlock_out:
  pthread_mutex_unlock (&img->meta_lock);
  return r;
}

int
qcow2_write (struct qcow2_image *img, const void *vbuf, uint64_t count,
             uint64_t offset)
{
  const uint8_t *buf = vbuf;
  uint64_t end = offset + count, cs = img->cluster_size;

  if (img->readonly) {
    errno = EROFS;
    return -1;
  }
  if (qcow2_begin_writing (img) == -1)
    return -1;
  while (offset < end) {
    struct { uint64_t host, len, boff; } segs[MAX_SEGS];
    struct qcow2_cluster c;
    unsigned ns = 0, i;
    uint64_t pos = offset;
    int r = 0, looked_up = 0;

    pthread_mutex_lock (&img->meta_lock);
    while (pos < end && ns < MAX_SEGS) {
      uint64_t g = pos >> img->cluster_bits, within = pos & (cs - 1);
      uint64_t n = MIN (cs - within, end - pos);
      uint64_t host;

      looked_up = 0;
      if (inflight_has (img, g))
        break;
      if (qcow2_cluster_lookup (img, pos, 0, &c) == -1) {
        pthread_mutex_unlock (&img->meta_lock);
        return -1;
      }
      looked_up = 1;
      if (!qcow2_cluster_overwrite_ok (img, &c, within, n))
        break;
      looked_up = 0;
      host = c.host + within;
      if (ns && segs[ns - 1].host + segs[ns - 1].len == host)
        segs[ns - 1].len += n;
      else {
        segs[ns].host = host;
        segs[ns].len = n;
        segs[ns].boff = pos - offset;
        ns++;
      }
      pos += n;
    }
    if (ns == 0) {
      uint64_t g = pos >> img->cluster_bits, within = pos & (cs - 1);
      uint64_t n = MIN (cs - within, end - pos);
      /* C, when set, is this cluster's lookup under the lock held. */
      if (write_slow (img, buf, g, within, n, looked_up ? &c : NULL) == -1)
        return -1;
      buf += n;
      offset += n;
      continue;
    }
    {
      /* meta_lock, taken by hand above (write_slow may take it over),
       * is handed over to free_lock shared for the I/O.
       */
      RWLOCK_RDLOCK_GUARD (&img->free_lock);
      pthread_mutex_unlock (&img->meta_lock);
      for (i = 0; i < ns && r == 0; i++) {
        blk_hook_event (BLK_EV_WRITE_AIO);
        r = store_pwrite (img->data, buf + segs[i].boff, segs[i].len,
                          segs[i].host, 0);
      }
    }
    if (r == -1)
      return -1;
    buf += pos - offset;
    offset = pos;
  }
  return 0;
}

/* Write zeroes as data (partial clusters, v2 with a backing file...). */
static int
write_zero_bytes (struct qcow2_image *img, uint64_t off, uint64_t n)
{
  static const uint8_t zero[65536];

  while (n > 0) {
    uint64_t k = MIN (n, (uint64_t) sizeof zero);
    if (qcow2_write (img, zero, k, off) == -1)
      return -1;
    off += k;
    n -= k;
  }
  return 0;
}

/* Make full guest cluster G read as zeroes (TRIM: also unmap),
 * through its L2 entry.  Returns 1 if it had to fall back to writing
 * data (only possible when !trim), 0 if done, -1 on error.
 */
static int
zero_cluster (struct qcow2_image *img, uint64_t g, int may_unmap, int trim)
{
  int has_backing = img->backing || img->backing_raw;
  uint64_t e, bm, e_new, bm_new = 0, host;
  uint64_t goff = g << img->cluster_bits;
  struct qcow2_cluster c;
  LOCK_GUARD (&img->meta_lock);

  while (inflight_has (img, g))
    pthread_cond_wait (&img->inflight_cond, &img->meta_lock);
  if (qcow2_cluster_lookup (img, goff, 0, &c) == -1)
    return -1;
  e = c.entry;
  bm = c.bitmap;
  if (c.slot == NULL && (!has_backing || (trim && img->h.version < 3)))
    return 0;                   /* reads as zero/undefined already */
  host = e & QCOW2_OFFSET_MASK;
  if (img->h.version < 3) {
    if (!trim && (has_backing || !may_unmap))
      return 1;
    e_new = 0;
  }
  else if (img->extl2) {
    int keep = !trim && !may_unmap && host && (e & QCOW2_OFLAG_COPIED);
    e_new = keep ? e : 0;
    bm_new = (has_backing || !trim) ? ALL_SC << 32 : 0;
  }
  else {
    int keep = !trim && !may_unmap && (host || img->external_data) &&
      (e & QCOW2_OFLAG_COPIED) && !(e & QCOW2_OFLAG_COMPRESSED);
    if (keep)
      e_new = host | QCOW2_OFLAG_COPIED | QCOW2_OFLAG_ZERO;
    else
      e_new = (has_backing || !trim) ? QCOW2_OFLAG_ZERO : 0;
  }
  if (e_new == e && bm_new == bm)
    return 0;
  if (!c.table_writable) {
    if (qcow2_cluster_lookup (img, goff, 1, &c) == -1)
      return -1;
    e = c.entry;                /* copying the table may fix "copied" */
  }
  qcow2_cluster_set (img, &c, e_new, bm_new);
  if ((e_new & QCOW2_OFFSET_MASK) != host || (e & QCOW2_OFLAG_COMPRESSED))
    return free_entry (img, e);
  return 0;
}

/* Does all of guest cluster G read as zeroes already (so a partial
 * zero request has nothing to do)?  1 yes, 0 no, -1 error.
 */
static int
already_zero (struct qcow2_image *img, uint64_t g)
{
  struct qcow2_cluster c;
  LOCK_GUARD (&img->meta_lock);

  while (inflight_has (img, g))
    pthread_cond_wait (&img->inflight_cond, &img->meta_lock);
  if (qcow2_cluster_lookup (img, g << img->cluster_bits, 0, &c) == -1)
    return -1;
  return c.reads_zero;
}

int
qcow2_zero (struct qcow2_image *img, uint64_t count, uint64_t offset,
            int may_trim, int fast)
{
  uint64_t cs = img->cluster_size, end = offset + count;

  if (img->readonly) {
    errno = EROFS;
    return -1;
  }
  if (qcow2_begin_writing (img) == -1)
    return -1;
  /* A fast zero that cannot be done fast must fail before changing
   * anything: check every piece first.
   */
  if (fast) {
    uint64_t o = offset;
    int has_backing = img->backing || img->backing_raw;
    while (o < end) {
      uint64_t w = o & (cs - 1), k = MIN (cs - w, end - o);
      int whole = k == cs || (w == 0 && o + k == img->size);
      int ok = whole && (img->h.version >= 3 || (!has_backing && may_trim));
      if (!ok) {
        int z = already_zero (img, o >> img->cluster_bits);
        if (z == -1)
          return -1;
        if (z == 0) {
          errno = ENOTSUP;
          return -1;
        }
      }
      o += k;
    }
  }
  while (offset < end) {
    uint64_t within = offset & (cs - 1);
    uint64_t n = MIN (cs - within, end - offset);
    int whole = n == cs || (within == 0 && offset + n == img->size);
    int r;

    if (!whole) {
      r = already_zero (img, offset >> img->cluster_bits);
      if (r == 0) {
        if (fast) {
          errno = ENOTSUP;
          return -1;
        }
        r = write_zero_bytes (img, offset, n);
      }
      else if (r == 1)
        r = 0;
    }
    else {
      r = zero_cluster (img, offset >> img->cluster_bits, may_trim, 0);
      if (r == 1) {
        if (fast) {
          errno = ENOTSUP;
          return -1;
        }
        r = write_zero_bytes (img, offset, n);
      }
    }
    if (r == -1)
      return -1;
    offset += n;
  }
  return 0;
}

int
qcow2_trim (struct qcow2_image *img, uint64_t count, uint64_t offset)
{
  uint64_t cs = img->cluster_size, end = offset + count;
  uint64_t first = (offset + cs - 1) >> img->cluster_bits;
  uint64_t last = end >> img->cluster_bits, g;

  /* The last cluster of an image whose size is not a multiple of the
   * cluster size is whole when the request reaches the end.
   */
  if (end == img->size)
    last = (end + cs - 1) >> img->cluster_bits;

  if (img->readonly) {
    errno = EROFS;
    return -1;
  }
  if (qcow2_begin_writing (img) == -1)
    return -1;
  /* Only whole clusters can be released; the edges keep their data
   * (a trim is advisory).
   */
  for (g = first; g < last; g++)
    if (zero_cluster (img, g, 1, 1) == -1)
      return -1;
  return 0;
}
