/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk latency filter: histogram maths. */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "histogram.h"
#include "vector.h"

DEFINE_VECTOR_TYPE (bound_vector, uint64_t);

#define MAX_BOUNDARIES 1024

void
hdr_bounds (unsigned idx, uint64_t *lower, uint64_t *upper)
{
  unsigned e, sub;

  if (idx < HDR_SUB) {
    *lower = idx;
    *upper = idx + 1;
    return;
  }
  e = idx / HDR_SUB + HDR_SUB_BITS - 1;
  sub = idx % HDR_SUB;
  *lower = (uint64_t) (HDR_SUB + sub) << (e - HDR_SUB_BITS);
  *upper = *lower + (UINT64_C (1) << (e - HDR_SUB_BITS));
}

uint64_t
hdr_percentile (const uint64_t *buckets, uint64_t count, double p,
                uint64_t min, uint64_t max)
{
  uint64_t rank, seen = 0, lower, upper, v;
  unsigned i;

  if (count == 0)
    return 0;
  /* The smallest value with at least P% of the samples at or below it. */
  rank = (uint64_t) ((p / 100.0) * (double) count + 0.999999999);
  if (rank < 1)
    rank = 1;
  if (rank > count)
    rank = count;
  for (i = 0; i < HDR_BUCKETS; i++) {
    seen += buckets[i];
    if (seen >= rank)
      break;
  }
  if (i == HDR_BUCKETS)       /* counters read while still moving */
    return max;
  hdr_bounds (i, &lower, &upper);
  v = lower + (upper - 1 - lower) / 2;
  if (v < min)
    v = min;
  if (v > max)
    v = max;
  return v;
}

uint16_t *
bins_table_new (const uint64_t *bounds, unsigned n)
{
  uint16_t *t = malloc (HDR_BUCKETS * sizeof *t);
  uint64_t lower, upper;
  unsigned i, lo_bin, hi_bin;

  if (t == NULL)
    return NULL;
  for (i = 0; i < HDR_BUCKETS; i++) {
    hdr_bounds (i, &lower, &upper);
    lo_bin = bins_index (bounds, n, lower);
    /* The last bucket also holds every value past its upper bound. */
    hi_bin = i == HDR_BUCKETS - 1 ? n : bins_index (bounds, n, upper - 1);
    t[i] = (uint16_t) (lo_bin | (lo_bin != hi_bin ? BIN_SPLIT : 0));
  }
  return t;
}

int
boundaries_parse (const char *str, uint64_t **bounds, unsigned *n,
                  char *errbuf, size_t errlen)
{
  bound_vector b = empty_vector;
  unsigned count = 0;           /* == b.len */
  const char *p = str;
  char item[64], why[256];

  if (*str == '\0') {
    snprintf (errbuf, errlen, "empty list of boundaries");
    return -1;
  }
  for (;;) {
    size_t len = strcspn (p, ",");
    uint64_t v;

    if (len == 0) {
      snprintf (errbuf, errlen, "'%s': empty boundary at position %u",
                str, count + 1);
      goto fail;
    }
    if (len >= sizeof item) {
      snprintf (errbuf, errlen, "'%s': boundary %u is too long",
                str, count + 1);
      goto fail;
    }
    memcpy (item, p, len);
    item[len] = '\0';
    if (blk_parse_duration (item, 1, &v, why, sizeof why) == -1) {
      snprintf (errbuf, errlen, "boundary %u: %s", count + 1, why);
      goto fail;
    }
    if (v == 0) {
      snprintf (errbuf, errlen,
                "boundary %u ('%s') is zero: the first bin already starts at 0",
                count + 1, item);
      goto fail;
    }
    if (count > 0 && v <= b.ptr[count - 1]) {
      snprintf (errbuf, errlen,
                "boundary %u ('%s' = %" PRIu64 " ns) is not greater than "
                "the one before it (%" PRIu64 " ns): boundaries must be "
                "sorted and distinct", count + 1, item, v, b.ptr[count - 1]);
      goto fail;
    }
    if (count == MAX_BOUNDARIES) {
      snprintf (errbuf, errlen, "too many boundaries (at most %d)",
                MAX_BOUNDARIES);
      goto fail;
    }
    if (bound_vector_append (&b, v) == -1) {
      snprintf (errbuf, errlen, "out of memory");
      goto fail;
    }
    count++;
    p += len;
    if (*p == '\0')
      break;
    p++;                        /* the comma */
  }
  *bounds = b.ptr;              /* the caller frees it */
  *n = count;
  return 0;

 fail:
  bound_vector_reset (&b);
  return -1;
}

uint64_t *
boundaries_default (unsigned *n)
{
  const unsigned first = 10, last = 34;
  uint64_t *b = malloc ((last - first + 1) * sizeof *b);
  unsigned i;

  if (b == NULL)
    return NULL;
  for (i = first; i <= last; i++)
    b[i - first] = UINT64_C (1) << i;
  *n = last - first + 1;
  return b;
}
