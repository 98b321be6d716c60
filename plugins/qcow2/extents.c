/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: .extents from the L2 tables and the backing chain.
 *
 * Data and compressed clusters are data; zero clusters/subclusters are
 * holes reading as zero; unallocated ones report what the backing
 * file has there (a raw backing file is all data), or holes reading
 * as zero without one.
 *
 * Thread model: each lookup takes meta_lock of the image it asks.
 */
#include <config.h>

#include <inttypes.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "cluster.h"
#include "image.h"
#include "minmax.h"

#define MAX_EXTENTS 1024

static int
add_range (struct qcow2_image *img, uint64_t pos, uint64_t len,
           struct nbdkit_extents *ext, unsigned *added)
{
  uint64_t end = pos + len;

  while (pos < end) {
    struct seg sg;
    uint32_t type;
    int r;

    if (pos >= img->size) {   /* a backing file smaller than its child */
      if (nbdkit_add_extent (ext, pos, end - pos,
                             NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO) == -1)
        return -1;
      return 0;
    }
    {
      LOCK_GUARD (&img->meta_lock);
      r = qcow2_map (img, pos, MIN (end, img->size) - pos, &sg);
    }
    if (r == -1)
      return -1;
    switch (sg.t) {
    case SEG_UNALLOC:
      if (img->backing) {
        r = add_range (img->backing, pos, sg.len, ext, added);
        if (r != 0)
          return r;
        pos += sg.len;
        continue;
      }
      if (img->backing_raw && pos < img->backing_size) {
        if (sg.len > img->backing_size - pos)
          sg.len = img->backing_size - pos;
        type = 0;
      }
      else
        type = NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO;
      break;
    case SEG_ZERO:
      type = NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO;
      break;
    default:
      type = 0;
      break;
    }
    if (nbdkit_add_extent (ext, pos, sg.len, type) == -1)
      return -1;
    pos += sg.len;
    if (++*added >= MAX_EXTENTS)
      return 1;
  }
  return 0;
}

int
qcow2_extents (struct qcow2_image *img, uint64_t count, uint64_t offset,
               struct nbdkit_extents *ext)
{
  unsigned added = 0;

  return add_range (img, offset, count, ext, &added) == -1 ? -1 : 0;
}
