/* blkreplay tool: loading a whole log (see loadlog.h). */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadlog.h"

static int
add_conn (struct tl_log *log, size_t *cap, const struct blklog_record *r)
{
  struct tl_conn *c;

  if (log->nconns == *cap) {
    *cap = *cap ? *cap * 2 : 16;
    c = realloc (log->conns, *cap * sizeof *c);
    if (c == NULL)
      return -1;
    log->conns = c;
  }
  c = &log->conns[log->nconns++];
  memset (c, 0, sizeof *c);
  c->id = r->conn;
  c->open_ns = r->time_ns;
  c->export_size = r->export_size;
  c->readonly = r->readonly;
  c->name = strndup (r->name, r->name_len);
  return c->name ? 0 : -1;
}

int
tl_load (struct tl_log *log, const char *path)
{
  struct blklog_record r;
  size_t ccap = 0, rcap = 0, i;
  char why[1024];
  int ret;

  memset (log, 0, sizeof *log);
  if (blklog_open (&log->rd, path, why, sizeof why) == -1) {
    fprintf (stderr, "blkreplay: %s\n", why);
    return -1;
  }
  while ((ret = blklog_next (&log->rd, &r)) == 1) {
    switch (r.type) {
    case BLKLOG_CONN_OPEN:
      if (add_conn (log, &ccap, &r) == -1)
        goto oom;
      break;
    case BLKLOG_CONN_CLOSE:
      for (i = 0; i < log->nconns; i++)
        if (log->conns[i].id == r.conn)
          log->conns[i].close_ns = r.time_ns;
      break;
    default:
      if (log->nreqs == rcap) {
        struct tl_req *n;
        rcap = rcap ? rcap * 2 : 1024;
        n = realloc (log->reqs, rcap * sizeof *n);
        if (n == NULL)
          goto oom;
        log->reqs = n;
      }
      log->reqs[log->nreqs] = (struct tl_req) {
        .id = r.id, .conn = r.conn, .offset = r.offset, .length = r.length,
        .submit_ns = r.submit_ns, .complete_ns = r.complete_ns,
        .hash = r.hash, .flags = r.flags, .error = r.error, .op = r.op,
        .payload = r.payload, .data = r.data, .seq = log->nreqs,
      };
      log->nreqs++;
    }
  }
  if (ret == -1) {
    fprintf (stderr, "blkreplay: %s: %s\n", path, log->rd.why);
    tl_free (log);
    return -1;
  }
  if (log->rd.truncated) {
    log->truncated = 1;
    fprintf (stderr, "blkreplay: note: %s: %s\n", path, log->rd.why);
  }
  return 0;

 oom:
  fprintf (stderr, "blkreplay: %s: out of memory\n", path);
  tl_free (log);
  return -1;
}

void
tl_free (struct tl_log *log)
{
  size_t i;

  for (i = 0; i < log->nconns; i++)
    free (log->conns[i].name);
  free (log->conns);
  free (log->reqs);
  blklog_close (&log->rd);
  memset (log, 0, sizeof *log);
}

const char *
tl_size (uint64_t b, char *buf, size_t len)
{
  static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
  double v = (double) b;
  int i = 0;

  while (v >= 1024 && i < 4) {
    v /= 1024;
    i++;
  }
  if (i == 0)
    snprintf (buf, len, "%" PRIu64 " B", b);
  else
    snprintf (buf, len, "%.1f %s", v, u[i]);
  return buf;
}

const char *
tl_dur (uint64_t ns, char *buf, size_t len)
{
  if (ns < 1000)
    snprintf (buf, len, "%" PRIu64 "ns", ns);
  else if (ns < 1000000)
    snprintf (buf, len, "%.1fus", ns / 1e3);
  else if (ns < 1000000000)
    snprintf (buf, len, "%.1fms", ns / 1e6);
  else
    snprintf (buf, len, "%.2fs", ns / 1e9);
  return buf;
}
