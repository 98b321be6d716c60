/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: the latency filter's report formats on a fixed snapshot. */
#include <config.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "report.h"
#include "stats.h"

static const uint64_t bounds[] = { 1000000, 8000000, 16000000 };

/* A snapshot with 1000 reads (991 in [8ms,16ms)) and nothing else. */
static void
make (struct layer_snapshot *l, const char *name)
{
  static uint64_t bins[LAT_OPS][4];
  int i;

  memset (l, 0, sizeof *l);
  l->name = name;
  for (i = 0; i < LAT_OPS; i++) {
    l->ops[i].bounds = bounds;
    l->ops[i].nbounds = 3;
    l->ops[i].bins = bins[i];
  }
  bins[0][0] = 4; bins[0][1] = 5; bins[0][2] = 991; bins[0][3] = 0;
  l->ops[0].count = 1000;
  l->ops[0].bytes = 4096000;
  l->ops[0].failed = 2;
  l->ops[0].total_ns = 10000000000;
  l->ops[0].min_ns = 500000;
  l->ops[0].max_ns = 15000000;
  l->ops[0].inflight_max = 4;
  l->ops[0].p50 = 10000000;
  l->ops[0].p90 = 12000000;
  l->ops[0].p99 = 14000000;
  l->ops[0].p999 = 15000000;
}

static char *
render_report (int (*fn) (FILE *, const struct report *),
               const struct report *r)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *fp = open_memstream (&buf, &len);

  cr_assert_eq (fn (fp, r), 0);
  fclose (fp);
  return buf;
}

static char *
render (int (*fn) (FILE *, const struct report *), unsigned nlayers)
{
  static struct layer_snapshot ls[2];
  struct report r = { .elapsed_ns = 5000000000, .layers = ls,
                      .nlayers = nlayers };

  make (&ls[0], "nbdkit");
  make (&ls[1], "backend");
  return render_report (fn, &r);
}

Test (report, text_bpftrace_style)
{
  char *t = render (report_text, 1);
  const char *want =
    "nbdkit latency report after 5s\n"
    "\n"
    "@nbdkit_read: count 1000, bytes 4096000, failed 2, in-flight max 4\n"
    "  min 500us, mean 10ms, max 15ms; p50 10ms, p90 12ms, p99 14ms, p99.9 15ms\n"
    "[0, 1ms]           4 |                                                    |\n"
    "(1ms, 8ms]         5 |                                                    |\n"
    "(8ms, 16ms]      991 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n";
  cr_assert_str_eq (t, want);
  free (t);
}

Test (report, json_fields)
{
  char *j = render (report_json, 2);
  cr_assert (strstr (j, "\"ops\":{\"read\":{\"count\":1000,\"bytes\":4096000,"
                     "\"failed\":2,\"inflight_max\":4,"));
  cr_assert (strstr (j, "\"min_ns\":500000,\"max_ns\":15000000,"
                     "\"mean_ns\":10000000,"));
  cr_assert (strstr (j, "\"percentiles\":{\"50\":10000000,\"90\":12000000,"
                     "\"99\":14000000,\"99.9\":15000000}"));
  cr_assert (strstr (j, "\"histogram\":{\"boundaries\":[1000000,8000000,"
                     "16000000],\"bins\":[4,5,991,0]}"));
  /* an op with no requests has nulls, not made-up zeroes */
  cr_assert (strstr (j, "\"write\":{\"count\":0,\"bytes\":0,\"failed\":0,"
                     "\"inflight_max\":0,\"total_ns\":0,\"min_ns\":null,"
                     "\"max_ns\":null,\"mean_ns\":null,\"percentiles\":"
                     "{\"50\":null,"));
  cr_assert (strstr (j, "\"layers\":{\"backend\":{\"ops\":{\"read\":"));
  free (j);
}

