/* SPDX-License-Identifier: BSD-3-Clause */
/* blkreplay import: turns a fio iolog (version 2 or 3) or the text
 * output of blkparse into a blkreplay log, so workloads captured with
 * fio or blktrace replay with blkreplay run.
 *
 * Neither source holds payloads (the log has blkreplay-data=none).
 * fio logs have no completion times: each request is given a
 * completion at its submission time, so the replay issues them one at
 * a time in order (use run --queue-depth=N for more).  blkparse gives
 * both (Q and C events).  Each fio file name / blkparse device becomes
 * one connection.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "clock-ns.h"
#include "replaylog.h"
#include "tool.h"
#include "vector.h"

struct ireq {
  uint64_t conn, offset, length, submit_ns, complete_ns;
  uint32_t flags;
  uint8_t op;
  int done;                     /* blkparse: completion seen */
};

DEFINE_VECTOR_TYPE (ireq_vector, struct ireq);
DEFINE_VECTOR_TYPE (name_vector, char *);
static ireq_vector reqs = empty_vector;
static name_vector names = empty_vector;  /* connection i+1's file or
                                            * device */

static struct ireq *
add_req (void)
{
  if (ireq_vector_append (&reqs, (struct ireq) { .conn = 0 }) == -1) {
    fprintf (stderr, "blkreplay: out of memory\n");
    exit (EXIT_USAGE);
  }
  return &reqs.ptr[reqs.len - 1];
}

static uint64_t
conn_of (const char *name)
{
  size_t i;
  char *copy;

  for (i = 0; i < names.len; i++)
    if (strcmp (names.ptr[i], name) == 0)
      return i + 1;
  copy = strdup (name);
  if (copy == NULL || name_vector_append (&names, copy) == -1) {
    fprintf (stderr, "blkreplay: out of memory\n");
    exit (EXIT_USAGE);
  }
  return names.len;
}

/* fio's iolog: "fio version 2 iolog" or "fio version 3 iolog". */
static int
read_fio (FILE *fp, const char *path)
{
  char line[8192], file[4096], action[32];
  unsigned long long a, b, ts;
  unsigned lineno = 1;
  int version;
  uint64_t t = 0, seq = 0;

  if (fgets (line, sizeof line, fp) == NULL ||
      sscanf (line, "fio version %d iolog", &version) != 1 ||
      (version != 2 && version != 3)) {
    fprintf (stderr, "blkreplay: %s:1: not a fio iolog (expected 'fio "
             "version 2 iolog' or 'fio version 3 iolog')\n", path);
    return -1;
  }
  while (fgets (line, sizeof line, fp)) {
    struct ireq *r;
    int n, op;
    lineno++;
    if (line[0] == '\n' || line[0] == '#')
      continue;
    if (version == 3) {
      n = sscanf (line, "%llu %4095s %31s %llu %llu", &ts, file, action,
                  &a, &b);
      if (n < 3)
        goto bad;
      n -= 1;
      /* v3 timestamps are microseconds since the start of the run
       * (what fio 3.33 writes; its manual does not say).
       */
      if (ts > BLKLOG_TIME_MAX / 1000u)
        goto bad_time;
      t = (uint64_t) ts * 1000u;
    }
    else {
      n = sscanf (line, "%4095s %31s %llu %llu", file, action, &a, &b);
      if (n < 2)
        goto bad;
    }
    if (strcmp (action, "add") == 0 || strcmp (action, "open") == 0 ||
        strcmp (action, "close") == 0) {
      conn_of (file);
      continue;
    }
    if (strcmp (action, "wait") == 0) {
      if (version == 3 || n < 3)
        goto bad;
      if (a > (BLKLOG_TIME_MAX - t) / 1000u)
        goto bad_time;
      t += (uint64_t) a * 1000u;
      continue;
    }
    if (strcmp (action, "sync") == 0 || strcmp (action, "datasync") == 0)
      op = BLKLOG_FLUSH;
    else if ((op = blklog_op_lookup (action)) == -1 ||
             (op != BLKLOG_READ && op != BLKLOG_WRITE && op != BLKLOG_TRIM)) {
      fprintf (stderr, "blkreplay: %s:%u: unknown fio action '%s'\n",
               path, lineno, action);
      return -1;
    }
    if (op != BLKLOG_FLUSH && n < 4)
      goto bad;
    r = add_req ();
    r->conn = conn_of (file);
    r->op = (uint8_t) op;
    if (op != BLKLOG_FLUSH) {
      if (a + b < a || b > (UINT64_C (32) << 20)) {
        fprintf (stderr, "blkreplay: %s:%u: offset %llu length %llu is out "
                 "of range (at most 32M per request)\n", path, lineno, a, b);
        return -1;
      }
      r->offset = a;
      r->length = b;
    }
    /* Distinct, increasing times: the replay keeps the order. */
    if (t + seq > BLKLOG_TIME_MAX)
      goto bad_time;
    r->submit_ns = r->complete_ns = t + seq++;
  }
  return 0;

 bad_time:
  fprintf (stderr, "blkreplay: %s:%u: the time is out of range (at most "
           "%" PRIu64 " s after the start) in '%.*s'\n", path, lineno,
           BLKLOG_TIME_MAX / 1000000000u, (int) strcspn (line, "\n"), line);
  return -1;

 bad:
  fprintf (stderr, "blkreplay: %s:%u: cannot parse '%.*s'\n", path, lineno,
           (int) strcspn (line, "\n"), line);
  return -1;
}

