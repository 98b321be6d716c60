/* nbdkit-blk qcow2: the RBD storage backend (backend-rbd.c). */
#ifndef QCOW2_BACKEND_RBD_H
#define QCOW2_BACKEND_RBD_H

#include "backend.h"
#include "rbd-conn.h"

/* Connect to the cluster and open PARAMS->spec (read-only with
 * PARAMS->readonly, which a snapshot forces).  PARAMS must outlive the
 * backend.  NAME ("rbd:POOL/IMAGE") is used in messages.  Call after
 * nbdkit forks.  On error: nbdkit_error and NULL.
 */
extern struct backend *backend_rbd_open (const struct blk_rbd_params *params,
                                         const char *name);

#endif /* QCOW2_BACKEND_RBD_H */
