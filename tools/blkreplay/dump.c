/* SPDX-License-Identifier: BSD-3-Clause */
/* blkreplay dump / verify: every record of a log, as text or JSON
 * lines; or only the integrity check of the file.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crc32c.h"
#include "loadlog.h"
#include "replaylog.h"
#include "tool.h"
#include "vector.h"

static void
json_string (FILE *fp, const char *s, size_t len)
{
  size_t i;

  fputc ('"', fp);
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char) s[i];
    if (c == '"' || c == '\\')
      fprintf (fp, "\\%c", c);
    else if (c < 0x20 || c >= 0x7f)
      fprintf (fp, "\\u%04x", c);
    else
      fputc (c, fp);
  }
  fputc ('"', fp);
}

static const char *
errname (uint32_t e, char *buf, size_t len)
{
  if (e == 0)
    return "ok";
  snprintf (buf, len, "%s", strerror ((int) e));
  return buf;
}

/* "hash", or for an imported log "none (imported from a fio iolog: no
 * payloads)": its sources have none, nobody chose blkreplay-data=none.
 */
static const char *
data_desc (const struct blklog_header *h, char *buf, size_t len)
{
  if (tl_imported_desc (h))
    snprintf (buf, len, "%s (imported from %s: no payloads)",
              blklog_data_name (h->data_mode), tl_imported_desc (h));
  else
    snprintf (buf, len, "%s", blklog_data_name (h->data_mode));
  return buf;
}

