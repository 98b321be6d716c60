/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk latency filter: the text, JSON and Prometheus reports.
 *
 * Pure formatting of snapshots: no locks, no globals, unit tested.
 */
#include <config.h>

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "json-string.h"
#include "report.h"

#define BAR_WIDTH 52             /* as bpftrace */

/* ---- text: bpftrace-style ASCII histograms ---- */

static void
bin_label (const struct op_snapshot *o, unsigned i, char *buf, size_t len)
{
  char lo[32], hi[32];

  /* Bins are closed on the right (see histogram.h): [0, b0], (b0, b1],
   * ..., (bn, ...).
   */
  if (i == 0)
    snprintf (lo, sizeof lo, "0");
  else
    blk_format_duration (o->bounds[i - 1], lo, sizeof lo);
  if (i == o->nbounds)
    snprintf (hi, sizeof hi, "...");
  else
    blk_format_duration (o->bounds[i], hi, sizeof hi);
  snprintf (buf, len, "%c%s, %s%c", i == 0 ? '[' : '(', lo, hi,
            i == o->nbounds ? ')' : ']');
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
  fprintf (fp, "},\"recent\":{\"count\":%" PRIu64 ",\"total_ns\":%" PRIu64
           ",", o->recent_count, o->recent_total_ns);
  json_nullable (fp, "min_ns", o->recent_count > 0, o->recent_min_ns, 1);
  json_nullable (fp, "max_ns", o->recent_count > 0, o->recent_max_ns, 1);
  json_nullable (fp, "mean_ns", o->recent_count > 0,
                 o->recent_count ? o->recent_total_ns / o->recent_count : 0, 1);
  fputs ("\"percentiles\":{", fp);
  json_nullable (fp, "50", o->recent_count > 0, o->recent_q[0], 1);
  json_nullable (fp, "90", o->recent_count > 0, o->recent_q[1], 1);
  json_nullable (fp, "99", o->recent_count > 0, o->recent_q[2], 1);
  json_nullable (fp, "99.9", o->recent_count > 0, o->recent_q[3], 0);
  fputs ("}},\"histogram\":{\"boundaries\":[", fp);
  for (i = 0; i < o->nbounds; i++)
    fprintf (fp, "%s%" PRIu64, i ? "," : "", o->bounds[i]);
  fputs ("],\"bins\":[", fp);
  for (i = 0; i <= o->nbounds; i++)
    fprintf (fp, "%s%" PRIu64, i ? "," : "", o->bins[i]);
  fputs ("]}}", fp);
}

static void
json_ops (FILE *fp, const struct layer_snapshot *l, unsigned mask)
{
  int i, n = 0;

  fputc ('{', fp);
  for (i = 0; i < LAT_OPS; i++) {
    if (mask && !(mask & (1u << i)))
      continue;
    fprintf (fp, "%s\"%s\":", n++ ? "," : "", lat_op_names[i]);
    json_op (fp, &l->ops[i]);
  }
  fputc ('}', fp);
}

