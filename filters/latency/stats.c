/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk latency filter: per-operation statistics. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "stats.h"

const char *const lat_op_names[LAT_OPS] = {
  [LAT_READ] = "read", [LAT_WRITE] = "write", [LAT_ZERO] = "zero",
  [LAT_TRIM] = "trim", [LAT_FLUSH] = "flush", [LAT_EXTENTS] = "extents",
  [LAT_CACHE] = "cache",
};

const double lat_quantiles[LAT_NQ] = { 50, 90, 99, 99.9 };

int
layer_init (struct layer_stats *layer, const char *name,
            uint64_t *const bounds[LAT_OPS], const unsigned nbounds[LAT_OPS])
{
  int i;

  memset (layer, 0, sizeof *layer);
  layer->name = name;
  for (i = 0; i < LAT_OPS; i++) {
    struct op_stats *s = &layer->ops[i];
    s->min_ns = UINT64_MAX;
    s->bounds = bounds[i];
    s->nbounds = nbounds[i];
    s->bins = calloc (nbounds[i] + 1, sizeof *s->bins);
    s->bin_table = bins_table_new (bounds[i], nbounds[i]);
    if (s->bins == NULL || s->bin_table == NULL) {
      layer_free (layer);
      return -1;
    }
  }
  return 0;
}

void
layer_free (struct layer_stats *layer)
{
  int i;

  for (i = 0; i < LAT_OPS; i++) {
    free (layer->ops[i].bins);
    free (layer->ops[i].bin_table);
    free (layer->ops[i].prev_hdr);
    free (layer->ops[i].base_hdr);
    free (layer->ops[i].base_bins);
    layer->ops[i].base_hdr = NULL;
    layer->ops[i].base_bins = NULL;
    layer->ops[i].bins = NULL;
    layer->ops[i].bin_table = NULL;
    layer->ops[i].prev_hdr = NULL;
  }
}

static uint64_t
load (const uint64_t *p)
{
  return __atomic_load_n (p, __ATOMIC_RELAXED);
}

/* The user bin of HDR bucket J among run-time BOUNDS: the bin of the
 * bucket's midpoint.
 */
static unsigned
bin_of_bucket (unsigned j, const uint64_t *bounds, unsigned n)
{
  uint64_t lower, upper;

  hdr_bounds (j, &lower, &upper);
  return bins_index (bounds, n, lower + (upper - 1 - lower) / 2);
}

int
layer_snapshot (struct layer_stats *layer, struct layer_snapshot *snap)
{
  return layer_snapshot_ex (layer, snap, 1, NULL, NULL);
}

