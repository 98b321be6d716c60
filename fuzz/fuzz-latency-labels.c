/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: latency-labels lists, and the Prometheus report
 * with the labels that parsed: every value is written escaped.
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static uint64_t bounds[] = { 1000 };
  static uint64_t bins[LAT_OPS][2];
  char *s = malloc (size + 1), why[512];
  struct label *labels = NULL;
  unsigned n = 0, i;
  struct layer_snapshot l;
  struct report r;
  FILE *fp;

  if (s == NULL)
    return 0;
  memcpy (s, data, size);
  s[size] = '\0';
  if (labels_parse (s, &labels, &n, 16, why, sizeof why) == 0 && n == 0)
    abort ();                   /* success means at least one label */
  memset (&l, 0, sizeof l);
  l.name = "nbdkit";
  for (i = 0; i < LAT_OPS; i++) {
    l.ops[i].bounds = bounds;
    l.ops[i].nbounds = 1;
    l.ops[i].bins = bins[i];
  }
  memset (&r, 0, sizeof r);
  r.layers = &l;
  r.nlayers = 1;
  r.labels = labels;
  r.nlabels = n;
  fp = fopen ("/dev/null", "w");
  if (fp) {
    report_prometheus (fp, &r);
    report_json (fp, &r);
    fclose (fp);
  }
  labels_free (labels, n);
  free (s);
  return 0;
}
