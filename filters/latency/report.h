/* nbdkit-blk latency filter: the text, JSON and Prometheus reports. */
#ifndef LATENCY_REPORT_H
#define LATENCY_REPORT_H

#include <stdio.h>

#include "stats.h"

enum report_format { FORMAT_TEXT, FORMAT_JSON, FORMAT_PROMETHEUS };

struct report {
  uint64_t elapsed_ns;                 /* since the filter was loaded */
  const struct layer_snapshot *layers; /* [0] is "client" */
  unsigned nlayers;
};

/* Each returns 0, or -1 if writing to FP failed (errno set). */
extern int report_text (FILE *fp, const struct report *r);
extern int report_json (FILE *fp, const struct report *r);
extern int report_prometheus (FILE *fp, const struct report *r);
extern int report_write (FILE *fp, enum report_format fmt,
                         const struct report *r);

#endif /* LATENCY_REPORT_H */
