/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk latency filter: histogram maths (pure, no I/O, no locks).
 *
 * Two histograms are kept per operation:
 *
 * - A log-linear ("HDR") histogram for percentiles: values below 128 ns
 *   get one bucket each; above, every power of two is split into 128
 *   equal buckets, so a bucket is at most 1/128 of its lower bound
 *   wide.  Reporting the bucket midpoint is then within 0.4% of any
 *   value in it, well inside the 1% we promise.
 *
 * - A histogram over user boundaries b[0] < b[1] < ... < b[n-1], the
 *   boundaries of QEMU's block-latency-histogram-set but closed on the
 *   right as Prometheus' "le" means: bin 0 counts [0, b[0]], bin i
 *   counts (b[i-1], b[i]], bin n counts (b[n-1], inf).  A sample equal
 *   to a boundary is in that boundary's bin, so the cumulative count up
 *   to bin i is exactly the number of samples <= b[i].  (QEMU counts
 *   [b[i-1], b[i]); the two differ only for a sample that lands on a
 *   boundary to the nanosecond.)
 */
#ifndef LATENCY_HISTOGRAM_H
#define LATENCY_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define HDR_SUB_BITS 7
#define HDR_SUB (1u << HDR_SUB_BITS)         /* buckets per power of two */
#define HDR_MAX_EXP 44                       /* 2^44 ns ~ 4.9 hours */
#define HDR_BUCKETS ((HDR_MAX_EXP - HDR_SUB_BITS + 2) * HDR_SUB)

/* Bucket of value NS (values past 2^(HDR_MAX_EXP+1) share the last).
 *
 * With SH = max(e - 7, 0) for the top bit e of NS, the bucket is
 * SH * 128 + (NS >> SH): NS >> SH keeps NS's top 8 bits, in [128, 256)
 * once e >= 7, and is NS itself below 256.  ORing 128 into NS before
 * finding its top bit makes SH 0 for every NS < 256 without a branch.
 * This is on every request's path: a handful of instructions.
 */
static inline unsigned
hdr_index (uint64_t ns)
{
  unsigned sh = 63u - (unsigned) __builtin_clzll (ns | HDR_SUB) - HDR_SUB_BITS;
  unsigned idx = (sh << HDR_SUB_BITS) + (unsigned) (ns >> sh);

  return idx < HDR_BUCKETS ? idx : HDR_BUCKETS - 1;
}

/* [lower, upper) of bucket IDX. */
extern void hdr_bounds (unsigned idx, uint64_t *lower, uint64_t *upper);

/* The value at percentile P (0 < P <= 100) of the HDR histogram
 * BUCKETS holding COUNT samples, clamped to [MIN, MAX].
 */
extern uint64_t hdr_percentile (const uint64_t *buckets, uint64_t count,
                                double p, uint64_t min, uint64_t max);

/* A table from HDR bucket to user bin, so that the request path does
 * not count user bins at all: a report adds each HDR bucket's count to
 * the bin the whole bucket falls in.  Only a bucket that a boundary
 * splits (some of its values <= the boundary, some above) cannot be
 * apportioned later; its entry has BIN_SPLIT set and the request path
 * counts its samples in their exact bin (bins_lookup).  With the
 * default power-of-two boundaries one bucket in 128 of an octave is
 * split.  Returns a new array of HDR_BUCKETS entries, or NULL.
 */
#define BIN_SPLIT 0x8000u        /* boundaries are at most 1024 */
extern uint16_t *bins_table_new (const uint64_t *bounds, unsigned n);

/* The exact bin of NS, which is in a split HDR bucket whose table
 * entry is ENTRY: the bin of the bucket's lowest value, stepped over the
 * boundaries inside the bucket.
 */
static inline unsigned
bins_lookup (uint16_t entry, const uint64_t *bounds, unsigned n, uint64_t ns)
{
  unsigned bin = entry & ~BIN_SPLIT;

  while (bin < n && ns > bounds[bin])
    bin++;
  return bin;
}

/* Index of the user bin of NS among N sorted BOUNDS (0..N): the number
 * of boundaries strictly below NS.
 */
static inline unsigned
bins_index (const uint64_t *bounds, unsigned n, uint64_t ns)
{
  unsigned lo = 0, hi = n;        /* answer in [lo, hi] */

  while (lo < hi) {
    unsigned mid = (lo + hi) / 2;
    if (ns <= bounds[mid])
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

/* Parse a comma-separated list of durations ("1ms,2ms,4ms"; a bare
 * number is nanoseconds, as in QEMU) into a new array.  Rejects an
 * empty list or element, zero, and values that do not strictly grow.
 * Returns 0, or -1 with a reason in ERRBUF.
 */
extern int boundaries_parse (const char *str, uint64_t **bounds, unsigned *n,
                             char *errbuf, size_t errlen);

/* The default: powers of two from 2^10 ns (~1us) to 2^34 ns (~17s),
 * like bpftrace's hist().  Returns a new array.
 */
extern uint64_t *boundaries_default (unsigned *n);

#endif /* LATENCY_HISTOGRAM_H */
