/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk blkreplay: a whole log loaded into arrays (blklog_load,
 * see replaylog.h).  The filter's replay mode and the blkreplay tool
 * both start from this: one loader, so both accept and refuse exactly
 * the same files with the same words.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "replaylog.h"
#include "vector.h"
#include "why.h"

DEFINE_VECTOR_TYPE (conn_vector, struct blklog_conn);
DEFINE_VECTOR_TYPE (req_vector, struct blklog_req);
DEFINE_VECTOR_TYPE (mark_vector, struct blklog_mark);

static int
add_conn (conn_vector *conns, const struct blklog_record *r)
{
  struct blklog_conn c = {
    .id = r->conn, .open_ns = r->time_ns, .export_size = r->export_size,
    .readonly = r->readonly,
  };

  c.name = strndup (r->name, r->name_len);
  if (c.name == NULL)
    return -1;
  if (conn_vector_append (conns, c) == -1) {
    free (c.name);
    return -1;
  }
  return 0;
}

int
blklog_load (struct blklog_log *log, const char *path,
             char *why, size_t whylen)
{
  conn_vector conns = empty_vector;
  req_vector reqs = empty_vector;
  mark_vector marks = empty_vector;
  struct blklog_record r;
  size_t i;
  int ret;

  memset (log, 0, sizeof *log);
  if (blklog_open (&log->rd, path, why, whylen) == -1)
    return -1;
  while ((ret = blklog_next (&log->rd, &r)) == 1) {
    switch (r.type) {
    case BLKLOG_CONN_OPEN:
      if (add_conn (&conns, &r) == -1)
        goto oom;
      break;
    case BLKLOG_CONN_CLOSE:
      for (i = 0; i < conns.len; i++)
        if (conns.ptr[i].id == r.conn)
          conns.ptr[i].close_ns = r.time_ns;
      break;
    case BLKLOG_MARK: {
      struct blklog_mark m = {
        .time_ns = r.time_ns, .seq = reqs.len,
        .record = log->rd.nrecords - 1,
      };
      m.name = strndup (r.name, r.name_len);
      if (m.name == NULL || mark_vector_append (&marks, m) == -1) {
        free (m.name);
        goto oom;
      }
      break;
    }
    default:                    /* the reader returns no other type */
      if (req_vector_append (&reqs, (struct blklog_req) {
            .id = r.id, .conn = r.conn, .offset = r.offset,
            .length = r.length, .submit_ns = r.submit_ns,
            .complete_ns = r.complete_ns, .hash = r.hash, .flags = r.flags,
            .error = r.error, .op = r.op, .payload = r.payload,
            .data = r.data, .seq = reqs.len,
          }) == -1)
        goto oom;
    }
  }
  log->conns = conns.ptr;
  log->nconns = conns.len;
  log->reqs = reqs.ptr;
  log->nreqs = reqs.len;
  log->marks = marks.ptr;
  log->nmarks = marks.len;
  if (ret == -1) {
    blk_why (why, whylen, "%s: %s", path, log->rd.why);
    blklog_free (log);
    return -1;
  }
  log->truncated = log->rd.truncated;
  return 0;

 oom:
  log->conns = conns.ptr;
  log->nconns = conns.len;
  log->reqs = reqs.ptr;
  log->nreqs = reqs.len;
  log->marks = marks.ptr;
  log->nmarks = marks.len;
  blk_why (why, whylen, "%s: out of memory", path);
  blklog_free (log);
  return -1;
}

void
blklog_free (struct blklog_log *log)
{
  size_t i;

  for (i = 0; i < log->nconns; i++)
    free (log->conns[i].name);
  free (log->conns);
  free (log->reqs);
  for (i = 0; i < log->nmarks; i++)
    free (log->marks[i].name);
  free (log->marks);
  blklog_close (&log->rd);
  memset (log, 0, sizeof *log);
}
