/* SPDX-License-Identifier: BSD-3-Clause */
/* blkreplay tool: the crash-consistency model (see crashmodel.h and
 * docs/crash-testing.md).
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crashmodel.h"
#include "replaylog.h"

#define SECTOR 512
#define CHUNK (UINT64_C (1) << 20)      /* slow path: bytes per render */

static int
modifies (const struct cm_req *r)
{
  return r->op == BLKLOG_WRITE || r->op == BLKLOG_ZERO ||
    r->op == BLKLOG_TRIM;
}

struct flush_ent { uint64_t submit_ns; size_t pos; };

static int
flush_cmp (const void *a, const void *b)
{
  const struct flush_ent *x = a, *y = b;

  if (x->submit_ns != y->submit_ns)
    return x->submit_ns < y->submit_ns ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

int
cm_model_init (struct cm_model *m, const struct cm_req *reqs, size_t nreqs,
               uint64_t size, enum cm_trim trim, char *why, size_t whylen)
{
  struct flush_ent *fl = NULL;
  size_t nfl = 0, i, j;

  memset (m, 0, sizeof *m);
  m->reqs = reqs;
  m->nreqs = nreqs;
  m->size = size;
  m->trim = trim;
  m->w = malloc ((nreqs + 1) * sizeof *m->w);
  m->durable_at = malloc ((nreqs + 1) * sizeof *m->durable_at);
  fl = malloc ((nreqs + 1) * sizeof *fl);
  if (!m->w || !m->durable_at || !fl) {
    snprintf (why, whylen, "out of memory (%zu requests)", nreqs);
    goto err;
  }
  for (i = 0; i < nreqs; i++) {
    const struct cm_req *r = &reqs[i];
    if (r->error)
      continue;                 /* failed: promises and changes nothing */
    if (r->op == BLKLOG_FLUSH) {
      fl[nfl++] = (struct flush_ent) { r->submit_ns, i };
      continue;
    }
    if (!modifies (r) || r->length == 0)
      continue;
    if (r->offset > size || r->length > size - r->offset) {
      snprintf (why, whylen, "request #%" PRIu64 " (%s %" PRIu64 "+%" PRIu64
                ") goes beyond the end of the image (%" PRIu64 " bytes)",
                r->id, blklog_op_name (r->op), r->offset, r->length, size);
      goto err;
    }
    if (r->op == BLKLOG_WRITE && r->data == NULL) {
      snprintf (why, whylen, "request #%" PRIu64 " (write %" PRIu64 "+%"
                PRIu64 ") has no data: crash states need the written data, "
                "record with blkreplay-data=full", r->id, r->offset,
                r->length);
      goto err;
    }
    if (r->op == BLKLOG_TRIM && trim == CM_TRIM_KEEP)
      continue;                 /* the old contents stay */
    m->w[m->nw++] = i;
  }

  /* durable_at: the earliest log position of a flush submitted after
   * the write completed (suffix minimum over flushes by submit time),
   * or the write's own position if it had FUA.
   */
  qsort (fl, nfl, sizeof *fl, flush_cmp);
  for (j = nfl; j-- > 1; )
    if (fl[j].pos < fl[j - 1].pos)
      fl[j - 1].pos = fl[j].pos;
  for (i = 0; i < m->nw; i++) {
    const struct cm_req *r = &reqs[m->w[i]];
    size_t lo = 0, hi = nfl, at = SIZE_MAX;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (fl[mid].submit_ns <= r->complete_ns)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo < nfl)
      at = fl[lo].pos;
    if ((r->flags & BLKLOG_F_FUA) && m->w[i] < at)
      at = m->w[i];
    m->durable_at[i] = at;
  }
  free (fl);
  return 0;

 err:
  free (fl);
  cm_model_free (m);
  return -1;
}

void
cm_model_free (struct cm_model *m)
{
  free (m->w);
  free (m->durable_at);
  m->w = m->durable_at = NULL;
  m->nw = 0;
}

/* ---- points ---- */