Test (report, prometheus_histogram)
{
  char *p = render (report_prometheus, 1);
  cr_assert (strstr (p, "# TYPE nbdkit_latency_seconds histogram\n"));
  cr_assert (strstr (p, "nbdkit_latency_seconds_bucket{layer=\"nbdkit\","
                     "op=\"read\",le=\"0.001\"} 4\n"));
  cr_assert (strstr (p, "nbdkit_latency_seconds_bucket{layer=\"nbdkit\","
                     "op=\"read\",le=\"0.008\"} 9\n"));
  cr_assert (strstr (p, "nbdkit_latency_seconds_bucket{layer=\"nbdkit\","
                     "op=\"read\",le=\"0.016\"} 1000\n"));
  cr_assert (strstr (p, "nbdkit_latency_seconds_bucket{layer=\"nbdkit\","
                     "op=\"read\",le=\"+Inf\"} 1000\n"));
  cr_assert (strstr (p, "nbdkit_latency_seconds_sum{layer=\"nbdkit\","
                     "op=\"read\"} 10\n"));
  cr_assert (strstr (p, "nbdkit_latency_seconds_count{layer=\"nbdkit\","
                     "op=\"read\"} 1000\n"));
  cr_assert_null (strstr (p, "percentile"));
  cr_assert (strstr (p, "nbdkit_latency_failed_total{layer=\"nbdkit\","
                     "op=\"read\"} 2\n"));
  free (p);
}

/* Real samples through op_record and layer_snapshot, several exactly on
 * a boundary: Prometheus' le is "less than or equal", so a sample equal
 * to a bound is counted in that bucket (and in every larger one).
 */
static void
record_on_boundaries (struct layer_stats *l, uint64_t *bp[LAT_OPS],
                      unsigned nb[LAT_OPS])
{
  int i;

  for (i = 0; i < LAT_OPS; i++) {
    bp[i] = (uint64_t *) bounds;          /* 1ms, 8ms, 16ms */
    nb[i] = 3;
  }
  cr_assert_eq (layer_init (l, "nbdkit", bp, nb), 0);
  op_record (&l->ops[LAT_READ], 999999, 0, 0);
  op_record (&l->ops[LAT_READ], 1000000, 0, 0);   /* = le 0.001 */
  op_record (&l->ops[LAT_READ], 1000001, 0, 0);
  op_record (&l->ops[LAT_READ], 8000000, 0, 0);   /* = le 0.008 */
  op_record (&l->ops[LAT_READ], 16000000, 0, 0);  /* = le 0.016 */
  op_record (&l->ops[LAT_READ], 16000001, 0, 0);
}

Test (report, prometheus_le_is_inclusive)
{
  uint64_t *bp[LAT_OPS];
  unsigned nb[LAT_OPS];
  struct layer_stats l;
  struct layer_snapshot s;
  struct report r = { .layers = &s, .nlayers = 1 };
  char *p, *t;

  record_on_boundaries (&l, bp, nb);
  cr_assert_eq (layer_snapshot (&l, &s), 0);
  p = render_report (report_prometheus, &r);
  cr_assert (strstr (p, "nbdkit_latency_seconds_bucket{layer=\"nbdkit\","
                     "op=\"read\",le=\"0.001\"} 2\n"), "%s", p);
  cr_assert (strstr (p, "nbdkit_latency_seconds_bucket{layer=\"nbdkit\","
                     "op=\"read\",le=\"0.008\"} 4\n"), "%s", p);
  cr_assert (strstr (p, "nbdkit_latency_seconds_bucket{layer=\"nbdkit\","
                     "op=\"read\",le=\"0.016\"} 5\n"), "%s", p);
  cr_assert (strstr (p, "nbdkit_latency_seconds_bucket{layer=\"nbdkit\","
                     "op=\"read\",le=\"+Inf\"} 6\n"), "%s", p);
  cr_assert (strstr (p, "nbdkit_latency_seconds_sum{layer=\"nbdkit\","
                     "op=\"read\"} 0.043000001\n"), "%s", p);
  free (p);
  /* The text and JSON bins are the same (lo, hi] bins. */
  t = render_report (report_text, &r);
  cr_assert (strstr (t, "\n[0, 1ms]           2 |"), "%s", t);
  cr_assert (strstr (t, "\n(1ms, 8ms]         2 |"), "%s", t);
  cr_assert (strstr (t, "\n(8ms, 16ms]        1 |"), "%s", t);
  cr_assert (strstr (t, "\n(16ms, ...)        1 |"), "%s", t);
  free (t);
  layer_snapshot_free (&s);
  layer_free (&l);
}

