/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: common/include/dup-part.h */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "dup-part.h"

Test (dup_part, slices)
{
  const char *s = "pool/image@snap";
  char *a = dup_part (s + 5, 5);
  char *e = dup_part (s, 0);
  char *n = dup_part (NULL, 0);

  cr_assert_str_eq (a, "image");
  cr_assert_str_eq (e, "");
  cr_assert_str_eq (n, "", "(NULL, 0) is an empty slice");
  free (a);
  free (e);
  free (n);
}

/* Binary slices: embedded NULs are copied, nothing past LEN is read
 * (ASan catches an over-read of the exact-size heap buffer).
 */
Test (dup_part, exact_length_and_embedded_nul)
{
  char *src = malloc (3);
  char *d;

  memcpy (src, "a\0b", 3);
  d = dup_part (src, 3);
  cr_assert_eq (memcmp (d, "a\0b", 4), 0);
  free (d);
  free (src);
}

Test (dup_part, size_max_fails_cleanly)
{
  errno = 0;
  cr_assert_null (dup_part ("x", SIZE_MAX));
  cr_assert_eq (errno, ENOMEM);
}