static unsigned
kind_at (const struct cm_model *m, size_t pos, unsigned kinds)
{
  const struct cm_req *r = &m->reqs[pos];

  if (r->error)
    return 0;
  if ((kinds & CM_PT_FLUSH) && r->op == BLKLOG_FLUSH)
    return CM_PT_FLUSH;
  if ((kinds & CM_PT_FUA) && modifies (r) && (r->flags & BLKLOG_F_FUA))
    return CM_PT_FUA;
  if ((kinds & CM_PT_WRITE) && modifies (r))
    return CM_PT_WRITE;
  return 0;
}

int
cm_points (const struct cm_model *m, unsigned kinds, size_t nspread,
           size_t from, size_t to, struct cm_point **pts, size_t *npts)
{
  size_t n = 0, pos, span, k;
  struct cm_point *p;

  *pts = NULL;
  *npts = 0;
  if (m->nreqs == 0 || from >= m->nreqs || from > to)
    return 0;
  if (to >= m->nreqs)
    to = m->nreqs - 1;
  span = to - from + 1;
  if (!(kinds & CM_PT_SPREAD) || nspread > span)
    nspread = (kinds & CM_PT_SPREAD) ? span : 0;
  p = malloc ((span + 1) * sizeof *p);
  if (p == NULL)
    return -1;
  /* The k-th spread point (k = 1..nspread) ends the k-th of nspread
   * equal slices of [from, to]: the last one is TO.
   */
  k = 1;
  for (pos = from; pos <= to; pos++) {
    unsigned kind = kind_at (m, pos, kinds);
    int spread = 0;
    while (k <= nspread && from + (k * span) / nspread - 1 <= pos) {
      if (from + (k * span) / nspread - 1 == pos)
        spread = 1;
      k++;
    }
    if (!kind && spread)
      kind = CM_PT_SPREAD;
    if (kind)
      p[n++] = (struct cm_point) { .pos = pos, .kind = kind,
                                   .acked = kind == CM_PT_WRITE };
  }
  *pts = p;
  *npts = n;
  return 0;
}

/* ---- states ---- */

void
cm_target (const struct cm_model *m, const struct cm_point *pt, uint8_t *set)
{
  size_t i;

  for (i = 0; i < m->nw; i++)
    set[i] = m->durable_at[i] <= pt->pos || (pt->acked && m->w[i] <= pt->pos);
}

static uint64_t
first_sector (const struct cm_req *r)
{
  return r->offset / SECTOR;
}

static size_t
nsectors (const struct cm_req *r)
{
  return (size_t) ((r->offset + r->length - 1) / SECTOR - first_sector (r) + 1);
}

/* Copies the part of write R inside [LO, HI) into BUF (which holds
 * [OFF, ...)).
 */
static void
apply (const struct cm_req *r, unsigned char *buf, uint64_t off,
       uint64_t lo, uint64_t hi)
{
  if (r->op == BLKLOG_WRITE)
    memcpy (buf + (lo - off), r->data + (lo - r->offset), hi - lo);
  else
    memset (buf + (lo - off), 0, hi - lo);
}

int
cm_render (const struct cm_model *m, const struct cm_io *io,
           const uint8_t *set, const struct cm_torn *torn,
           unsigned char *buf, size_t len, uint64_t off)
{
  uint64_t end = off + len;
  size_t i;

  if (io->base_pread (io->opaque, buf, len, off) == -1)
    return -1;
  for (i = 0; i < m->nw; i++) {
    const struct cm_req *r = &m->reqs[m->w[i]];
    uint64_t lo, hi;
    if (!set[i] && !(torn && torn->w == i))
      continue;
    lo = r->offset > off ? r->offset : off;
    hi = r->offset + r->length < end ? r->offset + r->length : end;
    if (lo >= hi)
      continue;
    if (set[i])
      apply (r, buf, off, lo, hi);
    else {
      /* Torn: only the sectors in the mask. */
      uint64_t s = lo / SECTOR;
      for (; s * SECTOR < hi; s++) {
        uint64_t a = s * SECTOR > lo ? s * SECTOR : lo;
        uint64_t b = (s + 1) * SECTOR < hi ? (s + 1) * SECTOR : hi;
        if (torn->mask[s - first_sector (r)])
          apply (r, buf, off, a, b);
      }
    }
  }
  return 0;
}

