/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk blkreplay: replay mode of the filter.
 *
 * A client re-issues a recorded workload.  Each request is matched to
 * the lowest-id unmatched record with the same operation, offset and
 * length (clients may submit concurrent requests in another order, so
 * an exact sequence match would be too strict).  After it ran, it
 * waits until every record the log holds before it (the log is in
 * completion order) has completed: QEMU blkreplay's model, completions
 * happen in the recorded order.  A wait that exceeds the order timeout
 * is a divergence (the client did not issue a request the recording
 * had), reported and then skipped so the replay cannot hang.
 *
 * Shared state, all guarded by rp_lock: matched[], done[], grp_used[],
 * next_done (the completion cursor), lowest (the lowest-id unmatched
 * cursor), the divergence counters.  recs[], by_key[] and by_id[] are
 * read-only after replayer_load.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nbdkit-filter.h>

#include "cleanup.h"
#include "clock-ns.h"
#include "crc32c.h"
#include "errstr.h"
#include "replayer.h"
#include "replaylog.h"

extern int blkreplay_debug_verbose;   /* blkreplay.c, -D blkreplay.verbose */

static struct replay_config cfg;
static struct blklog_log rlog;      /* blklog_load: stays loaded */
static const struct blklog_req *recs;  /* = rlog.reqs, log (= completion)
                                        * order */
static size_t nrecs;
static size_t *by_key;              /* sorted by op, offset, length, id */
static size_t *by_id;               /* sorted by id */

static pthread_mutex_t rp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rp_cond;
static unsigned char *matched, *done;
static size_t *grp_used;            /* at a group's first by_key slot */
static size_t next_done, lowest;
static uint64_t ndiverged, nmatched, nunexpected;

static int
key_cmp (const void *a, const void *b)
{
  const struct blklog_req *x = &recs[*(const size_t *) a];
  const struct blklog_req *y = &recs[*(const size_t *) b];

  if (x->op != y->op) return x->op < y->op ? -1 : 1;
  if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
  if (x->length != y->length) return x->length < y->length ? -1 : 1;
  if (x->id != y->id) return x->id < y->id ? -1 : 1;
  return 0;
}

static int
id_cmp (const void *a, const void *b)
{
  uint64_t x = recs[*(const size_t *) a].id, y = recs[*(const size_t *) b].id;

  return x < y ? -1 : x > y;
}

int
replayer_load (const struct replay_config *c, char *why, size_t whylen)
{
  size_t i;
  pthread_condattr_t attr;

  cfg = *c;
  if (blklog_load (&rlog, cfg.path, why, whylen) == -1)
    return -1;
  if (rlog.rd.header.layer == BLKLOG_LAYER_BACKEND) {
    /* Its records are the plugin's file I/O, not client requests. */
    snprintf (why, whylen, "%s: a backend-layer log (recorded with "
              "blkreplay-layer=backend: the plugin's I/O on its image file) "
              "cannot be replayed through the filter; use 'blkreplay crash' "
              "or 'blkreplay image' --base-format=raw", cfg.path);
    return -1;
  }
  if (rlog.truncated)
    nbdkit_error ("blkreplay-log: %s: %s; replaying the whole records",
                  cfg.path, rlog.rd.why);
  recs = rlog.reqs;
  nrecs = rlog.nreqs;

  by_key = malloc ((nrecs + 1) * sizeof *by_key);
  by_id = malloc ((nrecs + 1) * sizeof *by_id);
  grp_used = calloc (nrecs + 1, sizeof *grp_used);
  matched = calloc (nrecs + 1, 1);
  done = calloc (nrecs + 1, 1);
  if (!by_key || !by_id || !grp_used || !matched || !done) {
    snprintf (why, whylen, "out of memory");
    return -1;
  }
  for (i = 0; i < nrecs; i++)
    by_key[i] = by_id[i] = i;
  qsort (by_key, nrecs, sizeof *by_key, key_cmp);
  qsort (by_id, nrecs, sizeof *by_id, id_cmp);

  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (&rp_cond, &attr);
  pthread_condattr_destroy (&attr);
  nbdkit_debug ("blkreplay: replaying %zu requests from %s", nrecs, cfg.path);
  return 0;
}

