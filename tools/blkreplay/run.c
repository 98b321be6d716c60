/* SPDX-License-Identifier: BSD-3-Clause */
/* blkreplay run LOG URI: replays a log against any NBD server.
 *
 * The recorded connections are opened one after the other, each within
 * --connect-timeout (a server that takes fewer clients at once never
 * answers the extra ones: fail, naming it, rather than wait for ever);
 * each request goes on the connection that sent it.  Requests are issued in submission (id)
 * order; a request waits until every request the recording completed
 * before it was submitted has completed in the replay too.  That keeps
 * what the recorded client could have known (a read after the write it
 * waited for) and reproduces the recorded queue depth, whatever the
 * server's speed.  --timing adds the recorded delays (or scaled ones).
 *
 * Every completion is checked: the result against the recorded one
 * (after the NBD protocol's errno mapping), a read's data against the
 * recorded hash.  Everything is drained before disconnecting (nbdkit
 * 1.32 asserts on a disconnect with requests in flight).
 *
 * Single-threaded: one poll loop over all connections; the libnbd
 * completion callbacks run inside nbd_aio_notify_*, on this thread.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

#include "clock-ns.h"
#include "crashimg.h"
#include "crc32c.h"
#include "duration.h"
#include "enum-param.h"
#include "loadlog.h"
#include "tool.h"
#include "vector.h"

#define NBUCKETS 40             /* latency histogram: 2^i ns buckets */
/* The longest schedule --timing=recorded/scale accepts: 30 days. */
#define REPLAY_PACED_MAX (30 * 86400e9)
/* How long a connection may take to complete its NBD handshake. */
#define CONNECT_TIMEOUT_DEFAULT "10s"

struct conn {
  uint64_t id;
  struct nbd_handle *nbd;
  unsigned inflight;
  int can_fua, can_fast_zero, can_trim, can_flush, can_cache, can_extents;
};

/* One request in flight.  Slots are pooled (get_slot, put_slot) and
 * keep their buffer across requests: a replay of small requests then
 * runs without malloc or free per request.
 */
struct slot {
  struct blklog_req *req;
  struct conn *conn;
  void *buf;                    /* read or pattern buffer, owned, kept */
  size_t cap;                   /* bytes allocated at buf */
  uint64_t t_start, t_end;
  int err;                      /* the result, once completed */
  int finished;
  int unverifiable;             /* a read of data the log does not hold */
  struct slot *prev, *next;     /* in-flight list; done and free lists */
};

/* Requests in flight, for the hazard check of --queue-depth. */
static struct slot *inflight_head;
/* Completed, not yet checked (see complete ()). */
static struct slot *done_head;
/* The pool: free slots, and every slot ever made (to free them). */
static struct slot *free_slots;
DEFINE_VECTOR_TYPE (slot_vector, struct slot *);
static slot_vector all_slots = empty_vector;
/* A slot gives back buffers larger than this when it is released, so
 * that one 64 MiB read does not stay allocated for the whole replay.
 */
#define SLOT_KEEP_MAX (1024 * 1024)

static struct slot *
get_slot (void)
{
  struct slot *s = free_slots;

  if (s)
    free_slots = s->next;
  else {
    s = calloc (1, sizeof *s);
    if (s == NULL || slot_vector_append (&all_slots, s) == -1) {
      fprintf (stderr, "blkreplay: out of memory\n");
      exit (EXIT_USAGE);
    }
  }
  s->prev = s->next = NULL;
  s->finished = s->unverifiable = 0;
  return s;
}

static void
put_slot (struct slot *s)
{
  if (s->cap > SLOT_KEEP_MAX) {
    free (s->buf);
    s->buf = NULL;
    s->cap = 0;
  }
  s->next = free_slots;
  free_slots = s;
}

/* S's buffer, with room for LEN bytes rounded up to 8 (the write
 * pattern is made of 64-bit words).  Its old contents do not matter: a
 * successful read overwrites all of it (see open_conn).
 */
static void *
slot_buf (struct slot *s, uint64_t len)
{
  size_t want = (size_t) ((len + 7) & ~UINT64_C (7));

  if (want == 0)
    want = 8;
  if (s->cap < want) {
    free (s->buf);
    s->buf = malloc (want);
    if (s->buf == NULL) {
      fprintf (stderr, "blkreplay: out of memory\n");
      exit (EXIT_USAGE);
    }
    s->cap = want;
  }
  return s->buf;
}

static int
reads_only (unsigned op)
{
  return op == BLKLOG_READ || op == BLKLOG_EXTENTS || op == BLKLOG_CACHE;
}

/* --queue-depth ignores the recorded ordering, but not data hazards: R
 * waits while an in-flight request overlaps it and one of the two
 * modifies data, and a flush is a barrier both ways.  The final image
 * is then the recorded one whatever the server's timing.
 */
static int
conflicts (const struct blklog_req *r)
{
  const struct slot *s;

  for (s = inflight_head; s; s = s->next) {
    const struct blklog_req *q = s->req;
    if (r->op == BLKLOG_FLUSH || q->op == BLKLOG_FLUSH)
      return 1;
    if (reads_only (r->op) && reads_only (q->op))
      continue;
    if (r->offset < q->offset + q->length && q->offset < r->offset + r->length)
      return 1;
  }
  return 0;
}

/* Ranges written with a generated pattern (the log has no payload for
 * them): a read that overlaps one written before it cannot be checked
 * against the recorded hash; every other read still is.  Requests are
 * issued in id order whatever the mode, so which reads those are is
 * known before the replay starts (plan_unverifiable), off the path
 * between a completion and the requests waiting for it.
 *
 * The plan sweeps the requests in id order over a segment tree of the
 * elementary intervals between the offsets involved: a write marks its
 * intervals, a read asks whether any of its intervals is marked;
 * O(log n) each.  (A sorted list of merged ranges cost a memmove of
 * the list per random write: quadratic, 2300 instructions per request
 * at 30k requests and growing.)
 */
