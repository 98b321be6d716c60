/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: parsing an RBD image specification.
 *
 *   POOL[/NAMESPACE]/IMAGE[@SNAPSHOT]
 *
 * A pure function (no librbd), so unit tests link it alone.
 */
#ifndef NBDKIT_BLK_RBD_SPEC_H
#define NBDKIT_BLK_RBD_SPEC_H

#include <stddef.h>

struct rbd_spec {
  char *pool;
  char *nspace;         /* "" when no namespace was given */
  char *image;
  char *snap;           /* NULL when no snapshot was given */
};

/* Parse STR into *SPEC (fields are malloc'd; free with rbd_spec_free).
 * Returns 0, or -1 with a reason (naming the bad part) in ERRBUF.
 */
extern int rbd_spec_parse (const char *str, struct rbd_spec *spec,
                           char *errbuf, size_t errlen);
extern void rbd_spec_free (struct rbd_spec *spec);

#endif /* NBDKIT_BLK_RBD_SPEC_H */
