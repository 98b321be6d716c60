/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: create=SIZE, a new empty version 3 image.
 *
 * Layout: header, refcount table, L1 table, refcount blocks, all
 * counted by those blocks.  Written once before the image is opened.
 *
 * Thread model: runs single-threaded from .get_ready.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nbdkit-plugin.h>

#include "store.h"
#include "header.h"
#include "image.h"
#include "rounding.h"

int
qcow2_create (const char *path, uint64_t size, unsigned cluster_bits)
{
  uint64_t cs = 1ull << cluster_bits, E = cs * 8 / 16;
  uint64_t l2_cover = cs * (cs / 8), l1_size, L, T = 1, B = 1, M, i;
  struct qcow2_header h;
  struct qcow2_store *b;
  uint8_t *buf = NULL;
  int r = -1;

  if (size > (1ull << 50)) {
    nbdkit_error ("create: size %" PRIu64 " is too large", size);
    return -1;
  }
  l1_size = (size + l2_cover - 1) / l2_cover;
  if (l1_size * 8 > QCOW2_MAX_L1_BYTES) {
    nbdkit_error ("create: size %" PRIu64 " needs too large an L1 table "
                  "with %" PRIu64 "-byte clusters", size, cs);
    return -1;
  }
  L = div_round_up (l1_size * 8, cs);
  if (L == 0)
    L = 1;
  for (;;) {                    /* refcount metadata counting itself */
    uint64_t B2, T2;
    M = 1 + T + L + B;
    B2 = div_round_up (M, E);
    T2 = div_round_up (B2 * 8, cs);
    if (B2 == B && T2 == T)
      break;
    B = B2;
    T = T2;
  }

  memset (&h, 0, sizeof h);
  h.version = 3;
  h.cluster_bits = cluster_bits;
  h.size = size;
  h.l1_size = (uint32_t) l1_size;
  h.refcount_table_offset = cs;
  h.refcount_table_clusters = (uint32_t) T;
  h.l1_table_offset = (1 + T) * cs;
  h.refcount_order = 4;
  h.header_length = QCOW2_V3_HEADER_LEN;

  buf = calloc (M, cs);
  if (buf == NULL) {
    nbdkit_error ("create: %m");
    return -1;
  }
  qcow2_header_encode (&h, buf, cs);    /* extension area stays zero: end */
  for (i = 0; i < B; i++)               /* refcount table */
    blk_store_be64 (buf + cs + i * 8, (1 + T + L + i) * cs);
  for (i = 0; i < M; i++) {             /* every cluster counted once */
    uint8_t *blk = buf + (1 + T + L + i / E) * cs;
    blk[(i % E) * 2 + 1] = 1;
  }
  b = store_file_open (path, 0, 1);
  if (b == NULL)
    goto out;
  if (store_pwrite (b, buf, M * cs, 0, 1) == 0 && store_flush (b) == 0)
    r = 0;
  store_close (b);
  if (r == -1)
    unlink (path);
 out:
  free (buf);
  return r;
}
