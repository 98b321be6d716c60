/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: the latency filter's histogram maths. */
#include <config.h>

#include <math.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "histogram.h"
#include "stats.h"

Test (hdr, index_and_bounds_agree)
{
  /* Every value lies in the bucket hdr_index picks, for a dense sweep
   * of small values and for values around every power of two.
   */
  uint64_t v, lo, hi;
  unsigned e;

  for (v = 0; v < 100000; v++) {
    hdr_bounds (hdr_index (v), &lo, &hi);
    cr_assert (lo <= v && v < hi, "%lu not in [%lu,%lu)", v, lo, hi);
  }
  for (e = 8; e <= HDR_MAX_EXP; e++) {
    uint64_t p = UINT64_C (1) << e;
    uint64_t probes[] = { p - 1, p, p + 1, p + p / 3, 2 * p - 1 };
    for (unsigned i = 0; i < 5; i++) {
      hdr_bounds (hdr_index (probes[i]), &lo, &hi);
      cr_assert (lo <= probes[i] && probes[i] < hi);
    }
  }
}

Test (hdr, index_is_monotonic_and_in_range)
{
  uint64_t v;
  unsigned prev = 0, idx;

  for (v = 1; v < (UINT64_C (1) << 40); v += v / 97 + 1) {
    idx = hdr_index (v);
    cr_assert (idx >= prev);
    cr_assert (idx < HDR_BUCKETS);
    prev = idx;
  }
  cr_assert_eq (hdr_index (UINT64_MAX), HDR_BUCKETS - 1);
}

Test (hdr, bucket_width_within_one_percent)
{
  uint64_t lo, hi;
  unsigned i;

  for (i = HDR_SUB; i < HDR_BUCKETS; i++) {
    hdr_bounds (i, &lo, &hi);
    cr_assert ((double) (hi - lo) / (double) lo <= 1.0 / 128 + 1e-12);
  }
}

/* Percentiles of known distributions against the exact answer. */
static int
cmp_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
  return x < y ? -1 : x > y;
}

Test (hdr, percentiles_within_one_percent)
{
  enum { N = 100000 };
  static uint64_t samples[N], buckets[HDR_BUCKETS];
  const double ps[] = { 50, 90, 99, 99.9, 100 };
  uint64_t min = UINT64_MAX, max = 0;
  unsigned i, seed = 12345;

  for (i = 0; i < N; i++) {
    /* log-uniform from 1us to 1s: exercises many octaves */
    seed = seed * 1103515245u + 12345u;
    double u = (double) (seed >> 8) / (double) (1u << 24);
    samples[i] = (uint64_t) (1000.0 * pow (1e6, u));
    buckets[hdr_index (samples[i])]++;
    if (samples[i] < min) min = samples[i];
    if (samples[i] > max) max = samples[i];
  }
  qsort (samples, N, sizeof samples[0], cmp_u64);
  for (i = 0; i < sizeof ps / sizeof ps[0]; i++) {
    size_t rank = (size_t) ceil (ps[i] / 100.0 * N);
    uint64_t exact = samples[rank - 1];
    uint64_t got = hdr_percentile (buckets, N, ps[i], min, max);
    double err = fabs ((double) got - (double) exact) / (double) exact;
    cr_assert (err <= 0.01, "p%g: exact %lu, got %lu (%.3f%%)",
               ps[i], exact, got, err * 100);
  }
}

Test (hdr, percentile_single_value_is_exact)
{
  static uint64_t buckets[HDR_BUCKETS];
  buckets[hdr_index (123456789)] = 10;
  cr_assert_eq (hdr_percentile (buckets, 10, 50, 123456789, 123456789),
                123456789);
}

Test (bins, le_semantics)
{
  /* bin i counts (b(i-1), b(i)], with bin 0 = [0, b(0)] and a last open
   * bin: a sample on a boundary belongs to that boundary's bin, as
   * Prometheus' le ("less or equal") means.
   */
  const uint64_t b[] = { 10, 20, 40 };
  cr_assert_eq (bins_index (b, 3, 0), 0);
  cr_assert_eq (bins_index (b, 3, 9), 0);
  cr_assert_eq (bins_index (b, 3, 10), 0);
  cr_assert_eq (bins_index (b, 3, 11), 1);
  cr_assert_eq (bins_index (b, 3, 19), 1);
  cr_assert_eq (bins_index (b, 3, 20), 1);
  cr_assert_eq (bins_index (b, 3, 21), 2);
  cr_assert_eq (bins_index (b, 3, 40), 2);
  cr_assert_eq (bins_index (b, 3, 41), 3);
  cr_assert_eq (bins_index (b, 3, UINT64_MAX), 3);
  cr_assert_eq (bins_index (b, 1, 5), 0);
  cr_assert_eq (bins_index (b, 1, 10), 0);
  cr_assert_eq (bins_index (b, 1, 11), 1);
}

static void
parse_ok (const char *s, const uint64_t *want, unsigned nwant)
{
  uint64_t *b = NULL;
  unsigned n = 0;
  char why[256] = "";
  cr_assert_eq (boundaries_parse (s, &b, &n, why, sizeof why), 0,
                "'%s': %s", s, why);
  cr_assert_eq (n, nwant);
  for (unsigned i = 0; i < n; i++)
    cr_assert_eq (b[i], want[i]);
  free (b);
}

