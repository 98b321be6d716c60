/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the crash-consistency model (tools/blkreplay/crashmodel.c):
 * which writes are durable at which point, the points each kind
 * selects, and that states built incrementally (in any order, with
 * reorder and torn variants) equal states built from scratch.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "crashmodel.h"
#include "replaylog.h"

#define SIZE 65536

static unsigned char data_a[8192], data_b[8192];

static struct cm_req
W (uint64_t id, uint64_t off, uint64_t len, uint64_t sub, uint64_t comp)
{
  return (struct cm_req) { .id = id, .op = BLKLOG_WRITE, .offset = off,
                           .length = len, .submit_ns = sub,
                           .complete_ns = comp, .data = data_a };
}

static struct cm_req
F (uint64_t id, uint64_t sub, uint64_t comp)
{
  return (struct cm_req) { .id = id, .op = BLKLOG_FLUSH, .submit_ns = sub,
                           .complete_ns = comp };
}

static void
init (struct cm_model *m, const struct cm_req *r, size_t n, enum cm_trim t)
{
  char why[256];

  cr_assert_eq (cm_model_init (m, r, n, SIZE, t, why, sizeof why), 0,
                "cm_model_init: %s", why);
}

Test (crash_model, flush_covers_only_writes_completed_before_its_submission)
{
  /* Log (completion) order: W1 completes at 3, F1 submitted at 5
   * while W2 (submitted at 4) is still in flight; W2 completes at 10,
   * F1 at 12; F2 submitted at 20.
   */
  struct cm_req r[] = {
    W (1, 0, 512, 0, 3),
    W (2, 512, 512, 4, 10),
    F (3, 5, 12),
    F (4, 20, 21),
  };
  struct cm_model m;

  init (&m, r, 4, CM_TRIM_KEEP);
  cr_assert_eq (m.nw, 2);
  cr_assert_eq (m.durable_at[0], 2, "W1 is durable at F1 (position 2)");
  cr_assert_eq (m.durable_at[1], 3, "W2 completed after F1 was submitted: "
                "durable only at F2");
  cm_model_free (&m);
}

Test (crash_model, fua_is_durable_at_completion)
{
  struct cm_req r[] = { W (1, 0, 512, 0, 1), W (2, 512, 512, 2, 3) };
  struct cm_model m;

  r[1].flags = BLKLOG_F_FUA;
  init (&m, r, 2, CM_TRIM_KEEP);
  cr_assert_eq (m.durable_at[0], SIZE_MAX, "a FUA write flushes nothing else");
  cr_assert_eq (m.durable_at[1], 1);
  cm_model_free (&m);
}

Test (crash_model, failed_requests_promise_and_change_nothing)
{
  struct cm_req r[] = { W (1, 0, 512, 0, 1), W (2, 512, 512, 2, 3),
                        F (3, 4, 5), F (4, 6, 7) };
  struct cm_model m;

  r[1].error = 5;               /* EIO: the write is not in the state */
  r[2].error = 5;               /* a failed flush makes nothing durable */
  init (&m, r, 4, CM_TRIM_KEEP);
  cr_assert_eq (m.nw, 1);
  cr_assert_eq (m.durable_at[0], 3, "durable at the second flush only");
  cm_model_free (&m);
}

Test (crash_model, trim_keeps_old_contents_unless_zero)
{
  struct cm_req r[] = { W (1, 0, 512, 0, 1), W (2, 0, 512, 2, 3) };
  struct cm_model m;

  r[1].op = BLKLOG_TRIM;
  r[1].data = NULL;
  init (&m, r, 2, CM_TRIM_KEEP);
  cr_assert_eq (m.nw, 1, "trim=keep: the trim changes nothing");
  cm_model_free (&m);
  init (&m, r, 2, CM_TRIM_ZERO);
  cr_assert_eq (m.nw, 2, "trim=zero: the trim writes zeroes");
  cm_model_free (&m);
}

Test (crash_model, refuses_writes_without_data_and_beyond_the_end)
{
  struct cm_req r[] = { W (7, 0, 512, 0, 1) };
  struct cm_model m;
  char why[256];

  r[0].data = NULL;
  cr_assert_eq (cm_model_init (&m, r, 1, SIZE, CM_TRIM_KEEP, why,
                               sizeof why), -1);
  cr_assert (strstr (why, "#7") && strstr (why, "blkreplay-data=full"),
             "%s", why);
  r[0] = W (8, SIZE - 256, 512, 0, 1);
  cr_assert_eq (cm_model_init (&m, r, 1, SIZE, CM_TRIM_KEEP, why,
                               sizeof why), -1);
  cr_assert (strstr (why, "#8") && strstr (why, "beyond the end"), "%s", why);
}

