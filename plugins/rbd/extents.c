/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: block status of an RBD image from rbd_diff_iterate2.
 *
 * Diffing from "the beginning of time" (no from-snapshot) lists the
 * allocated ranges; everything else reads as zeroes and is a hole.
 * librbd may report ranges per object and, with concurrent object
 * requests, not in order: collect, sort, then emit contiguous extents
 * as nbdkit requires.
 *
 * Granularity: with the fast-diff feature librbd answers from the
 * object map without asking the OSDs, but only per whole object (and
 * only in whole-object mode); without fast-diff it must ask every
 * object in the range anyway, and then exact extents cost no more.
 * So whole_object follows fast-diff.
 *
 * Shared state: none (a request's ranges live in its own array).
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "rbd.h"
#include "vector.h"

struct range { uint64_t off, len; };
DEFINE_VECTOR_TYPE (range_vector, struct range);

struct ranges {
  range_vector v;
  uint64_t lo, hi;              /* the requested range */
};

bool
blkrbd_whole_object (void)
{
  return (blkrbd_conn.features & RBD_FEATURE_FAST_DIFF) != 0;
}

static int
collect (uint64_t off, size_t len, int exists, void *arg)
{
  struct ranges *rs = arg;
  uint64_t end = off + len;

  if (!exists)
    return 0;
  /* Whole-object answers overhang the requested range: clip. */
  if (off < rs->lo) off = rs->lo;
  if (end > rs->hi) end = rs->hi;
  if (off >= end)
    return 0;
  if (range_vector_append (&rs->v, (struct range) { off, end - off }) == -1)
    return -ENOMEM;
  return 0;
}

static int
cmp_range (const void *a, const void *b)
{
  const struct range *x = a, *y = b;

  return x->off < y->off ? -1 : x->off > y->off;
}

/* Returns 0 or a positive errno. */
int
blkrbd_extents (uint32_t count, uint64_t offset, struct nbdkit_extents *ex)
{
  struct ranges rs = { .v = empty_vector, .lo = offset, .hi = offset + count };
  struct blk_hook_io io = BLK_HOOK_IO_INIT (BLK_IO_EXTENTS, offset, count,
                                            "librbd");
  uint64_t pos;
  size_t i;
  int r;

  r = blk_hook_io_begin (&io);
  if (r == 0) {
    r = rbd_diff_iterate2 (blkrbd_conn.image, NULL, offset, count, 1,
                           blkrbd_whole_object (), collect, &rs);
    r = r < 0 ? -r : 0;
  }
  blk_hook_io_end (&io, r);
  if (r) {
    range_vector_reset (&rs.v);
    return r;
  }

  if (rs.v.len > 1)             /* rs.v.ptr is NULL when nothing was found */
    qsort (rs.v.ptr, rs.v.len, sizeof *rs.v.ptr, cmp_range);
  pos = offset;
  for (i = 0; i < rs.v.len; i++) {
    uint64_t off = rs.v.ptr[i].off, end = off + rs.v.ptr[i].len;

    if (end <= pos)             /* overlaps what was emitted */
      continue;
    if (off < pos)
      off = pos;
    if (off > pos &&
        nbdkit_add_extent (ex, pos, off - pos,
                           NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO) == -1)
      goto err;
    if (nbdkit_add_extent (ex, off, end - off, 0) == -1)
      goto err;
    pos = end;
  }
  if (pos < offset + count &&
      nbdkit_add_extent (ex, pos, offset + count - pos,
                         NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO) == -1)
    goto err;
  range_vector_reset (&rs.v);
  return 0;

 err:
  r = errno ? errno : EIO;
  range_vector_reset (&rs.v);
  return r;
}
