/* SPDX-License-Identifier: BSD-3-Clause */
/* blkreplay tool: loading a whole log, and the tool's number formats
 * (see loadlog.h).
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "loadlog.h"

int
tl_load (struct blklog_log *log, const char *path)
{
  char why[1024];

  if (blklog_load (log, path, why, sizeof why) == -1) {
    fprintf (stderr, "blkreplay: %s\n", why);
    return -1;
  }
  if (log->truncated)
    fprintf (stderr, "blkreplay: note: %s: %s\n", path, log->rd.why);
  return 0;
}

void
tl_free (struct blklog_log *log)
{
  blklog_free (log);
}

const char *
tl_size (uint64_t b, char *buf, size_t len)
{
  static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
  double v = (double) b;
  int i = 0;

  while (v >= 1024 && i < 4) {
    v /= 1024;
    i++;
  }
  if (i == 0)
    snprintf (buf, len, "%" PRIu64 " B", b);
  else
    snprintf (buf, len, "%.1f %s", v, u[i]);
  return buf;
}

const char *
tl_dur (uint64_t ns, char *buf, size_t len)
{
  if (ns < 1000)
    snprintf (buf, len, "%" PRIu64 "ns", ns);
  else if (ns < 1000000)
    snprintf (buf, len, "%.1fus", ns / 1e3);
  else if (ns < 1000000000)
    snprintf (buf, len, "%.1fms", ns / 1e6);
  else
    snprintf (buf, len, "%.2fs", ns / 1e9);
  return buf;
}

const char *
tl_imported_from (const struct blklog_header *h)
{
  /* Creators written by blkreplay import: "blkreplay import (SOURCE)
   * ..." since log format 2; "blkreplay VERSION import --fio-iolog|
   * --blkparse FILE" before.
   */
  if (strncmp (h->creator, "blkreplay import (fio iolog)", 28) == 0)
    return "fio iolog";
  if (strncmp (h->creator, "blkreplay import (blkparse)", 27) == 0)
    return "blkparse";
  if (strncmp (h->creator, "blkreplay ", 10) == 0) {
    if (strstr (h->creator, " import --fio-iolog ") != NULL)
      return "fio iolog";
    if (strstr (h->creator, " import --blkparse ") != NULL)
      return "blkparse";
  }
  return NULL;
}

const char *
tl_imported_desc (const struct blklog_header *h)
{
  const char *src = tl_imported_from (h);

  if (src == NULL)
    return NULL;
  return strcmp (src, "fio iolog") == 0 ? "a fio iolog" : "blkparse output";
}
