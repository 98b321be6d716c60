/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: write a C string as a quoted JSON string.
 *
 * Escapes '"', '\\' and control bytes below 0x20; other bytes pass
 * through (UTF-8 stays UTF-8).  For names made by users or plugins
 * (latency layer and label names, crash-check paths).  Writers that
 * must also escape bytes >= 0x7f from untrusted logs (blkreplay dump)
 * or prefer \n-style escapes (the control protocol) keep their own.
 */
#ifndef NBDKIT_BLK_JSON_STRING_H
#define NBDKIT_BLK_JSON_STRING_H

#include <stdio.h>

static inline void
blk_json_string (FILE *fp, const char *s)
{
  fputc ('"', fp);
  for (; *s; s++) {
    unsigned char c = (unsigned char) *s;
    if (c == '"' || c == '\\')
      fprintf (fp, "\\%c", c);
    else if (c < 0x20)
      fprintf (fp, "\\u%04x", c);
    else
      fputc (c, fp);
  }
  fputc ('"', fp);
}

#endif /* NBDKIT_BLK_JSON_STRING_H */
