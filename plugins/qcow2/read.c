/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: the read path.
 *
 * Thread model: the L2 lookups for a batch of segments run under
 * meta_lock; the data I/O runs after dropping it, under free_lock
 * shared so no cluster of the batch can be freed and reused meanwhile
 * (see image.h).  Reads of the backing image take that image's own
 * locks (lock order: this image's free_lock, then the backing's).
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

#define MAX_SEGS 64

int
read_unallocated (struct qcow2_image *img, uint8_t *buf, uint64_t n,
                  uint64_t off)
{
  uint64_t avail = 0;

  if (img->backing || img->backing_raw) {
    blk_hook_event (BLK_EV_READ_BACKING_AIO);
    if (off < img->backing_size)
      avail = img->backing_size - off < n ? img->backing_size - off : n;
    if (avail) {
      int r = img->backing
        ? qcow2_read (img->backing, buf, avail, off)
        : store_pread (img->backing_raw, buf, avail, off, 0);
      if (r == -1)
        return -1;
    }
  }
  memset (buf + avail, 0, n - avail);
  return 0;
}

int
read_compressed (struct qcow2_image *img, uint64_t e, uint8_t *out)
{
  uint64_t off, len;
  uint8_t *in;
  int r;

  compressed_range (img, e, &off, &len);
  in = malloc (len);
  if (in == NULL) {
    nbdkit_error ("%s: %s", img->path, qcow2_errstr (errno));
    return -1;
  }
  blk_hook_event (BLK_EV_READ_COMPRESSED);
  r = store_pread (img->file, in, len, off, 0);
  if (r == 0 &&
      qcow2_decompress (img->h.compression_type, in, len, out,
                        img->cluster_size) == -1) {
    nbdkit_error ("%s: the compressed cluster at host offset %" PRIu64
                  " (%" PRIu64 " bytes, %s) does not decompress to a cluster",
                  img->path, off, len,
                  img->h.compression_type ? "zstd" : "deflate");
    errno = EIO;
    r = -1;
  }
  free (in);
  return r;
}

struct rseg {
  struct seg s;
  uint64_t goff;
};

static int
run_seg (struct qcow2_image *img, uint8_t *buf, const struct rseg *r)
{
  switch (r->s.t) {
  case SEG_ZERO:
    memset (buf, 0, r->s.len);
    return 0;
  case SEG_UNALLOC:
    return read_unallocated (img, buf, r->s.len, r->goff);
  case SEG_DATA:
    blk_hook_event (BLK_EV_READ_AIO);
    return store_pread (img->data, buf, r->s.len, r->s.host, 0);
  case SEG_COMPRESSED: {
    uint8_t *c = malloc (img->cluster_size);
    int ret;
    if (c == NULL) {
      nbdkit_error ("%s: %s", img->path, qcow2_errstr (errno));
      return -1;
    }
    ret = read_compressed (img, r->s.entry, c);
    if (ret == 0)
      memcpy (buf, c + (r->goff & (img->cluster_size - 1)), r->s.len);
    free (c);
    return ret;
  }
  }
  return 0;
}

int
qcow2_read (struct qcow2_image *img, void *vbuf, uint64_t count,
            uint64_t offset)
{
  uint8_t *buf = vbuf;
  uint64_t end = offset + count;

  while (offset < end) {
    struct rseg segs[MAX_SEGS];
    unsigned n = 0, i;
    uint64_t pos = offset;
    int r = 0;

    pthread_mutex_lock (&img->meta_lock);
    while (pos < end && n < MAX_SEGS) {
      struct seg sg;
      if (qcow2_map (img, pos, end - pos, &sg) == -1) {
        pthread_mutex_unlock (&img->meta_lock);
        return -1;
      }
      if (n > 0 && segs[n - 1].s.t == sg.t &&
          (sg.t == SEG_ZERO || sg.t == SEG_UNALLOC ||
           (sg.t == SEG_DATA &&
            segs[n - 1].s.host + segs[n - 1].s.len == sg.host)))
        segs[n - 1].s.len += sg.len;
      else {
        segs[n].s = sg;
        segs[n].goff = pos;
        n++;
      }
      pos += sg.len;
    }
    {
      /* meta_lock is handed over to free_lock (shared) for the I/O:
       * taken above by hand, so released by hand here.
       */
      RWLOCK_RDLOCK_GUARD (&img->free_lock);
      pthread_mutex_unlock (&img->meta_lock);
      for (i = 0; i < n && r == 0; i++)
        r = run_seg (img, buf + (segs[i].goff - offset), &segs[i]);
    }
    if (r == -1)
      return -1;
    buf += pos - offset;
    offset = pos;
  }
  return 0;
}