static void
print_header (const struct blklog_header *h, int json)
{
  char t[64];
  time_t secs = (time_t) (h->created_ns / 1000000000u);
  struct tm tm;

  gmtime_r (&secs, &tm);
  strftime (t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (json) {
    printf ("{\"type\":\"header\",\"version\":%" PRIu32 ",\"export_size\":%"
            PRIu64 ",\"created\":\"%s\",\"created_ns\":%" PRIu64
            ",\"data\":\"%s\",\"hash_alg\":\"%s\",\"layer\":\"%s\""
            ",\"creator\":", h->version, h->export_size, t,
            h->created_ns, blklog_data_name (h->data_mode),
            blklog_hash_name (h->hash_alg), blklog_layer_name (h->layer));
    json_string (stdout, h->creator, strlen (h->creator));
    if (tl_imported_from (h))
      printf (",\"imported\":\"%s\"", tl_imported_from (h));
    else
      printf (",\"imported\":null");
    printf ("}\n");
  }
  else {
    char d[80];
    data_desc (h, d, sizeof d);
    printf ("header: version %" PRIu32 ", export size %" PRIu64 ", created %s,"
            " data %s, hash %s, layer %s, creator \"%s\"\n", h->version,
            h->export_size, t, d, blklog_hash_name (h->hash_alg),
            blklog_layer_name (h->layer), h->creator);
  }
}

/* Export names by connection, so every request line can name its
 * export (the log keeps the name once, in the connection record).
 */
struct cname { uint64_t conn; const char *name; uint16_t len; };
DEFINE_VECTOR_TYPE (cname_vector, struct cname);
static cname_vector cnames = empty_vector;

static void
remember_name (const struct blklog_record *r)
{
  /* On failure only the convenience is lost. */
  (void) cname_vector_append (&cnames, (struct cname) { r->conn, r->name,
                                                        r->name_len });
}

static void
forget_names (void)
{
  cname_vector_reset (&cnames);
}

static const struct cname *
name_of (uint64_t conn)
{
  size_t i;

  for (i = cnames.len; i-- > 0; )
    if (cnames.ptr[i].conn == conn)
      return &cnames.ptr[i];
  return NULL;
}

/* A time or duration in ns, with a unit a reader takes in at a glance:
 * "850ns", "12.345µs", "12.345ms", "12.345678s" (log times since the
 * start keep microseconds).  --json keeps raw ns.
 */
static const char *
fmt_ns (uint64_t ns, char *buf, size_t len)
{
  if (ns < 1000)
    snprintf (buf, len, "%" PRIu64 "ns", ns);
  else if (ns < 1000000)
    snprintf (buf, len, "%" PRIu64 ".%03" PRIu64 "\u00b5s", ns / 1000,
              ns % 1000);
  else if (ns < 1000000000)
    snprintf (buf, len, "%" PRIu64 ".%03" PRIu64 "ms", ns / 1000000,
              ns / 1000 % 1000);
  else
    snprintf (buf, len, "%" PRIu64 ".%06" PRIu64 "s", ns / 1000000000,
              ns / 1000 % 1000000);
  return buf;
}

/* Request records walked so far: a mark's position (the requests
 * before it) in the same numbering as blkreplay crash and the loader.
 */
static uint64_t requests_seen;

/* R starts at byte POS of the file. */
static void
print_record (const struct blklog_record *r, size_t pos, int json)
{
  char f[64], e[128], t1[32], t2[32], t3[32];
  const struct cname *cn;

  switch (r->type) {
  case BLKLOG_CONN_OPEN:
    remember_name (r);
    if (json) {
      printf ("{\"type\":\"open\",\"pos\":%zu,\"conn\":%" PRIu64
              ",\"time_ns\":%" PRIu64 ",\"export_size\":%" PRIu64
              ",\"readonly\":%s,\"export\":", pos, r->conn, r->time_ns,
              r->export_size, r->readonly ? "true" : "false");
      json_string (stdout, r->name, r->name_len);
      printf ("}\n");
    }
    else
      printf ("open    conn %" PRIu64 " t=%s export \"%.*s\" size %"
              PRIu64 "%s\n", r->conn, fmt_ns (r->time_ns, t1, sizeof t1),
              (int) r->name_len, r->name, r->export_size,
              r->readonly ? " readonly" : "");
    break;
  case BLKLOG_CONN_CLOSE:
    if (json)
      printf ("{\"type\":\"close\",\"pos\":%zu,\"conn\":%" PRIu64
              ",\"time_ns\":%" PRIu64 "}\n", pos, r->conn, r->time_ns);
    else
      printf ("close   conn %" PRIu64 " t=%s\n", r->conn,
              fmt_ns (r->time_ns, t1, sizeof t1));
    break;
  case BLKLOG_MARK:
    if (json) {
      printf ("{\"type\":\"mark\",\"pos\":%zu,\"time_ns\":%" PRIu64
              ",\"name\":", pos, r->time_ns);
      json_string (stdout, r->name, r->name_len);
      printf (",\"seq\":%" PRIu64 "}\n", requests_seen);
    }
    else
      printf ("mark    \"%.*s\" t=%s after %" PRIu64 " request%s\n",
              (int) r->name_len, r->name, fmt_ns (r->time_ns, t1, sizeof t1),
              requests_seen, requests_seen == 1 ? "" : "s");
    break;
  default:
    requests_seen++;
    blklog_flags_str (r->flags, f, sizeof f);
    if (json) {
      printf ("{\"type\":\"request\",\"pos\":%zu,\"id\":%" PRIu64
              ",\"conn\":%" PRIu64 ",\"op\":\"%s\",\"flags\":\"%s\""
              ",\"offset\":%" PRIu64 ",\"length\":%" PRIu64
              ",\"submit_ns\":%" PRIu64 ",\"complete_ns\":%" PRIu64
              ",\"error\":%" PRIu32, pos, r->id, r->conn,
              blklog_op_name (r->op), f, r->offset, r->length, r->submit_ns,
              r->complete_ns, r->error);
      if (r->payload != BLKLOG_PAYLOAD_NONE)
        printf (",\"hash\":\"%016" PRIx64 "\"", r->hash);
      if (r->payload == BLKLOG_PAYLOAD_DATA)
        /* The write's bytes in the file: after the length field and
         * the request's fixed fields and hash.
         */
        printf (",\"data\":true,\"data_pos\":%zu",
                pos + 4 + BLKLOG_REQ_FIXED + 8);
      if ((cn = name_of (r->conn)) != NULL) {
        printf (",\"export\":");
        json_string (stdout, cn->name, cn->len);
      }
      printf ("}\n");
    }
    else {
      printf ("request #%" PRIu64 " conn %" PRIu64 " %-7s offset %" PRIu64
              " length %" PRIu64 " flags %s submit %s complete %s (+%s) %s",
              r->id, r->conn, blklog_op_name (r->op), r->offset, r->length,
              f[0] ? f : "-", fmt_ns (r->submit_ns, t1, sizeof t1),
              fmt_ns (r->complete_ns, t2, sizeof t2),
              fmt_ns (r->complete_ns - r->submit_ns, t3, sizeof t3),
              errname (r->error, e, sizeof e));
      if (r->payload != BLKLOG_PAYLOAD_NONE)
        printf (" hash %016" PRIx64, r->hash);
      if (r->payload == BLKLOG_PAYLOAD_DATA)
        printf (" +data");
      printf ("\n");
    }
  }
}

/* Reads every record, printing them unless QUIET.  Returns 0 for a
 * whole log, 1 for a corrupt one (noted on stderr), 2 if it cannot be
 * opened; *TRUNCATED if it ends inside a record (noted on stderr).
 */
static int
walk (const char *path, int json, int quiet, int *truncated)
{
  struct blklog_reader rd;
  struct blklog_record r;
  char why[1024];
  int ret;

  if (blklog_open (&rd, path, why, sizeof why) == -1) {
    fprintf (stderr, "blkreplay: %s\n", why);
    return EXIT_USAGE;
  }
  requests_seen = 0;
  if (!quiet)
    print_header (&rd.header, json);
  for (;;) {
    size_t pos = rd.pos;        /* where the next record starts */
    ret = blklog_next (&rd, &r);
    if (ret != 1)
      break;
    if (r.type == BLKLOG_REQUEST && r.payload == BLKLOG_PAYLOAD_DATA &&
        blklog_payload_hash (rd.header.hash_alg, r.data, r.length) != r.hash) {
      fprintf (stderr, "blkreplay: %s: request #%" PRIu64 " at byte %zu: "
               "its data does not match its hash\n", path, r.id, pos);
      blklog_close (&rd);
      forget_names ();
      return EXIT_MISMATCH;
    }
    if (!quiet)
      print_record (&r, pos, json);
  }
  fflush (stdout);
  if (ret == -1) {
    fprintf (stderr, "blkreplay: %s: %s\n", path, rd.why);
    blklog_close (&rd);
    forget_names ();
    return EXIT_MISMATCH;
  }
  /* The zeros a killed recorder preallocated end a whole log: noted,
   * not a truncation (a torn record before them is one).
   */
  *truncated = rd.truncated && !(rd.unclean && !rd.torn);
  if (rd.truncated)
    fprintf (stderr, "blkreplay: note: %s: %s\n", path, rd.why);
  if (!*truncated && quiet) {
    char d[80];
    printf ("%s: OK, version %" PRIu32 ", %" PRIu64 " records, %zu bytes, "
            "data %s, created by \"%s\"\n", path, rd.header.version,
            rd.nrecords, rd.pos, data_desc (&rd.header, d, sizeof d),
            rd.header.creator);
  }
  blklog_close (&rd);
  forget_names ();
  return 0;
}

int
cmd_dump (int argc, char **argv)
{
  const char *path = NULL;
  int json = 0, i, trunc = 0;

  for (i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--json") == 0)
      json = 1;
    else if (argv[i][0] == '-' && argv[i][1])
      bad_option ("dump", argv[i]);
    else if (path == NULL)
      path = argv[i];
    else
      extra_argument ("dump", argv[i]);
  }
  if (path == NULL)
    usage (EXIT_USAGE);
  /* A truncated log is still dumped (its whole records): exit 0. */
  return walk (path, json, 0, &trunc);
}

int
cmd_verify (int argc, char **argv)
{
  int trunc = 0, r, i;

  for (i = 1; i < argc; i++) {
    if (argv[i][0] == '-' && argv[i][1])
      bad_option ("verify", argv[i]);
    if (i > 1)
      extra_argument ("verify", argv[i]);
  }
  if (argc != 2)
    usage (EXIT_USAGE);
  r = walk (argv[1], 0, 1, &trunc);
  if (r == 0 && trunc)
    return EXIT_MISMATCH;
  return r;
}
