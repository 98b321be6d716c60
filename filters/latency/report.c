/* nbdkit-blk latency filter: the text, JSON and Prometheus reports.
 *
 * Pure formatting of snapshots: no locks, no globals, unit tested.
 */
#include <config.h>

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"
#include "report.h"

#define BAR_WIDTH 52             /* as bpftrace */

/* ---- text: bpftrace-style ASCII histograms ---- */

static void
bin_label (const struct op_snapshot *o, unsigned i, char *buf, size_t len)
{
  char lo[32], hi[32];

  if (i == 0)
    snprintf (lo, sizeof lo, "0");
  else
    blk_format_duration (o->bounds[i - 1], lo, sizeof lo);
  if (i == o->nbounds)
    snprintf (hi, sizeof hi, "...");
  else
    blk_format_duration (o->bounds[i], hi, sizeof hi);
  snprintf (buf, len, "[%s, %s)", lo, hi);
}

static void
text_op (FILE *fp, const char *layer, const char *op,
         const struct op_snapshot *o)
{
  char a[32], b[32], c[32], d[32], e[32], f[32], g[32], label[80];
  unsigned i, first = 0, last = 0, width = 0;
  uint64_t peak = 0;
  int any = 0;

  fprintf (fp, "@%s_%s: count %" PRIu64 ", bytes %" PRIu64
           ", failed %" PRIu64 ", in-flight max %" PRIu64 "\n",
           layer, op, o->count, o->bytes, o->failed, o->inflight_max);
  fprintf (fp, "  min %s, mean %s, max %s; p50 %s, p90 %s, p99 %s, p99.9 %s\n",
           blk_format_duration (o->min_ns, a, sizeof a),
           blk_format_duration (o->total_ns / o->count, b, sizeof b),
           blk_format_duration (o->max_ns, c, sizeof c),
           blk_format_duration (o->p50, d, sizeof d),
           blk_format_duration (o->p90, e, sizeof e),
           blk_format_duration (o->p99, f, sizeof f),
           blk_format_duration (o->p999, g, sizeof g));

  /* Like bpftrace, show the bins from the first to the last non-empty. */
  for (i = 0; i <= o->nbounds; i++) {
    if (o->bins[i] == 0)
      continue;
    if (!any)
      first = i;
    any = 1;
    last = i;
    if (o->bins[i] > peak)
      peak = o->bins[i];
  }
  if (!any)
    return;
  for (i = first; i <= last; i++) {
    bin_label (o, i, label, sizeof label);
    if (strlen (label) > width)
      width = (unsigned) strlen (label);
  }
  for (i = first; i <= last; i++) {
    unsigned bar = (unsigned) (o->bins[i] * BAR_WIDTH / peak), k;

    bin_label (o, i, label, sizeof label);
    fprintf (fp, "%-*s %8" PRIu64 " |", (int) width, label, o->bins[i]);
    for (k = 0; k < BAR_WIDTH; k++)
      fputc (k < bar ? '@' : ' ', fp);
    fputs ("|\n", fp);
  }
}

int
report_text (FILE *fp, const struct report *r)
{
  char el[32];
  unsigned l;
  int i, shown = 0;

  fprintf (fp, "nbdkit latency report after %s\n",
           blk_format_duration (r->elapsed_ns, el, sizeof el));
  for (l = 0; l < r->nlayers; l++) {
    for (i = 0; i < LAT_OPS; i++) {
      if (r->layers[l].ops[i].count == 0)
        continue;
      fputc ('\n', fp);
      text_op (fp, r->layers[l].name, lat_op_names[i], &r->layers[l].ops[i]);
      shown++;
    }
  }
  if (shown == 0)
    fputs ("(no requests)\n", fp);
  fflush (fp);
  return ferror (fp) ? -1 : 0;
}

/* ---- JSON ---- */

