/* Unit tests: the latency filter's report formats on a fixed snapshot. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "report.h"

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
render (int (*fn) (FILE *, const struct report *), unsigned nlayers)
{
  static struct layer_snapshot ls[2];
  struct report r = { .elapsed_ns = 5000000000, .layers = ls,
                      .nlayers = nlayers };
  char *buf = NULL;
  size_t len = 0;
  FILE *fp = open_memstream (&buf, &len);

  make (&ls[0], "client");
  make (&ls[1], "backend");
  cr_assert_eq (fn (fp, &r), 0);
  fclose (fp);
  return buf;
}

Test (report, text_bpftrace_style)
{
  char *t = render (report_text, 1);
  const char *want =
    "nbdkit latency report after 5s\n"
    "\n"
    "@client_read: count 1000, bytes 4096000, failed 2, in-flight max 4\n"
    "  min 500us, mean 10ms, max 15ms; p50 10ms, p90 12ms, p99 14ms, p99.9 15ms\n"
    "[0, 1ms)           4 |                                                    |\n"
    "[1ms, 8ms)         5 |                                                    |\n"
    "[8ms, 16ms)      991 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n";
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
  cr_assert (strstr (p, "nbdkit_latency_seconds_bucket{layer=\"client\","
                     "op=\"read\",le=\"0.001\"} 4\n"));
  cr_assert (strstr (p, "nbdkit_latency_seconds_bucket{layer=\"client\","
                     "op=\"read\",le=\"0.008\"} 9\n"));
  cr_assert (strstr (p, "nbdkit_latency_seconds_bucket{layer=\"client\","
                     "op=\"read\",le=\"0.016\"} 1000\n"));
  cr_assert (strstr (p, "nbdkit_latency_seconds_bucket{layer=\"client\","
                     "op=\"read\",le=\"+Inf\"} 1000\n"));
  cr_assert (strstr (p, "nbdkit_latency_seconds_sum{layer=\"client\","
                     "op=\"read\"} 10\n"));
  cr_assert (strstr (p, "nbdkit_latency_seconds_count{layer=\"client\","
                     "op=\"read\"} 1000\n"));
  cr_assert (strstr (p, "nbdkit_latency_percentile_seconds{layer=\"client\","
                     "op=\"read\",percentile=\"99\"} 0.014\n"));
  cr_assert (strstr (p, "nbdkit_latency_failed_total{layer=\"client\","
                     "op=\"read\"} 2\n"));
  free (p);
}
