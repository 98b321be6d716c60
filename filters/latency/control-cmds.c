/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk latency filter: the commands of latency-control=SOCKET,
 * served by the shared control library (docs/control.md).  Parsing and
 * replies only; the state they change is latency.c's (latency.h).
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "histogram.h"
#include "latency.h"
#include "stats.h"

/* "read" .. "cache" -> 1 << op, "all" -> every op; 0 if unknown. */
static unsigned
op_mask_of (const char *name)
{
  int i;

  if (strcmp (name, "all") == 0)
    return (1u << LAT_OPS) - 1;
  for (i = 0; i < LAT_OPS; i++)
    if (strcmp (name, lat_op_names[i]) == 0)
      return 1u << i;
  return 0;
}

#define OPS_HELP "read, write, zero, trim, flush, extents, cache or all"

static int
cmd_query (void *opaque, int argc, char **argv, const char *rest,
           struct blk_ctl_reply *r)
{
  unsigned mask = 0;
  char why[512];
  char *json;
  int ret;

  if (argc >= 2) {
    mask = op_mask_of (argv[1]);
    if (mask == 0)
      return blk_ctl_err (r, "query: unknown operation '%s' (use %s)",
                          argv[1], OPS_HELP);
    if (mask == (1u << LAT_OPS) - 1)
      mask = 0;
  }
  json = lat_query (mask, argc >= 3 ? argv[2] : NULL, why, sizeof why);
  if (json == NULL)
    return blk_ctl_err (r, "query: %s", why);
  ret = blk_ctl_ok_json (r, json, json);
  free (json);
  return ret;
}

static int
cmd_reset (void *opaque, int argc, char **argv, const char *rest,
           struct blk_ctl_reply *r)
{
  if (lat_reset () == -1)
    return blk_ctl_err (r, "reset: out of memory (nothing was reset)");
  return blk_ctl_ok (r, NULL);
}

static int
cmd_boundaries (void *opaque, int argc, char **argv, const char *rest,
                struct blk_ctl_reply *r)
{
  unsigned mask = op_mask_of (argv[1]);
  uint64_t *bounds = NULL;
  unsigned n = 0;
  char why[512];
  int ret;

  if (mask == 0)
    return blk_ctl_err (r, "boundaries: unknown operation '%s' (use %s)",
                        argv[1], OPS_HELP);
  if (argc == 3 &&
      boundaries_parse (argv[2], &bounds, &n, why, sizeof why) == -1)
    return blk_ctl_err (r, "boundaries: '%s': %s (expected e.g. "
                        "1ms,2ms,4ms; a bare number is nanoseconds)",
                        argv[2], why);
  if (n > 1024) {
    free (bounds);
    return blk_ctl_err (r, "boundaries: '%s': %u boundaries, at most 1024",
                        argv[2], n);
  }
  ret = lat_set_boundaries (mask, bounds, n);
  free (bounds);
  if (ret == -1)
    return blk_ctl_err (r, "boundaries: out of memory");
  return blk_ctl_ok (r, NULL);
}

static int
cmd_interval (void *opaque, int argc, char **argv, const char *rest,
              struct blk_ctl_reply *r)
{
  uint64_t ns;
  char why[512];

  if (blk_parse_duration (argv[1], UINT64_C (1000000000), &ns,
                          why, sizeof why) == -1)
    return blk_ctl_err (r, "interval: %s", why);
  if (lat_set_interval (ns, why, sizeof why) == -1)
    return blk_ctl_err (r, "interval: '%s': %s", argv[1], why);
  return blk_ctl_ok (r, NULL);
}

static const struct blk_ctl_command latency_cmds[] = {
  { "query", "query [OP|all] [LAYER]",
    "the JSON report now (recent window not restarted)", 0, 2, cmd_query },
  { "reset", "reset", "zero every statistic of every layer", 0, 0,
    cmd_reset },
  { "boundaries", "boundaries OP|all [LIST]",
    "set the histogram boundaries (no LIST: the configured ones)", 1, 2,
    cmd_boundaries },
  { "interval", "interval DURATION",
    "rewrite the report files this often (0 stops)", 1, 1, cmd_interval },
  { .name = NULL }
};

struct blk_ctl *
lat_control_new (void)
{
  struct blk_ctl *c = blk_ctl_new ("latency", NULL);

  if (c && blk_ctl_register (c, latency_cmds) == -1) {
    blk_ctl_free (c);
    return NULL;
  }
  return c;
}