Test (report, prometheus_recent_summary)
{
  uint64_t *bp[LAT_OPS];
  unsigned nb[LAT_OPS];
  struct layer_stats l;
  struct layer_snapshot s;
  struct report r = { .layers = &s, .nlayers = 1 };
  char *p;
  int i;

  record_on_boundaries (&l, bp, nb);
  cr_assert_eq (layer_snapshot (&l, &s), 0);
  layer_snapshot_free (&s);
  /* The next window holds 100 requests of 2ms only. */
  for (i = 0; i < 100; i++)
    op_record (&l.ops[LAT_READ], 2000000, 0, 0);
  cr_assert_eq (layer_snapshot (&l, &s), 0);
  cr_assert_eq (s.ops[LAT_READ].recent_count, 100);
  cr_assert_eq (s.ops[LAT_READ].count, 106);
  p = render_report (report_prometheus, &r);
  cr_assert (strstr (p, "# TYPE nbdkit_latency_recent_seconds summary\n"));
  /* within 1% of 2ms, and not the all-time p99 (16ms) */
  cr_assert (strstr (p, "nbdkit_latency_recent_seconds{layer=\"nbdkit\","
                     "op=\"read\",quantile=\"0.99\"} 0.00200"), "%s", p);
  cr_assert (strstr (p, "nbdkit_latency_recent_seconds{layer=\"nbdkit\","
                     "op=\"read\",quantile=\"0.999\"} 0.00200"), "%s", p);
  cr_assert (strstr (p, "nbdkit_latency_recent_seconds_count{layer=\"nbdkit\","
                     "op=\"read\"} 106\n"), "%s", p);
  /* no request at all in the window: NaN, as Prometheus' clients */
  cr_assert (strstr (p, "nbdkit_latency_recent_seconds{layer=\"nbdkit\","
                     "op=\"write\",quantile=\"0.5\"} NaN\n"), "%s", p);
  free (p);
  layer_snapshot_free (&s);
  layer_free (&l);
}

Test (report, constant_labels)
{
  struct label *lab = NULL;
  unsigned n = 0;
  char why[256];
  static struct layer_snapshot ls[1];
  struct report r = { .layers = ls, .nlayers = 1 };
  char *p;

  cr_assert_eq (labels_parse ("export=vm1,host=a", &lab, &n, 16,
                              why, sizeof why), 0, "%s", why);
  cr_assert_eq (labels_parse ("note=say \"hi\"\\now", &lab, &n, 16,
                              why, sizeof why), 0, "%s", why);
  cr_assert_eq (n, 3);
  r.labels = lab;
  r.nlabels = n;
  make (&ls[0], "odd\"layer");
  p = render_report (report_prometheus, &r);
  cr_assert (strstr (p, "nbdkit_latency_seconds_count{export=\"vm1\","
                     "host=\"a\",note=\"say \\\"hi\\\"\\\\now\","
                     "layer=\"odd\\\"layer\",op=\"read\"} 1000\n"), "%s", p);
  free (p);
  p = render_report (report_json, &r);
  cr_assert (strstr (p, "\"labels\":{\"export\":\"vm1\",\"host\":\"a\","), "%s", p);
  free (p);
  labels_free (lab, n);
}

static void
label_fails (const char *s, const char *want)
{
  struct label *lab = NULL;
  unsigned n = 0;
  char why[256] = "";

  cr_assert_eq (labels_parse ("a=1", &lab, &n, 2, why, sizeof why), 0);
  cr_assert_eq (labels_parse (s, &lab, &n, 2, why, sizeof why), -1, "%s", s);
  cr_assert (strstr (why, want), "'%s': got '%s', want '%s'", s, why, want);
  labels_free (lab, n);
}

Test (report, bad_labels)
{
  label_fails ("", "empty list");
  label_fails ("export", "'export' is not NAME=VALUE");
  label_fails ("9x=1", "'9x' is not a Prometheus label name");
  label_fails ("ex-port=1", "'ex-port' is not a Prometheus label name");
  label_fails ("=1", "'' is not a Prometheus label name");
  label_fails ("__name__=x", "reserved");
  label_fails ("le=1", "'le' is a label the filter sets itself");
  label_fails ("layer=x", "'layer' is a label the filter sets itself");
  label_fails ("a=2", "label 'a' given twice");
  label_fails ("b=", "label 'b' has an empty value");
  label_fails ("b=1,", "'' is not NAME=VALUE");
  label_fails ("b=1,c=2", "too many labels (at most 2)");
}

/* The recent window's own min/max/mean (QEMU's timed_stats); a
 * snapshot with advance 0 (the control socket's query) reads the
 * window without starting a new one.
 */