int
cm_builder_init (struct cm_builder *b, const struct cm_model *m,
                 const struct cm_io *io)
{
  memset (b, 0, sizeof *b);
  b->m = m;
  b->io = *io;
  b->cur = calloc (m->nw + 1, 1);
  b->buf = malloc (CHUNK);
  b->maxcur = SIZE_MAX;
  b->torn.w = SIZE_MAX;
  if (!b->cur || !b->buf) {
    cm_builder_free (b);
    errno = ENOMEM;
    return -1;
  }
  return 0;
}

void
cm_builder_free (struct cm_builder *b)
{
  free (b->cur);
  free (b->buf);
  free (b->torn_mask);
  b->cur = NULL;
  b->buf = NULL;
  b->torn_mask = NULL;
}

/* Writes R's own contents (the fast path: nothing later covers it). */
static int
write_whole (struct cm_builder *b, const struct cm_req *r)
{
  uint64_t done = 0;

  if (r->op == BLKLOG_WRITE) {
    b->bytes_written += r->length;
    return b->io.pwrite (b->io.opaque, r->data, r->length, r->offset);
  }
  memset (b->buf, 0, CHUNK);
  while (done < r->length) {
    uint64_t n = r->length - done < CHUNK ? r->length - done : CHUNK;
    if (b->io.pwrite (b->io.opaque, b->buf, n, r->offset + done) == -1)
      return -1;
    done += n;
  }
  b->bytes_written += r->length;
  return 0;
}

struct range { uint64_t lo, hi; };