/* blkparse's default text output:
 *   8,0    3     1   0.000000000   697  Q   W 223490 + 8 [kjournald]
 * Q (queued) events are the submissions, C the completions.
 */
static int
read_blkparse (FILE *fp, const char *path)
{
  char line[8192], dev[64], act[8], rwbs[16];
  unsigned cpu, lineno = 0;
  unsigned long long seq, sector, nsect;
  double secs;
  int pid, n, have_q = 0;
  size_t i;

  /* Pass 1: is there any Q event?  Otherwise take D (issued). */
  while (fgets (line, sizeof line, fp)) {
    if (sscanf (line, "%63s %u %llu %lf %d %7s", dev, &cpu, &seq, &secs,
                &pid, act) == 6 && strcmp (act, "Q") == 0) {
      have_q = 1;
      break;
    }
  }
  rewind (fp);
  while (fgets (line, sizeof line, fp)) {
    int op = -1;
    uint32_t flags = 0;
    uint64_t t;
    lineno++;
    n = sscanf (line, "%63s %u %llu %lf %d %7s %15s %llu + %llu", dev, &cpu,
                &seq, &secs, &pid, act, rwbs, &sector, &nsect);
    if (n < 7 || strchr (dev, ',') == NULL)
      continue;                 /* summaries, messages, "CPU0 (..)" */
    /* Written so that NaN fails the test too. */
    if (!(secs >= 0 && secs <= 1e9)) {
      fprintf (stderr, "blkreplay: %s:%u: impossible time %f\n", path,
               lineno, secs);
      return -1;
    }
    t = (uint64_t) (secs * 1e9);
    if (strchr (rwbs, 'D'))
      op = BLKLOG_TRIM;
    else if (strchr (rwbs, 'W'))
      op = BLKLOG_WRITE;
    else if (strchr (rwbs, 'R'))
      op = BLKLOG_READ;
    else if (rwbs[0] == 'F')
      op = BLKLOG_FLUSH;
    if (op == -1)
      continue;                 /* e.g. N (no data) */
    if (op == BLKLOG_WRITE && strchr (rwbs + 1, 'F'))
      flags |= BLKLOG_F_FUA;
    if (op != BLKLOG_FLUSH && n < 9)
      op = rwbs[0] == 'F' ? BLKLOG_FLUSH : -1;
    if (op == -1)
      continue;
    if (op == BLKLOG_FLUSH)
      sector = nsect = 0;
    if (nsect > 65536 || sector > (UINT64_MAX >> 10)) {
      fprintf (stderr, "blkreplay: %s:%u: sector %llu + %llu is out of "
               "range\n", path, lineno, sector, nsect);
      return -1;
    }
    if (strcmp (act, have_q ? "Q" : "D") == 0) {
      struct ireq *r = add_req ();
      r->conn = conn_of (dev);
      r->op = (uint8_t) op;
      r->flags = flags;
      r->offset = sector * 512;
      r->length = nsect * 512;
      r->submit_ns = r->complete_ns = t;
    }
    else if (strcmp (act, "C") == 0) {
      /* The oldest open request with the same place completes. */
      uint64_t c = conn_of (dev);
      for (i = 0; i < reqs.len; i++) {
        struct ireq *r = &reqs.ptr[i];
        if (!r->done && r->conn == c && r->op == op &&
            r->offset == sector * 512 && r->length == nsect * 512 &&
            r->submit_ns <= t) {
          r->complete_ns = t;
          r->done = 1;
          break;
        }
      }
    }
  }
  return 0;
}

static int
complete_cmp (const void *a, const void *b)
{
  const struct ireq *x = *(struct ireq *const *) a;
  const struct ireq *y = *(struct ireq *const *) b;

  if (x->complete_ns != y->complete_ns)
    return x->complete_ns < y->complete_ns ? -1 : 1;
  return x < y ? -1 : x > y;
}

