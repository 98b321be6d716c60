/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: nbdkit-latency-filter.so, per-operation latency
 * histograms and percentiles, for the client and for every layer a
 * plugin brackets through the hook (see docs/hook.md).
 *
 * Thread model: parallel (the filter adds no restriction).  Shared
 * state and what guards it:
 * - configuration globals: written in .config/.config_complete only,
 *   read-only afterwards;
 * - the statistics (struct layer_stats): lock-free atomic counters,
 *   see stats.h;
 * - the layer table: layers[] entries are published with a release
 *   store of nlayers under layers_lock; the request path only reads
 *   (acquire), layers_lock serialises creation of a new layer;
 * - the report writer thread: writer_lock + writer_cond guard
 *   writer_stop.  Reports are written by the writer thread or, at
 *   .cleanup, after it was joined: never two at once (so the recent
 *   window in each layer, see stats.h, has one user at a time).
 * - report_lock: every snapshot and reset of the statistics (the
 *   writer thread, .cleanup, the control commands), so the recent
 *   window and the reset baselines (stats.h) have one user at a time;
 *   it also guards rt_bounds/rt_nbounds (boundaries set over the
 *   control socket) and window_start_ns.  The request path never
 *   takes it.  Lock order: report_lock before layers_lock.
 * - writer_lock also guards interval_ns and writer_last_ns once the
 *   writer runs (the control command "interval" changes them).
 * - the control socket (latency-control=): the control library's own
 *   locks; ctl is set in .config_complete and read-only afterwards.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <syslog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nbdkit-filter.h>

#include "blk-hook.h"
#include "cleanup.h"
#include "clock-ns.h"
#include "dup-part.h"
#include "duration.h"
#include "enum-param.h"
#include "errstr.h"
#include "histogram.h"
#include "latency.h"
#include "report.h"
#include "stats.h"

#define MAX_LAYERS 8            /* "nbdkit" plus up to 7 plugin layers */
#define MAX_OUTPUTS 8
#define MAX_LABELS 16

/* -D latency.requests=1: a debug line per request, on every layer.
 * -D latency.report=1: a debug line per report written, and the counts
 * it holds.  (nbdkit sets these before .load; they are read-only after.)
 */
NBDKIT_DLL_PUBLIC int latency_debug_requests = 0;
NBDKIT_DLL_PUBLIC int latency_debug_report = 0;
/* The same variable under a hidden name: the request path reads it
 * directly instead of through the GOT (an exported variable could be
 * interposed), one load less per request.
 */
extern int debug_requests
  __attribute__ ((alias ("latency_debug_requests"), visibility ("hidden")));

/* Where reports go: a file, or (path NULL) stderr, which becomes
 * syslog when nbdkit has daemonised and stderr is /dev/null.
 */
struct output {
  enum report_format format;
  char *path;
};

/* Configuration (read-only after .config_complete). */
static uint64_t *bounds_all;            /* latency-boundaries= */
static uint64_t *bounds_op[LAT_OPS];    /* latency-boundaries-OP= */
static unsigned nbounds_all;
static unsigned nbounds_op[LAT_OPS];
static char *legacy_file;               /* latency-file= */
static enum report_format legacy_format = FORMAT_TEXT; /* latency-format= */
static int legacy_format_set;
static struct output outputs[MAX_OUTPUTS]; /* latency-output=, + the above */
static unsigned noutputs;
static unsigned nfile_outputs;
static uint64_t interval_ns;            /* latency-interval= (0: at exit) */
static char *control_path;              /* latency-control= */
static struct blk_ctl *ctl;
static struct label *labels;            /* latency-labels= */
static unsigned nlabels;

/* Set in .after_fork: nbdkit daemonised, so stderr is /dev/null now
 * (it was not before): the stderr outputs go to syslog instead.
 */
static int stderr_to_syslog;
static int stderr_was_devnull;

/* Statistics: layers[0] is the client layer. */
static struct layer_stats *layers[MAX_LAYERS];
static unsigned nlayers;                /* release/acquire, see above */
static pthread_mutex_t layers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct layer_stats top;          /* "nbdkit": the filter's own */
static uint64_t start_ns;
static int hook_handle = -1;
static int layers_full_warned;

/* How many times this filter is in the stack: nbdkit loads a module
 * once per process, so every instance shares these globals.  Written
 * in .load/.unload only, which nbdkit calls from its main thread.
 */
static unsigned instances;

/* The periodic writer. */
static pthread_t writer;
static int writer_running;
static int writer_stop;
static pthread_mutex_t writer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t writer_cond = PTHREAD_COND_INITIALIZER;
static uint64_t writer_last_ns;         /* the previous periodic write */

/* Snapshots and resets, see the thread model above. */
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *rt_bounds[LAT_OPS];    /* "boundaries" (NULL: configured) */
static unsigned rt_nbounds[LAT_OPS];
static uint64_t window_start_ns;        /* the recent window began */

/* ---- configuration ---- */

