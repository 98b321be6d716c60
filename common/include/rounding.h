/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: powers of two and rounding to a multiple.
 *
 * Why: cluster, sector and block-size arithmetic appears in every
 * module; written inline it hides the one case that matters (N not a
 * power of two, or a sum that wraps).  Thread model: pure functions.
 *
 * All of these work on uint64_t.  round_down, round_up and
 * blk_round_up_checked require is_power_of_2 (N) and do not check it:
 * callers validate N once (at config or open time) so the hot path
 * stays a mask.  Use div_round_up for any N != 0.
 */
#ifndef NBDKIT_BLK_ROUNDING_H
#define NBDKIT_BLK_ROUNDING_H

#include <stdbool.h>
#include <stdint.h>

/* True for 1, 2, 4, ... 2^63; false for 0. */
static inline bool
is_power_of_2 (uint64_t v)
{
  return v != 0 && (v & (v - 1)) == 0;
}

/* log2 of a power of two (0 for 1).  Undefined for V == 0. */
static inline unsigned
blk_log2_pow2 (uint64_t v)
{
  return (unsigned) __builtin_ctzll (v);
}

/* Round V down / up to a multiple of N, N a power of two.
 * round_up wraps to 0 when the result does not fit in 64 bits
 * (V > UINT64_MAX - N + 1): callers that take V from outside check
 * with blk_round_up_checked instead.
 */
static inline uint64_t
round_down (uint64_t v, uint64_t n)
{
  return v & ~(n - 1);
}

static inline uint64_t
round_up (uint64_t v, uint64_t n)
{
  return (v + n - 1) & ~(n - 1);
}

/* round_up that reports overflow: returns false, and leaves *R alone,
 * when the rounded value does not fit in 64 bits.
 */
static inline bool
blk_round_up_checked (uint64_t v, uint64_t n, uint64_t *r)
{
  uint64_t t;

  if (__builtin_add_overflow (v, n - 1, &t))
    return false;
  *r = t & ~(n - 1);
  return true;
}

/* ceil (V / N) for any N != 0, without the (V + N - 1) overflow. */
static inline uint64_t
div_round_up (uint64_t v, uint64_t n)
{
  return v / n + (v % n != 0);
}

#endif /* NBDKIT_BLK_ROUNDING_H */
