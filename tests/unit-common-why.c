/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: common/utils/why.c */
#include <config.h>

#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "why.h"

Test (why, formats_and_returns_minus_one)
{
  char why[64] = "";

  cr_assert_eq (blk_why (why, sizeof why, "%s: '%s' is not a number",
                         "count", "x1"), -1);
  cr_assert_str_eq (why, "count: 'x1' is not a number");
}

Test (why, at_file_line)
{
  char why[64] = "";

  cr_assert_eq (blk_why_at (why, sizeof why, "rules.conf", 12,
                            "missing ']' after '[%s'", "inject-error"), -1);
  cr_assert_str_eq (why, "rules.conf:12: missing ']' after '[inject-error'");
}

Test (why, prefix_adds_context_to_inner_text)
{
  char why[64] = "";

  blk_why (why, sizeof why, "errno: 'EFOO' is not an errno name");
  cr_assert_eq (blk_why_prefix (why, sizeof why, "%s:%u", "r.conf", 3u), -1);
  cr_assert_str_eq (why, "r.conf:3: errno: 'EFOO' is not an errno name");
  /* Twice: context nests outward. */
  blk_why_prefix (why, sizeof why, "blkdebug-config");
  cr_assert_str_eq (why,
                    "blkdebug-config: r.conf:3: errno: 'EFOO' is not an errno name");
  /* The context always survives; the inner text's tail is cut. */
  blk_why_prefix (why, sizeof why, "nbdkit");
  cr_assert_str_eq (why,
                    "nbdkit: blkdebug-config: r.conf:3: errno: 'EFOO' is not an e...");
  cr_assert_eq (strlen (why), sizeof why - 1);
}

Test (why, prefix_on_empty_text)
{
  char why[32] = "";

  blk_why_prefix (why, sizeof why, "ctx");
  cr_assert_str_eq (why, "ctx: ");
}

/* A text that does not fit is cut visibly, and never overflows. */
Test (why, truncation_is_marked)
{
  char why[16];

  memset (why, 'z', sizeof why);
  blk_why (why, 12, "%s", "0123456789abcdef");
  cr_assert_str_eq (why, "01234567...");
  cr_assert_eq (why[12], 'z', "wrote past whylen");

  /* Exactly fitting is not marked. */
  blk_why (why, 12, "%s", "0123456789a");
  cr_assert_str_eq (why, "0123456789a");

  blk_why_at (why, 12, "a-long-file-name.conf", 1, "x");
  cr_assert_str_eq (why, "a-long-f...");

  blk_why (why, 12, "inner");
  blk_why_prefix (why, 12, "a-very-long-context");
  cr_assert_str_eq (why, "a-very-l...");

  /* Too small for the "..." mark: plain cut. */
  blk_why (why, 3, "abcdef");
  cr_assert_str_eq (why, "ab");
}

Test (why, null_or_empty_buffer)
{
  char c = 'q';

  cr_assert_eq (blk_why (NULL, 0, "x"), -1);
  cr_assert_eq (blk_why (&c, 0, "x"), -1);
  cr_assert_eq (c, 'q');
  cr_assert_eq (blk_why_at (NULL, 0, "f", 1, "x"), -1);
  cr_assert_eq (blk_why_prefix (NULL, 0, "x"), -1);
  blk_why (&c, 1, "x");
  cr_assert_eq (c, '\0');
}

/* Callers report with %m after a failed call; the helper must not
 * clobber errno on the way.
 */
Test (why, preserves_errno)
{
  char why[8];

  errno = ENOSPC;
  blk_why (why, sizeof why, "%s", "a long text that is cut");
  cr_assert_eq (errno, ENOSPC);
  blk_why_at (why, sizeof why, "f", 1, "x");
  cr_assert_eq (errno, ENOSPC);
  blk_why_prefix (why, sizeof why, "ctx");
  cr_assert_eq (errno, ENOSPC);
}
