/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk latency filter: what latency.c offers its control
 * commands (control-cmds.c).  Each call takes the locks it needs and
 * may run on a control connection's thread, concurrently with requests
 * and the periodic writer.
 */
#ifndef LATENCY_LATENCY_H
#define LATENCY_LATENCY_H

#include <stddef.h>
#include <stdint.h>

#include "control.h"

/* The JSON report now (one line, no newline) of the ops in OP_MASK (0:
 * all) and of LAYER (NULL: every layer; "nbdkit" alone: the client
 * layer only).  Does not start a new recent window.  Returns a new
 * string, or NULL with a reason in WHY.
 */
extern char *lat_query (unsigned op_mask, const char *layer,
                        char *why, size_t len);
/* Zero every statistic of every layer (see layer_reset).  0 or -1. */
extern int lat_reset (void);
/* Run-time boundaries of the ops in OP_MASK (BOUNDS owned by the
 * callee, copied per op; N 0 and BOUNDS NULL: back to the configured
 * ones).  0 or -1 (out of memory).
 */
extern int lat_set_boundaries (unsigned op_mask, const uint64_t *bounds,
                               unsigned n);
/* Change latency-interval (0 stops the periodic writes).  0, or -1
 * with a reason in WHY.
 */
extern int lat_set_interval (uint64_t ns, char *why, size_t len);

/* control-cmds.c: the server with the latency commands, or NULL. */
extern struct blk_ctl *lat_control_new (void);

#endif /* LATENCY_LATENCY_H */
