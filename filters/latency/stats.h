/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk latency filter: per-operation statistics.
 *
 * Concurrency: every counter is updated with relaxed atomic operations
 * from the request threads, without a lock.  A report reads them with
 * relaxed loads into a snapshot; the snapshot of a busy server may mix
 * requests that were counted in one field but not yet in the next,
 * which a periodic report tolerates (the final report is taken after
 * the last connection closed).
 */
#ifndef LATENCY_STATS_H
#define LATENCY_STATS_H

#include <stdint.h>

#include "histogram.h"

enum lat_op {
  LAT_READ, LAT_WRITE, LAT_ZERO, LAT_TRIM, LAT_FLUSH, LAT_EXTENTS, LAT_CACHE,
  LAT_OPS
};

extern const char *const lat_op_names[LAT_OPS];

struct op_stats {
  /* No count field: the count is the sum of hdr[], one atomic less. */
  uint64_t bytes;
  uint64_t failed;
  uint64_t total_ns;
  uint64_t min_ns;              /* UINT64_MAX until the first sample */
  uint64_t max_ns;
  uint64_t inflight;
  uint64_t inflight_max;
  const uint64_t *bounds;       /* shared, read-only after config */
  unsigned nbounds;
  uint64_t *bins;               /* nbounds + 1; split buckets' samples only */
  uint16_t *bin_table;          /* HDR bucket -> user bin, see histogram.h */
  uint64_t hdr[HDR_BUCKETS];

  /* The HDR counts at the previous snapshot, for the quantiles of the
   * recent window.  Not shared with the request path: only the report
   * writer touches it (one at a time, see latency.c).
   */
  uint64_t *prev_hdr;           /* NULL until the first snapshot */
  uint64_t prev_total_ns;       /* total_ns at the previous snapshot */
  /* The raw counters at the last reset (stats_reset): a snapshot
   * reports the counters minus these, so a reset never has to write
   * the counters the request path increments.  Report writer only
   * (latency.c's report_lock), like prev_hdr.  base_hdr is NULL until
   * the first reset.
   */
  uint64_t *base_hdr;
  uint64_t *base_bins;          /* nbounds + 1, NULL until a reset */
  uint64_t base_bytes, base_failed, base_total_ns;
};

/* Statistics of one layer: "nbdkit" (what the filter sees) or a layer
 * a plugin brackets through the hook ("backend", "librbd", ...).
 */
struct layer_stats {
  const char *name;
  struct op_stats ops[LAT_OPS];
};

/* BOUNDS[op]/NBOUNDS[op] are borrowed and must outlive LAYER. */
extern int layer_init (struct layer_stats *layer, const char *name,
                       uint64_t *const bounds[LAT_OPS],
                       const unsigned nbounds[LAT_OPS]);
extern void layer_free (struct layer_stats *layer);