static int
parse_bounds (const char *key, const char *value,
              uint64_t **bounds, unsigned *n)
{
  char why[512];

  free (*bounds);
  *bounds = NULL;
  if (boundaries_parse (value, bounds, n, why, sizeof why) == -1) {
    nbdkit_error ("%s: %s (expected e.g. %s=1ms,2ms,4ms; a bare number "
                  "is nanoseconds)", key, why, key);
    return -1;
  }
  return 0;
}

static const struct blk_enum_name format_table[] = {
  { "text", FORMAT_TEXT }, { "json", FORMAT_JSON },
  { "prometheus", FORMAT_PROMETHEUS }, { NULL, 0 },
};

/* KEY names the parameter in the error. */
static int
parse_format (const char *key, const char *value, enum report_format *fmt)
{
  char why[256];
  int v;

  if (blk_parse_enum (key, value, format_table, &v, why, sizeof why) == -1) {
    nbdkit_error ("%s", why);
    return -1;
  }
  *fmt = (enum report_format) v;
  return 0;
}

/* latency-output=FORMAT:PATH (PATH "-" is stderr). */
static int
add_output (const char *value)
{
  const char *colon = strchr (value, ':');
  enum report_format fmt;
  struct output *o;

  if (colon == NULL) {
    nbdkit_error ("latency-output: '%s' is not FORMAT:PATH (e.g. "
                  "prometheus:/var/lib/node_exporter/textfile/nbd.prom or "
                  "text:- for stderr)", value);
    return -1;
  }
  {
    CLEANUP_FREE char *name = dup_part (value, (size_t) (colon - value));
    if (name == NULL) {
      nbdkit_error ("latency-output: %m");
      return -1;
    }
    if (parse_format ("latency-output", name, &fmt) == -1)
      return -1;
  }
  if (colon[1] == '\0') {
    nbdkit_error ("latency-output: '%s': no path after the colon (use - "
                  "for stderr)", value);
    return -1;
  }
  if (noutputs == MAX_OUTPUTS - 1) {  /* one slot for latency-file */
    nbdkit_error ("latency-output: too many outputs (at most %d)",
                  MAX_OUTPUTS - 1);
    return -1;
  }
  o = &outputs[noutputs];
  o->format = fmt;
  o->path = NULL;
  if (strcmp (colon + 1, "-") != 0) {
    o->path = nbdkit_absolute_path (colon + 1);
    if (o->path == NULL)
      return -1;
  }
  noutputs++;
  return 0;
}

static int
latency_config (nbdkit_next_config *next, nbdkit_backend *nxdata,
                const char *key, const char *value)
{
  char why[256];
  int i;

  if (strcmp (key, "latency-boundaries") == 0)
    return parse_bounds (key, value, &bounds_all, &nbounds_all);
  if (strncmp (key, "latency-boundaries-", 19) == 0) {
    for (i = 0; i < LAT_OPS; i++)
      if (strcmp (key + 19, lat_op_names[i]) == 0)
        return parse_bounds (key, value, &bounds_op[i], &nbounds_op[i]);
    nbdkit_error ("%s: unknown operation '%s' (use read, write, zero, "
                  "trim, flush, extents or cache)", key, key + 19);
    return -1;
  }
  if (strcmp (key, "latency-file") == 0) {
    free (legacy_file);
    legacy_file = nbdkit_absolute_path (value);
    return legacy_file == NULL ? -1 : 0;
  }
  if (strcmp (key, "latency-format") == 0) {
    if (parse_format (key, value, &legacy_format) == -1)
      return -1;
    legacy_format_set = 1;
    return 0;
  }
  if (strcmp (key, "latency-output") == 0)
    return add_output (value);
  if (strcmp (key, "latency-labels") == 0) {
    char lwhy[512];
    if (labels_parse (value, &labels, &nlabels, MAX_LABELS,
                      lwhy, sizeof lwhy) == -1) {
      nbdkit_error ("latency-labels: '%s': %s", value, lwhy);
      return -1;
    }
    return 0;
  }
  if (strcmp (key, "latency-control") == 0) {
    free (control_path);
    control_path = nbdkit_absolute_path (value);
    return control_path ? 0 : -1;
  }
  if (strcmp (key, "latency-interval") == 0) {
    if (blk_parse_duration (value, UINT64_C (1000000000), &interval_ns,
                            why, sizeof why) == -1) {
      nbdkit_error ("latency-interval: %s", why);
      return -1;
    }
    if (interval_ns < 1000000) {
      nbdkit_error ("latency-interval: '%s' is too short (at least 1ms)",
                    value);
      return -1;
    }
    return 0;
  }
  if (strncmp (key, "latency-", 8) == 0) {
    /* A typo must not reach the plugin, which may ignore it. */
    nbdkit_error ("%s: unknown latency filter parameter (valid: "
                  "latency-file, latency-format, latency-output, "
                  "latency-interval, latency-labels, latency-control, "
                  "latency-boundaries, latency-boundaries-OP; see "
                  "nbdkit-latency-filter(1))", key);
    return -1;
  }
  return next (nxdata, key, value);
}

