/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: an open qcow2 image and the engine's entry points.
 *
 * Locks (one set per image; a backing image has its own):
 *
 * - meta_lock (mutex) guards every piece of metadata: the header copy,
 *   the L1 table, the refcount table, both table caches, the
 *   allocator's hint and end, the pending-free list and the in-flight
 *   allocation set.  It is held only for lookups and metadata updates,
 *   never across guest data I/O (metadata loads on a cache miss and
 *   the write-back at flush do run under it).
 *
 * - free_lock (rwlock, writer-preferring) keeps a host cluster from
 *   being freed and reused while a request reads or writes it outside
 *   meta_lock: data I/O holds it shared; applying the pending frees
 *   (only at flush) holds it exclusive.  Rule: free_lock is acquired
 *   only while holding meta_lock, and meta_lock is never acquired
 *   while holding free_lock.  So: lookup under meta_lock, take
 *   free_lock shared, drop meta_lock, do the I/O, drop free_lock.
 *
 * - inflight (under meta_lock, with inflight_cond) holds the guest
 *   clusters whose allocation is in progress: a second writer to the
 *   same cluster waits instead of allocating it twice.
 *
 * Crash safety: refcount increments reach the disk (and a flush)
 * before any L2/L1 entry that uses the cluster; L2 tables before the
 * L1 entries pointing to them; decrements (frees) are queued and only
 * applied after the tables no longer referencing the cluster are on
 * disk.  A crash can therefore only leak clusters.
 */
#ifndef QCOW2_IMAGE_H
#define QCOW2_IMAGE_H

#include <pthread.h>
#include <stdint.h>

#include "store.h"
#include "cache.h"
#include "header.h"
#include "lock.h"
#include "vector.h"

struct qcow2_options {
  int readonly;
  int backing;                  /* open the backing chain (default on) */
  const char *backing_dir;      /* NULL: the image's own directory */
  const char *snapshot;         /* export this snapshot read-only */
  uint64_t cache_size;          /* bytes for L2 + refcount caches */
  int discard;                  /* honour trim */
  int locking;                  /* enum qcow2_locking (lock.h) */
  /* Set by the engine when it opens a backing image: */
  const struct qcow2_image *overlay; /* the image whose backing this is */
  struct mcache_budget *budget; /* shared by the chain's backing images */
};

/* What a guest range maps to (after the L2 lookup). */
enum seg_type {
  SEG_UNALLOC,                  /* read from the backing file or zero */
  SEG_ZERO,                     /* reads as zero */
  SEG_DATA,                     /* host data at host_off */
  SEG_COMPRESSED,               /* compressed cluster (whole cluster) */
};

struct seg {
  enum seg_type t;
  uint64_t len;                 /* bytes of guest data in this run */
  uint64_t host;                /* SEG_DATA: host offset of the start */
  uint64_t entry;               /* the raw L2 entry */
};

/* A list of cluster or guest-cluster numbers (common/include/vector.h). */
DEFINE_VECTOR_TYPE (qcow2_u64s, uint64_t);

struct qcow2_image {
  char *path;
  struct qcow2_store *file;         /* the qcow2 file itself */
  struct qcow2_store *data;         /* external data file, or == file */
  struct qcow2_image *backing;  /* qcow2 backing image, or NULL */
  struct qcow2_store *backing_raw;  /* raw backing file, or NULL */
  uint64_t backing_size;        /* virtual size of the backing */
  int readonly;
  /* Set (with readonly) when the image can only be served read-only
   * because of its state (corrupt, dirty): why, for the message that
   * refuses a read-write connection.  NULL otherwise. */
  const char *write_refused;
  int locking;                  /* enum qcow2_locking */
  int write_locked;             /* writer's locks taken (meta_lock) */
  int depth;
  /* Backing chain: the overlay above this image (NULL at the top),
   * this file's identity (have_id: a local file) to refuse loops, and
   * (top image only) the cache budget its backing images share.
   */
  const struct qcow2_image *overlay;
  uint64_t dev, ino;
  int have_id;
  struct mcache_budget *backing_budget;

  struct qcow2_header h;
  unsigned cluster_bits;
  uint64_t cluster_size;
  unsigned l2_bits;             /* log2 entries per L2 table */
  unsigned esize;               /* L2 entry size: 8 or 16 */
  int extl2;
  unsigned sc_bits;             /* log2 subcluster size */
  int external_data;
  uint64_t size;                /* exported virtual size */

  /* L1 table (active, or a snapshot's), host-endian. */
  uint64_t *l1;
  uint32_t l1_size;
  uint64_t l1_offset;
  int l1_dirty;

  /* Refcounts. */
  uint64_t *reftable;           /* host-endian */
  uint64_t reftable_entries;
  int reftable_dirty;
  unsigned refcount_order;
  uint64_t rb_entries;          /* refcounts per block */
  uint64_t rc_max;

  struct mcache l2c, rbc;
  pthread_mutex_t meta_lock;
  pthread_rwlock_t free_lock;
  pthread_cond_t inflight_cond;
  qcow2_u64s inflight;          /* guest clusters being allocated */

  qcow2_u64s pending;           /* clusters to decrement at flush */
  uint64_t free_hint;           /* lowest cluster that may be free */
  uint64_t host_end;            /* clusters: past everything allocated */
  uint64_t grown_to;            /* bytes the store was grown to */
  int lazy;                     /* lazy refcounts: dirty bit, no ordering */
  int dirty_set;                /* we set the dirty bit in the header */
  int dirty_data;               /* data written since the last flush */
  int wrote_meta;               /* metadata changed since open */
  int write_ready;              /* header changes for writing done
                                 * (qcow2_begin_writing; set under
                                 * meta_lock, read atomically) */
};

