/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk latency filter: the text, JSON and Prometheus reports. */
#ifndef LATENCY_REPORT_H
#define LATENCY_REPORT_H

#include <stdio.h>

#include "stats.h"

enum report_format { FORMAT_TEXT, FORMAT_JSON, FORMAT_PROMETHEUS };

/* Constant labels added to every Prometheus sample (latency-labels). */
struct label {
  char *name, *value;
};

struct report {
  uint64_t elapsed_ns;                 /* since the filter was loaded */
  const struct layer_snapshot *layers; /* [0] is "nbdkit" */
  unsigned nlayers;
  const struct label *labels;
  unsigned nlabels;
  /* JSON only: which ops to write (bit 1 << lat_op; 0 means all), for
   * the control socket's "query OP", and the length of the recent
   * window (0: not known, left out).
   */
  unsigned op_mask;
  uint64_t recent_ns;
};

/* Parse "NAME=VALUE[,NAME=VALUE...]" and append the pairs to *LABELS
 * (*N of them, at most MAX).  Names follow Prometheus' syntax
 * [a-zA-Z_][a-zA-Z0-9_]*, do not start with "__" (reserved), are not
 * one the filter sets itself (layer, op, le, quantile) and are not
 * given twice; values are non-empty and cannot hold a comma.  Returns
 * 0, or -1 with a reason in ERRBUF (then *LABELS holds what was parsed
 * before the error; free with labels_free).
 */
extern int labels_parse (const char *str, struct label **labels,
                         unsigned *n, unsigned max,
                         char *errbuf, size_t errlen);
extern void labels_free (struct label *labels, unsigned n);

/* Each returns 0, or -1 if writing to FP failed (errno set). */
extern int report_text (FILE *fp, const struct report *r);
extern int report_json (FILE *fp, const struct report *r);
extern int report_prometheus (FILE *fp, const struct report *r);
extern int report_write (FILE *fp, enum report_format fmt,
                         const struct report *r);

#endif /* LATENCY_REPORT_H */