Test (crash_model, points_of_each_kind)
{
  struct cm_req r[] = { W (1, 0, 512, 0, 1), F (2, 2, 3),
                        W (3, 0, 512, 4, 5), W (4, 0, 512, 6, 7),
                        F (5, 8, 9), W (6, 0, 512, 10, 11) };
  struct cm_model m;
  struct cm_point *p;
  size_t n;

  r[3].flags = BLKLOG_F_FUA;
  init (&m, r, 6, CM_TRIM_KEEP);
  cr_assert_eq (cm_points (&m, CM_PT_FLUSH, 0, 0, SIZE_MAX, &p, &n), 0);
  cr_assert_eq (n, 2);
  cr_assert (p[0].pos == 1 && p[1].pos == 4 && !p[0].acked);
  free (p);
  cr_assert_eq (cm_points (&m, CM_PT_FLUSH | CM_PT_FUA, 0, 0, SIZE_MAX,
                           &p, &n), 0);
  cr_assert (n == 3 && p[1].pos == 3 && p[1].kind == CM_PT_FUA);
  free (p);
  cr_assert_eq (cm_points (&m, CM_PT_WRITE, 0, 0, SIZE_MAX, &p, &n), 0);
  cr_assert (n == 4 && p[0].acked && p[3].pos == 5);
  free (p);
  /* Three spread points over six requests end slices 2, 4 and 6. */
  cr_assert_eq (cm_points (&m, CM_PT_SPREAD, 3, 0, SIZE_MAX, &p, &n), 0);
  cr_assert (n == 3 && p[0].pos == 1 && p[1].pos == 3 && p[2].pos == 5);
  free (p);
  /* --from / --to limit the range. */
  cr_assert_eq (cm_points (&m, CM_PT_FLUSH | CM_PT_FUA, 0, 2, 3, &p, &n), 0);
  cr_assert (n == 1 && p[0].pos == 3);
  free (p);
  cm_model_free (&m);
}

/* ---- incremental states against states built from scratch ---- */

struct mem { unsigned char base[SIZE], img[SIZE]; };

static int
mem_base (void *o, void *buf, size_t len, uint64_t off)
{
  memcpy (buf, ((struct mem *) o)->base + off, len);
  return 0;
}

static int
mem_write (void *o, const void *buf, size_t len, uint64_t off)
{
  memcpy (((struct mem *) o)->img + off, buf, len);
  return 0;
}

static void
check_state (const struct cm_model *m, struct mem *mem, const uint8_t *set,
             const struct cm_torn *torn, const char *what)
{
  static unsigned char want[SIZE];
  struct cm_io io = { mem, mem_base, mem_write };

  size_t i;

  /* Without a torn write, the naive definition: the base, then every
   * write of the set in log order.
   */
  if (torn == NULL) {
    memcpy (want, mem->base, SIZE);
    for (i = 0; i < m->nw; i++) {
      const struct cm_req *r = &m->reqs[m->w[i]];
      if (!set[i])
        continue;
      if (r->op == BLKLOG_WRITE)
        memcpy (want + r->offset, r->data, r->length);
      else
        memset (want + r->offset, 0, r->length);
    }
    cr_assert (memcmp (want, mem->img, SIZE) == 0,
               "%s: the state differs from base + writes in log order", what);
  }
  cr_assert_eq (cm_render (m, &io, set, torn, want, SIZE, 0), 0);
  cr_assert (memcmp (want, mem->img, SIZE) == 0,
             "%s: the incremental state differs from the state built "
             "from scratch", what);
}