/* First by_key slot of the group (op, offset, length), or nrecs. */
static size_t
group_start (unsigned op, uint64_t offset, uint64_t length)
{
  size_t lo = 0, hi = nrecs;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const struct blklog_req *m = &recs[by_key[mid]];
    int less = m->op != op ? m->op < op :
      m->offset != offset ? m->offset < offset : m->length < length;
    if (less)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < nrecs) {
    const struct blklog_req *m = &recs[by_key[lo]];
    if (m->op == op && m->offset == offset && m->length == length)
      return lo;
  }
  return nrecs;
}

static const char *
describe (char *buf, size_t len, unsigned op, uint64_t offset,
          uint64_t length, uint32_t flags)
{
  char f[64];

  blklog_flags_str (flags, f, sizeof f);
  if (op == BLKLOG_FLUSH)
    snprintf (buf, len, "flush%s%s", f[0] ? " " : "", f);
  else
    snprintf (buf, len, "%s offset %" PRIu64 " length %" PRIu64 "%s%s",
              blklog_op_name (op), offset, length, f[0] ? " " : "", f);
  return buf;
}

/* Reports a divergence (the first one as an error, later ones as
 * debug messages, so a wholly different workload does not flood the
 * log).  Called with rp_lock held.
 */
static void
diverge_locked (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

static void
diverge_locked (const char *fmt, ...)
{
  char msg[768];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  ndiverged++;
  if (ndiverged == 1)
    nbdkit_error ("blkreplay: first divergence: %s (blkreplay-divergence=%s)",
                  msg, cfg.divergence_fail ? "fail" : "warn");
  else
    nbdkit_debug ("blkreplay: divergence %" PRIu64 ": %s", ndiverged, msg);
}

void
replayer_begin (struct replay_req *rq, uint64_t conn, unsigned op,
                uint32_t flags, uint64_t offset, uint64_t length,
                const void *wbuf)
{
  char d[160], e[160];
  size_t g, slot;
  const struct blklog_req *rec;
  /* Hash outside the lock: concurrent requests must not queue on it. */
  uint64_t h = wbuf ?
    blklog_payload_hash (rlog.rd.header.hash_alg, wbuf, length) : 0;
  LOCK_GUARD (&rp_lock);

  rq->idx = -1;
  rq->diverged = rq->skip = rq->waited = 0;
  rq->err = 0;
  g = group_start (op, offset, length);
  slot = g < nrecs ? g + grp_used[g] : nrecs;
  if (slot >= nrecs ||
      recs[by_key[slot]].op != op || recs[by_key[slot]].offset != offset ||
      recs[by_key[slot]].length != length) {
    while (lowest < nrecs && matched[by_id[lowest]])
      lowest++;
    nunexpected++;
    rq->diverged = 1;
    if (lowest < nrecs) {
      rec = &recs[by_id[lowest]];
      diverge_locked ("unexpected request on connection %" PRIu64 ": %s "
                      "matches no remaining record; the next recorded "
                      "request is #%" PRIu64 " (connection %" PRIu64 "): %s",
                      conn, describe (d, sizeof d, op, offset, length, flags),
                      rec->id, rec->conn,
                      describe (e, sizeof e, rec->op, rec->offset,
                                rec->length, rec->flags));
    }
    else
      diverge_locked ("unexpected request on connection %" PRIu64 ": %s "
                      "after the whole log was replayed", conn,
                      describe (d, sizeof d, op, offset, length, flags));
    if (cfg.divergence_fail) {
      rq->skip = 1;
      rq->err = EIO;
    }
    return;
  }
  grp_used[g]++;
  rq->idx = (int64_t) by_key[slot];
  matched[rq->idx] = 1;
  nmatched++;
  rec = &recs[rq->idx];
  if (rec->flags != flags) {
    char f1[64], f2[64];
    rq->diverged = 1;
    diverge_locked ("request #%" PRIu64 " (%s): flags '%s', the recording "
                    "had '%s'", rec->id,
                    describe (d, sizeof d, op, offset, length, 0),
                    blklog_flags_str (flags, f1, sizeof f1),
                    blklog_flags_str (rec->flags, f2, sizeof f2));
  }
  if (wbuf && rec->payload != BLKLOG_PAYLOAD_NONE) {
    if (h != rec->hash) {
      rq->diverged = 1;
      diverge_locked ("request #%" PRIu64 " (%s): payload hash %016" PRIx64
                      ", the recording had %016" PRIx64, rec->id,
                      describe (d, sizeof d, op, offset, length, flags),
                      h, rec->hash);
    }
  }
  if (rq->diverged && cfg.divergence_fail) {
    rq->skip = 1;
    rq->err = EIO;
  }
  else if (rec->error) {
    /* The recording failed here: reproduce the failure, and do not
     * run the request (the failed one did not change the image).
     */
    rq->skip = 1;
    rq->err = (int) rec->error;
  }
}

void
replayer_end (struct replay_req *rq, int err, const void *rbuf)
{
  char d[160];
  const struct blklog_req *rec;
  struct timespec dl;
  uint64_t h = 0;

  if (rq->idx < 0)
    return;
  /* recs[] is read-only after loading: no lock needed to look. */
  rec = &recs[rq->idx];
  if (rbuf && err == 0 && rec->payload == BLKLOG_PAYLOAD_HASH)
    h = blklog_payload_hash (rlog.rd.header.hash_alg, rbuf, rec->length);

  LOCK_GUARD (&rp_lock);
  if (!rq->skip) {
    if (err != (int) rec->error) {
      rq->diverged = 1;
      diverge_locked ("request #%" PRIu64 " (%s): result '%s', the "
                      "recording had '%s'", rec->id,
                      describe (d, sizeof d, rec->op, rec->offset,
                                rec->length, rec->flags),
                      err ? blk_errstr (err) : "success",
                      rec->error ? blk_errstr ((int) rec->error) : "success");
    }
    else if (rbuf && err == 0 && rec->payload == BLKLOG_PAYLOAD_HASH) {
      if (h != rec->hash) {
        rq->diverged = 1;
        diverge_locked ("request #%" PRIu64 " (%s): read data hash %016"
                        PRIx64 ", the recording had %016" PRIx64, rec->id,
                        describe (d, sizeof d, rec->op, rec->offset,
                                  rec->length, rec->flags),
                        h, rec->hash);
      }
    }
  }

  /* Complete in the recorded order. */
  dl = blk_deadline (CLOCK_MONOTONIC, cfg.order_timeout_ns);
  rq->waited = next_done < (size_t) rq->idx;
  while (next_done < (size_t) rq->idx) {
    if (pthread_cond_timedwait (&rp_cond, &rp_lock, &dl) == ETIMEDOUT) {
      const struct blklog_req *w = &recs[next_done];
      if (next_done < (size_t) rq->idx && !done[next_done]) {
        diverge_locked ("request #%" PRIu64 " waited for #%" PRIu64
                        " (%s), which the recording completed first, but "
                        "it was not issued in time; giving up the order "
                        "up to #%" PRIu64, rec->id, w->id,
                        describe (d, sizeof d, w->op, w->offset, w->length,
                                  w->flags), rec->id);
        next_done = (size_t) rq->idx;
      }
      break;
    }
  }
  done[rq->idx] = 1;
  while (next_done < nrecs && done[next_done])
    next_done++;
  pthread_cond_broadcast (&rp_cond);
  if (blkreplay_debug_verbose)
    nbdkit_debug ("blkreplay: replay: request #%" PRIu64 " (%s) completes",
                  rec->id, describe (d, sizeof d, rec->op, rec->offset,
                                     rec->length, rec->flags));
  if (rq->diverged && cfg.divergence_fail && !rq->skip) {
    rq->skip = 1;
    rq->err = EIO;
  }
}

void
replayer_finish (void)
{
  size_t i, left = 0;
  const struct blklog_req *first = NULL;
  char d[160];
  LOCK_GUARD (&rp_lock);

  for (i = 0; i < nrecs; i++) {
    if (!matched[by_id[i]]) {
      if (first == NULL)
        first = &recs[by_id[i]];
      left++;
    }
  }
  if (left)
    nbdkit_error ("blkreplay: %zu of %zu recorded requests were never "
                  "replayed, the first is #%" PRIu64 " (%s)", left, nrecs,
                  first->id, describe (d, sizeof d, first->op, first->offset,
                                       first->length, first->flags));
  nbdkit_debug ("blkreplay: replay done: %" PRIu64 " requests matched, %"
                PRIu64 " unexpected, %" PRIu64 " divergences",
                nmatched, nunexpected, ndiverged);
  if (ndiverged)
    nbdkit_error ("blkreplay: the replay diverged %" PRIu64 " times "
                  "(the first is reported above)", ndiverged);
}

void
replayer_free (void)
{
  blklog_free (&rlog);
  free (by_key);
  free (by_id);
  free (grp_used);
  free (matched);
  free (done);
  /* Idempotent: safe to call from each .unload. */
  recs = NULL;
  by_key = NULL;
  by_id = NULL;
  grp_used = NULL;
  matched = NULL;
  done = NULL;
  nrecs = 0;
}
