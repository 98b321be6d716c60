/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: crash states built from arbitrary logs
 * (tools/blkreplay/crashmodel.c, what blkreplay crash and image run).
 *
 * The input is a log whose checksums the harness recomputes first, so
 * that mutations reach the model instead of stopping at a CRC.  Every
 * point of every kind, with reorder and torn variants, is built
 * incrementally in memory and compared with the same state built from
 * scratch (the base, then the set's writes in log order): any
 * difference aborts.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crashmodel.h"
#include "crc32c.h"
#include "replaylog.h"

#define MAX_SIZE (1 << 20)      /* larger exports are clipped */
#define MAX_POINTS 64

struct mem { unsigned char *base, *img; uint64_t size; };

static int
mem_base (void *o, void *buf, size_t len, uint64_t off)
{
  memcpy (buf, ((struct mem *) o)->base + off, len);
  return 0;
}

static int
mem_write (void *o, const void *buf, size_t len, uint64_t off)
{
  struct mem *m = o;

  if (off > m->size || len > m->size - off)
    abort ();                   /* the model let a write escape */
  memcpy (m->img + off, buf, len);
  return 0;
}

static void
put32 (unsigned char *p, uint32_t v)
{
  p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}

static uint32_t
get32 (const unsigned char *p)
{
  return p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
    (uint32_t) p[3] << 24;
}

/* Recomputes the header's and every whole record's CRC in place. */
static void
fix_crcs (unsigned char *b, size_t size)
{
  size_t pos, hl;

  if (size < BLKLOG_HEADER_FIXED_V1)
    return;
  hl = get32 (b + 12);
  if (hl < BLKLOG_HEADER_FIXED_V1 || hl > size)
    return;
  put32 (b + hl - 4, crc32c (b, hl - 4));
  for (pos = hl; size - pos >= 8; ) {
    size_t n = get32 (b + pos);
    if (n > size - pos - 8)
      break;
    put32 (b + pos + 4 + n, crc32c (b + pos, 4 + n));
    pos += 8 + n;
  }
}

static void
oracle (const struct cm_model *m, const struct mem *mem, const uint8_t *set,
        const struct cm_torn *torn, unsigned char *want)
{
  struct cm_io io = { (void *) mem, mem_base, mem_write };
  size_t i;

  if (torn) {
    if (cm_render (m, &io, set, torn, want, mem->size, 0) == -1)
      abort ();
    return;
  }
  memcpy (want, mem->base, mem->size);
  for (i = 0; i < m->nw; i++) {
    const struct cm_req *r = &m->reqs[m->w[i]];
    if (!set[i])
      continue;
    if (r->op == BLKLOG_WRITE)
      memcpy (want + r->offset, r->data, r->length);
    else
      memset (want + r->offset, 0, r->length);
  }
}

static void
run_model (const struct cm_req *reqs, size_t n, struct mem *mem,
           enum cm_trim trim, unsigned char *want)
{
  struct cm_model m;
  struct cm_builder b;
  struct cm_io io = { mem, mem_base, mem_write };
  struct cm_point *pts;
  size_t npts, pi;
  uint8_t *set, *var;
  char why[512];
  uint64_t rng = 1;

  if (cm_model_init (&m, reqs, n, mem->size, trim, why, sizeof why) == -1)
    return;
  if (cm_points (&m, CM_PT_FLUSH | CM_PT_FUA | CM_PT_WRITE | CM_PT_SPREAD,
                 3, 0, SIZE_MAX, &pts, &npts) == -1) {
    cm_model_free (&m);
    return;
  }
  set = calloc (m.nw + 1, 1);
  var = calloc (m.nw + 1, 1);
  memcpy (mem->img, mem->base, mem->size);
  if (set && var && cm_builder_init (&b, &m, &io) == 0) {
    for (pi = 0; pi < npts && pi < MAX_POINTS; pi++) {
      struct cm_torn torn;
      uint64_t k;
      cm_target (&m, &pts[pi], set);
      if (cm_build (&b, set, NULL) == -1)
        abort ();
      oracle (&m, mem, set, NULL, want);
      if (memcmp (want, mem->img, mem->size) != 0)
        abort ();
      for (k = 1; k <= 2; k++) {
        memcpy (var, set, m.nw);
        if (cm_reorder (&m, &pts[pi], var, k, &rng) != 1)
          break;
        if (cm_build (&b, var, NULL) == -1)
          abort ();
        oracle (&m, mem, var, NULL, want);
        if (memcmp (want, mem->img, mem->size) != 0)
          abort ();
      }
      if (cm_tear (&m, &pts[pi], set, &torn, &rng) == 1) {
        if (cm_build (&b, set, &torn) == -1)
          abort ();
        oracle (&m, mem, set, &torn, want);
        if (memcmp (want, mem->img, mem->size) != 0)
          abort ();
        free (torn.mask);
      }
    }
    cm_builder_free (&b);
  }
  free (set);
  free (var);
  free (pts);
  cm_model_free (&m);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  unsigned char *buf = malloc (size + 1), *want = NULL;
  struct blklog_header h;
  struct blklog_record r;
  struct cm_req *reqs = NULL;
  struct mem mem = { NULL, NULL, 0 };
  size_t pos, used, n = 0;
  char why[512];
  uint64_t i;

  if (buf == NULL)
    return 0;
  memcpy (buf, data, size);
  fix_crcs (buf, size);
  if (blklog_parse_header (buf, size, &h, why, sizeof why) != BLKLOG_OK)
    goto out;
  reqs = calloc (size / 17 + 1, sizeof *reqs);
  if (reqs == NULL)
    goto out;
  for (pos = h.header_len;
       pos < size && blklog_parse_record (buf + pos, size - pos, &r, &used,
                                          why, sizeof why) == BLKLOG_OK;
       pos += used) {
    if (r.type != BLKLOG_REQUEST)
      continue;
    reqs[n++] = (struct cm_req) {
      .id = r.id, .offset = r.offset, .length = r.length,
      .submit_ns = r.submit_ns, .complete_ns = r.complete_ns,
      .flags = r.flags, .error = r.error, .op = r.op,
      .data = r.payload == BLKLOG_PAYLOAD_DATA ? r.data : NULL,
    };
  }
  mem.size = h.export_size < MAX_SIZE ? h.export_size : MAX_SIZE;
  mem.base = malloc (mem.size + 1);
  mem.img = malloc (mem.size + 1);
  want = malloc (mem.size + 1);
  if (!mem.base || !mem.img || !want)
    goto out;
  for (i = 0; i < mem.size; i++)
    mem.base[i] = (unsigned char) (i * 131 + (i >> 9));
  run_model (reqs, n, &mem, CM_TRIM_KEEP, want);
  run_model (reqs, n, &mem, CM_TRIM_ZERO, want);
 out:
  free (want);
  free (mem.base);
  free (mem.img);
  free (reqs);
  free (buf);
  return 0;
}