/* image.c */
extern struct qcow2_image *qcow2_open (const char *path,
                                       const struct qcow2_options *o,
                                       int depth);
/* Open an image on an already open store FILE (taken over,
 * closed on failure too).  PATH names it in messages and anchors
 * relative backing/data file names; with o->backing_dir NULL no
 * backing or data file is opened.  This is the entry point for
 * non-file stores (rbd).
 */
extern struct qcow2_image *qcow2_open_store (struct qcow2_store *file,
                                             const char *path,
                                             const struct qcow2_options *o,
                                             int depth);
/* Writes everything back (read-write image) and frees IMG.  -1 (and
 * nbdkit_error naming the image) if that final flush failed: data
 * acknowledged to clients may be lost.
 */
extern int qcow2_close (struct qcow2_image *img);
/* Upgrade the image's (and data file's) locks to a writer's, once;
 * 0, or -1 with nbdkit_error ("another process is using the image").
 * A no-op for a read-only image.
 */
extern int qcow2_lock_for_writing (struct qcow2_image *img);
extern int qcow2_flush (struct qcow2_image *img);
/* Lazy refcounts: set the dirty bit on disk before the first
 * metadata write-back (meta_lock held). */
extern int qcow2_lazy_mark_dirty (struct qcow2_image *img);
/* Called at the start of every write-class request (write, zero,
 * trim): the first one makes the header changes a writer owes the
 * image (autoclear bits), under meta_lock, exactly once; later calls
 * cost one atomic load.  Nothing is written at open.  -1 + errno (and
 * nbdkit_error) if they cannot be made: the request fails.
 */
extern int qcow2_begin_writing (struct qcow2_image *img);
/* bitmaps.c (meta_lock held, from begin_writing): remove the
 * persistent bitmaps header extension, clear the autoclear bits
 * (header written and synced), then queue the frees of the bitmaps'
 * clusters if the directory and tables check out.  -1 + errno (and
 * nbdkit_error) if the header could not be read or written.
 */
extern int qcow2_drop_bitmaps (struct qcow2_image *img);
/* Create a new empty v3 image (create=SIZE). */
extern int qcow2_create (const char *path, uint64_t size,
                         unsigned cluster_bits);

/* l2.c (meta_lock held) */
extern int l2_get (struct qcow2_image *img, uint64_t l1_idx, int alloc,
                   struct mslot **slot);
extern int l2_writeback_all (struct qcow2_image *img);
static inline uint64_t
l2_entry (struct qcow2_image *img, struct mslot *s, uint64_t i,
          uint64_t *bitmap)
{
  const uint8_t *p = s->data + i * img->esize;
  if (bitmap)
    *bitmap = img->extl2 ? blk_load_be64 (p + 8) : 0;
  return blk_load_be64 (p);
}
extern void l2_set (struct qcow2_image *img, struct mslot *s, uint64_t i,
                    uint64_t e, uint64_t bitmap);
extern int l2_check_entry (struct qcow2_image *img, uint64_t e,
                           uint64_t guest_off);
extern void compressed_range (struct qcow2_image *img, uint64_t e,
                              uint64_t *off, uint64_t *len);

/* refcount.c (meta_lock held) */
extern int rc_get (struct qcow2_image *img, uint64_t cluster, uint64_t *rc);
extern int rc_add (struct qcow2_image *img, uint64_t cluster, int64_t delta);
/* One new cluster (N must be 1), refcount 1.  *FRESH (if not NULL):
 * it lies past anything the file held, so it reads as zeroes. */
extern int64_t alloc_clusters (struct qcow2_image *img, uint64_t n,
                               int *fresh);
extern int queue_free (struct qcow2_image *img, uint64_t host_off,
                       uint64_t len);
extern int free_entry (struct qcow2_image *img, uint64_t e);
extern int rc_writeback_all (struct qcow2_image *img);
extern int apply_pending_frees (struct qcow2_image *img);

/* read.c */
extern int qcow2_read (struct qcow2_image *img, void *buf, uint64_t count,
                       uint64_t offset);
extern int read_unallocated (struct qcow2_image *img, uint8_t *buf,
                             uint64_t n, uint64_t off);
extern int read_compressed (struct qcow2_image *img, uint64_t e,
                            uint8_t *cluster_buf);

/* write.c */
extern int qcow2_write (struct qcow2_image *img, const void *buf,
                        uint64_t count, uint64_t offset);
extern int qcow2_zero (struct qcow2_image *img, uint64_t count,
                       uint64_t offset, int may_trim, int fast);
extern int qcow2_trim (struct qcow2_image *img, uint64_t count,
                       uint64_t offset);

/* extents.c */
struct nbdkit_extents;
extern int qcow2_extents (struct qcow2_image *img, uint64_t count,
                          uint64_t offset, struct nbdkit_extents *ext);

/* compress.c */
extern int qcow2_decompress (int type, const uint8_t *in, size_t inlen,
                             uint8_t *out, size_t outlen);

/* Debug flag -D qcow2.meta=1 (qcow2.c). */
extern int qcow2_debug_meta;

#endif /* QCOW2_IMAGE_H */
