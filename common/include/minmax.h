/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: MIN and MAX that evaluate each argument once.
 *
 * Why: the textbook ((a) < (b) ? (a) : (b)) evaluates an argument
 * twice (MIN (i++, n) is a bug) and silently mixes signed with
 * unsigned.  These use statement expressions, and GCC and Clang warn
 * when the two types differ (comparing pointers to distinct types),
 * which the tree's -Werror turns into an error: cast at the call site
 * so the reader sees the conversion, e.g. MIN (len, (size_t) 4096).
 *
 * The names are unique per expansion (__COUNTER__), so nesting
 * MIN (MAX (a, b), c) does not shadow (-Wshadow is on).
 */
#ifndef NBDKIT_BLK_MINMAX_H
#define NBDKIT_BLK_MINMAX_H

#define BLK_MM_CAT_(a, b) a##b
#define BLK_MM_CAT(a, b) BLK_MM_CAT_ (a, b)

#define BLK_MINMAX_(op, a, b, n)                                        \
  ({                                                                    \
    __typeof__ (a) BLK_MM_CAT (mm_a_, n) = (a);                         \
    __typeof__ (b) BLK_MM_CAT (mm_b_, n) = (b);                         \
    (void) (&BLK_MM_CAT (mm_a_, n) == &BLK_MM_CAT (mm_b_, n));          \
    BLK_MM_CAT (mm_a_, n) op BLK_MM_CAT (mm_b_, n) ?                    \
      BLK_MM_CAT (mm_a_, n) : BLK_MM_CAT (mm_b_, n);                    \
  })

#undef MIN
#undef MAX
#define MIN(a, b) BLK_MINMAX_ (<, a, b, __COUNTER__)
#define MAX(a, b) BLK_MINMAX_ (>, a, b, __COUNTER__)

#endif /* NBDKIT_BLK_MINMAX_H */
