/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: typed growable arrays.
 *
 * Why: a dozen places grew an array by hand (realloc, cap *= 2, a
 * forgotten overflow check on cap * sizeof).  One macro defines the
 * type and its operations once, with the size arithmetic checked.
 *
 *   DEFINE_VECTOR_TYPE (offsets, uint64_t);
 *   offsets v = empty_vector;
 *   if (offsets_append (&v, off) == -1)
 *     return -1;                           // errno is ENOMEM
 *   for (size_t i = 0; i < v.len; i++) use (v.ptr[i]);
 *   offsets_reset (&v);                    // frees; v is empty again
 *
 * Operations defined for NAME (all static inline; unused ones cost
 * nothing):
 *   NAME_reserve (v, n)    room for N more elements without realloc
 *   NAME_append (v, e)     add E at the end
 *   NAME_insert (v, e, i)  add E before index I (I <= len)
 *   NAME_remove (v, i)     drop index I (I < len), keeping the order
 *   NAME_clear (v)         len = 0, keep the memory for reuse
 *   NAME_reset (v)         free the memory, back to empty_vector
 * The functions that can fail return 0 or -1 with errno = ENOMEM; on
 * failure the vector is unchanged.  Elements are copied by value and
 * never freed by the vector: free what they point to before reset.
 *
 * Thread model: none; a vector is guarded by whatever lock guards the
 * structure that holds it.  Pointers into ptr[] are invalidated by
 * any call that may grow the vector.
 */
#ifndef NBDKIT_BLK_VECTOR_H
#define NBDKIT_BLK_VECTOR_H

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Make room for EXTRA more elements of ELEMSIZE bytes in the array
 * PTR (CAP allocated, LEN in use).  Returns 0 with the array, possibly
 * moved, in *NEWPTR and *CAP updated; or -1 with errno = ENOMEM, PTR
 * still valid and nothing changed.  Growth doubles, so N appends cost
 * O(N) copies overall.
 */
static inline int
blk_vector_grow_ (void *ptr, void **newptr, size_t *cap, size_t len,
                  size_t extra, size_t elemsize)
{
  size_t need, newcap, bytes;
  void *p;

  *newptr = ptr;
  if (__builtin_add_overflow (len, extra, &need))
    goto nomem;
  if (need <= *cap)
    return 0;
  if (__builtin_mul_overflow (*cap, (size_t) 2, &newcap))
    newcap = need;
  if (newcap < need)
    newcap = need;
  if (newcap < 8)
    newcap = 8;
  if (__builtin_mul_overflow (newcap, elemsize, &bytes)) {
    /* Doubling overflowed: try exactly what was asked for. */
    newcap = need;
    if (__builtin_mul_overflow (newcap, elemsize, &bytes))
      goto nomem;
  }
  p = realloc (ptr, bytes);
  if (p == NULL)
    goto nomem;
  *newptr = p;
  *cap = newcap;
  return 0;

 nomem:
  errno = ENOMEM;
  return -1;
}

#define empty_vector { .ptr = NULL, .len = 0, .cap = 0 }

#define DEFINE_VECTOR_TYPE(name, type)                                  \
  typedef struct {                                                      \
    type *ptr;                  /* len elements in use, cap allocated */ \
    size_t len;                                                         \
    size_t cap;                                                         \
  } name;                                                               \
                                                                        \
  static inline __attribute__ ((__unused__)) int                        \
  name##_reserve (name *v, size_t n)                                    \
  {                                                                     \
    void *p;                                                            \
                                                                        \
    if (blk_vector_grow_ (v->ptr, &p, &v->cap, v->len, n,               \
                          sizeof (type)) == -1)                         \
      return -1;                                                        \
    v->ptr = p;                                                         \
    return 0;                                                           \
  }                                                                     \
                                                                        \
  static inline __attribute__ ((__unused__)) int                        \
  name##_append (name *v, type elem)                                    \
  {                                                                     \
    if (v->len >= v->cap && name##_reserve (v, 1) == -1)                \
      return -1;                                                        \
    v->ptr[v->len++] = elem;                                            \
    return 0;                                                           \
  }                                                                     \
                                                                        \
  static inline __attribute__ ((__unused__)) int                        \
  name##_insert (name *v, type elem, size_t i)                          \
  {                                                                     \
    assert (i <= v->len);                                               \
    if (v->len >= v->cap && name##_reserve (v, 1) == -1)                \
      return -1;                                                        \
    memmove (&v->ptr[i + 1], &v->ptr[i], (v->len - i) * sizeof (type)); \
    v->ptr[i] = elem;                                                   \
    v->len++;                                                           \
    return 0;                                                           \
  }                                                                     \
                                                                        \
  static inline __attribute__ ((__unused__)) void                       \
  name##_remove (name *v, size_t i)                                     \
  {                                                                     \
    assert (i < v->len);                                                \
    memmove (&v->ptr[i], &v->ptr[i + 1],                                \
             (v->len - i - 1) * sizeof (type));                         \
    v->len--;                                                           \
  }                                                                     \
                                                                        \
  static inline __attribute__ ((__unused__)) void                       \
  name##_clear (name *v)                                                \
  {                                                                     \
    v->len = 0;                                                         \
  }                                                                     \
                                                                        \
  static inline __attribute__ ((__unused__)) void                       \
  name##_reset (name *v)                                                \
  {                                                                     \
    free (v->ptr);                                                      \
    v->ptr = NULL;                                                      \
    v->len = v->cap = 0;                                                \
  }

#endif /* NBDKIT_BLK_VECTOR_H */
