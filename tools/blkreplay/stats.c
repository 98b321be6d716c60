/* SPDX-License-Identifier: BSD-3-Clause */
/* blkreplay stats: what a log holds: op mix, request sizes, offsets
 * touched, errors and queue depth over time.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadlog.h"
#include "tool.h"

#define NSIZES 28               /* power-of-two size buckets: <=512 .. */
#define NSLOTS 10               /* queue depth timeline */

struct ival { uint64_t lo, hi; };

static int
ival_cmp (const void *a, const void *b)
{
  const struct ival *x = a, *y = b;

  return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Bytes covered by the union of N intervals (sorts them). */
static uint64_t
covered (struct ival *v, size_t n)
{
  uint64_t total = 0, lo = 0, hi = 0;
  size_t i;

  if (n == 0)
    return 0;
  qsort (v, n, sizeof *v, ival_cmp);
  lo = v[0].lo;
  hi = v[0].hi;
  for (i = 1; i < n; i++) {
    if (v[i].lo <= hi) {
      if (v[i].hi > hi)
        hi = v[i].hi;
    }
    else {
      total += hi - lo;
      lo = v[i].lo;
      hi = v[i].hi;
    }
  }
  return total + hi - lo;
}

struct ev { uint64_t t; int d; };

static int
ev_cmp (const void *a, const void *b)
{
  const struct ev *x = a, *y = b;

  if (x->t != y->t)
    return x->t < y->t ? -1 : 1;
  return x->d - y->d;           /* completions first at equal times */
}

static unsigned
size_bucket (uint64_t len)
{
  unsigned b = 0;

  while (b < NSIZES - 1 && (UINT64_C (512) << b) < len)
    b++;
  return b;
}

int
cmd_stats (int argc, char **argv)
{
  struct blklog_log log;
  uint64_t count[BLKLOG_OP__MAX] = { 0 }, bytes[BLKLOG_OP__MAX] = { 0 };
  uint64_t sizes[NSIZES] = { 0 }, errors = 0, t0 = UINT64_MAX, t1 = 0;
  uint64_t lo = UINT64_MAX, hi = 0, rd_b, wr_b, all_b;
  /* Flags that change what a request promises: FUA writes (durable on
   * completion), zeroes with NO_HOLE (must allocate) or FAST_ZERO (must
   * be fast or fail), and flushes (the durability points).
   */
  uint64_t fua_writes = 0, fua_other = 0, no_hole = 0, fast_zero = 0;
  double slot_area[NSLOTS] = { 0 };
  unsigned slot_max[NSLOTS] = { 0 };
  struct ival *vr, *vw, *va;
  size_t nr = 0, nw = 0, na = 0, i;
  struct ev *ev;
  unsigned qd = 0, qd_max = 0;
  double area = 0;
  int json = 0, ai;
  const char *path = NULL;
  char b1[32], b2[32], b3[32];
  const char *imported;

  for (ai = 1; ai < argc; ai++) {
    if (strcmp (argv[ai], "--json") == 0)
      json = 1;
    else if (argv[ai][0] == '-')
      bad_option ("stats", argv[ai]);
    else if (path)
      extra_argument ("stats", argv[ai]);
    else
      path = argv[ai];
  }
  if (path == NULL)
    usage (EXIT_USAGE);
  if (tl_load (&log, path) == -1)
    return EXIT_USAGE;
  imported = tl_imported_from (&log.rd.header);

  vr = malloc ((log.nreqs + 1) * sizeof *vr);
  vw = malloc ((log.nreqs + 1) * sizeof *vw);
  va = malloc ((log.nreqs + 1) * sizeof *va);
  ev = malloc ((2 * log.nreqs + 1) * sizeof *ev);
  if (!vr || !vw || !va || !ev) {
    fprintf (stderr, "blkreplay: out of memory\n");
    return EXIT_USAGE;
  }
  for (i = 0; i < log.nreqs; i++) {
    const struct blklog_req *q = &log.reqs[i];
    count[q->op]++;
    if (q->op != BLKLOG_FLUSH)
      bytes[q->op] += q->length;
    if (q->error)
      errors++;
    if (q->flags & BLKLOG_F_FUA) {
      if (q->op == BLKLOG_WRITE)
        fua_writes++;
      else
        fua_other++;
    }
    if (q->op == BLKLOG_ZERO && (q->flags & BLKLOG_F_NO_HOLE))
      no_hole++;
    if (q->op == BLKLOG_ZERO && (q->flags & BLKLOG_F_FAST_ZERO))
      fast_zero++;
    if (q->op != BLKLOG_FLUSH) {
      struct ival v = { q->offset, q->offset + q->length };
      sizes[size_bucket (q->length)]++;
      if (q->length) {
        va[na++] = v;
        if (q->op == BLKLOG_READ)
          vr[nr++] = v;
        else if (q->op == BLKLOG_WRITE || q->op == BLKLOG_ZERO ||
                 q->op == BLKLOG_TRIM)
          vw[nw++] = v;
        if (v.lo < lo) lo = v.lo;
        if (v.hi > hi) hi = v.hi;
      }
    }
    if (q->submit_ns < t0) t0 = q->submit_ns;
    if (q->complete_ns > t1) t1 = q->complete_ns;
    ev[2 * i] = (struct ev) { q->submit_ns, +1 };
    ev[2 * i + 1] = (struct ev) { q->complete_ns, -1 };
  }
  rd_b = covered (vr, nr);
  wr_b = covered (vw, nw);
  all_b = covered (va, na);

  /* Queue depth: a sweep over submissions and completions. */
  qsort (ev, 2 * log.nreqs, sizeof *ev, ev_cmp);
  for (i = 0; i < 2 * log.nreqs; i++) {
    uint64_t span = t1 > t0 ? t1 - t0 : 1;
    if (i > 0 && qd > 0) {
      uint64_t a = ev[i - 1].t, b = ev[i].t;
      area += (double) qd * (double) (b - a);
      /* Spread this stretch over the timeline slots it covers. */
      while (a < b) {
        unsigned s = (unsigned) ((double) (a - t0) * NSLOTS / (double) span);
        uint64_t end;
        if (s >= NSLOTS) s = NSLOTS - 1;
        end = t0 + (uint64_t) ((double) span * (s + 1) / NSLOTS);
        if (end > b || s == NSLOTS - 1) end = b;
        if (end <= a) end = b;
        slot_area[s] += (double) qd * (double) (end - a);
        if (qd > slot_max[s]) slot_max[s] = qd;
        a = end;
      }
    }
    if (ev[i].d > 0) {
      qd++;
      if (qd > qd_max) qd_max = qd;
      {
        unsigned s = t1 > t0 ? (unsigned) ((double) (ev[i].t - t0) * NSLOTS /
                                           (double) (t1 - t0)) : 0;
        if (s >= NSLOTS) s = NSLOTS - 1;
        if (qd > slot_max[s]) slot_max[s] = qd;
      }
    }
    else
      qd--;
  }
  if (log.nreqs == 0)
    t0 = t1 = 0;

  if (json) {
    printf ("{\"log\":\"%s\",\"requests\":%zu,\"connections\":%zu,"
            "\"marks\":%zu,\"imported\":%s%s%s,\"layer\":\"%s\",\"data\":\"%s\","
            "\"hash_alg\":\"%s\",\"truncated\":%s,"
            "\"duration_ns\":%" PRIu64
            ",\"errors\":%" PRIu64 ",\"ops\":{", path, log.nreqs, log.nconns,
            log.nmarks, imported ? "\"" : "", imported ? imported : "null",
            imported ? "\"" : "", blklog_layer_name (log.rd.header.layer),
            blklog_data_name (log.rd.header.data_mode),
            blklog_hash_name (log.rd.header.hash_alg), log.truncated ? "true" : "false", t1 - t0, errors);
    for (i = 0; i < BLKLOG_OP__MAX; i++)
      printf ("%s\"%s\":{\"count\":%" PRIu64 ",\"bytes\":%" PRIu64 "}",
              i ? "," : "", blklog_op_name ((unsigned) i), count[i], bytes[i]);
    printf ("},\"flags\":{\"fua_writes\":%" PRIu64 ",\"fua_other\":%" PRIu64
            ",\"no_hole_zeroes\":%" PRIu64 ",\"fast_zero_zeroes\":%" PRIu64
            ",\"flushes\":%" PRIu64 "},\"sizes\":{", fua_writes, fua_other,
            no_hole, fast_zero, count[BLKLOG_FLUSH]);
    for (i = 0, ai = 0; i < NSIZES; i++)
      if (sizes[i])
        printf ("%s\"%" PRIu64 "\":%" PRIu64, ai++ ? "," : "",
                UINT64_C (512) << i, sizes[i]);
    printf ("},\"touched\":{\"read\":%" PRIu64 ",\"written\":%" PRIu64
            ",\"any\":%" PRIu64 ",\"lowest\":%" PRIu64 ",\"highest\":%" PRIu64
            "},\"queue_depth\":{\"max\":%u,\"mean\":%.3f,\"timeline\":[",
            rd_b, wr_b, all_b, na ? lo : 0, na ? hi : 0, qd_max,
            t1 > t0 ? area / (double) (t1 - t0) : 0.0);
    for (i = 0; i < NSLOTS; i++)
      printf ("%s{\"mean\":%.3f,\"max\":%u}", i ? "," : "",
              t1 > t0 ? slot_area[i] * NSLOTS / (double) (t1 - t0) : 0.0,
              slot_max[i]);
    printf ("]}}\n");
  }
  else {
    printf ("log %s: %zu requests on %zu connection%s over %s%s\n", path,
            log.nreqs, log.nconns, log.nconns == 1 ? "" : "s", tl_dur (t1 - t0, b1, sizeof b1),
            log.truncated ? " (truncated log)" : "");
    if (imported)
      printf ("imported from %s: no payloads, reads cannot be verified\n",
              tl_imported_desc (&log.rd.header));
    /* What the offsets are in: the export, or the plugin's file. */
    printf ("layer: %s%s\n", blklog_layer_name (log.rd.header.layer),
            log.rd.header.layer == BLKLOG_LAYER_BACKEND ?
            " (the plugin's I/O on its image file; offsets in the file)" :
            " (client requests; offsets in the export)");
    /* What a replay can verify reads with, and the hash it computes. */
    if (!imported) {
      if (log.rd.header.data_mode == BLKLOG_DATA_NONE)
        printf ("payloads: none\n");
      else
        printf ("payloads: %s, hash %s\n",
                blklog_data_name (log.rd.header.data_mode),
                blklog_hash_name (log.rd.header.hash_alg));
    }
    printf ("\nop          count       %%        bytes\n");
    for (i = 0; i < BLKLOG_OP__MAX; i++)
      if (count[i])
        printf ("%-8s %8" PRIu64 " %6.1f%% %12s\n",
                blklog_op_name ((unsigned) i), count[i],
                100.0 * (double) count[i] / (double) log.nreqs,
                i == BLKLOG_FLUSH ? "-" : tl_size (bytes[i], b1, sizeof b1));
    printf ("failed   %8" PRIu64 "\n", errors);
    printf ("marks    %8zu\n", log.nmarks);
    printf ("\nflags: %" PRIu64 " FUA write%s (%" PRIu64 " other FUA "
            "requests), %" PRIu64 " zero%s with NO_HOLE, %" PRIu64 " with "
            "FAST_ZERO, %" PRIu64 " flush%s\n", fua_writes,
            fua_writes == 1 ? "" : "s", fua_other, no_hole,
            no_hole == 1 ? "" : "es", fast_zero, count[BLKLOG_FLUSH],
            count[BLKLOG_FLUSH] == 1 ? "" : "es");
    printf ("\nrequest size       count\n");
    for (i = 0; i < NSIZES; i++)
      if (sizes[i])
        printf ("<= %-12s %8" PRIu64 "\n",
                tl_size (UINT64_C (512) << i, b1, sizeof b1), sizes[i]);
    printf ("\noffsets touched: %s read, %s written, %s in all, between "
            "byte %" PRIu64 " and %" PRIu64 "\n",
            tl_size (rd_b, b1, sizeof b1), tl_size (wr_b, b2, sizeof b2),
            tl_size (all_b, b3, sizeof b3), na ? lo : 0, na ? hi : 0);
    printf ("\nqueue depth: max %u, mean %.2f\n", qd_max,
            t1 > t0 ? area / (double) (t1 - t0) : 0.0);
    printf ("time slot        mean   max\n");
    for (i = 0; i < NSLOTS; i++)
      printf ("%3zu%%-%3zu%%    %7.2f %5u\n", i * 100 / NSLOTS,
              (i + 1) * 100 / NSLOTS,
              t1 > t0 ? slot_area[i] * NSLOTS / (double) (t1 - t0) : 0.0,
              slot_max[i]);
  }
  free (vr);
  free (vw);
  free (va);
  free (ev);
  tl_free (&log);
  return 0;
}
