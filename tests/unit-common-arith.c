/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: common/include/minmax.h, rounding.h, checked-overflow.h */
#include <config.h>

#include <stdint.h>

#include <criterion/criterion.h>

#include "checked-overflow.h"
#include "minmax.h"
#include "rounding.h"

Test (minmax, values_and_single_evaluation)
{
  int i = 0;
  uint64_t big = UINT64_MAX;

  cr_assert_eq (MIN (3, 5), 3);
  cr_assert_eq (MAX (3, 5), 5);
  cr_assert_eq (MIN (-1, 1), -1);
  cr_assert_eq (MAX (big, (uint64_t) 1), UINT64_MAX);
  /* Each argument once: i++ must run exactly once per use. */
  cr_assert_eq (MIN (i++, 10), 0);
  cr_assert_eq (i, 1);
  cr_assert_eq (MAX (i++, -10), 1);
  cr_assert_eq (i, 2);
  /* Nesting (the hidden names must not clash, -Wshadow is on). */
  cr_assert_eq (MIN (MAX (1, 2), MAX (3, MIN (4, 5))), 2);
}

Test (rounding, is_power_of_2)
{
  unsigned b;

  cr_assert (!is_power_of_2 (0));
  cr_assert (is_power_of_2 (1));
  cr_assert (is_power_of_2 (2));
  cr_assert (!is_power_of_2 (3));
  cr_assert (!is_power_of_2 (UINT64_MAX));
  for (b = 0; b < 64; b++) {
    cr_assert (is_power_of_2 (UINT64_C (1) << b));
    cr_assert_eq (blk_log2_pow2 (UINT64_C (1) << b), b);
    if (b > 1)
      cr_assert (!is_power_of_2 ((UINT64_C (1) << b) + 1));
  }
}

Test (rounding, round_up_down)
{
  cr_assert_eq (round_down (0, 512), 0);
  cr_assert_eq (round_down (511, 512), 0);
  cr_assert_eq (round_down (512, 512), 512);
  cr_assert_eq (round_down (UINT64_MAX, 4096), UINT64_MAX - 4095);
  cr_assert_eq (round_up (0, 512), 0);
  cr_assert_eq (round_up (1, 512), 512);
  cr_assert_eq (round_up (512, 512), 512);
  cr_assert_eq (round_up (513, 512), 1024);
  cr_assert_eq (round_up (7, 1), 7);
}

Test (rounding, round_up_checked_reports_overflow)
{
  uint64_t r = 42;

  cr_assert (blk_round_up_checked (UINT64_MAX - 4095, 4096, &r));
  cr_assert_eq (r, UINT64_MAX - 4095);
  r = 42;
  cr_assert (!blk_round_up_checked (UINT64_MAX - 4094, 4096, &r));
  cr_assert_eq (r, 42, "*r must be left alone on overflow");
  cr_assert (!blk_round_up_checked (UINT64_MAX, 2, &r));
  cr_assert (blk_round_up_checked (UINT64_MAX, 1, &r));
  cr_assert_eq (r, UINT64_MAX);
  /* The unchecked form wraps to 0, which is why the checked one exists. */
  cr_assert_eq (round_up (UINT64_MAX, 4096), 0);
}

Test (rounding, div_round_up)
{
  cr_assert_eq (div_round_up (0, 7), 0);
  cr_assert_eq (div_round_up (1, 7), 1);
  cr_assert_eq (div_round_up (7, 7), 1);
  cr_assert_eq (div_round_up (8, 7), 2);
  cr_assert_eq (div_round_up (UINT64_MAX, 1), UINT64_MAX);
  /* (v + n - 1) / n would wrap here. */
  cr_assert_eq (div_round_up (UINT64_MAX, 2), UINT64_C (1) << 63);
  cr_assert_eq (div_round_up (UINT64_MAX, UINT64_MAX), 1);
}

Test (checked_overflow, add_mul)
{
  uint64_t r;
  size_t s;
  uint32_t r32;
  int64_t i64;

  cr_assert (!blk_add_overflow_u64 (1, 2, &r));
  cr_assert_eq (r, 3);
  cr_assert (!blk_add_overflow_u64 (UINT64_MAX - 1, 1, &r));
  cr_assert (blk_add_overflow_u64 (UINT64_MAX, 1, &r));
  cr_assert (!blk_mul_overflow_u64 (UINT64_C (1) << 32, (UINT64_C (1) << 32) - 1,
                                    &r));
  cr_assert (blk_mul_overflow_u64 (UINT64_C (1) << 32, UINT64_C (1) << 32, &r));
  cr_assert (!blk_mul_overflow_u64 (0, UINT64_MAX, &r));
  cr_assert_eq (r, 0);

  cr_assert (blk_add_overflow_size (SIZE_MAX, 1, &s));
  cr_assert (blk_mul_overflow_size (SIZE_MAX / 2 + 1, 2, &s));
  cr_assert (!blk_mul_overflow_size (SIZE_MAX / 2, 2, &s));
  cr_assert_eq (s, SIZE_MAX - 1);

  /* The generic forms check against the result's type. */
  cr_assert (ADD_OVERFLOW (UINT32_MAX, 1u, &r32));
  cr_assert (!ADD_OVERFLOW (UINT32_MAX, 1u, &r));
  cr_assert (SUB_OVERFLOW (0u, 1u, &r));
  cr_assert (!SUB_OVERFLOW (0, 1, &i64));
  cr_assert_eq (i64, -1);
  cr_assert (MUL_OVERFLOW (UINT64_C (3), UINT64_MAX / 2, &r));
}