/* Check now, before serving, that the report can be written the way
 * write_file does it: a temporary file PATH.XXXXXX beside it,
 * later renamed over PATH.  Otherwise the report would fail at every
 * interval and be lost at exit.  (With -u/-g nbdkit changes user after
 * this check: the new user must be able to write there too.)
 */
static int
check_report_file (const char *path)
{
  CLEANUP_FREE char *tmp = NULL;
  struct stat st;
  const char *slash;
  int fd;

  if (stat (path, &st) == 0 && S_ISDIR (st.st_mode)) {
    nbdkit_error ("latency-file: '%s' is a directory (give the name of a "
                  "file in it)", path);
    return -1;
  }
  if (asprintf (&tmp, "%s.XXXXXX", path) == -1) {
    tmp = NULL;
    nbdkit_error ("latency: out of memory");
    return -1;
  }
  fd = mkstemp (tmp);
  if (fd == -1) {
    /* nbdkit_absolute_path made PATH absolute: there is a slash. */
    slash = strrchr (path, '/');
    nbdkit_error ("latency-file: cannot create a file in '%.*s' for the "
                  "report '%s': %m", slash == path ? 1 : (int) (slash - path),
                  path, path);
    return -1;
  }
  close (fd);
  unlink (tmp);
  return 0;
}

static int
latency_config_complete (nbdkit_next_config_complete *next,
                         nbdkit_backend *nxdata)
{
  int i;

  if (instances > 1) {
    nbdkit_error ("the latency filter can be loaded only once per nbdkit "
                  "process (--filter=latency appears %u times): the "
                  "instances would share one set of statistics", instances);
    return -1;
  }
  if (bounds_all == NULL) {
    bounds_all = boundaries_default (&nbounds_all);
    if (bounds_all == NULL) {
      nbdkit_error ("latency: out of memory");
      return -1;
    }
  }
  for (i = 0; i < LAT_OPS; i++) {
    if (bounds_op[i] == NULL) {
      /* Borrowed from bounds_all; only the per-op lists are freed. */
      nbounds_op[i] = nbounds_all;
    }
  }
  /* latency-file and latency-format make one output, as before
   * latency-output existed; nothing at all means text to stderr.
   */
  if (legacy_file || legacy_format_set || noutputs == 0) {
    outputs[noutputs].format = legacy_format;
    outputs[noutputs].path = legacy_file;
    legacy_file = NULL;
    noutputs++;
  }
  nfile_outputs = 0;
  for (i = 0; i < (int) noutputs; i++) {
    unsigned j;
    if (outputs[i].path == NULL)
      continue;
    nfile_outputs++;
    for (j = 0; j < (unsigned) i; j++)
      if (outputs[j].path && strcmp (outputs[j].path, outputs[i].path) == 0) {
        nbdkit_error ("latency-output: '%s' is given twice: each report "
                      "file would replace the other", outputs[i].path);
        return -1;
      }
    if (check_report_file (outputs[i].path) == -1)
      return -1;
  }
  if (interval_ns && nfile_outputs == 0) {
    nbdkit_error ("latency-interval needs latency-file=PATH or "
                  "latency-output=FORMAT:PATH to write to");
    return -1;
  }
  if (control_path && ctl == NULL && (ctl = lat_control_new ()) == NULL) {
    nbdkit_error ("latency-control: out of memory");
    return -1;
  }
  return next (nxdata);
}

#define latency_config_help \
  "latency-file=PATH            Write the report here (default: stderr at exit).\n" \
  "latency-format=text|json|prometheus\n" \
  "                             Report format (default text).\n" \
  "latency-output=FORMAT:PATH   One more report (repeatable; PATH - is stderr).\n" \
  "latency-interval=DURATION    Also rewrite the report files this often.\n" \
  "latency-labels=NAME=VALUE,...  Constant Prometheus labels.\n" \
  "latency-control=SOCKET       Control socket (query, reset, boundaries,\n" \
  "                             interval; see blkctl(1)).\n" \
  "latency-boundaries=LIST      Histogram boundaries, e.g. 1ms,2ms,4ms.\n" \
  "latency-boundaries-OP=LIST   Per operation (read, write, zero, trim,\n" \
  "                             flush, extents, cache)."

static uint64_t *const *
op_bounds (void)
{
  static uint64_t *b[LAT_OPS];
  int i;

  for (i = 0; i < LAT_OPS; i++)
    b[i] = bounds_op[i] ? bounds_op[i] : bounds_all;
  return b;
}

/* ---- the plugin layers, fed by the hook ---- */

