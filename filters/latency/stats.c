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

int
layer_snapshot (struct layer_stats *layer, struct layer_snapshot *snap)
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
    uint64_t hdr_total = 0, recent_total = 0;

    o->bins = calloc (s->nbounds + 1, sizeof *o->bins);
    if (s->prev_hdr == NULL)
      s->prev_hdr = calloc (HDR_BUCKETS, sizeof *s->prev_hdr);
    if (hdr == NULL || recent == NULL || o->bins == NULL ||
        s->prev_hdr == NULL) {
      free (hdr);
      free (recent);
      layer_snapshot_free (snap);
      return -1;
    }
    o->bytes = load (&s->bytes);
    o->failed = load (&s->failed);
    o->total_ns = load (&s->total_ns);
    o->min_ns = load (&s->min_ns);
    o->max_ns = load (&s->max_ns);
    o->inflight_max = load (&s->inflight_max);
    o->bounds = s->bounds;
    o->nbounds = s->nbounds;
    /* The samples of split buckets were counted in their bins; every
     * other bucket lies in one bin (see bins_table_new).
     */
    for (j = 0; j <= s->nbounds; j++)
      o->bins[j] = load (&s->bins[j]);
    for (j = 0; j < HDR_BUCKETS; j++) {
      hdr_total += hdr[j] = load (&s->hdr[j]);
      if (!(s->bin_table[j] & BIN_SPLIT))
        o->bins[s->bin_table[j]] += hdr[j];
      recent[j] = hdr[j] - s->prev_hdr[j];
      recent_total += recent[j];
      s->prev_hdr[j] = hdr[j];
    }
    o->count = hdr_total;
    o->recent_count = recent_total;
    if (o->count == 0)
      o->min_ns = 0;
    else {
      o->p50 = hdr_percentile (hdr, hdr_total, 50, o->min_ns, o->max_ns);
      o->p90 = hdr_percentile (hdr, hdr_total, 90, o->min_ns, o->max_ns);
      o->p99 = hdr_percentile (hdr, hdr_total, 99, o->min_ns, o->max_ns);
      o->p999 = hdr_percentile (hdr, hdr_total, 99.9, o->min_ns, o->max_ns);
    }
    /* Clamped to the all-time min/max: the window's own are not kept. */
    for (q = 0; q < LAT_NQ && recent_total > 0; q++)
      o->recent_q[q] = hdr_percentile (recent, recent_total,
                                       lat_quantiles[q], o->min_ns, o->max_ns);
    free (hdr);
    free (recent);
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
