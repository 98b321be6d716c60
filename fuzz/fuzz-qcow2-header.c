/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the qcow2 header, header extension and snapshot
 * table parsers (plugins/qcow2/header.c) on arbitrary bytes.  The
 * input is the start of an image; its own length is the file size.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "header.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct qcow2_header h;
  struct qcow2_snapshot *s = NULL;
  char why[256];

  if (qcow2_header_parse (data, size, size, &h, why, sizeof why) == 0) {
    uint64_t cs = 1ull << h.cluster_bits;
    /* Promises the engine relies on. */
    if (h.cluster_bits < 9 || h.cluster_bits > 21 || h.refcount_order > 6 ||
        h.l1_table_offset % cs || h.refcount_table_offset % cs ||
        (h.backing_file && strlen (h.backing_file) != h.backing_file_size))
      abort ();
    if (h.nb_snapshots && h.snapshots_offset < size &&
        qcow2_snapshots_parse (data + h.snapshots_offset,
                               size - h.snapshots_offset, h.nb_snapshots,
                               &h, size, &s, why, sizeof why) == 0)
      qcow2_snapshots_free (s, h.nb_snapshots);
  }
  else if (why[0] == '\0')
    abort ();                   /* every rejection must say why */
  qcow2_header_free (&h);
  return 0;
}