static void
parse_bad (const char *s, const char *needle)
{
  uint64_t *b = NULL;
  unsigned n = 0;
  char why[512] = "";
  cr_assert_eq (boundaries_parse (s, &b, &n, why, sizeof why), -1,
                "'%s' accepted", s);
  cr_assert (strstr (why, needle), "'%s': '%s' lacks '%s'", s, why, needle);
}

Test (boundaries, parse)
{
  const uint64_t a[] = { 1000000, 2000000, 4000000 };
  const uint64_t q[] = { 10000, 50000, 100000 };   /* QEMU style, ns */
  const uint64_t m[] = { 500, 1000, 1500000 };
  parse_ok ("1ms,2ms,4ms", a, 3);
  parse_ok ("10000,50000,100000", q, 3);
  parse_ok ("500ns,1us,1.5ms", m, 3);
}

Test (boundaries, reject)
{
  parse_bad ("", "empty list");
  parse_bad ("1ms,,2ms", "empty boundary at position 2");
  parse_bad ("1ms,", "empty boundary");
  parse_bad ("0,1ms", "is zero");
  parse_bad ("2ms,1ms", "not greater");
  parse_bad ("1ms,1ms", "not greater");
  parse_bad ("1ms,2xs", "boundary 2");
}

Test (boundaries, default_is_powers_of_two)
{
  unsigned n, i;
  uint64_t *b = boundaries_default (&n);
  cr_assert (n > 20);
  for (i = 0; i < n; i++)
    cr_assert_eq (b[i] & (b[i] - 1), 0);
  for (i = 1; i < n; i++)
    cr_assert_eq (b[i], 2 * b[i - 1]);
  free (b);
}

Test (stats, record_and_snapshot)
{
  uint64_t bounds[] = { 1000, 10000 };
  uint64_t *bp[LAT_OPS];
  unsigned nb[LAT_OPS];
  struct layer_stats l;
  struct layer_snapshot s;
  int i;

  for (i = 0; i < LAT_OPS; i++) {
    bp[i] = bounds;
    nb[i] = 2;
  }
  cr_assert_eq (layer_init (&l, "client", bp, nb), 0);
  op_start (&l.ops[LAT_READ]);
  op_start (&l.ops[LAT_READ]);
  op_record (&l.ops[LAT_READ], 500, 4096, 0);
  op_end (&l.ops[LAT_READ]);
  op_record (&l.ops[LAT_READ], 5000, 4096, 1);
  op_end (&l.ops[LAT_READ]);
  op_start (&l.ops[LAT_READ]);
  op_record (&l.ops[LAT_READ], 50000, 8192, 0);
  op_end (&l.ops[LAT_READ]);
  /* on the boundaries: each in the bin the boundary closes */
  op_record (&l.ops[LAT_READ], 1000, 0, 0);
  op_record (&l.ops[LAT_READ], 10000, 0, 0);
  cr_assert_eq (layer_snapshot (&l, &s), 0);
  cr_assert_eq (s.ops[LAT_READ].count, 5);
  cr_assert_eq (s.ops[LAT_READ].bytes, 16384);
  cr_assert_eq (s.ops[LAT_READ].failed, 1);
  cr_assert_eq (s.ops[LAT_READ].min_ns, 500);
  cr_assert_eq (s.ops[LAT_READ].max_ns, 50000);
  cr_assert_eq (s.ops[LAT_READ].inflight_max, 2);
  cr_assert_eq (s.ops[LAT_READ].bins[0], 2);
  cr_assert_eq (s.ops[LAT_READ].bins[1], 2);
  cr_assert_eq (s.ops[LAT_READ].bins[2], 1);
  cr_assert_eq (s.ops[LAT_WRITE].count, 0);
  cr_assert_eq (s.ops[LAT_WRITE].min_ns, 0);
  layer_snapshot_free (&s);
  layer_free (&l);
}

Test (bins, table_lookup_equals_binary_search)
{
  /* Arbitrary, dense and power-of-two boundaries, including several
   * inside one HDR bucket: the table (+ the step for a split bucket)
   * must always agree with the exact binary search.
   */
  const uint64_t sets[][6] = {
    { 1000, 1500000, 1500001, 1500002, 7000000000, 0 },
    { 1, 2, 3, 127, 128, 129 },
    { 1024, 2048, 4096, 1u << 20, 1u << 30, UINT64_C (1) << 40 },
    { 100000, 100100, 100200, 100300, 100400, UINT64_C (1) << 50 },
  };
  const unsigned ns[] = { 5, 6, 6, 6 };
  unsigned k, i, seed = 7;

  for (k = 0; k < 4; k++) {
    uint16_t *t = bins_table_new (sets[k], ns[k]);
    cr_assert_not_null (t);
    for (i = 0; i < 200000; i++) {
      uint64_t v;
      seed = seed * 1103515245u + 12345u;
      v = (uint64_t) seed << (i % 40);
      if (i % 3 == 0)   /* also hit each boundary, and its neighbours */
        v = sets[k][(i / 3) % ns[k]] - 1 + (i / 3 / ns[k]) % 3;
      uint16_t e = t[hdr_index (v)];
      /* A bucket not split lies in one bin, the table's; a split one
       * is resolved exactly from there.
       */
      cr_assert_eq ((e & BIN_SPLIT) ? bins_lookup (e, sets[k], ns[k], v) : e,
                    bins_index (sets[k], ns[k], v), "set %u value %lu", k, v);
    }
    free (t);
  }
}
