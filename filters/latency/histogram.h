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
 * - A histogram over user boundaries b[0] < b[1] < ... < b[n-1], as in
 *   QEMU's block-latency-histogram-set: bin 0 counts [0, b[0]), bin i
 *   counts [b[i-1], b[i]), bin n counts [b[n-1], inf).
 */
#ifndef LATENCY_HISTOGRAM_H
#define LATENCY_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define HDR_SUB_BITS 7
#define HDR_SUB (1u << HDR_SUB_BITS)         /* buckets per power of two */
#define HDR_MAX_EXP 44                       /* 2^44 ns ~ 4.9 hours */
#define HDR_BUCKETS ((HDR_MAX_EXP - HDR_SUB_BITS + 2) * HDR_SUB)

/* Bucket of value NS (values past 2^(HDR_MAX_EXP+1) share the last). */
static inline unsigned
hdr_index (uint64_t ns)
{
  unsigned e;

  if (ns < HDR_SUB)
    return (unsigned) ns;
  e = 63u - (unsigned) __builtin_clzll (ns);
  if (e > HDR_MAX_EXP)
    return HDR_BUCKETS - 1;
  return (e - HDR_SUB_BITS + 1) * HDR_SUB
    + (unsigned) (ns >> (e - HDR_SUB_BITS)) - HDR_SUB;
}

/* [lower, upper) of bucket IDX. */
extern void hdr_bounds (unsigned idx, uint64_t *lower, uint64_t *upper);

/* The value at percentile P (0 < P <= 100) of the HDR histogram
 * BUCKETS holding COUNT samples, clamped to [MIN, MAX].
 */
extern uint64_t hdr_percentile (const uint64_t *buckets, uint64_t count,
                                double p, uint64_t min, uint64_t max);

/* A table from HDR bucket to the user bin of the bucket's lower bound,
 * so the request path finds a user bin with one load and (almost
 * always) one comparison instead of a binary search: a bucket can only
 * straddle boundaries that lie inside it, and bins_lookup steps over
 * those.  Returns a new array of HDR_BUCKETS entries, or NULL.
 */
extern uint16_t *bins_table_new (const uint64_t *bounds, unsigned n);

static inline unsigned
bins_lookup (const uint16_t *table, const uint64_t *bounds, unsigned n,
             unsigned hdr_idx, uint64_t ns)
{
  unsigned bin = table[hdr_idx];

  while (bin < n && ns >= bounds[bin])
    bin++;
  return bin;
}

/* Index of the user bin of NS among N sorted BOUNDS (0..N). */
static inline unsigned
bins_index (const uint64_t *bounds, unsigned n, uint64_t ns)
{
  unsigned lo = 0, hi = n;        /* answer in [lo, hi] */

  while (lo < hi) {
    unsigned mid = (lo + hi) / 2;
    if (ns < bounds[mid])
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