int
report_json (FILE *fp, const struct report *r)
{
  unsigned l;

  fprintf (fp, "{\"version\":1,\"unit\":\"ns\",\"elapsed_ns\":%" PRIu64,
           r->elapsed_ns);
  if (r->recent_ns)
    fprintf (fp, ",\"recent_ns\":%" PRIu64, r->recent_ns);
  fputs (",\"labels\":{", fp);
  for (l = 0; l < r->nlabels; l++) {
    if (l > 0)
      fputc (',', fp);
    blk_json_string (fp, r->labels[l].name);
    fputc (':', fp);
    blk_json_string (fp, r->labels[l].value);
  }
  fputs ("},\"ops\":", fp);
  json_ops (fp, &r->layers[0], r->op_mask);
  fputs (",\"layers\":{", fp);
  for (l = 1; l < r->nlayers; l++) {
    if (l > 1)
      fputc (',', fp);
    blk_json_string (fp, r->layers[l].name);
    fputs (":{\"ops\":", fp);
    json_ops (fp, &r->layers[l], r->op_mask);
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

/* A Prometheus label value: only \\, " and newline are escaped (the
 * format has no other escapes; other bytes, UTF-8 included, go as is).
 */
static void
prom_value (FILE *fp, const char *s)
{
  fputc ('"', fp);
  for (; *s; s++) {
    if (*s == '\\' || *s == '"')
      fprintf (fp, "\\%c", *s);
    else if (*s == '\n')
      fputs ("\\n", fp);
    else
      fputc (*s, fp);
  }
  fputc ('"', fp);
}

/* Opens the label set: the constant labels, layer and op.  The caller
 * adds its own (le, quantile) and the closing brace.
 */
static void
prom_labels (FILE *fp, const struct report *r, const char *layer,
             const char *op)
{
  unsigned i;

  fputc ('{', fp);
  for (i = 0; i < r->nlabels; i++) {
    fprintf (fp, "%s=", r->labels[i].name);
    prom_value (fp, r->labels[i].value);
    fputc (',', fp);
  }
  fputs ("layer=", fp);
  prom_value (fp, layer);
  fprintf (fp, ",op=\"%s\"", op);
}

/* A quantile label as Prometheus writes them: 0.5, 0.99, 0.999. */
static void
prom_quantile (FILE *fp, double percent)
{
  char buf[32];

  snprintf (buf, sizeof buf, "%g", percent / 100.0);
  fputs (buf, fp);
}

int
report_prometheus (FILE *fp, const struct report *r)
{
  unsigned l, j;
  int i, q;

  fputs ("# HELP nbdkit_latency_seconds Time from the latency filter "
         "passing a request down to its return, per layer and operation "
         "(le is inclusive).\n"
         "# TYPE nbdkit_latency_seconds histogram\n", fp);
  for (l = 0; l < r->nlayers; l++) {
    for (i = 0; i < LAT_OPS; i++) {
      const struct op_snapshot *o = &r->layers[l].ops[i];
      uint64_t cum = 0;

      for (j = 0; j <= o->nbounds; j++) {
        cum += o->bins[j];
        fputs ("nbdkit_latency_seconds_bucket", fp);
        prom_labels (fp, r, r->layers[l].name, lat_op_names[i]);
        fputs (",le=\"", fp);
        if (j < o->nbounds)
          prom_seconds (fp, o->bounds[j]);
        else
          fputs ("+Inf", fp);
        fprintf (fp, "\"} %" PRIu64 "\n", cum);
      }
      fputs ("nbdkit_latency_seconds_sum", fp);
      prom_labels (fp, r, r->layers[l].name, lat_op_names[i]);
      fputs ("} ", fp);
      prom_seconds (fp, o->total_ns);
      fputs ("\nnbdkit_latency_seconds_count", fp);
      prom_labels (fp, r, r->layers[l].name, lat_op_names[i]);
      fprintf (fp, "} %" PRIu64 "\n", o->count);
    }
  }

  /* A summary whose quantiles cover the recent window (the requests
   * since the previous report), as Prometheus' client libraries do;
   * _sum and _count are cumulative, as a summary's must be.
   */
  fputs ("# HELP nbdkit_latency_recent_seconds Latency quantiles (within "
         "1%) of the requests completed since the previous report; NaN "
         "if there were none.\n"
         "# TYPE nbdkit_latency_recent_seconds summary\n", fp);
  for (l = 0; l < r->nlayers; l++) {
    for (i = 0; i < LAT_OPS; i++) {
      const struct op_snapshot *o = &r->layers[l].ops[i];

      for (q = 0; q < LAT_NQ; q++) {
        fputs ("nbdkit_latency_recent_seconds", fp);
        prom_labels (fp, r, r->layers[l].name, lat_op_names[i]);
        fputs (",quantile=\"", fp);
        prom_quantile (fp, lat_quantiles[q]);
        fputs ("\"} ", fp);
        if (o->recent_count > 0)
          prom_seconds (fp, o->recent_q[q]);
        else
          fputs ("NaN", fp);
        fputc ('\n', fp);
      }
      fputs ("nbdkit_latency_recent_seconds_sum", fp);
      prom_labels (fp, r, r->layers[l].name, lat_op_names[i]);
      fputs ("} ", fp);
      prom_seconds (fp, o->total_ns);
      fputs ("\nnbdkit_latency_recent_seconds_count", fp);
      prom_labels (fp, r, r->layers[l].name, lat_op_names[i]);
      fprintf (fp, "} %" PRIu64 "\n", o->count);
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
        prom_labels (fp, r, r->layers[l].name, lat_op_names[i]);
        fprintf (fp, "} %" PRIu64 "\n",
                 *(const uint64_t *) ((const char *) o + counters[j].field));
      }
    }
  }
  fflush (fp);
  return ferror (fp) ? -1 : 0;
}

/* ---- constant labels ---- */

static int
label_name_ok (const char *s, size_t len)
{
  size_t i;

  if (len == 0 || (s[0] >= '0' && s[0] <= '9'))
    return 0;
  for (i = 0; i < len; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_'))
      return 0;
  }
  return 1;
}

int
labels_parse (const char *str, struct label **labels, unsigned *n,
              unsigned max, char *errbuf, size_t errlen)
{
  static const char *const own[] = { "layer", "op", "le", "quantile" };
  const char *p = str;

  if (*str == '\0') {
    snprintf (errbuf, errlen, "empty list of labels (expected "
              "NAME=VALUE[,NAME=VALUE...])");
    return -1;
  }
  for (;;) {
    size_t len = strcspn (p, ","), nlen;
    const char *eq = memchr (p, '=', len);
    struct label *nl;
    unsigned i;

    if (eq == NULL) {
      snprintf (errbuf, errlen, "'%.*s' is not NAME=VALUE", (int) len, p);
      return -1;
    }
    nlen = (size_t) (eq - p);
    if (!label_name_ok (p, nlen)) {
      snprintf (errbuf, errlen, "'%.*s' is not a Prometheus label name "
                "(letters, digits and _, not starting with a digit)",
                (int) nlen, p);
      return -1;
    }
    if (nlen >= 2 && p[0] == '_' && p[1] == '_') {
      snprintf (errbuf, errlen, "'%.*s': label names starting with __ "
                "are reserved by Prometheus", (int) nlen, p);
      return -1;
    }
    for (i = 0; i < sizeof own / sizeof own[0]; i++)
      if (strlen (own[i]) == nlen && memcmp (p, own[i], nlen) == 0) {
        snprintf (errbuf, errlen, "'%s' is a label the filter sets itself "
                  "(layer, op, le, quantile)", own[i]);
        return -1;
      }
    for (i = 0; i < *n; i++)
      if (strlen ((*labels)[i].name) == nlen &&
          memcmp (p, (*labels)[i].name, nlen) == 0) {
        snprintf (errbuf, errlen, "label '%s' given twice",
                  (*labels)[i].name);
        return -1;
      }
    if (eq + 1 == p + len) {
      snprintf (errbuf, errlen, "label '%.*s' has an empty value (to "
                "Prometheus that is no label at all)", (int) nlen, p);
      return -1;
    }
    if (*n >= max) {
      snprintf (errbuf, errlen, "too many labels (at most %u)", max);
      return -1;
    }
    nl = realloc (*labels, (*n + 1) * sizeof *nl);
    if (nl == NULL) {
      snprintf (errbuf, errlen, "out of memory");
      return -1;
    }
    *labels = nl;
    nl[*n].name = strndup (p, nlen);
    nl[*n].value = strndup (eq + 1, len - nlen - 1);
    if (nl[*n].name == NULL || nl[*n].value == NULL) {
      free (nl[*n].name);
      free (nl[*n].value);
      snprintf (errbuf, errlen, "out of memory");
      return -1;
    }
    (*n)++;
    p += len;
    if (*p == '\0')
      return 0;
    p++;                        /* the comma */
  }
}

void
labels_free (struct label *labels, unsigned n)
{
  unsigned i;

  for (i = 0; i < n; i++) {
    free (labels[i].name);
    free (labels[i].value);
  }
  free (labels);
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