static struct layer_stats *
find_layer (const char *name)
{
  unsigned i, n = __atomic_load_n (&nlayers, __ATOMIC_ACQUIRE);
  struct layer_stats *l;

  /* Plugins pass static strings: pointer equality is the usual hit. */
  for (i = 1; i < n; i++)
    if (layers[i]->name == name)
      return layers[i];
  for (i = 1; i < n; i++)
    if (strcmp (layers[i]->name, name) == 0)
      return layers[i];

  LOCK_GUARD (&layers_lock);
  n = nlayers;
  for (i = 1; i < n; i++)
    if (strcmp (layers[i]->name, name) == 0)
      return layers[i];
  if (n == MAX_LAYERS) {
    if (!layers_full_warned)
      nbdkit_debug ("latency: more than %d layers, ignoring '%s'",
                    MAX_LAYERS - 1, name);
    layers_full_warned = 1;
    return NULL;
  }
  l = malloc (sizeof *l);
  if (l == NULL)
    return NULL;
  if (layer_init (l, name, op_bounds (), nbounds_op) == -1) {
    free (l);
    return NULL;
  }
  layers[n] = l;
  __atomic_store_n (&nlayers, n + 1, __ATOMIC_RELEASE);
  return l;
}

/* blk_hook_op and lat_op list the operations in the same order. */
static int
latency_io_begin (void *opaque, struct blk_hook_io *io)
{
  struct layer_stats *l = find_layer (io->layer ? io->layer : "backend");

  io->priv[hook_handle] = l;
  if (l && (unsigned) io->op < LAT_OPS)
    op_start (&l->ops[io->op]);
  return 0;
}

/* -D latency.requests=1 */
static void
debug_request (const char *layer, int op, uint64_t count, uint64_t offset,
               uint64_t ns, int err)
{
  char d[32], e[32] = "";

  /* The errno's name (EIO): strerror is not thread-safe, and takes
   * glibc's locale lock on every worker thread.
   */
  if (err) {
    const char *name = strerrorname_np (err);
    if (name)
      snprintf (e, sizeof e, ", failed: %s", name);
    else
      snprintf (e, sizeof e, ", failed: errno %d", err);
  }
  nbdkit_debug ("latency: request: %s %s %" PRIu64 " bytes at %" PRIu64
                " took %s%s", layer, lat_op_names[op], count, offset,
                blk_format_duration (ns, d, sizeof d), e);
}

static void
latency_io_end (void *opaque, struct blk_hook_io *io)
{
  struct layer_stats *l = io->priv[hook_handle];

  if (l && (unsigned) io->op < LAT_OPS) {
    struct op_stats *s = &l->ops[io->op];
    uint64_t ns = io->end_ns - io->start_ns;
    op_record (s, ns, io->op == BLK_IO_FLUSH ? 0 : io->length,
               io->result != 0);
    op_end (s);
    if (debug_requests)
      debug_request (l->name, (int) io->op, io->length, io->offset, ns,
                     io->result);
  }
}

/* ---- reports ---- */

/* Failed writes in a row, per output (periodic writer only; the writer
 * thread is the only user while it runs), to log a failure once rather
 * than at every interval.
 */
static unsigned write_failures[MAX_OUTPUTS];

/* Replace O's file atomically: a reader (jq, node_exporter) sees the
 * old or the new report, never half of one.  On failure returns -1
 * with the reason in WHY; the caller decides whether to log it.
 */
static int
write_file (const struct output *o, const struct report *r,
            char *why, size_t len)
{
  CLEANUP_FREE char *tmp = NULL;
  FILE *fp;
  int fd;

  if (asprintf (&tmp, "%s.XXXXXX", o->path) == -1) {
    tmp = NULL;
    snprintf (why, len, "out of memory");
    return -1;
  }
  fd = mkstemp (tmp);
  if (fd == -1) {
    snprintf (why, len, "cannot create a temporary file beside it: %s",
              blk_errstr (errno));
    return -1;
  }
  fp = fdopen (fd, "w");
  if (fp == NULL) {
    snprintf (why, len, "%s: %s", tmp, blk_errstr (errno));
    close (fd);
    unlink (tmp);
    return -1;
  }
  if (fchmod (fd, 0644) == -1 || report_write (fp, o->format, r) == -1 ||
      fflush (fp) == EOF || fsync (fd) == -1) {
    snprintf (why, len, "writing '%s': %s", tmp, blk_errstr (errno));
    fclose (fp);
    unlink (tmp);
    return -1;
  }
  if (fclose (fp) == EOF) {
    snprintf (why, len, "writing '%s': %s", tmp, blk_errstr (errno));
    unlink (tmp);
    return -1;
  }
  if (rename (tmp, o->path) == -1) {
    snprintf (why, len, "cannot rename '%s' over it: %s", tmp,
              blk_errstr (errno));
    unlink (tmp);
    return -1;
  }
  return 0;
}

/* nbdkit daemonised: one syslog message per line of the report, at
 * LOG_INFO, with nbdkit's identity (nbdkit logs its own errors there).
 */
static int
write_syslog (const struct output *o, const struct report *r,
              char *why, size_t len)
{
  CLEANUP_FREE char *buf = NULL;
  size_t size = 0;
  FILE *fp = open_memstream (&buf, &size);
  char *line, *save = NULL;

  if (fp == NULL || report_write (fp, o->format, r) == -1) {
    snprintf (why, len, "%s", blk_errstr (errno));
    if (fp)
      fclose (fp);
    return -1;
  }
  if (fclose (fp) == EOF) {
    snprintf (why, len, "%s", blk_errstr (errno));
    return -1;
  }
  for (line = strtok_r (buf, "\n", &save); line;
       line = strtok_r (NULL, "\n", &save))
    syslog (LOG_INFO, "latency: %s", line);
  return 0;
}

