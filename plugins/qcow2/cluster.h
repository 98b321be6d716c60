/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: guest cluster -> host cluster, in one L2 access.
 *
 * Everything the read, write, zero and extents paths need to know
 * about one guest cluster comes from qcow2_cluster_lookup: the raw L2
 * entry and subcluster bitmap (validated once), the host offset, what
 * the looked-up byte reads as, whether this image owns the host
 * cluster alone ("copied"), whether the L2 table can be changed in
 * place, and whether the whole cluster reads as zeroes.  Callers
 * decide from that struct instead of decoding the entry again.  The
 * L2 tables themselves (cache, allocation, copy-on-write) are l2.c's.
 *
 * Thread model: called with img->meta_lock held; the result describes
 * the image only while that lock stays held (after dropping it, look
 * the cluster up again: its L2 table may have left the cache).
 */
#ifndef QCOW2_CLUSTER_H
#define QCOW2_CLUSTER_H

#include <stdint.h>

#include "image.h"

struct qcow2_cluster {
  uint64_t g;                   /* guest cluster number */
  struct mslot *slot;           /* its L2 table in the cache; NULL: none */
  uint64_t l2_idx;              /* index of the entry in that table */
  uint64_t entry;               /* the raw L2 entry (0 without a table) */
  uint64_t bitmap;              /* extended L2: subcluster bitmap; else 0 */
  uint64_t host;                /* host offset of the cluster's data (0:
                                 * none; always 0 for compressed ones) */
  enum seg_type kind;           /* what the looked-up byte reads as */
  uint64_t run;                 /* bytes from it on of the same kind: to the
                                 * cluster's end (or the L2 table's reach,
                                 * without a table), shorter where the
                                 * subcluster states change */
  int copied;                   /* this image alone owns the host cluster */
  int table_writable;           /* the L2 table may be changed in place
                                 * (an ALLOC lookup would do nothing more) */
  int reads_zero;               /* the whole cluster reads as zeroes */
};

/* Look up guest byte OFF.  ALLOC: make the L2 table writable first
 * (allocate it, or copy it away from a snapshot), so that the entry
 * can be changed with qcow2_cluster_set.  Returns 0, or -1 with errno
 * and nbdkit_error (corrupt entry or bitmap, I/O error).
 */
extern int qcow2_cluster_lookup (struct qcow2_image *img, uint64_t off,
                                 int alloc, struct qcow2_cluster *c);

/* May bytes [WITHIN, WITHIN+N) of cluster C be overwritten in place,
 * without touching any metadata?
 */
extern int qcow2_cluster_overwrite_ok (const struct qcow2_image *img,
                                       const struct qcow2_cluster *c,
                                       uint64_t within, uint64_t n);

/* Set C's L2 entry (C from an ALLOC lookup, meta_lock still held). */
static inline void
qcow2_cluster_set (struct qcow2_image *img, const struct qcow2_cluster *c,
                   uint64_t entry, uint64_t bitmap)
{
  l2_set (img, c->slot, c->l2_idx, entry, bitmap);
}

/* What guest [OFF, OFF+MAXLEN) starts with, as a segment for the read
 * and extents paths: one lookup, the run cut to MAXLEN.
 */
extern int qcow2_map (struct qcow2_image *img, uint64_t off, uint64_t maxlen,
                      struct seg *s);

#endif /* QCOW2_CLUSTER_H */