int
cmd_import (int argc, char **argv)
{
  const char *fio = NULL, *bp = NULL, *out = NULL, *in;
  int64_t size = -1;
  struct blklog_writer w;
  struct blklog_header h;
  struct blklog_record r;
  struct ireq **order;
  uint64_t maxend = 0, t0 = UINT64_MAX;
  size_t i;
  int ai, ret;
  FILE *fp;

  for (ai = 1; ai < argc; ai++) {
    if (strcmp (argv[ai], "--fio-iolog") == 0 && ai + 1 < argc)
      fio = argv[++ai];
    else if (strcmp (argv[ai], "--blkparse") == 0 && ai + 1 < argc)
      bp = argv[++ai];
    else if (strcmp (argv[ai], "-o") == 0 && ai + 1 < argc)
      out = argv[++ai];
    else if (strncmp (argv[ai], "--size=", 7) == 0) {
      char *end;
      size = (int64_t) strtoull (argv[ai] + 7, &end, 10);
      if (*end || size <= 0) {
        fprintf (stderr, "blkreplay: --size: cannot parse '%s' (bytes)\n",
                 argv[ai] + 7);
        return EXIT_USAGE;
      }
    }
    else if (strcmp (argv[ai], "--fio-iolog") == 0 ||
             strcmp (argv[ai], "--blkparse") == 0 ||
             strcmp (argv[ai], "-o") == 0)
      missing_value ("import", argv[ai]);
    else if (argv[ai][0] == '-')
      bad_option ("import", argv[ai]);
    else
      extra_argument ("import", argv[ai]);
  }
  if ((fio == NULL) == (bp == NULL) || out == NULL) {
    fprintf (stderr, "blkreplay: import needs one of --fio-iolog FILE or "
             "--blkparse FILE, and -o LOG\n");
    return EXIT_USAGE;
  }
  in = fio ? fio : bp;
  fp = fopen (in, "r");
  if (fp == NULL) {
    fprintf (stderr, "blkreplay: %s: %s\n", in, strerror (errno));
    return EXIT_USAGE;
  }
  ret = fio ? read_fio (fp, in) : read_blkparse (fp, in);
  fclose (fp);
  if (ret == -1)
    return EXIT_USAGE;
  if (reqs.len == 0) {
    fprintf (stderr, "blkreplay: %s: no requests found\n", in);
    return EXIT_USAGE;
  }

  order = malloc (reqs.len * sizeof *order);
  if (order == NULL) {
    fprintf (stderr, "blkreplay: out of memory\n");
    return EXIT_USAGE;
  }
  for (i = 0; i < reqs.len; i++) {
    order[i] = &reqs.ptr[i];
    if (reqs.ptr[i].offset + reqs.ptr[i].length > maxend)
      maxend = reqs.ptr[i].offset + reqs.ptr[i].length;
    if (reqs.ptr[i].submit_ns < t0)
      t0 = reqs.ptr[i].submit_ns;
  }
  if (size != -1 && (uint64_t) size < maxend) {
    fprintf (stderr, "blkreplay: --size=%" PRId64 " is smaller than the "
             "highest offset used (%" PRIu64 ")\n", size, maxend);
    return EXIT_USAGE;
  }
  qsort (order, reqs.len, sizeof *order, complete_cmp);

  memset (&h, 0, sizeof h);
  h.export_size = size != -1 ? (uint64_t) size : maxend;
  h.created_ns = blk_real_ns ();
  h.data_mode = BLKLOG_DATA_NONE;
  h.version = BLKLOG_VERSION;
  h.hash_alg = blklog_hash_default ();  /* no payloads: only for the form */
  h.layer = BLKLOG_LAYER_NBDKIT;
  /* tl_imported_from recognises this prefix. */
  snprintf (h.creator, sizeof h.creator, "blkreplay import (%s) %s: %s",
            fio ? "fio iolog" : "blkparse", PACKAGE_VERSION, in);
  if (blklog_writer_open (&w, out, &h) == -1) {
    fprintf (stderr, "blkreplay: %s: %s\n", out, strerror (errno));
    return EXIT_USAGE;
  }
  for (i = 0; i < names.len; i++) {
    memset (&r, 0, sizeof r);
    r.type = BLKLOG_CONN_OPEN;
    r.conn = i + 1;
    r.export_size = h.export_size;
    if (blklog_writer_add (&w, &r) == -1)
      goto werr;
  }
  for (i = 0; i < reqs.len; i++) {
    const struct ireq *q = order[i];
    memset (&r, 0, sizeof r);
    r.type = BLKLOG_REQUEST;
    r.id = (uint64_t) (q - reqs.ptr) + 1;   /* submission order */
    r.conn = q->conn;
    r.op = q->op;
    r.flags = q->flags;
    r.offset = q->offset;
    r.length = q->length;
    r.submit_ns = q->submit_ns - t0;
    r.complete_ns = q->complete_ns - t0;
    if (blklog_writer_add (&w, &r) == -1)
      goto werr;
  }
  for (i = 0; i < names.len; i++) {
    memset (&r, 0, sizeof r);
    r.type = BLKLOG_CONN_CLOSE;
    r.conn = i + 1;
    r.time_ns = reqs.len ? order[reqs.len - 1]->complete_ns - t0 : 0;
    if (blklog_writer_add (&w, &r) == -1)
      goto werr;
  }
  if (blklog_writer_close (&w) == -1) {
    fprintf (stderr, "blkreplay: %s: %s\n", out, strerror (errno));
    return EXIT_USAGE;
  }
  printf ("blkreplay: wrote %zu requests on %zu connection%s to %s\n",
          reqs.len, names.len, names.len == 1 ? "" : "s", out);
  free (order);
  return 0;

 werr:
  fprintf (stderr, "blkreplay: %s: %s\n", out, strerror (errno));
  return EXIT_USAGE;
}