static int
write_output (const struct output *o, const struct report *r,
              char *why, size_t len)
{
  if (o->path)
    return write_file (o, r, why, len);
  if (stderr_to_syslog)
    return write_syslog (o, r, why, len);
  if (report_write (stderr, o->format, r) == -1) {
    snprintf (why, len, "%s", blk_errstr (errno));
    return -1;
  }
  return 0;
}

static const char *
output_name (const struct output *o)
{
  if (o->path)
    return o->path;
  return stderr_to_syslog ? "syslog" : "stderr";
}

static void
log_write_failure (const struct output *o, const char *why, const char *more)
{
  if (o->path)
    nbdkit_error ("latency-file: cannot write the report '%s': %s%s",
                  o->path, why, more);
  else
    nbdkit_error ("latency: cannot write the report to %s: %s%s",
                  output_name (o), why, more);
}

/* -D latency.report=1: what a pass holds, once per pass. */
static void
debug_report (const struct report *r)
{
  unsigned l;
  int i;

  for (l = 0; l < r->nlayers; l++)
    for (i = 0; i < LAT_OPS; i++) {
      const struct op_snapshot *o = &r->layers[l].ops[i];
      char p99[32], rp99[32];
      if (o->count == 0)
        continue;
      nbdkit_debug ("latency: report: %s %s: %" PRIu64 " requests (%" PRIu64
                    " since the previous report), p99 %s, recent p99 %s",
                    r->layers[l].name, lat_op_names[i], o->count,
                    o->recent_count,
                    blk_format_duration (o->p99, p99, sizeof p99),
                    o->recent_count ?
                    blk_format_duration (o->recent_q[2], rp99, sizeof rp99) :
                    "-");
    }
}

/* One pass: snapshot every layer once (which starts a new recent
 * window) and write it to each output, or only to the files when
 * FILES_ONLY (the periodic writer: stderr gets the report at exit).
 * Failures are passed to ON_FAILURE with the output's index.  Returns
 * the number of outputs that failed.
 */
static unsigned
write_reports (int files_only,
               void (*on_failure) (unsigned i, const char *why),
               void (*on_success) (unsigned i))
{
  struct layer_snapshot snaps[MAX_LAYERS];
  struct report r;
  unsigned i, n = __atomic_load_n (&nlayers, __ATOMIC_ACQUIRE), failed = 0;
  char why[PATH_MAX + 256];
  uint64_t now;

  LOCK_GUARD (&report_lock);
  for (i = 0; i < n; i++) {
    if (layer_snapshot_ex (layers[i], &snaps[i], 1, rt_bounds,
                           rt_nbounds) == -1) {
      while (i-- > 0)
        layer_snapshot_free (&snaps[i]);
      for (i = 0; i < noutputs; i++) {
        if (files_only && outputs[i].path == NULL)
          continue;
        on_failure (i, "out of memory");
        failed++;
      }
      return failed;
    }
  }
  now = blk_mono_ns ();
  r.elapsed_ns = now - start_ns;
  r.recent_ns = now - window_start_ns;
  window_start_ns = now;
  r.op_mask = 0;
  r.layers = snaps;
  r.nlayers = n;
  r.labels = labels;
  r.nlabels = nlabels;
  if (latency_debug_report)
    debug_report (&r);
  for (i = 0; i < noutputs; i++) {
    const struct output *o = &outputs[i];
    uint64_t t0;

    if (files_only && o->path == NULL)
      continue;
    t0 = blk_mono_ns ();
    if (write_output (o, &r, why, sizeof why) == -1) {
      on_failure (i, why);
      failed++;
      continue;
    }
    if (on_success)
      on_success (i);
    if (latency_debug_report) {
      char took[32];
      nbdkit_debug ("latency: report: wrote the %s report to %s in %s",
                    blk_enum_to_name (format_table, o->format), output_name (o),
                    blk_format_duration (blk_mono_ns () - t0, took, sizeof took));
    }
  }
  for (i = 0; i < n; i++)
    layer_snapshot_free (&snaps[i]);
  return failed;
}

/* Log the first failure of a run of an output, not one per interval. */
static void
periodic_failure (unsigned i, const char *why)
{
  if (write_failures[i]++ == 0)
    log_write_failure (&outputs[i], why, " (not logged again until a "
                       "periodic write succeeds)");
}

static void
periodic_success (unsigned i)
{
  if (write_failures[i] > 0) {
    nbdkit_debug ("latency-file: '%s' written again after %u failed "
                  "attempts", output_name (&outputs[i]), write_failures[i]);
    write_failures[i] = 0;
  }
}

static void
exit_failure_log (unsigned i, const char *why)
{
  log_write_failure (&outputs[i], why, "");
}