static int
range_cmp (const void *a, const void *b)
{
  const struct range *x = a, *y = b;

  return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void
add_range (struct range *rs, size_t *n, const struct cm_req *r)
{
  rs[(*n)++] = (struct range) { r->offset, r->offset + r->length };
}

/* Re-renders from the base every range a changed write covers. */
static int
slow_path (struct cm_builder *b, const uint8_t *set,
           const struct cm_torn *torn)
{
  const struct cm_model *m = b->m;
  struct range *rs = malloc ((m->nw + 2) * sizeof *rs);
  size_t n = 0, i, j;
  int ret = -1;

  if (rs == NULL) {
    errno = ENOMEM;
    return -1;
  }
  for (i = 0; i < m->nw; i++)
    if (!set[i] != !b->cur[i])
      add_range (rs, &n, &m->reqs[m->w[i]]);
  if (b->torn.w != SIZE_MAX)
    add_range (rs, &n, &m->reqs[m->w[b->torn.w]]);
  if (torn && torn->w != SIZE_MAX)
    add_range (rs, &n, &m->reqs[m->w[torn->w]]);
  qsort (rs, n, sizeof *rs, range_cmp);
  /* Merge, then render each merged range a chunk at a time. */
  for (i = 0; i < n; i = j) {
    uint64_t lo = rs[i].lo, hi = rs[i].hi;
    for (j = i + 1; j < n && rs[j].lo <= hi; j++)
      if (rs[j].hi > hi)
        hi = rs[j].hi;
    while (lo < hi) {
      size_t len = hi - lo < CHUNK ? (size_t) (hi - lo) : (size_t) CHUNK;
      if (cm_render (m, &b->io, set, torn, b->buf, len, lo) == -1 ||
          b->io.pwrite (b->io.opaque, b->buf, len, lo) == -1)
        goto out;
      b->bytes_written += len;
      lo += len;
    }
  }
  ret = 0;
 out:
  free (rs);
  return ret;
}

int
cm_build (struct cm_builder *b, const uint8_t *set, const struct cm_torn *torn)
{
  const struct cm_model *m = b->m;
  int fast = b->torn.w == SIZE_MAX && (!torn || torn->w == SIZE_MAX);
  size_t i;

  /* Fast path: only additions, all later in the log than anything in
   * the image, so applying them in order over it is the state.
   */
  for (i = 0; fast && i < m->nw; i++) {
    if (b->cur[i] && !set[i])
      fast = 0;
    else if (!b->cur[i] && set[i] && b->maxcur != SIZE_MAX && i < b->maxcur)
      fast = 0;
  }
  if (fast) {
    b->fast++;
    for (i = 0; i < m->nw; i++)
      if (set[i] && !b->cur[i] &&
          write_whole (b, &m->reqs[m->w[i]]) == -1)
        return -1;
  }
  else {
    b->slow++;
    if (slow_path (b, set, torn) == -1)
      return -1;
  }

  memcpy (b->cur, set, m->nw);
  b->maxcur = SIZE_MAX;
  for (i = m->nw; i-- > 0; )
    if (set[i]) {
      b->maxcur = i;
      break;
    }
  free (b->torn_mask);
  b->torn_mask = NULL;
  b->torn.w = SIZE_MAX;
  if (torn && torn->w != SIZE_MAX) {
    b->torn_mask = malloc (torn->nsectors);
    if (b->torn_mask == NULL) {
      errno = ENOMEM;
      return -1;
    }
    memcpy (b->torn_mask, torn->mask, torn->nsectors);
    b->torn = *torn;
    b->torn.mask = b->torn_mask;
  }
  return 0;
}

/* ---- seeded variants ---- */

uint64_t
cm_rand (uint64_t *s)
{
  uint64_t x = *s ? *s : UINT64_C (0x9E3779B97F4A7C15);

  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * UINT64_C (0x2545F4914F6CDD1D);
}

/* Writes completed by PT but not in SET (acknowledged, not durable). */
static int
pending (const struct cm_model *m, const struct cm_point *pt,
         const uint8_t *set, size_t i)
{
  return !set[i] && m->w[i] <= pt->pos;
}

int
cm_reorder (const struct cm_model *m, const struct cm_point *pt,
            uint8_t *set, uint64_t nth, uint64_t *rng)
{
  size_t i, c = 0, picked = 0, k;
  uint8_t *take;

  for (i = 0; i < m->nw; i++)
    if (pending (m, pt, set, i))
      c++;
  if (c == 0 || nth == 0)
    return 0;
  take = calloc (m->nw + 1, 1);
  if (take == NULL)
    return -1;
  if (c < 20 && nth > (UINT64_C (1) << c) - 1) {
    free (take);                /* every subset was enumerated */
    return 0;
  }
  k = 0;
  for (i = 0; i < m->nw; i++)
    if (pending (m, pt, set, i)) {
      /* Few pending writes: variant NTH is the subset whose bits spell
       * NTH, so the variants are all distinct.  Many: each pending
       * write persisted with probability 1/2.
       */
      if (c < 20 ? (nth >> k) & 1 : cm_rand (rng) & 1) {
        take[i] = 1;
        picked++;
      }
      k++;
    }
  if (picked == 0) {            /* at least one */
    k = cm_rand (rng) % c;
    for (i = 0; i < m->nw; i++)
      if (pending (m, pt, set, i) && k-- == 0) {
        take[i] = 1;
        break;
      }
  }
  for (i = 0; i < m->nw; i++)
    if (take[i])
      set[i] = 1;
  free (take);
  return 1;
}

int
cm_tear (const struct cm_model *m, const struct cm_point *pt,
         const uint8_t *set, struct cm_torn *torn, uint64_t *rng)
{
  size_t i, c = 0, k, s, ones = 0;

  torn->w = SIZE_MAX;
  torn->mask = NULL;
  torn->nsectors = 0;
  for (i = 0; i < m->nw; i++)
    if (pending (m, pt, set, i) && nsectors (&m->reqs[m->w[i]]) >= 2)
      c++;
  if (c == 0)
    return 0;
  k = cm_rand (rng) % c;
  for (i = 0; i < m->nw; i++)
    if (pending (m, pt, set, i) && nsectors (&m->reqs[m->w[i]]) >= 2 &&
        k-- == 0)
      break;
  torn->w = i;
  torn->nsectors = nsectors (&m->reqs[m->w[i]]);
  torn->mask = malloc (torn->nsectors);
  if (torn->mask == NULL) {
    torn->w = SIZE_MAX;
    return -1;
  }
  for (s = 0; s < torn->nsectors; s++) {
    torn->mask[s] = cm_rand (rng) & 1;
    ones += torn->mask[s];
  }
  /* A proper, non-empty part: flip one sector if all or none landed. */
  if (ones == 0 || ones == torn->nsectors) {
    s = cm_rand (rng) % torn->nsectors;
    torn->mask[s] = !torn->mask[s];
  }
  return 1;
}
