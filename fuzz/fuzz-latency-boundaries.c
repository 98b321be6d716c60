/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: latency boundary lists and durations. */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "histogram.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *s = malloc (size + 1), why[512], buf[64];
  uint64_t *b = NULL, ns;
  unsigned n, i;

  if (s == NULL)
    return 0;
  memcpy (s, data, size);
  s[size] = '\0';
  if (boundaries_parse (s, &b, &n, why, sizeof why) == 0) {
    for (i = 1; i < n; i++)
      if (b[i] <= b[i - 1] || b[0] == 0)
        abort ();               /* the parser promised sorted, non-zero */
    free (b);
  }
  if (blk_parse_duration (s, 1, &ns, why, sizeof why) == 0)
    blk_format_duration (ns, buf, sizeof buf);
  free (s);
  return 0;
}