Test (report, recent_min_max_mean_and_peek)
{
  uint64_t *bp[LAT_OPS];
  unsigned nb[LAT_OPS];
  struct layer_stats l;
  struct layer_snapshot s;
  const struct op_snapshot *o = &s.ops[LAT_READ];

  record_on_boundaries (&l, bp, nb);
  cr_assert_eq (layer_snapshot (&l, &s), 0);
  layer_snapshot_free (&s);
  op_record (&l.ops[LAT_READ], 2000000, 0, 0);
  op_record (&l.ops[LAT_READ], 4000000, 0, 0);
  cr_assert_eq (layer_snapshot_ex (&l, &s, 0, NULL, NULL), 0);
  cr_assert_eq (o->recent_count, 2);
  cr_assert_eq (o->recent_total_ns, 6000000);
  /* within 1% (bucket midpoints) */
  cr_assert (o->recent_min_ns >= 1980000 && o->recent_min_ns <= 2020000,
             "%" PRIu64, o->recent_min_ns);
  cr_assert (o->recent_max_ns >= 3960000 && o->recent_max_ns <= 4040000,
             "%" PRIu64, o->recent_max_ns);
  layer_snapshot_free (&s);
  /* Not advanced: the same window again, then advanced, then empty. */
  cr_assert_eq (layer_snapshot (&l, &s), 0);
  cr_assert_eq (o->recent_count, 2);
  layer_snapshot_free (&s);
  cr_assert_eq (layer_snapshot (&l, &s), 0);
  cr_assert_eq (o->recent_count, 0);
  cr_assert_eq (o->recent_total_ns, 0);
  cr_assert_eq (o->count, 8);
  layer_snapshot_free (&s);
  layer_free (&l);
}

/* reset: everything a snapshot shows starts from zero, exact bins
 * included, and counting goes on from there.
 */
Test (report, reset_zeroes_and_counts_on)
{
  uint64_t *bp[LAT_OPS];
  unsigned nb[LAT_OPS];
  struct layer_stats l;
  struct layer_snapshot s;
  const struct op_snapshot *o = &s.ops[LAT_READ];
  unsigned j;

  record_on_boundaries (&l, bp, nb);
  op_record (&l.ops[LAT_READ], 5000000, 4096, 1);
  cr_assert_eq (layer_reset (&l), 0);
  cr_assert_eq (layer_snapshot (&l, &s), 0);
  cr_assert_eq (o->count, 0);
  cr_assert_eq (o->bytes, 0);
  cr_assert_eq (o->failed, 0);
  cr_assert_eq (o->total_ns, 0);
  cr_assert_eq (o->min_ns, 0);
  cr_assert_eq (o->max_ns, 0);
  cr_assert_eq (o->recent_count, 0);
  for (j = 0; j <= o->nbounds; j++)
    cr_assert_eq (o->bins[j], 0);
  layer_snapshot_free (&s);
  /* 1ms exactly is in a split bucket: counted in its exact bin. */
  op_record (&l.ops[LAT_READ], 1000000, 512, 0);
  op_record (&l.ops[LAT_READ], 9000000, 512, 0);
  cr_assert_eq (layer_snapshot (&l, &s), 0);
  cr_assert_eq (o->count, 2);
  cr_assert_eq (o->bytes, 1024);
  cr_assert_eq (o->min_ns, 1000000);
  cr_assert_eq (o->max_ns, 9000000);
  cr_assert_eq (o->bins[0], 1);
  cr_assert_eq (o->bins[1], 0);
  cr_assert_eq (o->bins[2], 1);
  cr_assert_eq (o->recent_count, 2);
  layer_snapshot_free (&s);
  layer_free (&l);
}

/* Run-time boundaries: bins apportioned from the HDR buckets. */
Test (report, runtime_boundaries)
{
  uint64_t *bp[LAT_OPS];
  unsigned nb[LAT_OPS];
  uint64_t *rt[LAT_OPS] = { NULL };
  unsigned rn[LAT_OPS] = { 0 };
  uint64_t mine[] = { 2000000, 10000000 };
  struct layer_stats l;
  struct layer_snapshot s;
  const struct op_snapshot *o = &s.ops[LAT_READ];

  record_on_boundaries (&l, bp, nb);  /* .999, 1, 1.000001, 8, 16, 16.000001ms */
  rt[LAT_READ] = mine;
  rn[LAT_READ] = 2;
  cr_assert_eq (layer_snapshot_ex (&l, &s, 1, rt, rn), 0);
  cr_assert_eq (o->nbounds, 2);
  cr_assert_eq (o->bounds[1], 10000000);
  cr_assert_eq (o->bins[0], 3);
  cr_assert_eq (o->bins[1], 1);
  cr_assert_eq (o->bins[2], 2);
  /* The other ops keep theirs. */
  cr_assert_eq (s.ops[LAT_WRITE].nbounds, 3);
  layer_snapshot_free (&s);
  layer_free (&l);
}
