/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: a small seeded pseudo-random generator.
 *
 * Why: fault injection (blkdebug probability= and corrupt=) and the
 * benchmarks need sequences that are the same on every run and every
 * platform for one seed, so a failure seen once can be replayed.  Not
 * for anything secret.
 *
 * Two pieces, both bit-exact with the copies they replace (see
 * tests/unit-common-random.c, which pins the first outputs):
 *
 *  - blk_splitmix64 (X): the SplitMix64 output function applied to
 *    X + golden ratio.  A stateless 64-bit mixer: turns a user seed
 *    (often 0, 1, 2 ...) or a seed combined with an id into a well
 *    spread state.  Equivalent to one step of a SplitMix64 generator
 *    whose state was X.
 *
 *  - blk_xorshift64s_next (&S): Marsaglia's xorshift (shifts 12, 25,
 *    27) with Vigna's "star" multiplier.  Period 2^64 - 1; the state
 *    must never be 0 (0 maps to 0 forever), which is what
 *    blk_xorshift64s_seed guarantees.
 *
 * Thread model: the state is the caller's; guard it with the lock
 * that guards its owner (one state per rule, per connection ...).
 */
#ifndef NBDKIT_BLK_RANDOM_H
#define NBDKIT_BLK_RANDOM_H

#include <stdint.h>

#define BLK_GOLDEN_GAMMA UINT64_C (0x9e3779b97f4a7c15)

static inline uint64_t
blk_splitmix64 (uint64_t x)
{
  x += BLK_GOLDEN_GAMMA;
  x = (x ^ (x >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
  x = (x ^ (x >> 27)) * UINT64_C (0x94d049bb133111eb);
  return x ^ (x >> 31);
}

/* A valid (non-zero) xorshift state from any 64-bit SEED. */
static inline uint64_t
blk_xorshift64s_seed (uint64_t seed)
{
  return blk_splitmix64 (seed) | 1;
}

static inline uint64_t
blk_xorshift64s_next (uint64_t *state)
{
  uint64_t x = *state;

  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * UINT64_C (0x2545f4914f6cdd1d);
}

#endif /* NBDKIT_BLK_RANDOM_H */