/* Every interval_ns after writer_last_ns, until writer_stop.  The
 * control command "interval" changes interval_ns (0: wait until it
 * changes again) and restarts the count from then.
 */
static void *
writer_thread (void *arg)
{
  for (;;) {
    {
      LOCK_GUARD (&writer_lock);
      for (;;) {
        struct timespec deadline;
        uint64_t due, now;

        if (writer_stop)
          return NULL;
        if (interval_ns == 0) {
          pthread_cond_wait (&writer_cond, &writer_lock);
          continue;
        }
        due = writer_last_ns + interval_ns;
        now = blk_mono_ns ();
        if (now >= due) {
          /* Late by more than an interval (a slow disk): start again
           * from now rather than writing a burst to catch up.
           */
          writer_last_ns = now - due >= interval_ns ? now : due;
          break;
        }
        deadline.tv_sec = (time_t) (due / 1000000000u);
        deadline.tv_nsec = (long) (due % 1000000000u);
        pthread_cond_timedwait (&writer_cond, &writer_lock, &deadline);
      }
    }
    write_reports (1, periodic_failure, periodic_success);
  }
}

/* ---- the control commands' side (latency.h) ---- */

char *
lat_query (unsigned op_mask, const char *layer, char *why, size_t len)
{
  struct layer_snapshot snaps[MAX_LAYERS];
  struct report r = { .labels = labels, .nlabels = nlabels,
                      .op_mask = op_mask };
  unsigned i, n, want = 0;
  char *buf = NULL;
  size_t size = 0;
  FILE *fp;
  int err = 0;

  LOCK_GUARD (&report_lock);
  n = __atomic_load_n (&nlayers, __ATOMIC_ACQUIRE);
  if (layer) {
    for (i = 0; i < n; i++)
      if (strcmp (layers[i]->name, layer) == 0)
        break;
    if (i == n) {
      snprintf (why, len, "no layer '%s' (layers:", layer);
      for (i = 0; i < n; i++)
        snprintf (why + strlen (why), len - strlen (why), " %s",
                  layers[i]->name);
      snprintf (why + strlen (why), len - strlen (why), ")");
      return NULL;
    }
    want = i;
  }
  for (i = 0; i < n; i++) {
    if (layer_snapshot_ex (layers[i], &snaps[i], 0, rt_bounds,
                           rt_nbounds) == -1) {
      while (i-- > 0)
        layer_snapshot_free (&snaps[i]);
      snprintf (why, len, "out of memory");
      return NULL;
    }
  }
  /* One layer: "nbdkit" stays first (the top-level "ops"), so a
   * plugin layer is reported as the only entry of "layers".
   */
  r.layers = snaps;
  r.nlayers = n;
  if (layer && want == 0)
    r.nlayers = 1;
  else if (layer) {
    struct layer_snapshot tmp = snaps[1];
    snaps[1] = snaps[want];
    snaps[want] = tmp;
    r.nlayers = 2;
  }
  r.elapsed_ns = blk_mono_ns () - start_ns;
  r.recent_ns = blk_mono_ns () - window_start_ns;
  fp = open_memstream (&buf, &size);
  if (fp == NULL || report_json (fp, &r) == -1)
    err = errno ? errno : ENOMEM;
  if (fp && fclose (fp) == EOF && err == 0)
    err = errno;
  for (i = 0; i < n; i++)
    layer_snapshot_free (&snaps[i]);
  if (err) {
    free (buf);
    snprintf (why, len, "cannot build the report: %s", blk_errstr (err));
    return NULL;
  }
  if (size > 0 && buf[size - 1] == '\n')
    buf[size - 1] = '\0';
  return buf;
}

int
lat_reset (void)
{
  unsigned i, n;

  LOCK_GUARD (&report_lock);
  n = __atomic_load_n (&nlayers, __ATOMIC_ACQUIRE);
  for (i = 0; i < n; i++)
    if (layer_reset (layers[i]) == -1)
      return -1;
  window_start_ns = blk_mono_ns ();
  return 0;
}

int
lat_set_boundaries (unsigned op_mask, const uint64_t *bounds, unsigned n)
{
  uint64_t *copy[LAT_OPS] = { NULL };
  int i;

  for (i = 0; i < LAT_OPS; i++) {
    if (!(op_mask & (1u << i)) || bounds == NULL)
      continue;
    copy[i] = malloc (n * sizeof *bounds);
    if (copy[i] == NULL) {
      while (i-- > 0)
        free (copy[i]);
      return -1;
    }
    memcpy (copy[i], bounds, n * sizeof *bounds);
  }
  LOCK_GUARD (&report_lock);
  for (i = 0; i < LAT_OPS; i++) {
    if (!(op_mask & (1u << i)))
      continue;
    free (rt_bounds[i]);
    rt_bounds[i] = copy[i];
    rt_nbounds[i] = copy[i] ? n : 0;
  }
  return 0;
}