static void
json_nullable (FILE *fp, const char *key, int valid, uint64_t v, int comma)
{
  if (valid)
    fprintf (fp, "\"%s\":%" PRIu64, key, v);
  else
    fprintf (fp, "\"%s\":null", key);
  if (comma)
    fputc (',', fp);
}

static void
json_op (FILE *fp, const struct op_snapshot *o)
{
  int have = o->count > 0;
  unsigned i;

  fprintf (fp, "{\"count\":%" PRIu64 ",\"bytes\":%" PRIu64
           ",\"failed\":%" PRIu64 ",\"inflight_max\":%" PRIu64
           ",\"total_ns\":%" PRIu64 ",",
           o->count, o->bytes, o->failed, o->inflight_max, o->total_ns);
  json_nullable (fp, "min_ns", have, o->min_ns, 1);
  json_nullable (fp, "max_ns", have, o->max_ns, 1);
  json_nullable (fp, "mean_ns", have, have ? o->total_ns / o->count : 0, 1);
  fputs ("\"percentiles\":{", fp);
  json_nullable (fp, "50", have, o->p50, 1);
  json_nullable (fp, "90", have, o->p90, 1);
  json_nullable (fp, "99", have, o->p99, 1);
  json_nullable (fp, "99.9", have, o->p999, 0);
  fputs ("},\"histogram\":{\"boundaries\":[", fp);
  for (i = 0; i < o->nbounds; i++)
    fprintf (fp, "%s%" PRIu64, i ? "," : "", o->bounds[i]);
  fputs ("],\"bins\":[", fp);
  for (i = 0; i <= o->nbounds; i++)
    fprintf (fp, "%s%" PRIu64, i ? "," : "", o->bins[i]);
  fputs ("]}}", fp);
}

static void
json_ops (FILE *fp, const struct layer_snapshot *l)
{
  int i;

  fputc ('{', fp);
  for (i = 0; i < LAT_OPS; i++) {
    fprintf (fp, "%s\"%s\":", i ? "," : "", lat_op_names[i]);
    json_op (fp, &l->ops[i]);
  }
  fputc ('}', fp);
}

/* Layer names come from plugins: escape anything that is not plain. */
static void
json_string (FILE *fp, const char *s)
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

int
report_json (FILE *fp, const struct report *r)
{
  unsigned l;

  fprintf (fp, "{\"version\":1,\"unit\":\"ns\",\"elapsed_ns\":%" PRIu64
           ",\"ops\":", r->elapsed_ns);
  json_ops (fp, &r->layers[0]);
  fputs (",\"layers\":{", fp);
  for (l = 1; l < r->nlayers; l++) {
    if (l > 1)
      fputc (',', fp);
    json_string (fp, r->layers[l].name);
    fputs (":{\"ops\":", fp);
    json_ops (fp, &r->layers[l]);
    fputc ('}', fp);
  }
  fputs ("}}\n", fp);
  fflush (fp);
  return ferror (fp) ? -1 : 0;
}

/* ---- Prometheus text exposition format ---- */

static void
prom_seconds (FILE *fp, uint64_t ns)
{
  /* Exact decimal seconds: no float rounding in bucket labels. */
  uint64_t s = ns / 1000000000u, frac = ns % 1000000000u;
  char digits[16];
  int n;

  if (frac == 0) {
    fprintf (fp, "%" PRIu64, s);
    return;
  }
  n = snprintf (digits, sizeof digits, "%09" PRIu64, frac);
  while (n > 0 && digits[n - 1] == '0')
    digits[--n] = '\0';
  fprintf (fp, "%" PRIu64 ".%s", s, digits);
}

static void
prom_labels (FILE *fp, const char *layer, const char *op)
{
  /* Prometheus label values escape \, " and newline like JSON. */
  fputs ("{layer=", fp);
  json_string (fp, layer);
  fprintf (fp, ",op=\"%s\"", op);
}

