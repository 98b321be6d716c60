/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk blkreplay: replay mode of the filter (replayer.c). */
#ifndef BLKREPLAY_REPLAYER_H
#define BLKREPLAY_REPLAYER_H

#include <stddef.h>
#include <stdint.h>

struct replay_config {
  const char *path;
  int divergence_fail;          /* blkreplay-divergence=fail */
  uint64_t order_timeout_ns;    /* blkreplay-order-timeout= */
};

/* Loads the log.  -1 with a message in WHY. */
extern int replayer_load (const struct replay_config *cfg,
                          char *why, size_t whylen);

/* One live request on its way through the filter. */
struct replay_req {
  int64_t idx;          /* the matched record, -1: none (divergent) */
  int diverged;         /* this request diverged */
  int skip;             /* do not run it: return err instead */
  int err;              /* with skip: the errno to return */
  int waited;           /* it was held back for the recorded order */
};

/* Matches a new request to the next unmatched record like it and
 * checks a write's payload (WBUF, or NULL).
 */
extern void replayer_begin (struct replay_req *rq, uint64_t conn,
                            unsigned op, uint32_t flags, uint64_t offset,
                            uint64_t length, const void *wbuf);
/* After it ran (ERR: 0 or errno; RBUF: the read data or NULL): checks
 * the result and the read hash, then waits until every request the log
 * completed before this one has completed.
 */
extern void replayer_end (struct replay_req *rq, int err, const void *rbuf);

/* Reports what was never replayed and the divergence count. */
extern void replayer_finish (void);
extern void replayer_free (void);

#endif /* BLKREPLAY_REPLAYER_H */