Test (crash_model, incremental_equals_scratch)
{
  static struct mem mem;
  struct cm_req r[400];
  struct cm_model m;
  struct cm_builder b;
  struct cm_io io = { &mem, mem_base, mem_write };
  struct cm_point *pts;
  size_t n, i, pi, nreq = 0;
  uint64_t rng = 42, t = 0;
  uint8_t *set, *var;

  for (i = 0; i < sizeof data_a; i++) {
    data_a[i] = (unsigned char) (i * 7 + 1);
    data_b[i] = (unsigned char) (i * 13 + 5);
  }
  for (i = 0; i < SIZE; i++)
    mem.base[i] = (unsigned char) (i >> 9);
  memcpy (mem.img, mem.base, SIZE);
  /* A random concurrent workload: overlapping writes of odd sizes,
   * zeroes, trims, FUA, flushes whose submission precedes some
   * completions.
   */
  for (i = 0; i < 400; i++) {
    uint64_t k = cm_rand (&rng);
    uint64_t len = 1 + k % 8192, off = (k >> 16) % (SIZE - len + 1);
    uint64_t sub = t, comp = t + 1 + (k >> 40) % 50;
    t += 3;
    switch ((k >> 8) % 10) {
    case 0: case 1:
      r[nreq] = F (i + 1, sub, comp);
      break;
    case 2:
      r[nreq] = W (i + 1, off, len, sub, comp);
      r[nreq].op = BLKLOG_ZERO;
      break;
    case 3:
      r[nreq] = W (i + 1, off, len, sub, comp);
      r[nreq].op = BLKLOG_TRIM;
      r[nreq].flags = (k >> 50) & 1 ? BLKLOG_F_FUA : 0;
      break;
    default:
      r[nreq] = W (i + 1, off, len, sub, comp);
      r[nreq].data = (k >> 48) & 1 ? data_a : data_b;
      r[nreq].flags = (k >> 50) % 5 == 0 ? BLKLOG_F_FUA : 0;
    }
    nreq++;
  }
  /* The log is in completion order. */
  for (i = 1; i < nreq; i++) {
    size_t j = i;
    while (j > 0 && r[j - 1].complete_ns > r[j].complete_ns) {
      struct cm_req x = r[j - 1];
      r[j - 1] = r[j];
      r[j] = x;
      j--;
    }
  }
  init (&m, r, nreq, CM_TRIM_ZERO);
  cr_assert_eq (cm_points (&m, CM_PT_FLUSH | CM_PT_FUA | CM_PT_WRITE, 0, 0,
                           SIZE_MAX, &pts, &n), 0);
  cr_assert_gt (n, 100);
  cr_assert_eq (cm_builder_init (&b, &m, &io), 0);
  set = calloc (m.nw + 1, 1);
  var = calloc (m.nw + 1, 1);
  for (pi = 0; pi < n; pi++) {
    struct cm_torn torn;
    uint64_t k;
    cm_target (&m, &pts[pi], set);
    /* Durable sets only grow from flush/FUA point to flush/FUA point. */
    cr_assert_eq (cm_build (&b, set, NULL), 0);
    check_state (&m, &mem, set, NULL, "point");
    for (k = 1; k <= 3; k++) {
      memcpy (var, set, m.nw);
      if (cm_reorder (&m, &pts[pi], var, k, &rng) != 1)
        break;
      for (i = 0; i < m.nw; i++)
        cr_assert (!set[i] || var[i], "a reorder variant drops a write");
      cr_assert_eq (cm_build (&b, var, NULL), 0);
      check_state (&m, &mem, var, NULL, "reorder variant");
    }
    if (cm_tear (&m, &pts[pi], set, &torn, &rng) == 1) {
      size_t ones = 0, s;
      for (s = 0; s < torn.nsectors; s++)
        ones += torn.mask[s];
      cr_assert (ones > 0 && ones < torn.nsectors, "torn: a proper part");
      cr_assert_eq (cm_build (&b, set, &torn), 0);
      check_state (&m, &mem, set, &torn, "torn variant");
      free (torn.mask);
    }
  }
  cr_assert_gt (b.fast, 0, "some points take the fast path");
  cr_assert_gt (b.slow, 0, "variants take the slow path");
  free (set);
  free (var);
  free (pts);
  cm_builder_free (&b);
  cm_model_free (&m);
}

Test (crash_model, reorder_variants_are_distinct_when_few)
{
  struct cm_req r[] = { W (1, 0, 512, 0, 1), W (2, 512, 512, 2, 3),
                        F (3, 4, 5), W (4, 1024, 512, 6, 7),
                        W (5, 1536, 512, 8, 9), F (6, 10, 11) };
  struct cm_model m;
  struct cm_point pt = { .pos = 4, .kind = CM_PT_WRITE };
  uint8_t set[8], var[3][8];
  uint64_t rng = 1, k;

  init (&m, r, 6, CM_TRIM_KEEP);
  cm_target (&m, &pt, set);
  cr_assert (set[0] && set[1] && !set[2] && !set[3]);
  for (k = 1; k <= 3; k++) {
    memcpy (var[k - 1], set, m.nw);
    cr_assert_eq (cm_reorder (&m, &pt, var[k - 1], k, &rng), 1);
  }
  cr_assert_eq (cm_reorder (&m, &pt, set, 4, &rng), 0,
                "two pending writes give three variants, not four");
  cr_assert (memcmp (var[0], var[1], m.nw) && memcmp (var[1], var[2], m.nw) &&
             memcmp (var[0], var[2], m.nw), "variants repeat");
  cm_model_free (&m);
}