static inline void
op_start (struct op_stats *s)
{
  uint64_t now = __atomic_add_fetch (&s->inflight, 1, __ATOMIC_RELAXED);
  uint64_t max = __atomic_load_n (&s->inflight_max, __ATOMIC_RELAXED);

  while (now > max &&
         !__atomic_compare_exchange_n (&s->inflight_max, &max, now, 1,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    ;
}

/* Account one finished request of BYTES that took NS; FAILED != 0 if
 * it returned an error.  Call op_start first when tracking in-flight.
 * The user bins are not counted here (see bins_table_new) unless the
 * HDR bucket is split by a boundary.
 */
static inline void
op_record (struct op_stats *s, uint64_t ns, uint64_t bytes, int failed)
{
  unsigned idx = hdr_index (ns);
  uint16_t entry = s->bin_table[idx];
  uint64_t cur;

  /* min/max first: a report that sees the sample counted sees them too. */
  cur = __atomic_load_n (&s->min_ns, __ATOMIC_RELAXED);
  while (ns < cur &&
         !__atomic_compare_exchange_n (&s->min_ns, &cur, ns, 1,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    ;
  cur = __atomic_load_n (&s->max_ns, __ATOMIC_RELAXED);
  while (ns > cur &&
         !__atomic_compare_exchange_n (&s->max_ns, &cur, ns, 1,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    ;
  __atomic_fetch_add (&s->bytes, bytes, __ATOMIC_RELAXED);
  __atomic_fetch_add (&s->total_ns, ns, __ATOMIC_RELAXED);
  if (__builtin_expect (failed, 0))
    __atomic_fetch_add (&s->failed, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add (&s->hdr[idx], 1, __ATOMIC_RELAXED);
  if (__builtin_expect (entry & BIN_SPLIT, 0))
    __atomic_fetch_add (&s->bins[bins_lookup (entry, s->bounds, s->nbounds,
                                              ns)], 1, __ATOMIC_RELAXED);
}

static inline void
op_end (struct op_stats *s)
{
  __atomic_fetch_sub (&s->inflight, 1, __ATOMIC_RELAXED);
}

/* The quantiles reported, in percent. */
#define LAT_NQ 4
extern const double lat_quantiles[LAT_NQ];        /* 50, 90, 99, 99.9 */

/* A consistent-enough copy for reporting (see the note above). */
struct op_snapshot {
  uint64_t count, bytes, failed, total_ns, min_ns, max_ns, inflight_max;
  uint64_t p50, p90, p99, p999;         /* since start */
  /* The recent window: requests completed since the previous snapshot
   * of this layer (since start for the first), and their quantiles
   * (0 when recent_count is 0).
   */
  uint64_t recent_count;
  uint64_t recent_q[LAT_NQ];
  /* The window's own min, max and sum, like QEMU's timed_stats.  min
   * and max are read from the window's HDR buckets (the midpoints of
   * the lowest and highest occupied buckets, clamped to the all-time
   * range), so within 1/256 of the true value; the sum is exact.
   */
  uint64_t recent_min_ns, recent_max_ns, recent_total_ns;
  const uint64_t *bounds;
  unsigned nbounds;
  uint64_t *bins;               /* nbounds + 1, owned */
};

struct layer_snapshot {
  const char *name;
  struct op_snapshot ops[LAT_OPS];
};

/* Takes a snapshot and starts a new recent window: call it from the
 * report writer only (it updates LAYER's prev_hdr).
 */
extern int layer_snapshot (struct layer_stats *layer,
                           struct layer_snapshot *snap);
/* The same with options.  ADVANCE 0 reads the recent window without
 * starting a new one (a control-socket query must not steal the
 * window of the periodic report).  BOUNDS/NBOUNDS, when BOUNDS is not
 * NULL and BOUNDS[op] is not NULL, replace OP's user boundaries for
 * this snapshot: the bins are then apportioned from the HDR buckets
 * (each sample lands in the bin of its bucket's midpoint, so only a
 * sample within 1/128 of its value from a boundary may be one bin
 * off).  The snapshot borrows BOUNDS[op]: keep it alive while using
 * the snapshot.
 */
extern int layer_snapshot_ex (struct layer_stats *layer,
                              struct layer_snapshot *snap, int advance,
                              uint64_t *const *bounds,
                              const unsigned *nbounds);
/* Zero what the snapshots report, for every op of LAYER: the counters
 * become the baseline (see base_hdr), min/max start again and
 * inflight_max restarts from the requests in flight now.  Report
 * writer only (the same exclusion as layer_snapshot).  A request that
 * completes while this runs is either wholly before or wholly after
 * the reset in each counter, but may fall on different sides in two
 * counters (e.g. counted in count but its bytes before the reset);
 * its latency may be missed in min/max.  -1 on out of memory (then
 * nothing was reset).
 */
extern int layer_reset (struct layer_stats *layer);
extern void layer_snapshot_free (struct layer_snapshot *snap);

#endif /* LATENCY_STATS_H */
