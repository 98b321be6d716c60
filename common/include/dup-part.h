/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: a NUL-terminated copy of a counted string.
 *
 * Why: parsers hold (pointer, length) slices of their input (a name
 * inside "pool/ns/image@snap", a backing file name inside a qcow2
 * header) and need them as C strings that outlive the input.
 */
#ifndef NBDKIT_BLK_DUP_PART_H
#define NBDKIT_BLK_DUP_PART_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* malloc'd copy of the LEN bytes at START plus a NUL, or NULL with
 * errno = ENOMEM.  Unlike strndup it does not stop at a NUL inside
 * the slice (callers that must reject embedded NULs check with
 * memchr first) and it never reads beyond START + LEN.
 */
static inline char *
dup_part (const void *start, size_t len)
{
  char *s;

  if (len == SIZE_MAX) {
    errno = ENOMEM;
    return NULL;
  }
  s = malloc (len + 1);
  if (s == NULL)
    return NULL;
  if (len)
    memcpy (s, start, len);
  s[len] = '\0';
  return s;
}

#endif /* NBDKIT_BLK_DUP_PART_H */
