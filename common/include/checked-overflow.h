/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: overflow-checked arithmetic.
 *
 * Why: offsets, lengths and table sizes come from clients and from
 * image files, and a wrapped "offset + length" or "count * size"
 * turns a bad input into a silent wrong answer.  These wrap GCC's and
 * Clang's __builtin_*_overflow, which are exact for every integer
 * type (the result is computed in infinite precision and then checked
 * against the type of *R).
 *
 * Each returns true on overflow, like the builtins, so the idiom is
 *   if (ADD_OVERFLOW (off, len, &end)) return reject (...);
 * and *R holds the wrapped result (do not use it).  The macros accept
 * any integer types; the named functions pin the common uint64_t and
 * size_t cases so a wrong argument type is a compile-time warning.
 */
#ifndef NBDKIT_BLK_CHECKED_OVERFLOW_H
#define NBDKIT_BLK_CHECKED_OVERFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADD_OVERFLOW(a, b, r) __builtin_add_overflow ((a), (b), (r))
#define SUB_OVERFLOW(a, b, r) __builtin_sub_overflow ((a), (b), (r))
#define MUL_OVERFLOW(a, b, r) __builtin_mul_overflow ((a), (b), (r))

static inline bool
blk_add_overflow_u64 (uint64_t a, uint64_t b, uint64_t *r)
{
  return __builtin_add_overflow (a, b, r);
}

static inline bool
blk_mul_overflow_u64 (uint64_t a, uint64_t b, uint64_t *r)
{
  return __builtin_mul_overflow (a, b, r);
}

static inline bool
blk_add_overflow_size (size_t a, size_t b, size_t *r)
{
  return __builtin_add_overflow (a, b, r);
}

static inline bool
blk_mul_overflow_size (size_t a, size_t b, size_t *r)
{
  return __builtin_mul_overflow (a, b, r);
}

#endif /* NBDKIT_BLK_CHECKED_OVERFLOW_H */
