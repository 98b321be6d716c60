/* blkreplay tool: a whole log loaded into arrays (loadlog.c). */
#ifndef BLKREPLAY_TOOL_LOADLOG_H
#define BLKREPLAY_TOOL_LOADLOG_H

#include <stddef.h>
#include <stdint.h>

#include "replaylog.h"

struct tl_conn {
  uint64_t id;
  uint64_t open_ns, close_ns;   /* close_ns: 0 if never closed */
  uint64_t export_size;
  int readonly;
  char *name;
};

struct tl_req {
  uint64_t id, conn, offset, length, submit_ns, complete_ns, hash;
  uint32_t flags, error;
  uint8_t op, payload;
  const unsigned char *data;    /* into the mapped log, or NULL */
  size_t seq;                   /* position in the log (completion order) */
};

struct tl_log {
  struct blklog_reader rd;      /* stays mapped: tl_req.data points in */
  struct tl_conn *conns;
  size_t nconns;
  struct tl_req *reqs;          /* in log order */
  size_t nreqs;
  int truncated;
};

/* Loads PATH.  A truncated log loads its whole records and prints a
 * note on stderr; a corrupt one is an error.  -1 after printing the
 * error (prefixed with PROG).
 */
extern int tl_load (struct tl_log *log, const char *path);
extern void tl_free (struct tl_log *log);

/* Human-readable sizes and durations, into BUF. */
extern const char *tl_size (uint64_t bytes, char *buf, size_t len);
extern const char *tl_dur (uint64_t ns, char *buf, size_t len);

#endif
