/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: common/include/random.h
 *
 * The expected values were produced by the copies this header
 * replaces (filters/blkdebug/engine.c splitmix/next_rand and
 * bench/readload.c next_random), run once with these seeds.  If a
 * value here changes, blkdebug seed= runs and readload -s runs no
 * longer reproduce: that is the bug this test exists to catch.
 */
#include <config.h>

#include <stdint.h>

#include <criterion/criterion.h>

#include "random.h"

Test (random, splitmix64_reference_values)
{
  /* 0xe220a8397b1dcdaf is also the published first SplitMix64 output
   * for state 0, so the mixer is the standard one.
   */
  cr_assert_eq (blk_splitmix64 (0), UINT64_C (0xe220a8397b1dcdaf));
  cr_assert_eq (blk_splitmix64 (1), UINT64_C (0x910a2dec89025cc1));
  cr_assert_eq (blk_splitmix64 (42), UINT64_C (0xbdd732262feb6e95));
  cr_assert_eq (blk_splitmix64 (UINT64_C (0xdeadbeefcafef00d)),
                UINT64_C (0x901d4f652fb472cb));
}

static void
check_seq (uint64_t state, const uint64_t *want, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++) {
    uint64_t got = blk_xorshift64s_next (&state);
    cr_assert_eq (got, want[i], "output %zu: got 0x%016llx, want 0x%016llx",
                  i, (unsigned long long) got, (unsigned long long) want[i]);
  }
}

/* blkdebug corrupt=: state = splitmix (seed) | 1, i.e.
 * blk_xorshift64s_seed (seed).
 */
Test (random, blkdebug_corrupt_sequence_seed_0)
{
  static const uint64_t want[] = {
    UINT64_C (0x7bbcb40d550682d0), UINT64_C (0xde7fe413d00cc9fd),
    UINT64_C (0xb3c638353c668c91), UINT64_C (0xe073afc0949195fc),
    UINT64_C (0x7f2f9e2eb34937f6),
  };
  check_seq (blk_xorshift64s_seed (0), want, 5);
}

Test (random, blkdebug_corrupt_sequence_seed_42)
{
  static const uint64_t want[] = {
    UINT64_C (0x31b0ece7c4f697a2), UINT64_C (0x9008a3b1cb686f03),
    UINT64_C (0x7c7173abd97be16f), UINT64_C (0x45672c8c8d6b8c4f),
    UINT64_C (0xcdbd2cdf34da70ea),
  };
  check_seq (blk_xorshift64s_seed (42), want, 5);
}

/* The bit positions bd_corrupt flips in a 4096-byte read, seed 7. */
Test (random, blkdebug_corrupt_bit_positions)
{
  static const uint64_t want[] = { 1082, 6212, 469, 5124 };
  uint64_t s = blk_xorshift64s_seed (7);
  size_t i;

  for (i = 0; i < 4; i++)
    cr_assert_eq (blk_xorshift64s_next (&s) % (4096 * 8), want[i]);
}

/* A blkdebug rule's state: splitmix (engine seed ^ splitmix (rule id)),
 * no "| 1".  Engine seed 5, rule id 3.
 */
Test (random, blkdebug_rule_state)
{
  uint64_t s = blk_splitmix64 (UINT64_C (5) ^ blk_splitmix64 (3));

  cr_assert_eq (s, UINT64_C (0xce61248c734f5c4f));
  cr_assert_eq (blk_xorshift64s_next (&s), UINT64_C (0xd6e7083186966d67));
}

/* bench/readload: state = seed, or the golden gamma for seed 0. */
Test (random, readload_sequence)
{
  static const uint64_t seed1[] = {
    UINT64_C (0x47e4ce4b896cdd1d), UINT64_C (0xabcfa6a8e079651d),
    UINT64_C (0xb9d10d8feb731f57), UINT64_C (0x4db418a0bb1b019d),
    UINT64_C (0x0e6199b04d5aa600),
  };
  static const uint64_t seed0[] = {
    UINT64_C (0x0d83b3e29a21487a), UINT64_C (0x54c44c79f1fe9d67),
    UINT64_C (0xa845f342007a0e78), UINT64_C (0x7d6e0b878a794779),
    UINT64_C (0x90d8d6e5a10dd485),
  };
  check_seq (1, seed1, 5);
  check_seq (BLK_GOLDEN_GAMMA, seed0, 5);
}

Test (random, seed_is_never_zero)
{
  uint64_t seeds[] = { 0, 1, UINT64_MAX, BLK_GOLDEN_GAMMA };
  size_t i;

  for (i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
    cr_assert_neq (blk_xorshift64s_seed (seeds[i]), 0);
  /* And the one seed whose splitmix is 0 would be the danger: |1
   * covers it whatever it is, so also check the state stays non-zero
   * over a run.
   */
  uint64_t s = blk_xorshift64s_seed (0);
  for (i = 0; i < 100000; i++) {
    blk_xorshift64s_next (&s);
    cr_assert_neq (s, 0);
  }
}