int
report_prometheus (FILE *fp, const struct report *r)
{
  static const struct { const char *name; double q; } quantiles[] = {
    { "50", 50 }, { "90", 90 }, { "99", 99 }, { "99.9", 99.9 },
  };
  unsigned l, j;
  int i;

  fputs ("# HELP nbdkit_latency_seconds Time to complete a request, per "
         "layer and operation.\n"
         "# TYPE nbdkit_latency_seconds histogram\n", fp);
  for (l = 0; l < r->nlayers; l++) {
    for (i = 0; i < LAT_OPS; i++) {
      const struct op_snapshot *o = &r->layers[l].ops[i];
      uint64_t cum = 0;

      for (j = 0; j <= o->nbounds; j++) {
        cum += o->bins[j];
        fputs ("nbdkit_latency_seconds_bucket", fp);
        prom_labels (fp, r->layers[l].name, lat_op_names[i]);
        fputs (",le=\"", fp);
        if (j < o->nbounds)
          prom_seconds (fp, o->bounds[j]);
        else
          fputs ("+Inf", fp);
        fprintf (fp, "\"} %" PRIu64 "\n", cum);
      }
      fputs ("nbdkit_latency_seconds_sum", fp);
      prom_labels (fp, r->layers[l].name, lat_op_names[i]);
      fputs ("} ", fp);
      prom_seconds (fp, o->total_ns);
      fputs ("\nnbdkit_latency_seconds_count", fp);
      prom_labels (fp, r->layers[l].name, lat_op_names[i]);
      fprintf (fp, "} %" PRIu64 "\n", o->count);
    }
  }

  fputs ("# HELP nbdkit_latency_percentile_seconds Latency percentiles "
         "(within 1%) since start.\n"
         "# TYPE nbdkit_latency_percentile_seconds gauge\n", fp);
  for (l = 0; l < r->nlayers; l++) {
    for (i = 0; i < LAT_OPS; i++) {
      const struct op_snapshot *o = &r->layers[l].ops[i];
      const uint64_t v[] = { o->p50, o->p90, o->p99, o->p999 };

      if (o->count == 0)
        continue;
      for (j = 0; j < 4; j++) {
        fputs ("nbdkit_latency_percentile_seconds", fp);
        prom_labels (fp, r->layers[l].name, lat_op_names[i]);
        fprintf (fp, ",percentile=\"%s\"} ", quantiles[j].name);
        prom_seconds (fp, v[j]);
        fputc ('\n', fp);
      }
    }
  }

  static const struct {
    const char *name, *type, *help;
    size_t field;
  } counters[] = {
    { "nbdkit_latency_bytes_total", "counter", "Bytes requested.",
      offsetof (struct op_snapshot, bytes) },
    { "nbdkit_latency_failed_total", "counter", "Requests that failed.",
      offsetof (struct op_snapshot, failed) },
    { "nbdkit_latency_inflight_max", "gauge",
      "Most requests in flight at once.",
      offsetof (struct op_snapshot, inflight_max) },
  };
  for (j = 0; j < sizeof counters / sizeof counters[0]; j++) {
    fprintf (fp, "# HELP %s %s\n# TYPE %s %s\n", counters[j].name,
             counters[j].help, counters[j].name, counters[j].type);
    for (l = 0; l < r->nlayers; l++) {
      for (i = 0; i < LAT_OPS; i++) {
        const struct op_snapshot *o = &r->layers[l].ops[i];
        fputs (counters[j].name, fp);
        prom_labels (fp, r->layers[l].name, lat_op_names[i]);
        fprintf (fp, "} %" PRIu64 "\n",
                 *(const uint64_t *) ((const char *) o + counters[j].field));
      }
    }
  }
  fflush (fp);
  return ferror (fp) ? -1 : 0;
}

int
report_write (FILE *fp, enum report_format fmt, const struct report *r)
{
  switch (fmt) {
  case FORMAT_JSON: return report_json (fp, r);
  case FORMAT_PROMETHEUS: return report_prometheus (fp, r);
  case FORMAT_TEXT: default: return report_text (fp, r);
  }
}