int
lat_set_interval (uint64_t ns, char *why, size_t len)
{
  if (ns > 0 && ns < 1000000) {
    snprintf (why, len, "too short (at least 1ms, or 0 to stop)");
    return -1;
  }
  if (ns > 0 && nfile_outputs == 0) {
    snprintf (why, len, "no report file to write to (start nbdkit with "
              "latency-file=PATH or latency-output=FORMAT:PATH)");
    return -1;
  }
  LOCK_GUARD (&writer_lock);
  if (!writer_running) {
    snprintf (why, len, "the periodic writer is not running");
    return -1;
  }
  interval_ns = ns;
  writer_last_ns = blk_mono_ns ();
  pthread_cond_signal (&writer_cond);
  return 0;
}

/* ---- lifecycle ---- */

/* Whether FD is /dev/null (what nbdkit points stderr at when it
 * daemonises).
 */
static int
is_devnull (int fd, struct stat *st)
{
  struct stat null;

  return fstat (fd, st) == 0 && S_ISCHR (st->st_mode) &&
    stat ("/dev/null", &null) == 0 && st->st_rdev == null.st_rdev;
}

static int
latency_get_ready (int thread_model)
{
  struct blk_hook_subscriber sub = {
    .name = "latency",
    .io_begin = latency_io_begin,
    .io_end = latency_io_end,
  };

  struct stat st;

  if (layer_init (&top, "nbdkit", op_bounds (), nbounds_op) == -1) {
    nbdkit_error ("latency: out of memory");
    return -1;
  }
  layers[0] = &top;
  stderr_was_devnull = is_devnull (STDERR_FILENO, &st);
  __atomic_store_n (&nlayers, 1, __ATOMIC_RELEASE);
  start_ns = blk_mono_ns ();
  window_start_ns = start_ns;
  if (ctl && blk_ctl_listen (ctl, control_path) == -1) {
    nbdkit_error ("latency-control: cannot listen on '%s': %m",
                  control_path);
    return -1;
  }

  hook_handle = blk_hook_subscribe (&sub);
  if (hook_handle == -1)
    nbdkit_debug ("latency: hook table full, plugin layers not measured");
  return 0;
}

static int
latency_after_fork (nbdkit_backend *backend)
{
  pthread_condattr_t attr;
  struct stat st;
  int err;

  /* nbdkit without -f has forked and pointed stderr at /dev/null: a
   * report for stderr would be lost, so it goes to syslog, where
   * nbdkit's own messages go in that mode.
   */
  if (!stderr_was_devnull && is_devnull (STDERR_FILENO, &st)) {
    stderr_to_syslog = 1;
    nbdkit_debug ("latency: nbdkit has daemonised: the reports for stderr "
                  "go to syslog");
  }
  if (ctl && blk_ctl_start (ctl) == -1) {
    nbdkit_error ("latency-control: cannot start the control thread: %m");
    return -1;
  }
  /* With a control socket and a file the writer runs even at interval
   * 0, waiting for an "interval" command.
   */
  if (interval_ns == 0 && !(ctl && nfile_outputs > 0))
    return 0;
  writer_last_ns = blk_mono_ns ();
  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_destroy (&writer_cond);
  pthread_cond_init (&writer_cond, &attr);
  pthread_condattr_destroy (&attr);
  LOCK_GUARD (&writer_lock);
  err = pthread_create (&writer, NULL, writer_thread, NULL);
  if (err) {
    errno = err;
    nbdkit_error ("latency: cannot start the report thread: %m");
    return -1;
  }
  writer_running = 1;
  return 0;
}

/* Registered with atexit when the report at exit is lost.  atexit
 * handlers run last-registered first, so this one runs before those
 * registered earlier (the dynamic linker's destructors of the loaded
 * libraries), which _exit skips; stdio is flushed by hand.  Calling
 * exit again from a handler would be undefined.
 */
static void
exit_failure (void)
{
  fflush (NULL);
  _exit (EXIT_FAILURE);
}

static void
latency_cleanup (nbdkit_backend *backend)
{
  int running;

  /* No command runs after this: they would race the final report. */
  if (ctl)
    blk_ctl_stop (ctl);
  {
    LOCK_GUARD (&writer_lock);
    running = writer_running;
    writer_stop = 1;
    pthread_cond_signal (&writer_cond);
  }
  if (running) {
    pthread_join (writer, NULL);
    LOCK_GUARD (&writer_lock);
    writer_running = 0;
  }
  if (__atomic_load_n (&nlayers, __ATOMIC_ACQUIRE) > 0 &&
      write_reports (0, exit_failure_log, NULL) > 0) {
    nbdkit_error ("latency: the report at exit was lost; nbdkit will exit "
                  "with status 1");
    /* nbdkit 1.32 has no API to set its exit status.  Run last of all,
     * after nbdkit's main has unloaded every plugin and filter and
     * removed its files.  The filter is linked -z nodelete, so this
     * code is still mapped then, although nbdkit dlcloses it.
     */
    if (atexit (exit_failure) != 0)
      nbdkit_error ("latency: atexit failed: nbdkit will exit with status 0");
  }
}