struct seg { unsigned char full, any; };

static void
seg_mark (struct seg *t, size_t node, size_t nlo, size_t nhi,
          size_t lo, size_t hi)
{
  size_t mid;

  if (hi <= nlo || nhi <= lo || t[node].full)
    return;
  t[node].any = 1;
  if (lo <= nlo && nhi <= hi) {
    t[node].full = 1;
    return;
  }
  mid = nlo + (nhi - nlo) / 2;
  seg_mark (t, 2 * node, nlo, mid, lo, hi);
  seg_mark (t, 2 * node + 1, mid, nhi, lo, hi);
}

static int
seg_any (const struct seg *t, size_t node, size_t nlo, size_t nhi,
         size_t lo, size_t hi)
{
  size_t mid;

  if (hi <= nlo || nhi <= lo || !t[node].any)
    return 0;
  if (t[node].full || (lo <= nlo && nhi <= hi))
    return 1;
  mid = nlo + (nhi - nlo) / 2;
  return seg_any (t, 2 * node, nlo, mid, lo, hi) ||
    seg_any (t, 2 * node + 1, mid, nhi, lo, hi);
}

static int
u64_cmp (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

  return x < y ? -1 : x > y;
}

/* Index of the first coordinate >= V. */
static size_t
coord_index (const uint64_t *x, size_t n, uint64_t v)
{
  size_t lo = 0, hi = n;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (x[mid] < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static int
pattern_write (const struct blklog_req *r)
{
  return r->op == BLKLOG_WRITE && r->payload != BLKLOG_PAYLOAD_DATA;
}

/* UNVER[i] = 1 for each read in REQS[0..N) (id order) that overlaps a
 * pattern write before it.  Returns -1 when out of memory.
 */
static int
plan_unverifiable (struct blklog_req *const *reqs, size_t n,
                   unsigned char *unver)
{
  uint64_t *x;
  struct seg *t;
  size_t i, nx = 0, k;

  x = malloc ((2 * n + 1) * sizeof *x);
  if (x == NULL)
    return -1;
  for (i = 0; i < n; i++) {
    if (reqs[i]->length && (pattern_write (reqs[i]) ||
                            reqs[i]->op == BLKLOG_READ)) {
      x[nx++] = reqs[i]->offset;
      x[nx++] = reqs[i]->offset + reqs[i]->length;
    }
  }
  qsort (x, nx, sizeof *x, u64_cmp);
  for (i = k = 0; i < nx; i++)
    if (k == 0 || x[k - 1] != x[i])
      x[k++] = x[i];
  nx = k;
  if (nx < 2) {                 /* nothing can overlap */
    free (x);
    return 0;
  }
  /* nx - 1 elementary intervals [x[j], x[j+1]). */
  t = calloc (4 * nx, sizeof *t);
  if (t == NULL) {
    free (x);
    return -1;
  }
  for (i = 0; i < n; i++) {
    const struct blklog_req *r = reqs[i];
    size_t a, b;

    if (r->length == 0 || !(pattern_write (r) || r->op == BLKLOG_READ))
      continue;
    a = coord_index (x, nx, r->offset);
    b = coord_index (x, nx, r->offset + r->length);
    if (r->op == BLKLOG_READ)
      unver[i] = seg_any (t, 1, 0, nx - 1, a, b);
    else
      seg_mark (t, 1, 0, nx - 1, a, b);
  }
  free (t);
  free (x);
  return 0;
}

/* The replay (one, file-scope: the callbacks reach it through slots). */
static struct blklog_log log_;
static struct blklog_req **by_id;   /* submission order */
static size_t *need;            /* per by_id: completions needed first */
static size_t *cpos;            /* per log seq: position in completion order */
static unsigned char *cdone;    /* per completion-order position */
static size_t prefix;           /* leading completion-order entries done */
static struct conn *conns;
static size_t nconns;
static size_t completed, issued;
static uint64_t mismatches, skipped, verified_reads, unverifiable_reads;
/* Reads of an imported log (fio iolog, blkparse): their source holds
 * no data, so none can be verified; counted apart, not as unverifiable
 * reads of unrecorded writes.
 */
static uint64_t imported_reads;
static int log_imported;
static uint64_t first_bad_id = UINT64_MAX;
static char first_bad[768];
static uint64_t hist[NBUCKETS];
static uint64_t op_count[BLKLOG_OP__MAX], op_bytes[BLKLOG_OP__MAX];
static int verify_reads = 1, verify_results = 1;
/* Whether the log has block status requests: only those need NBD
 * structured replies (see open_conn).
 */
static int any_extents;

/* What errno an NBD client sees for an errno the server returned. */
static int
wire_errno (int e)
{
  switch (e) {
  case 0: return 0;
  case EROFS: case EPERM: return EPERM;
  case EIO: return EIO;
  case ENOMEM: return ENOMEM;
  case EDQUOT: case EFBIG: case ENOSPC: return ENOSPC;
  case ESHUTDOWN: return ESHUTDOWN;
  case ENOTSUP: return ENOTSUP;
  case EOVERFLOW: return EOVERFLOW;
  default: return EINVAL;
  }
}

static const char *
describe (const struct blklog_req *r, char *buf, size_t len)
{
  char f[64];

  blklog_flags_str (r->flags, f, sizeof f);
  if (r->op == BLKLOG_FLUSH)
    snprintf (buf, len, "request #%" PRIu64 " (connection %" PRIu64 ", flush%s%s)",
              r->id, r->conn, f[0] ? " " : "", f);
  else
    snprintf (buf, len, "request #%" PRIu64 " (connection %" PRIu64 ", %s "
              "offset %" PRIu64 " length %" PRIu64 "%s%s)", r->id, r->conn,
              blklog_op_name (r->op), r->offset, r->length, f[0] ? " " : "", f);
  return buf;
}

static void
mismatch (const struct blklog_req *r, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

static void
mismatch (const struct blklog_req *r, const char *fmt, ...)
{
  char d[256], m[400];
  va_list ap;

  mismatches++;
  /* The lowest id is "the first": completion order varies by run. */
  if (r->id >= first_bad_id)
    return;
  first_bad_id = r->id;
  va_start (ap, fmt);
  vsnprintf (m, sizeof m, fmt, ap);
  va_end (ap);
  snprintf (first_bad, sizeof first_bad, "%s: %s",
            describe (r, d, sizeof d), m);
}

/* S completed with ERR: everything the issue decisions depend on is
 * updated here (in-flight counts and list, the completion-order
 * prefix), and S goes on the done list.  Checking its result and data
 * (check_done) waits until the requests this completion let go have
 * been sent: with the recorded ordering the replay is a chain of
 * round trips, and hashing a read before sending the next request
 * would lengthen every link.
 */
static void
complete (struct slot *s, int err)
{
  if (s->finished)
    return;
  s->finished = 1;
  s->t_end = blk_mono_ns ();
  s->err = err;
  s->conn->inflight--;
  completed++;

  if (s->prev)
    s->prev->next = s->next;
  else
    inflight_head = s->next;
  if (s->next)
    s->next->prev = s->prev;

  cdone[cpos[s->req->seq]] = 1;
  while (prefix < log_.nreqs && cdone[prefix])
    prefix++;
  s->prev = NULL;
  s->next = done_head;
  done_head = s;
}

/* Check every completed request: latency, result, read data. */
static void
check_done (void)
{
  while (done_head) {
    struct slot *s = done_head;
    struct blklog_req *r = s->req;
    uint64_t lat = s->t_end - s->t_start;
    unsigned b = 0;
    int err = s->err;

    done_head = s->next;
    while (b < NBUCKETS - 1 && (UINT64_C (2) << b) <= lat)
      b++;
    hist[b]++;
    if (verify_results && err != wire_errno ((int) r->error))
      mismatch (r, "result '%s', the recording had '%s'",
                err ? strerror (err) : "success",
                r->error ? strerror ((int) r->error) : "success");
    else if (r->op == BLKLOG_READ && err == 0 && verify_reads &&
             r->payload == BLKLOG_PAYLOAD_HASH && !s->unverifiable) {
      uint64_t h = blklog_payload_hash (log_.rd.header.hash_alg, s->buf,
                                        r->length);
      verified_reads++;
      if (h != r->hash)
        mismatch (r, "read data hash %016" PRIx64 ", the recording had %016"
                  PRIx64, h, r->hash);
    }
    put_slot (s);
  }
}

static int
completion_cb (void *user_data, int *error)
{
  complete (user_data, *error);
  return 1;                     /* retire the command */
}

static int
extent_cb (void *user_data, const char *metacontext, uint64_t offset,
           uint32_t *entries, size_t nr_entries, int *error)
{
  return 0;
}

static struct conn *
find_conn (uint64_t id)
{
  size_t i;

  for (i = 0; i < nconns; i++)
    if (conns[i].id == id)
      return &conns[i];
  return &conns[0];
}

/* Per by_id entry: its connection (looked up once, not per issue),
 * and whether it is a read of pattern-written data (plan_unverifiable).
 */
static struct conn **rconn;
static unsigned char *unver;

static void
issue (size_t ni, struct blklog_req *r, struct conn *c)
{
  struct slot *s = get_slot ();
  nbd_completion_callback cb = { .callback = completion_cb, .user_data = s };
  uint32_t fl = 0;
  int64_t cookie = -1;

  s->req = r;
  s->conn = c;
  s->next = inflight_head;
  if (inflight_head)
    inflight_head->prev = s;
  inflight_head = s;
  if ((r->flags & BLKLOG_F_FUA) && c->can_fua)
    fl |= LIBNBD_CMD_FLAG_FUA;
  if ((r->flags & BLKLOG_F_NO_HOLE) && r->op == BLKLOG_ZERO)
    fl |= LIBNBD_CMD_FLAG_NO_HOLE;
  if ((r->flags & BLKLOG_F_FAST_ZERO) && c->can_fast_zero)
    fl |= LIBNBD_CMD_FLAG_FAST_ZERO;
  if ((r->flags & BLKLOG_F_REQ_ONE) && r->op == BLKLOG_EXTENTS)
    fl |= LIBNBD_CMD_FLAG_REQ_ONE;
  op_count[r->op]++;
  if (r->op != BLKLOG_FLUSH)
    op_bytes[r->op] += r->length;
  c->inflight++;
  issued++;
  s->t_start = blk_mono_ns ();

  /* Operations the server cannot do are skipped (counted, reported),
   * not failed: the replay target may lack e.g. trim.
   */
  if ((r->op == BLKLOG_TRIM && !c->can_trim) ||
      (r->op == BLKLOG_FLUSH && !c->can_flush) ||
      (r->op == BLKLOG_CACHE && !c->can_cache) ||
      (r->op == BLKLOG_EXTENTS && !c->can_extents)) {
    skipped++;
    /* The result is unknown: count it as the recorded one. */
    complete (s, wire_errno ((int) r->error));
    return;
  }

  switch (r->op) {
  case BLKLOG_READ:
    if (log_imported) {
      s->unverifiable = 1;
      imported_reads++;
    }
    else {
      s->unverifiable = unver[ni];
      if (s->unverifiable)
        unverifiable_reads++;
    }
    cookie = nbd_aio_pread (c->nbd, slot_buf (s, r->length), r->length,
                            r->offset, cb, fl);
    break;
  case BLKLOG_WRITE:
    if (r->payload == BLKLOG_PAYLOAD_DATA)
      cookie = nbd_aio_pwrite (c->nbd, r->data, r->length, r->offset, cb, fl);
    else {
      /* Not recorded: a pattern that names the request.  The bound
       * and base are locals: P could alias *R, and the compiler would
       * reload both on every word (5000 instructions per 4k write).
       */
      uint64_t i, *p = slot_buf (s, r->length);
      const uint64_t n = (r->length + 7) / 8;
      const uint64_t base = r->id * UINT64_C (0x9e3779b97f4a7c15);
      for (i = 0; i < n; i++)
        p[i] = base + i;
      cookie = nbd_aio_pwrite (c->nbd, s->buf, r->length, r->offset, cb, fl);
    }
    break;
  case BLKLOG_ZERO:
    cookie = nbd_aio_zero (c->nbd, r->length, r->offset, cb, fl);
    break;
  case BLKLOG_TRIM:
    cookie = nbd_aio_trim (c->nbd, r->length, r->offset, cb, fl);
    break;
  case BLKLOG_FLUSH:
    cookie = nbd_aio_flush (c->nbd, cb, fl);
    break;
  case BLKLOG_EXTENTS: {
    nbd_extent_callback ecb = { .callback = extent_cb };
    cookie = nbd_aio_block_status (c->nbd, r->length, r->offset, ecb, cb, fl);
    break;
  }
  case BLKLOG_CACHE:
    cookie = nbd_aio_cache (c->nbd, r->length, r->offset, cb, fl);
    break;
  }
  if (cookie == -1) {
    /* Refused before it was sent (e.g. beyond the end of the export):
     * the callback will not run.
     */
    int e = nbd_get_errno ();
    complete (s, e ? e : EINVAL);
  }
}

/* Drives H's handshake until it is no longer connecting (ready,
 * waiting for an option in opt mode, or dead), polling its socket until
 * DEADLINE (blk_mono_ns).  libnbd 1.14's nbd_connect_* wait without a
 * bound: a server that accepted the socket but never answers (qemu-nbd
 * already serving as many clients as it takes) would hang the replay.
 * Returns 0 when no longer connecting, 1 on timeout, -1 on an error
 * (poll's in errno, libnbd's in nbd_get_error).
 */
static int
handshake (struct nbd_handle *h, uint64_t deadline)
{
  while (nbd_aio_is_connecting (h)) {
    struct pollfd p = { .fd = nbd_aio_get_fd (h) };
    unsigned dir = nbd_aio_get_direction (h);
    uint64_t now = blk_mono_ns (), ms;
    int n;

    if (now >= deadline)
      return 1;
    ms = (deadline - now + 999999) / 1000000;
    if (dir & LIBNBD_AIO_DIRECTION_READ)
      p.events |= POLLIN;
    if (dir & LIBNBD_AIO_DIRECTION_WRITE)
      p.events |= POLLOUT;
    n = poll (&p, 1, ms > 1000 ? 1000 : (int) ms);
    if (n == -1) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      if (nbd_aio_notify_read (h) == -1)
        return -1;
    }
    else if (p.revents & POLLOUT) {
      if (nbd_aio_notify_write (h) == -1)
        return -1;
    }
  }
  return 0;
}

static int
opt_go_cb (void *user_data, int *error)
{
  *(int *) user_data = *error;
  return 1;
}

/* Opens connection I (of nconns) to URI, within TIMEOUT_NS for the
 * whole handshake.  On failure prints why (naming the connection) and
 * returns -1.
 */
static int
open_conn (size_t i, const char *uri, int recorded_exports,
           uint64_t timeout_ns, const char *timeout_str, int progress)
{
  struct conn *c = &conns[i];
  uint64_t deadline;
  int r, go_err = 0;
  char what[128];

  c->id = log_.nconns ? log_.conns[i].id : (log_.nreqs ? log_.reqs[0].conn : 0);
  snprintf (what, sizeof what, "connection %zu of %zu (recorded connection %"
            PRIu64 ")", i + 1, nconns, c->id);
  if (progress)
    fprintf (stderr, "\rblkreplay: opening connection %zu of %zu ",
             i + 1, nconns);
  c->nbd = nbd_create ();
  /* Structured replies cost a read reply three receive calls (chunk
   * header, offset, data) instead of two; a log without block status
   * does not need them.  A simple read reply always carries all the
   * data (or the connection dies), so libnbd need not zero the buffer
   * first either; with structured replies it must, or a server that
   * succeeded without sending every chunk would be verified against
   * what an earlier read left in the pooled buffer.
   */
  if (c->nbd &&
      (any_extents
       ? nbd_add_meta_context (c->nbd, LIBNBD_CONTEXT_BASE_ALLOCATION) == -1
       : (nbd_set_request_structured_replies (c->nbd, false) == -1 ||
          nbd_set_pread_initialize (c->nbd, false) == -1)))
    goto nbd_error;
  if (c->nbd == NULL ||
      (recorded_exports && nbd_set_opt_mode (c->nbd, true) == -1) ||
      nbd_aio_connect_uri (c->nbd, uri) == -1)
    goto nbd_error;
  deadline = blk_mono_ns () + timeout_ns;
  r = handshake (c->nbd, deadline);
  if (r == 0 && recorded_exports && nbd_aio_is_negotiating (c->nbd)) {
    /* The export each connection asked for when it was recorded. */
    const char *name = log_.nconns ? log_.conns[i].name : "";
    nbd_completion_callback cb = { .callback = opt_go_cb,
                                   .user_data = &go_err };
    if (nbd_set_export_name (c->nbd, name) == -1 ||
        nbd_aio_opt_go (c->nbd, cb) == -1)
      goto nbd_error;
    r = handshake (c->nbd, deadline);
    if (r == 0 && !nbd_aio_is_ready (c->nbd) && go_err) {
      fprintf (stderr, "%sblkreplay: %s: cannot open the recorded export "
               "'%s' on %s: %s\n", progress ? "\n" : "", uri, name, what,
               strerror (go_err));
      return -1;
    }
  }
  if (r == 1) {
    fprintf (stderr, "%sblkreplay: %s: cannot open %s: no NBD handshake "
             "within %s (--connect-timeout).  ", progress ? "\n" : "", uri,
             what, timeout_str);
    if (i > 0)
      fprintf (stderr, "%s opened: the server may accept fewer "
               "connections at once; qemu-nbd accepts one unless started "
               "with -t -e N (N >= %zu, the recorded connections)\n",
               i == 1 ? "Connection 1 was" : "The connections before it were",
               nconns);
    else
      fprintf (stderr, "The server accepted the socket but did not answer: "
               "it may be busy with other clients (the server may accept "
               "fewer connections at once; qemu-nbd accepts one unless "
               "started with -t -e N) or not an NBD server\n");
    return -1;
  }
  if (r == -1 && nbd_get_errno () == 0 && errno) {
    fprintf (stderr, "%sblkreplay: %s: %s: poll: %s\n", progress ? "\n" : "",
             uri, what, strerror (errno));
    return -1;
  }
  if (r == -1 || !nbd_aio_is_ready (c->nbd))
    goto nbd_error;

  c->can_fua = nbd_can_fua (c->nbd) == 1;
  c->can_fast_zero = nbd_can_fast_zero (c->nbd) == 1;
  c->can_trim = nbd_can_trim (c->nbd) == 1;
  c->can_flush = nbd_can_flush (c->nbd) == 1;
  c->can_cache = nbd_can_cache (c->nbd) == 1;
  c->can_extents =
    nbd_can_meta_context (c->nbd, LIBNBD_CONTEXT_BASE_ALLOCATION) == 1;
  return 0;

 nbd_error:
  fprintf (stderr, "%sblkreplay: %s: cannot open %s: %s\n",
           progress ? "\n" : "", uri, what,
           nbd_get_error () ? nbd_get_error () : "the server closed it");
  return -1;
}

/* How many round trips the recorded ordering chains, replaying as if
 * every request took the same time: issue in id order all that may go,
 * complete them all, again.  NREQS / that is the mean number of
 * requests the ordering lets be in flight, which bounds the speed of a
 * replay against a fast server: a recording whose server saw one
 * request at a time (however deep the client's queue was: requests
 * that arrive after the previous one completed look dependent) replays
 * as a chain of round trips.  Returns 0 when out of memory.
 */
static size_t
ordering_round_trips (void)
{
  unsigned char *mark = calloc (log_.nreqs + 1, 1);
  size_t rounds = 0, ni = 0, pfx = 0, j;

  if (mark == NULL)
    return 0;
  while (ni < log_.nreqs) {
    size_t first = ni;
    while (ni < log_.nreqs && pfx >= need[ni])
      ni++;
    if (ni == first)            /* cannot happen: need is capped */
      break;
    for (j = first; j < ni; j++)
      mark[cpos[by_id[j]->seq]] = 1;
    while (pfx < log_.nreqs && mark[pfx])
      pfx++;
    rounds++;
  }
  free (mark);
  return rounds;
}

static int
by_id_cmp (const void *a, const void *b)
{
  const struct blklog_req *x = *(struct blklog_req *const *) a;
  const struct blklog_req *y = *(struct blklog_req *const *) b;

  return x->id < y->id ? -1 : x->id > y->id;
}

static int
by_complete_cmp (const void *a, const void *b)
{
  const struct blklog_req *x = *(struct blklog_req *const *) a;
  const struct blklog_req *y = *(struct blklog_req *const *) b;

  if (x->complete_ns != y->complete_ns)
    return x->complete_ns < y->complete_ns ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
print_histogram (FILE *fp)
{
  uint64_t max = 0;
  unsigned i, lo = NBUCKETS, hi = 0;
  char a[32], b[32];

  for (i = 0; i < NBUCKETS; i++) {
    if (hist[i]) {
      if (i < lo) lo = i;
      hi = i;
      if (hist[i] > max) max = hist[i];
    }
  }
  if (max == 0)
    return;
  fprintf (fp, "replay latency:\n");
  for (i = lo; i <= hi; i++) {
    unsigned w = (unsigned) ((hist[i] * 50 + max - 1) / max);
    char bar[51];
    memset (bar, '@', w);
    bar[w] = '\0';
    char label[80];
    snprintf (label, sizeof label, "[%s, %s)",
              tl_dur (i ? UINT64_C (1) << i : 0, a, sizeof a),
              tl_dur (UINT64_C (2) << i, b, sizeof b));
    fprintf (fp, "%-20s %10" PRIu64 " |%-50s|\n", label, hist[i], bar);
  }
}

/* --timing= words, as the replay speed factor (scale).  scale=X is
 * parsed before the table is consulted; its entry only names it in
 * the error.
 */
static const struct blk_enum_name timings[] = {
  { "fast", 0 }, { "recorded", 1 }, { "scale=X", -1 }, { NULL, 0 },
};

int
cmd_run (int argc, char **argv)
{
  const char *path = NULL, *uri = NULL, *until = NULL;
  double scale = 0;             /* 0: fast */
  unsigned qd_override = 0;
  int progress = isatty (2), json = 0, ai, status, dry_run = 0;
  size_t i, ni = 0;
  struct blklog_req **corder = NULL;
  uint64_t start, first_submit = UINT64_MAX, last_progress = 0, elapsed;
  struct pollfd *fds = NULL;
  int any_unrecorded_write = 0, recorded_exports = 0;
  char b1[32], b2[32];
  const char *connect_timeout_str = CONNECT_TIMEOUT_DEFAULT;
  uint64_t connect_timeout = 10 * BLK_NS_PER_SEC;

  for (ai = 1; ai < argc; ai++) {
    const char *a = argv[ai];
    if (strncmp (a, "--timing=scale=", 15) == 0) {
      char *end;
      scale = strtod (a + 15, &end);
      if (*end || !(scale > 0) || !isfinite (scale)) {
        fprintf (stderr, "blkreplay: --timing: cannot parse '%s' (use "
                 "scale=X with X > 0, e.g. scale=0.5 for twice the "
                 "recorded speed)\n", a + 15);
        return EXIT_USAGE;
      }
    }
    else if (strncmp (a, "--timing=", 9) == 0) {
      char why[256];
      int v;
      if (blk_parse_enum ("--timing", a + 9, timings, &v,
                          why, sizeof why) == -1) {
        fprintf (stderr, "blkreplay: %s\n", why);
        return EXIT_USAGE;
      }
      scale = v;
    }
    else if (strncmp (a, "--queue-depth=", 14) == 0) {
      char *end;
      unsigned long v = strtoul (a + 14, &end, 10);
      if (*end || v == 0 || v > 4096) {
        fprintf (stderr, "blkreplay: --queue-depth: cannot parse '%s' (use "
                 "1 to 4096)\n", a + 14);
        return EXIT_USAGE;
      }
      qd_override = (unsigned) v;
    }
    else if (strncmp (a, "--connect-timeout=", 18) == 0) {
      char why[256];
      connect_timeout_str = a + 18;
      if (blk_parse_duration (connect_timeout_str, BLK_NS_PER_SEC,
                              &connect_timeout, why, sizeof why) == -1) {
        fprintf (stderr, "blkreplay: --connect-timeout: cannot parse %s\n",
                 why);
        return EXIT_USAGE;
      }
      if (connect_timeout < 1000000) {
        fprintf (stderr, "blkreplay: --connect-timeout: '%s' is too short "
                 "(at least 1ms; the default is %s)\n", connect_timeout_str,
                 CONNECT_TIMEOUT_DEFAULT);
        return EXIT_USAGE;
      }
    }
    else if (strcmp (a, "--recorded-exports") == 0)
      recorded_exports = 1;
    else if (strcmp (a, "--no-verify") == 0)
      verify_reads = verify_results = 0;
    else if (strcmp (a, "--progress") == 0)
      progress = 1;
    else if (strcmp (a, "--quiet") == 0 || strcmp (a, "-q") == 0)
      progress = 0;
    else if (strcmp (a, "--json") == 0)
      json = 1;
    else if (strcmp (a, "--dry-run") == 0)
      dry_run = 1;
    else if (strncmp (a, "--until=", 8) == 0)
      until = a + 8;
    else if (a[0] == '-')
      bad_option ("run", a);
    else if (!path)
      path = a;
    else if (!uri)
      uri = a;
    else
      extra_argument ("run", a);
  }
  if (!path || (!uri && !dry_run))
    usage (EXIT_USAGE);
  if (tl_load (&log_, path) == -1 ||
      (until && crash_until (&log_, until) == -1))
    return EXIT_USAGE;
  if (log_.rd.header.layer == BLKLOG_LAYER_BACKEND) {
    /* Its offsets are in the plugin's file, not the export. */
    fprintf (stderr, "blkreplay: %s: a backend-layer log "
             "(blkreplay-layer=backend: the plugin's I/O on its image file) "
             "cannot be replayed as client requests; build the file's "
             "states with 'blkreplay crash' or 'blkreplay image' "
             "--base-format=raw\n", path);
    status = EXIT_USAGE;
    goto out;
  }

  /* Orders, and what each request waits for. */
  by_id = malloc ((log_.nreqs + 1) * sizeof *by_id);
  corder = malloc ((log_.nreqs + 1) * sizeof *corder);
  need = malloc ((log_.nreqs + 1) * sizeof *need);
  cpos = malloc ((log_.nreqs + 1) * sizeof *cpos);
  cdone = calloc (log_.nreqs + 1, 1);
  if (!by_id || !corder || !need || !cpos || !cdone) {
    fprintf (stderr, "blkreplay: out of memory\n");
    status = EXIT_USAGE;
    goto out;
  }
  for (i = 0; i < log_.nreqs; i++) {
    by_id[i] = corder[i] = &log_.reqs[i];
    if (log_.reqs[i].submit_ns < first_submit)
      first_submit = log_.reqs[i].submit_ns;
    if (log_.reqs[i].op == BLKLOG_WRITE &&
        log_.reqs[i].payload != BLKLOG_PAYLOAD_DATA)
      any_unrecorded_write = 1;
    if (log_.reqs[i].op == BLKLOG_EXTENTS)
      any_extents = 1;
  }
  qsort (by_id, log_.nreqs, sizeof *by_id, by_id_cmp);
  qsort (corder, log_.nreqs, sizeof *corder, by_complete_cmp);
  for (i = 0; i < log_.nreqs; i++)
    cpos[corder[i]->seq] = i;
  for (i = 0; i < log_.nreqs; i++) {
    /* Completed strictly before this one was submitted. */
    size_t lo = 0, hi = log_.nreqs;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (corder[mid]->complete_ns < by_id[i]->submit_ns)
        lo = mid + 1;
      else
        hi = mid;
    }
    need[i] = lo;
  }
  /* The recorder takes a request's id and its submission time one after
   * the other, not atomically: a later id can carry an earlier time and
   * even complete before an earlier id's recorded submission.  Requests
   * are issued in id order, so never wait for a completion-order prefix
   * that holds a later id (it would wait forever): cap NEED by the
   * earliest completion position of any later request.
   */
  {
    size_t sufmin = log_.nreqs;
    for (i = log_.nreqs; i-- > 0; ) {
      if (need[i] > sufmin)
        need[i] = sufmin;
      if (cpos[by_id[i]->seq] < sufmin)
        sufmin = cpos[by_id[i]->seq];
    }
  }
  unver = calloc (log_.nreqs + 1, 1);
  if (unver == NULL ||
      (any_unrecorded_write &&
       plan_unverifiable (by_id, log_.nreqs, unver) == -1)) {
    fprintf (stderr, "blkreplay: out of memory\n");
    status = EXIT_USAGE;
    goto out;
  }
  /* A paced replay waits as long as the recording did (times scale):
   * refuse a schedule longer than REPLAY_PACED_MAX up front rather than
   * sit in a wait that outlives the user (a hostile or broken log can
   * space two requests by a century).
   */
  if (scale > 0) {
    for (i = 0; i < log_.nreqs; i++) {
      double due = (double) (log_.reqs[i].submit_ns - first_submit) * scale;
      if (!(due <= REPLAY_PACED_MAX)) {
        fprintf (stderr, "blkreplay: %s: request #%" PRIu64 " is due %.0f s "
                 "after the first with --timing=%s (at most %.0f s, %d "
                 "days): use --timing=fast, or a smaller scale\n", path,
                 log_.reqs[i].id, due / 1e9,
                 scale == 1 ? "recorded" : "scale", REPLAY_PACED_MAX / 1e9,
                 (int) (REPLAY_PACED_MAX / 86400e9));
        status = EXIT_USAGE;
        goto out;
      }
    }
  }
  log_imported = tl_imported_from (&log_.rd.header) != NULL;
  if (log_imported && verify_reads)
    fprintf (stderr, "blkreplay: note: %s was imported from %s: it holds "
             "no payloads, so writes send a generated pattern and no read "
             "is verified (results still are)\n", path,
             tl_imported_desc (&log_.rd.header));
  else if (any_unrecorded_write && verify_reads)
    fprintf (stderr, "blkreplay: note: %s does not hold write payloads "
             "(recorded with blkreplay-data=%s): writes send a generated "
             "pattern, and reads of what they wrote are not verified; "
             "record with blkreplay-data=full to verify every read\n", path,
             blklog_data_name (log_.rd.header.data_mode));

  if (dry_run) {
    /* The log loads and the replay is planned: stop before the server. */
    size_t rt = ordering_round_trips ();
    printf ("blkreplay: %s: %zu requests on %zu connection%s, ready to "
            "replay\n", path, log_.nreqs, log_.nconns ? log_.nconns : 1,
            log_.nconns > 1 ? "s" : "");
    if (rt)
      printf ("  recorded ordering: a chain of %zu round trips, %.2f "
              "requests in flight on average (--queue-depth=N ignores "
              "it)\n", rt, (double) log_.nreqs / (double) rt);
    status = 0;
    goto out;
  }

  /* Connections: the recorded ones, or one. */
  nconns = log_.nconns ? log_.nconns : 1;
  conns = calloc (nconns, sizeof *conns);
  fds = calloc (nconns, sizeof *fds);
  if (!conns || !fds) {
    fprintf (stderr, "blkreplay: out of memory\n");
    status = EXIT_USAGE;
    goto out;
  }
  for (i = 0; i < nconns; i++) {
    if (open_conn (i, uri, recorded_exports, connect_timeout,
                   connect_timeout_str, progress) == -1) {
      status = EXIT_USAGE;
      goto out;
    }
    if (i == 0) {
      int64_t sz = nbd_get_size (conns[i].nbd);
      if (sz >= 0 && log_.rd.header.export_size &&
          (uint64_t) sz != log_.rd.header.export_size)
        fprintf (stderr, "%sblkreplay: note: the export has %" PRId64
                 " bytes, the recording had %" PRIu64 "\n",
                 progress ? "\n" : "", sz, log_.rd.header.export_size);
    }
  }
  if (progress && nconns > 0)
    fprintf (stderr, "\r%60s\r", "");
  rconn = malloc ((log_.nreqs + 1) * sizeof *rconn);
  if (rconn == NULL) {
    fprintf (stderr, "blkreplay: out of memory\n");
    status = EXIT_USAGE;
    goto out;
  }
  for (i = 0; i < log_.nreqs; i++)
    rconn[i] = find_conn (by_id[i]->conn);

  start = blk_mono_ns ();
  while (completed < log_.nreqs) {
    int timeout = -1, n;
    uint64_t t;

    /* Issue what may go now. */
    while (ni < log_.nreqs) {
      struct blklog_req *r = by_id[ni];
      struct conn *c = rconn[ni];
      if (qd_override ? c->inflight >= qd_override || conflicts (r)
          : prefix < need[ni])
        break;
      if (scale > 0) {
        /* Checked above: the product is at most REPLAY_PACED_MAX. */
        uint64_t due = start + (uint64_t) ((double) (r->submit_ns - first_submit) * scale);
        t = blk_mono_ns ();
        if (t < due) {
          uint64_t ms = (due - t + 999999) / 1000000;
          timeout = ms > 1000 ? 1000 : (int) ms;
          break;
        }
      }
      issue (ni, r, c);
      ni++;
    }
    /* What completed is checked once the requests it let go are out. */
    check_done ();
    if (completed == log_.nreqs)
      break;

    for (i = 0; i < nconns; i++) {
      unsigned dir = nbd_aio_get_direction (conns[i].nbd);
      fds[i].fd = nbd_aio_get_fd (conns[i].nbd);
      fds[i].events = 0;
      fds[i].revents = 0;
      if (dir & LIBNBD_AIO_DIRECTION_READ)
        fds[i].events |= POLLIN;
      if (dir & LIBNBD_AIO_DIRECTION_WRITE)
        fds[i].events |= POLLOUT;
    }
    if (progress && (timeout == -1 || timeout > 250))
      timeout = 250;
    n = poll (fds, nconns, timeout);
    if (n == -1) {
      if (errno == EINTR)
        continue;
      perror ("blkreplay: poll");
      status = EXIT_USAGE;
      goto out;
    }
    for (i = 0; i < nconns; i++) {
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        if (nbd_aio_notify_read (conns[i].nbd) == -1) {
          fprintf (stderr, "blkreplay: connection %" PRIu64 ": %s\n",
                   conns[i].id, nbd_get_error ());
          status = EXIT_USAGE;
          goto out;
        }
      }
      else if (fds[i].revents & POLLOUT) {
        if (nbd_aio_notify_write (conns[i].nbd) == -1) {
          fprintf (stderr, "blkreplay: connection %" PRIu64 ": %s\n",
                   conns[i].id, nbd_get_error ());
          status = EXIT_USAGE;
          goto out;
        }
      }
    }
    if (progress) {
      t = blk_mono_ns ();
      if (t - last_progress >= 250000000) {
        fprintf (stderr, "\rblkreplay: %zu/%zu requests (%zu%%), %" PRIu64
                 " mismatches ", completed, log_.nreqs,
                 log_.nreqs ? completed * 100 / log_.nreqs : 100, mismatches);
        last_progress = t;
      }
    }
  }
  check_done ();
  elapsed = blk_mono_ns () - start;
  if (progress)
    fprintf (stderr, "\r%60s\r", "");

  /* Everything completed: now disconnect cleanly. */
  for (i = 0; i < nconns; i++) {
    nbd_shutdown (conns[i].nbd, 0);
    nbd_close (conns[i].nbd);
    conns[i].nbd = NULL;
  }

  status = mismatches ? EXIT_MISMATCH : 0;
  if (json) {
    printf ("{\"log\":\"%s\",\"requests\":%zu,\"connections\":%zu,"
            "\"elapsed_ns\":%" PRIu64 ",\"requests_per_second\":%.1f,"
            "\"verified_reads\":%" PRIu64 ",\"unverifiable_reads\":%"
            PRIu64 ",\"imported_reads\":%" PRIu64 ",\"skipped\":%" PRIu64
            ",\"mismatches\":%" PRIu64, path, log_.nreqs, nconns, elapsed,
            elapsed ? (double) log_.nreqs * 1e9 / (double) elapsed : 0.0,
            verified_reads, unverifiable_reads, imported_reads, skipped,
            mismatches);
    if (mismatches) {
      printf (",\"first_mismatch\":{\"id\":%" PRIu64 ",\"message\":\"",
              first_bad_id);
      for (const char *p = first_bad; *p; p++)
        if (*p == '"' || *p == '\\')
          printf ("\\%c", *p);
        else
          putchar (*p);
      printf ("\"}");
    }
    printf ("}\n");
  }
  else {
    printf ("blkreplay: replayed %zu requests on %zu connection%s in %s "
            "(%.0f requests/s)\n", log_.nreqs, nconns, nconns == 1 ? "" : "s",
            tl_dur (elapsed, b1, sizeof b1),
            elapsed ? (double) log_.nreqs * 1e9 / (double) elapsed : 0.0);
    for (i = 0; i < BLKLOG_OP__MAX; i++)
      if (op_count[i])
        printf ("  %-8s %8" PRIu64 "  %s\n", blklog_op_name ((unsigned) i),
                op_count[i], i == BLKLOG_FLUSH ? "" :
                tl_size (op_bytes[i], b2, sizeof b2));
    printf ("  verified reads %" PRIu64 ", unverifiable reads (of "
            "unrecorded writes) %" PRIu64 ", skipped (unsupported by the "
            "server) %" PRIu64 ", mismatches %" PRIu64 "\n",
            verified_reads, unverifiable_reads, skipped, mismatches);
    if (log_imported)
      printf ("  reads (not verifiable: imported) %" PRIu64 "\n",
              imported_reads);
    print_histogram (stdout);
  }
  fflush (stdout);
  if (mismatches)
    fprintf (stderr, "blkreplay: FAILED: %" PRIu64 " mismatch%s; first "
             "mismatch: %s\n", mismatches, mismatches == 1 ? "" : "es",
             first_bad);

 out:
  /* On an error: the connections still open, and the requests they
   * still had in flight (libnbd does not call their completion).
   */
  for (i = 0; conns && i < nconns; i++)
    if (conns[i].nbd)
      nbd_close (conns[i].nbd);
  inflight_head = done_head = free_slots = NULL;
  for (i = 0; i < all_slots.len; i++) {
    free (all_slots.ptr[i]->buf);
    free (all_slots.ptr[i]);
  }
  slot_vector_reset (&all_slots);
  free (rconn);
  rconn = NULL;
  /* Reset for another call (the fuzz target runs many). */
  free (by_id);
  free (corder);
  free (need);
  free (cpos);
  free (cdone);
  free (conns);
  free (fds);
  by_id = NULL;
  need = NULL;
  cpos = NULL;
  cdone = NULL;
  conns = NULL;
  free (unver);
  unver = NULL;
  any_extents = 0;
  tl_free (&log_);
  imported_reads = 0;
  log_imported = 0;
  return status;
}
