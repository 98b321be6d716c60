/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: "why" texts (see why.h). */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "why.h"

/* vsnprintf cut the text at WHYLEN - 1 bytes: make the cut visible. */
static void
mark_cut (char *why, size_t whylen)
{
  if (whylen >= 4)
    memcpy (why + whylen - 4, "...", 4);
}

int
blk_vwhy (char *why, size_t whylen, const char *fmt, va_list ap)
{
  int saved = errno;
  int n;

  if (why != NULL && whylen > 0) {
    n = vsnprintf (why, whylen, fmt, ap);
    if (n < 0)
      snprintf (why, whylen, "%s", fmt);  /* an encoding error: say something */
    else if ((size_t) n >= whylen)
      mark_cut (why, whylen);
  }
  errno = saved;
  return -1;
}

int
blk_why (char *why, size_t whylen, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  blk_vwhy (why, whylen, fmt, ap);
  va_end (ap);
  return -1;
}

int
blk_why_at (char *why, size_t whylen, const char *file, unsigned line,
            const char *fmt, ...)
{
  int saved = errno;
  va_list ap;
  int n;

  if (why == NULL || whylen == 0)
    return -1;
  n = snprintf (why, whylen, "%s:%u: ", file, line);
  if (n < 0)
    n = 0;
  if ((size_t) n >= whylen)
    mark_cut (why, whylen);
  else {
    va_start (ap, fmt);
    blk_vwhy (why + n, whylen - (size_t) n, fmt, ap);
    va_end (ap);
  }
  errno = saved;
  return -1;
}

int
blk_why_prefix (char *why, size_t whylen, const char *fmt, ...)
{
  int saved = errno;
  char ctx[256];
  size_t clen, old, room;
  va_list ap;
  int n;

  if (why == NULL || whylen == 0)
    return -1;
  va_start (ap, fmt);
  n = vsnprintf (ctx, sizeof ctx, fmt, ap);
  va_end (ap);
  if (n < 0)
    ctx[0] = '\0';
  else if ((size_t) n >= sizeof ctx)
    mark_cut (ctx, sizeof ctx);
  clen = strlen (ctx);
  old = strnlen (why, whylen - 1);

  /* Layout: ctx ": " old.  Shift the old text right first (memmove:
   * the regions overlap), keeping as much of it as fits, then write
   * the context in front.
   */
  if (clen + 2 >= whylen) {
    /* Not even the context fits: keep what does of it. */
    memcpy (why, ctx, whylen - 1);
    why[whylen - 1] = '\0';
    mark_cut (why, whylen);
  }
  else {
    room = whylen - 1 - clen - 2;
    memmove (why + clen + 2, why, old < room ? old : room);
    why[clen + 2 + (old < room ? old : room)] = '\0';
    memcpy (why, ctx, clen);
    memcpy (why + clen, ": ", 2);
    if (old > room)
      mark_cut (why, whylen);
  }
  errno = saved;
  return -1;
}