static void
latency_load (void)
{
  instances++;
}

static void
latency_unload (void)
{
  unsigned i;
  int j;

  /* Each instance is unloaded; the shared state is freed once, by the
   * last.
   */
  if (instances == 0 || --instances > 0)
    return;

  if (hook_handle >= 0)
    blk_hook_unsubscribe (hook_handle);
  for (i = 1; i < nlayers; i++) {
    layer_free (layers[i]);
    free (layers[i]);
  }
  if (nlayers > 0)
    layer_free (&top);
  nlayers = 0;
  for (j = 0; j < LAT_OPS; j++)
    free (bounds_op[j]);
  free (bounds_all);
  free (legacy_file);
  for (i = 0; i < noutputs; i++)
    free (outputs[i].path);
  noutputs = 0;
  labels_free (labels, nlabels);
  blk_ctl_free (ctl);
  ctl = NULL;
  free (control_path);
  control_path = NULL;
  for (j = 0; j < LAT_OPS; j++) {
    free (rt_bounds[j]);
    rt_bounds[j] = NULL;
  }
}

/* ---- the request path ---- */

/* A request on the "nbdkit" layer's OP is timed from request_start,
 * through the filters below and the plugin, to request_end.  Each
 * callback calls both around its next->OP, so the call and the return
 * stay visible there.
 */
static inline uint64_t
request_start (enum lat_op op)
{
  op_start (&top.ops[op]);
  return blk_mono_ns ();
}

static inline int
request_end (enum lat_op op, uint64_t bytes, uint64_t offset, uint64_t t0,
             int r, const int *err)
{
  struct op_stats *s = &top.ops[op];
  uint64_t ns = blk_mono_ns () - t0;

  op_record (s, ns, bytes, r == -1);
  op_end (s);
  if (__builtin_expect (debug_requests, 0))
    debug_request ("nbdkit", op, bytes, offset, ns, r == -1 ? *err : 0);
  return r;
}

static int
latency_pread (nbdkit_next *next, void *handle, void *buf, uint32_t count,
               uint64_t offset, uint32_t flags, int *err)
{
  uint64_t t0 = request_start (LAT_READ);
  int r = next->pread (next, buf, count, offset, flags, err);
  return request_end (LAT_READ, count, offset, t0, r, err);
}

static int
latency_pwrite (nbdkit_next *next, void *handle, const void *buf,
                uint32_t count, uint64_t offset, uint32_t flags, int *err)
{
  uint64_t t0 = request_start (LAT_WRITE);
  int r = next->pwrite (next, buf, count, offset, flags, err);
  return request_end (LAT_WRITE, count, offset, t0, r, err);
}

static int
latency_zero (nbdkit_next *next, void *handle, uint32_t count,
              uint64_t offset, uint32_t flags, int *err)
{
  uint64_t t0 = request_start (LAT_ZERO);
  int r = next->zero (next, count, offset, flags, err);
  return request_end (LAT_ZERO, count, offset, t0, r, err);
}

static int
latency_trim (nbdkit_next *next, void *handle, uint32_t count,
              uint64_t offset, uint32_t flags, int *err)
{
  uint64_t t0 = request_start (LAT_TRIM);
  int r = next->trim (next, count, offset, flags, err);
  return request_end (LAT_TRIM, count, offset, t0, r, err);
}

static int
latency_flush (nbdkit_next *next, void *handle, uint32_t flags, int *err)
{
  uint64_t t0 = request_start (LAT_FLUSH);
  int r = next->flush (next, flags, err);
  return request_end (LAT_FLUSH, 0, 0, t0, r, err);
}

static int
latency_extents (nbdkit_next *next, void *handle, uint32_t count,
                 uint64_t offset, uint32_t flags,
                 struct nbdkit_extents *extents, int *err)
{
  uint64_t t0 = request_start (LAT_EXTENTS);
  int r = next->extents (next, count, offset, flags, extents, err);
  return request_end (LAT_EXTENTS, count, offset, t0, r, err);
}

static int
latency_cache (nbdkit_next *next, void *handle, uint32_t count,
               uint64_t offset, uint32_t flags, int *err)
{
  uint64_t t0 = request_start (LAT_CACHE);
  int r = next->cache (next, count, offset, flags, err);
  return request_end (LAT_CACHE, count, offset, t0, r, err);
}

static struct nbdkit_filter filter = {
  .name = "latency",
  .longname = "nbdkit-blk latency filter",
  .description = "per-operation latency histograms and percentiles",
  .load = latency_load,
  .config = latency_config,
  .config_complete = latency_config_complete,
  .config_help = latency_config_help,
  .get_ready = latency_get_ready,
  .after_fork = latency_after_fork,
  .cleanup = latency_cleanup,
  .unload = latency_unload,
  .pread = latency_pread,
  .pwrite = latency_pwrite,
  .zero = latency_zero,
  .trim = latency_trim,
  .flush = latency_flush,
  .extents = latency_extents,
  .cache = latency_cache,
};

NBDKIT_REGISTER_FILTER (filter)
