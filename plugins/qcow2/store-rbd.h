/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: the RBD store (store-rbd.c). */
#ifndef QCOW2_STORE_RBD_H
#define QCOW2_STORE_RBD_H

#include <stdbool.h>

#include "store.h"
#include "rbd-conn.h"

/* Connect to the cluster and open PARAMS->spec (read-only with
 * PARAMS->readonly, which a snapshot forces).  PARAMS must outlive the
 * store.  NAME ("rbd:POOL/IMAGE") is used in messages.  Call after
 * nbdkit forks, or with PROBE in .get_ready, to check and close again
 * before nbdkit forks (nothing is written then).  On error:
 * nbdkit_error and NULL.
 */
extern struct qcow2_store *store_rbd_open (const struct blk_rbd_params *params,
                                           const char *name, bool probe);

/* Whether closing an RBD store failed (writes may be lost). */
extern bool store_rbd_close_failed (void);

#endif /* QCOW2_STORE_RBD_H */
