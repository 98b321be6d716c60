/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: common/utils/duration.c */
#include <config.h>

#include <criterion/criterion.h>

#include "duration.h"

static uint64_t
ok (const char *s, uint64_t unit)
{
  uint64_t ns = 0;
  char why[256] = "";
  cr_assert_eq (blk_parse_duration (s, unit, &ns, why, sizeof why), 0,
                "'%s' rejected: %s", s, why);
  return ns;
}

static void
bad (const char *s, const char *needle)
{
  uint64_t ns;
  char why[256] = "";
  cr_assert_eq (blk_parse_duration (s, 1, &ns, why, sizeof why), -1,
                "'%s' accepted", s);
  cr_assert (strstr (why, needle) != NULL, "'%s': message '%s' lacks '%s'",
             s, why, needle);
}

Test (duration, units)
{
  cr_assert_eq (ok ("250ns", 1), 250);
  cr_assert_eq (ok ("250us", 1), 250000);
  cr_assert_eq (ok ("1.5ms", 1), 1500000);
  cr_assert_eq (ok ("2s", 1), 2000000000);
  cr_assert_eq (ok ("1m", 1), UINT64_C (60000000000));
  cr_assert_eq (ok ("1h", 1), UINT64_C (3600000000000));
  cr_assert_eq (ok ("0.000001s", 1), 1000);
}

Test (duration, bare_numbers_use_default_unit)
{
  cr_assert_eq (ok ("1000", 1), 1000);
  cr_assert_eq (ok ("3", 1000000000), 3000000000);
  cr_assert_eq (ok ("0.5", 1000000000), 500000000);
}

Test (duration, large_values_exact)
{
  /* Beyond 2^53: must not go through a double. */
  cr_assert_eq (ok ("18446744073709551615", 1), UINT64_MAX);
  cr_assert_eq (ok ("9007199254740993", 1), UINT64_C (9007199254740993));
}

Test (duration, errors)
{
  bad ("", "expected a number");
  bad ("ms", "expected a number");
  bad ("-1ms", "negative");
  bad ("5xs", "unknown unit");
  bad ("5ms x", "unknown unit");
  bad ("5 ms", "trailing");
  bad ("18446744073709551616", "too large");
  bad ("99999999999h", "too large");
}

/* The fraction must not carry the sum past 2^64 ns and wrap:
 * 5124095h fits (1.8446742e19 ns), 5124095.6h does not.
 */
Test (duration, fraction_overflow)
{
  cr_assert_eq (ok ("5124095h", 1), UINT64_C (5124095) * UINT64_C (3600000000000));
  bad ("5124095.6h", "too large");
  bad ("18446744073709551615.9", "too large");
  cr_assert_eq (ok ("18446744073709551614.4", 1), UINT64_MAX - 1);
}

Test (duration, format)
{
  char b[32];
  cr_assert_str_eq (blk_format_duration (0, b, sizeof b), "0ns");
  cr_assert_str_eq (blk_format_duration (999, b, sizeof b), "999ns");
  cr_assert_str_eq (blk_format_duration (1000, b, sizeof b), "1us");
  cr_assert_str_eq (blk_format_duration (1024, b, sizeof b), "1.024us");
  cr_assert_str_eq (blk_format_duration (8000000, b, sizeof b), "8ms");
  cr_assert_str_eq (blk_format_duration (16777216, b, sizeof b), "16.78ms");
  cr_assert_str_eq (blk_format_duration (2500000000u, b, sizeof b), "2.5s");
  cr_assert_str_eq (blk_format_duration (UINT64_C (120000000000), b, sizeof b), "120s");
}
