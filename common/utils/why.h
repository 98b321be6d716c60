/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: "why" texts, the error reports of pure parsers.
 *
 * Why: parsers that must also run in unit tests, fuzzers and the
 * tools (qcow2 header, blkdebug rules, blkreplay log, rbd specs,
 * durations, enum parameters) cannot call nbdkit_error.  They take a
 * caller's buffer WHY of WHYLEN bytes, fill it with one sentence, and
 * return -1; the caller adds what only it knows and reports:
 *
 *   char why[256];
 *   if (qcow2_header_parse (buf, len, &h, why, sizeof why) == -1) {
 *     nbdkit_error ("%s: %s", filename, why);
 *     return -1;
 *   }
 *
 * Inside a parser:
 *   return blk_why (why, whylen, "%s: '%s' is not a number", key, v);
 *   return blk_why_at (why, whylen, file, lineno, "missing ']'");
 *                                     // "FILE:LINE: missing ']'"
 *   if (parse_inner (..., why, whylen) == -1)
 *     return blk_why_prefix (why, whylen, "%s:%u", file, lineno);
 *                                     // "FILE:LINE: <inner text>"
 *
 * Rules for the text: no trailing newline or full stop; echo the bad
 * value in quotes; say what would be accepted.
 *
 * Every function returns -1 so that "return blk_why (...)" reads as
 * the failure it reports.  WHY may be NULL or WHYLEN 0 (the caller
 * does not want the text).  A text that does not fit is cut and ends
 * in "..." so a reader knows.  errno is preserved, so a caller may
 * still use %m for the failure that led here.  Thread model: pure.
 */
#ifndef NBDKIT_BLK_WHY_H
#define NBDKIT_BLK_WHY_H

#include <stdarg.h>
#include <stddef.h>

/* WHY := the formatted text. */
extern int blk_why (char *why, size_t whylen, const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));
extern int blk_vwhy (char *why, size_t whylen, const char *fmt, va_list ap)
  __attribute__ ((format (printf, 3, 0)));

/* WHY := "FILE:LINE: " + the formatted text. */
extern int blk_why_at (char *why, size_t whylen,
                       const char *file, unsigned line,
                       const char *fmt, ...)
  __attribute__ ((format (printf, 5, 6)));

/* WHY := the formatted context + ": " + the text already in WHY.
 * For a caller that adds where (file, line, key) to what an inner
 * parser said, without a second buffer.
 */
extern int blk_why_prefix (char *why, size_t whylen, const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));

#endif /* NBDKIT_BLK_WHY_H */