int
layer_snapshot_ex (struct layer_stats *layer, struct layer_snapshot *snap,
                   int advance, uint64_t *const *rt_bounds,
                   const unsigned *rt_nbounds)
{
  int i, q;
  unsigned j;

  memset (snap, 0, sizeof *snap);
  snap->name = layer->name;
  for (i = 0; i < LAT_OPS; i++) {
    struct op_stats *s = &layer->ops[i];
    struct op_snapshot *o = &snap->ops[i];
    uint64_t *hdr = malloc (sizeof s->hdr);
    uint64_t *recent = malloc (sizeof s->hdr);
    uint64_t hdr_total = 0, recent_total = 0, total_raw;
    const uint64_t *rb = rt_bounds ? rt_bounds[i] : NULL;
    int first = -1, last = -1;

    o->bounds = rb ? rb : s->bounds;
    o->nbounds = rb ? rt_nbounds[i] : s->nbounds;
    o->bins = calloc (o->nbounds + 1, sizeof *o->bins);
    if (s->prev_hdr == NULL)
      s->prev_hdr = calloc (HDR_BUCKETS, sizeof *s->prev_hdr);
    if (hdr == NULL || recent == NULL || o->bins == NULL ||
        s->prev_hdr == NULL) {
      free (hdr);
      free (recent);
      layer_snapshot_free (snap);
      return -1;
    }
    o->bytes = load (&s->bytes) - s->base_bytes;
    o->failed = load (&s->failed) - s->base_failed;
    total_raw = load (&s->total_ns);
    o->total_ns = total_raw - s->base_total_ns;
    o->min_ns = load (&s->min_ns);
    o->max_ns = load (&s->max_ns);
    o->inflight_max = load (&s->inflight_max);
    /* The samples of split buckets were counted in their bins; every
     * other bucket lies in one bin (see bins_table_new).
     */
    if (rb == NULL)
      for (j = 0; j <= s->nbounds; j++)
        o->bins[j] = load (&s->bins[j]) -
          (s->base_bins ? s->base_bins[j] : 0);
    for (j = 0; j < HDR_BUCKETS; j++) {
      uint64_t raw = load (&s->hdr[j]);
      hdr[j] = raw - (s->base_hdr ? s->base_hdr[j] : 0);
      hdr_total += hdr[j];
      if (rb)
        o->bins[bin_of_bucket (j, rb, o->nbounds)] += hdr[j];
      else if (!(s->bin_table[j] & BIN_SPLIT))
        o->bins[s->bin_table[j]] += hdr[j];
      recent[j] = raw - s->prev_hdr[j];
      recent_total += recent[j];
      if (recent[j]) {
        if (first < 0)
          first = (int) j;
        last = (int) j;
      }
      if (advance)
        s->prev_hdr[j] = raw;
    }
    o->count = hdr_total;
    o->recent_count = recent_total;
    o->recent_total_ns = total_raw - s->prev_total_ns;
    if (advance)
      s->prev_total_ns = total_raw;
    if (o->count == 0) {
      o->min_ns = 0;
      o->max_ns = 0;
    }
    else {
      /* A request racing a reset: counted, its latency missed. */
      if (o->min_ns > o->max_ns)
        o->min_ns = o->max_ns;
      o->p50 = hdr_percentile (hdr, hdr_total, 50, o->min_ns, o->max_ns);
      o->p90 = hdr_percentile (hdr, hdr_total, 90, o->min_ns, o->max_ns);
      o->p99 = hdr_percentile (hdr, hdr_total, 99, o->min_ns, o->max_ns);
      o->p999 = hdr_percentile (hdr, hdr_total, 99.9, o->min_ns, o->max_ns);
    }
    /* Clamped to the all-time min/max: the window's own are not kept. */
    for (q = 0; q < LAT_NQ && recent_total > 0; q++)
      o->recent_q[q] = hdr_percentile (recent, recent_total,
                                       lat_quantiles[q], o->min_ns, o->max_ns);
    if (recent_total > 0 && o->count > 0) {
      /* Bucket midpoints, as the percentiles: within 1/256 either way. */
      uint64_t lo, hi;
      hdr_bounds ((unsigned) first, &lo, &hi);
      o->recent_min_ns = lo + (hi - 1 - lo) / 2;
      hdr_bounds ((unsigned) last, &lo, &hi);
      o->recent_max_ns = lo + (hi - 1 - lo) / 2;
      if (o->recent_min_ns < o->min_ns)
        o->recent_min_ns = o->min_ns;
      if (o->recent_max_ns > o->max_ns)
        o->recent_max_ns = o->max_ns;
      if (o->recent_min_ns > o->recent_max_ns)
        o->recent_min_ns = o->recent_max_ns;
    }
    else
      o->recent_total_ns = 0;
    free (hdr);
    free (recent);
  }
  return 0;
}

int
layer_reset (struct layer_stats *layer)
{
  int i;
  unsigned j;

  /* Allocate everything first: a reset either happens or not. */
  for (i = 0; i < LAT_OPS; i++) {
    struct op_stats *s = &layer->ops[i];
    if (s->base_hdr == NULL)
      s->base_hdr = calloc (HDR_BUCKETS, sizeof *s->base_hdr);
    if (s->prev_hdr == NULL)
      s->prev_hdr = calloc (HDR_BUCKETS, sizeof *s->prev_hdr);
    if (s->base_bins == NULL)
      s->base_bins = calloc (s->nbounds + 1, sizeof *s->base_bins);
    if (s->base_hdr == NULL || s->prev_hdr == NULL || s->base_bins == NULL)
      return -1;
  }
  for (i = 0; i < LAT_OPS; i++) {
    struct op_stats *s = &layer->ops[i];
    /* min/max first: a request that lands after them is one that the
     * counters below count after the reset too (the order op_record
     * updates them in).
     */
    __atomic_store_n (&s->min_ns, UINT64_MAX, __ATOMIC_RELAXED);
    __atomic_store_n (&s->max_ns, 0, __ATOMIC_RELAXED);
    __atomic_store_n (&s->inflight_max,
                      __atomic_load_n (&s->inflight, __ATOMIC_RELAXED),
                      __ATOMIC_RELAXED);
    s->base_bytes = load (&s->bytes);
    s->base_failed = load (&s->failed);
    s->base_total_ns = load (&s->total_ns);
    s->prev_total_ns = s->base_total_ns;
    for (j = 0; j <= s->nbounds; j++)
      s->base_bins[j] = load (&s->bins[j]);
    for (j = 0; j < HDR_BUCKETS; j++)
      s->prev_hdr[j] = s->base_hdr[j] = load (&s->hdr[j]);
  }
  return 0;
}

void
layer_snapshot_free (struct layer_snapshot *snap)
{
  int i;

  for (i = 0; i < LAT_OPS; i++) {
    free (snap->ops[i].bins);
    snap->ops[i].bins = NULL;
  }
}
