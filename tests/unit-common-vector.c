/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: common/include/vector.h */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vector.h"

DEFINE_VECTOR_TYPE (u64_vector, uint64_t);

struct big { char b[1 << 20]; };
DEFINE_VECTOR_TYPE (big_vector, struct big);

Test (vector, empty)
{
  u64_vector v = empty_vector;

  cr_assert_null (v.ptr);
  cr_assert_eq (v.len, 0);
  cr_assert_eq (v.cap, 0);
  /* Clearing, resetting and reserving 0 on an empty vector are fine. */
  u64_vector_clear (&v);
  cr_assert_eq (u64_vector_reserve (&v, 0), 0);
  cr_assert_null (v.ptr);
  u64_vector_reset (&v);
  u64_vector_reset (&v);
  cr_assert_null (v.ptr);
}

Test (vector, append_grows_and_keeps_values)
{
  u64_vector v = empty_vector;
  size_t i, last_cap = 0, reallocs = 0;

  for (i = 0; i < 10000; i++) {
    cr_assert_eq (u64_vector_append (&v, i * 3), 0);
    if (v.cap != last_cap) {
      reallocs++;
      last_cap = v.cap;
    }
  }
  cr_assert_eq (v.len, 10000);
  cr_assert_geq (v.cap, v.len);
  for (i = 0; i < v.len; i++)
    cr_assert_eq (v.ptr[i], i * 3);
  /* Geometric growth: a handful of reallocs, not thousands. */
  cr_assert_leq (reallocs, 20, "%zu reallocs for 10000 appends", reallocs);
  u64_vector_reset (&v);
  cr_assert_null (v.ptr);
  cr_assert_eq (v.len, 0);
  cr_assert_eq (v.cap, 0);
}

Test (vector, reserve_then_append_does_not_move)
{
  u64_vector v = empty_vector;
  uint64_t *p;
  size_t i;

  cr_assert_eq (u64_vector_reserve (&v, 100), 0);
  cr_assert_geq (v.cap, 100);
  p = v.ptr;
  for (i = 0; i < 100; i++)
    cr_assert_eq (u64_vector_append (&v, i), 0);
  cr_assert_eq (v.ptr, p);
  u64_vector_reset (&v);
}

Test (vector, insert_remove_clear)
{
  u64_vector v = empty_vector;

  cr_assert_eq (u64_vector_insert (&v, 2, 0), 0);      /* [2] */
  cr_assert_eq (u64_vector_insert (&v, 0, 0), 0);      /* [0 2] */
  cr_assert_eq (u64_vector_insert (&v, 1, 1), 0);      /* [0 1 2] */
  cr_assert_eq (u64_vector_insert (&v, 3, 3), 0);      /* [0 1 2 3] */
  cr_assert_eq (v.len, 4);
  for (size_t i = 0; i < 4; i++)
    cr_assert_eq (v.ptr[i], i);
  u64_vector_remove (&v, 0);                           /* [1 2 3] */
  u64_vector_remove (&v, 1);                           /* [1 3] */
  u64_vector_remove (&v, 1);                           /* [1] */
  cr_assert_eq (v.len, 1);
  cr_assert_eq (v.ptr[0], 1);
  u64_vector_clear (&v);
  cr_assert_eq (v.len, 0);
  cr_assert_not_null (v.ptr, "clear keeps the memory");
  u64_vector_reset (&v);
}

/* Sizes whose byte count cannot be represented fail cleanly with
 * ENOMEM and leave the vector as it was (no realloc of a wrapped,
 * small size followed by a buffer overflow).
 */
Test (vector, reserve_overflow)
{
  u64_vector v = empty_vector;
  big_vector b = empty_vector;

  cr_assert_eq (u64_vector_append (&v, 7), 0);
  uint64_t *p = v.ptr;
  size_t cap = v.cap;

  errno = 0;
  cr_assert_eq (u64_vector_reserve (&v, SIZE_MAX), -1);  /* len + n wraps */
  cr_assert_eq (errno, ENOMEM);
  errno = 0;
  cr_assert_eq (u64_vector_reserve (&v, SIZE_MAX / 8), -1); /* n * 8 wraps */
  cr_assert_eq (errno, ENOMEM);
  errno = 0;
  cr_assert_eq (big_vector_reserve (&b, SIZE_MAX / (1 << 20) + 1), -1);
  cr_assert_eq (errno, ENOMEM);
  cr_assert_null (b.ptr);
  cr_assert_eq (b.cap, 0);
  cr_assert_eq (v.ptr, p);
  cr_assert_eq (v.cap, cap);
  cr_assert_eq (v.len, 1);
  cr_assert_eq (v.ptr[0], 7);
  u64_vector_reset (&v);
}
