/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: nbdkit-blkreplay-filter.so, records the requests that
 * pass through it into a binary log (docs/blkreplay-format.md), or
 * replays such a log against a client re-issuing the same workload.
 *
 * Thread model: parallel (the filter adds no restriction; replay mode
 * holds requests back to complete them in the recorded order, which
 * needs them to run in parallel).  Shared state and what guards it:
 * - configuration globals: written in .config/.config_complete only,
 *   read-only afterwards;
 * - next_id, next_conn: atomic counters (request ids are taken at
 *   submission, before the request runs);
 * - the log's mapping and counters: recorder.c, under its q_lock;
 * - the replay matching and ordering state: replayer.c, under rp_lock;
 * - blkreplay-layer=backend: the hook observer, backend.c (its own
 *   state comment); requests only set its thread-local connection;
 * - the control socket (blkreplay-control=): the control library's own
 *   lock; ctl and ctl_info are set before it starts, read-only after;
 *   its commands (control-cmds.c) touch the recorder, under q_lock;
 * - per-connection handles: owned by their connection.
 *
 * Errors name what is at fault first: the parameter ("blkreplay-data:
 * unknown value ...", "blkreplay-log: cannot create ..." for the log
 * file), otherwise the filter ("blkreplay: ...").
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <nbdkit-filter.h>

#include "backend.h"
#include "blkaes64.h"
#include "cleanup.h"
#include "clock-ns.h"
#include "control-cmds.h"
#include "crc32c.h"
#include "errstr.h"
#include "duration.h"
#include "enum-param.h"
#include "recorder.h"
#include "replayer.h"
#include "replaylog.h"

/* -D blkreplay.verbose=1: a debug line per recorded request. */
NBDKIT_DLL_PUBLIC int blkreplay_debug_verbose = 0;

enum mode { MODE_RECORD, MODE_REPLAY };
/* blkreplay-layer: what is recorded, the client's requests or the
 * plugin's own I/O on its image file (backend.c).
 */
enum layer { LAYER_NBDKIT, LAYER_BACKEND };

/* Configuration (read-only after .config_complete). */
static enum mode mode = MODE_RECORD;
static enum layer layer = LAYER_NBDKIT;
static char *log_path;
static uint32_t data_mode = BLKLOG_DATA_HASH;
static int hash_choice = -1;            /* blkreplay-hash=; -1: auto */
static unsigned hash_alg;               /* what payloads are hashed with */
static blklog_hash_fn *hash_fn;         /* hash_alg's function on this CPU */
static enum rec_sync sync_mode = REC_SYNC_INTERVAL;
static uint64_t sync_interval_ns = UINT64_C (1000000000);
static int64_t queue_bytes = 16 << 20;
static int divergence_fail = 1;
static int on_error_fail = 1;           /* blkreplay-on-error=fail */
static uint64_t order_timeout_ns = UINT64_C (5000000000);
static char *control_path;              /* blkreplay-control= */
static struct blk_ctl *ctl;
static struct br_control_info ctl_info;

static uint64_t base_ns;                /* time 0 of the log */
static uint64_t next_id, next_conn;     /* atomic */
static int log_opened;
static int loss_reported;               /* atomic: the loss was reported */
/* How many times nbdkit loaded this filter (.load runs once per
 * --filter=blkreplay, in nbdkit's main thread, before any other
 * callback): a process loads a module once, so instances would share
 * every global above.
 */
static int instances;

struct handle {
  uint64_t conn;
  uint64_t size;
  char *exportname;
};

/* ---- configuration ---- */

static const struct blk_enum_name modes[] = {
  { "record", MODE_RECORD }, { "replay", MODE_REPLAY }, { NULL, 0 },
};
static const struct blk_enum_name layers[] = {
  { "nbdkit", LAYER_NBDKIT }, { "backend", LAYER_BACKEND }, { NULL, 0 },
};
static const struct blk_enum_name data_modes[] = {
  { "none", BLKLOG_DATA_NONE }, { "hash", BLKLOG_DATA_HASH },
  { "full", BLKLOG_DATA_FULL }, { NULL, 0 },
};
static const struct blk_enum_name hash_choices[] = {
  { "auto", -1 }, { "blkaes64", BLKLOG_HASH_BLKAES64 },
  { "blkhash64", BLKLOG_HASH_BLKHASH64 }, { "xxh3", BLKLOG_HASH_XXH3 },
  { NULL, 0 },
};
static const struct blk_enum_name sync_modes[] = {
  { "none", REC_SYNC_NONE }, { "interval", REC_SYNC_INTERVAL },
  { "always", REC_SYNC_ALWAYS }, { NULL, 0 },
};
/* blkreplay-on-error= and blkreplay-divergence=: 1 = fail. */
static const struct blk_enum_name on_error_modes[] = {
  { "fail", 1 }, { "passthrough", 0 }, { NULL, 0 },
};
static const struct blk_enum_name divergence_modes[] = {
  { "fail", 1 }, { "warn", 0 }, { NULL, 0 },
};

static int
blkreplay_config (nbdkit_next_config *next, nbdkit_backend *nxdata,
                  const char *key, const char *value)
{
  char why[256];
  int v;

  if (strcmp (key, "blkreplay-mode") == 0) {
    if (blk_parse_enum (key, value, modes, &v, why, sizeof why) == -1)
      goto bad_enum;
    mode = v;
    return 0;
  }
  if (strcmp (key, "blkreplay-layer") == 0) {
    if (blk_parse_enum (key, value, layers, &v, why, sizeof why) == -1)
      goto bad_enum;
    layer = v;
    return 0;
  }
  if (strcmp (key, "blkreplay-log") == 0) {
    free (log_path);
    log_path = nbdkit_absolute_path (value);
    return log_path == NULL ? -1 : 0;
  }
  if (strcmp (key, "blkreplay-control") == 0) {
    free (control_path);
    control_path = nbdkit_absolute_path (value);
    return control_path == NULL ? -1 : 0;
  }
  if (strcmp (key, "blkreplay-data") == 0) {
    if (blk_parse_enum (key, value, data_modes, &v, why, sizeof why) == -1)
      goto bad_enum;
    data_mode = (uint32_t) v;
    return 0;
  }
  if (strcmp (key, "blkreplay-hash") == 0) {
    if (blk_parse_enum (key, value, hash_choices, &v, why, sizeof why) == -1)
      goto bad_enum;
    hash_choice = (int) v;
    return 0;
  }
  if (strcmp (key, "blkreplay-sync") == 0) {
    if (blk_parse_enum (key, value, sync_modes, &v, why, sizeof why) == -1)
      goto bad_enum;
    sync_mode = v;
    return 0;
  }
  if (strcmp (key, "blkreplay-sync-interval") == 0 ||
      strcmp (key, "blkreplay-order-timeout") == 0) {
    uint64_t *dst = strcmp (key, "blkreplay-sync-interval") == 0 ?
      &sync_interval_ns : &order_timeout_ns;
    if (blk_parse_duration (value, UINT64_C (1000000000), dst,
                            why, sizeof why) == -1) {
      nbdkit_error ("%s: cannot parse '%s': %s", key, value, why);
      return -1;
    }
    if (*dst < 1000000) {
      nbdkit_error ("%s: '%s' is too short (at least 1ms)", key, value);
      return -1;
    }
    return 0;
  }
  if (strcmp (key, "blkreplay-queue") == 0) {
    queue_bytes = nbdkit_parse_size (value);
    if (queue_bytes == -1) {
      nbdkit_error ("%s: cannot parse '%s' (a size, e.g. 16M)", key, value);
      return -1;
    }
    if (queue_bytes < 65536) {
      nbdkit_error ("%s: '%s' is too small (at least 64K)", key, value);
      return -1;
    }
    return 0;
  }
  if (strcmp (key, "blkreplay-on-error") == 0) {
    if (blk_parse_enum (key, value, on_error_modes, &on_error_fail,
                        why, sizeof why) == -1)
      goto bad_enum;
    return 0;
  }
  if (strcmp (key, "blkreplay-divergence") == 0) {
    if (blk_parse_enum (key, value, divergence_modes, &divergence_fail,
                        why, sizeof why) == -1)
      goto bad_enum;
    return 0;
  }
  if (strncmp (key, "blkreplay-", 10) == 0) {
    /* A typo must not reach the plugin, which may ignore it. */
    nbdkit_error ("%s: unknown blkreplay filter parameter (valid: "
                  "blkreplay-log, blkreplay-mode, blkreplay-data, "
                  "blkreplay-sync, blkreplay-sync-interval, blkreplay-queue, "
                  "blkreplay-on-error, blkreplay-divergence, "
                  "blkreplay-order-timeout, blkreplay-layer, blkreplay-control, "
                  "blkreplay-hash; see "
                  "nbdkit-blkreplay-filter(1))",
                  key);
    return -1;
  }
  return next (nxdata, key, value);

 bad_enum:
  /* blk_parse_enum's text names the key, the value and the words. */
  nbdkit_error ("%s", why);
  return -1;
}

static void
blkreplay_load (void)
{
  instances++;
}

static int
blkreplay_config_complete (nbdkit_next_config_complete *next,
                           nbdkit_backend *nxdata)
{
  if (instances > 1) {
    nbdkit_error ("blkreplay: the filter is loaded %d times (--filter="
                  "blkreplay given more than once): nbdkit loads a module "
                  "once per process, so the instances would share one log "
                  "and one state; use one --filter=blkreplay per nbdkit "
                  "process (chain processes to record at two places)",
                  instances);
    return -1;
  }
  if (log_path == NULL) {
    nbdkit_error ("blkreplay: blkreplay-log=FILE is required (the log to "
                  "write in record mode, to read in replay mode)");
    return -1;
  }
  hash_alg = hash_choice == -1 ? blklog_hash_default () : (unsigned) hash_choice;
  /* Resolved once: the request path calls it without a dispatch. */
  hash_fn = blklog_payload_hash_fn (hash_alg);
  if (hash_alg == BLKLOG_HASH_BLKAES64 && !blkaes64_hw ())
    /* It still works, with the portable AES round: the user asked. */
    nbdkit_debug ("blkreplay-hash=blkaes64: this CPU has no AES-NI+AVX, "
                  "payloads are hashed by the portable AES round (about "
                  "24,000 instructions per 4 KiB instead of 320)");
  if (layer == LAYER_BACKEND && mode == MODE_REPLAY) {
    nbdkit_error ("blkreplay-layer: 'backend' records the plugin's own I/O "
                  "on its image file, which cannot be replayed through the "
                  "filter (blkreplay-mode=replay re-issues client requests); "
                  "build the file's crash states with 'blkreplay crash' or "
                  "'blkreplay image' instead");
    return -1;
  }
  if (control_path) {
    ctl_info = (struct br_control_info) {
      .replay = mode == MODE_REPLAY, .path = log_path,
      .data_mode = data_mode, .base_ns = &base_ns,
    };
    ctl = br_control_new (&ctl_info);
    if (ctl == NULL) {
      nbdkit_error ("blkreplay-control: %m");
      return -1;
    }
  }
  return next (nxdata);
}

#define blkreplay_config_help \
  "blkreplay-log=FILE           The log (required).\n" \
  "blkreplay-mode=record|replay Record (default) or replay the log.\n" \
  "blkreplay-layer=nbdkit|backend  Record client requests (nbdkit) or\n" \
  "                             the plugin's image file I/O (backend).\n" \
  "blkreplay-data=none|hash|full  Payloads kept when recording (hash).\n" \
  "blkreplay-hash=auto|blkaes64|blkhash64|xxh3  The payload hash (auto).\n" \
  "blkreplay-sync=none|interval|always  Durability of the log (interval).\n" \
  "blkreplay-sync-interval=DURATION  For sync=interval (1s).\n" \
  "blkreplay-queue=SIZE         The log file grows in steps of SIZE (16M).\n" \
  "blkreplay-control=SOCKET     Control socket: mark NAME, status, sync\n" \
  "                             (see blkctl(1)).\n" \
  "blkreplay-on-error=fail|passthrough  When the log fails: fail requests (fail).\n" \
  "blkreplay-divergence=fail|warn  Replay: fail divergent requests (fail).\n" \
  "blkreplay-order-timeout=DURATION  Replay: longest wait for order (5s)."

/* ---- log failure ---- */

/* Says once, loudly, that the log failed and what it lost: the first
 * request without a record (ID_HINT if the lost records held no
 * request: the request that noticed) and what happens next.
 */
static void
report_loss (uint64_t id_hint)
{
  struct recorder_loss l;
  uint64_t first, n, bytes, lost;

  if (__atomic_exchange_n (&loss_reported, 1, __ATOMIC_ACQ_REL))
    return;
  if (!recorder_loss (&l)) {
    /* Not a write failure: shut down, or out of memory. */
    nbdkit_error ("blkreplay-log: request #%" PRIu64 " was not recorded in "
                  "'%s': %s", id_hint, log_path, blk_errstr (errno));
    return;
  }
  first = l.first_lost_id ? l.first_lost_id : id_hint;
  recorder_counts (&n, &bytes, &lost);
  nbdkit_error ("blkreplay-log: %s '%s' failed: %s; the log keeps its "
                "first %" PRIu64 " records (%" PRIu64 " bytes) and ends "
                "there; request #%" PRIu64 " is the first without a record; "
                "%s", l.sync_failed ? "syncing" : "writing", log_path,
                blk_errstr (l.err), n, bytes, first,
                on_error_fail ?
                "it and every later request fail "
                "(blkreplay-on-error=fail)" :
                "requests continue UNRECORDED (blkreplay-on-error=passthrough)");
}

/* ---- lifecycle ---- */

static int
blkreplay_get_ready (int thread_model)
{
  char why[768];

  base_ns = blk_mono_ns ();
  if (mode == MODE_REPLAY) {
    struct replay_config c = {
      .path = log_path,
      .divergence_fail = divergence_fail,
      .order_timeout_ns = order_timeout_ns,
    };
    if (replayer_load (&c, why, sizeof why) == -1) {
      nbdkit_error ("blkreplay-log: %s", why);
      return -1;
    }
  }
  else {
    struct recorder_config c = {
      .path = log_path,
      .sync = sync_mode,
      .interval_ns = sync_interval_ns,
      .queue_bytes = (size_t) queue_bytes,
      .data_mode = data_mode,
      .hash_alg = (uint8_t) hash_alg,
      .layer = layer == LAYER_BACKEND ? BLKLOG_LAYER_BACKEND
                                      : BLKLOG_LAYER_NBDKIT,
      .creator = "nbdkit-blkreplay-filter " PACKAGE_VERSION,
    };
    struct stat st;
    /* The recorder maps the log: a pipe, a device or a directory
     * cannot hold it.  (A path that does not exist yet is created.)
     */
    if (stat (log_path, &st) == 0 && !S_ISREG (st.st_mode)) {
      nbdkit_error ("blkreplay-log: '%s' is not a regular file (%s): "
                    "record mode maps its log, give the path of a file "
                    "(it is created or truncated)", log_path,
                    S_ISDIR (st.st_mode) ? "a directory" :
                    S_ISFIFO (st.st_mode) ? "a pipe" :
                    S_ISCHR (st.st_mode) ? "a character device" :
                    S_ISBLK (st.st_mode) ? "a block device" :
                    S_ISSOCK (st.st_mode) ? "a socket" : "not a file");
      return -1;
    }
    if (recorder_open (&c) == -1) {
      nbdkit_error ("blkreplay-log: cannot create '%s': %m", log_path);
      return -1;
    }
    log_opened = 1;
  }
  if (ctl && blk_ctl_listen (ctl, control_path) == -1) {
    nbdkit_error ("blkreplay-control: cannot listen on '%s': %m",
                  control_path);
    return -1;
  }
  return 0;
}

static int
blkreplay_after_fork (nbdkit_backend *backend)
{
  if (mode == MODE_RECORD && recorder_start () == -1) {
    nbdkit_error ("blkreplay: cannot start the log writer thread: %m");
    return -1;
  }
  /* After the writer: a command may use the recorder at once. */
  if (ctl && blk_ctl_start (ctl) == -1) {
    nbdkit_error ("blkreplay-control: cannot start the control thread: %m");
    return -1;
  }
  if (mode == MODE_RECORD && layer == LAYER_BACKEND) {
    /* Subscribed once the writer runs: a record appended before would
     * wait for a writer that does not exist yet.
     */
    struct backend_config c = {
      .base_ns = base_ns,
      .data_mode = data_mode,
      .hash_alg = hash_alg,
      .on_error_fail = on_error_fail,
      .next_id = &next_id,
      .report_loss = report_loss,
    };
    if (backend_start (&c) == -1)
      return -1;
  }
  return 0;
}

/* Closes the log: from .cleanup, or with blkreplay-layer=backend from
 * .unload, which nbdkit calls after the plugin's .cleanup, so that the
 * plugin's last write-back at shutdown (the qcow2 plugin's final
 * flush) is recorded too.
 */
static void
close_log (void)
{
  /* No command runs after this: sync uses the log's descriptor, which
   * recorder_stop closes.
   */
  if (ctl)
    blk_ctl_stop (ctl);
  if (mode == MODE_RECORD && log_opened) {
    uint64_t n, bytes, lost;
    recorder_stop ();
    recorder_counts (&n, &bytes, &lost);
    nbdkit_debug ("blkreplay: %" PRIu64 " records, %" PRIu64 " bytes "
                  "written to %s", n, bytes, log_path);
    if (recorder_failed ()) {
      report_loss (__atomic_load_n (&next_id, __ATOMIC_RELAXED) + 1);
      nbdkit_error ("blkreplay-log: '%s' holds %" PRIu64 " records (%"
                    PRIu64 " bytes); %" PRIu64 " records were refused",
                    log_path, n, bytes, lost);
    }
    log_opened = 0;
  }
}

static void
blkreplay_cleanup (nbdkit_backend *backend)
{
  if (mode == MODE_REPLAY)
    replayer_finish ();
  else if (layer == LAYER_NBDKIT)
    close_log ();
}

/* Runs once per instance (see instances): idempotent. */
static void
blkreplay_unload (void)
{
  if (mode == MODE_RECORD && layer == LAYER_BACKEND && log_opened) {
    uint64_t recorded, others;

    backend_stop ();
    backend_counts (&recorded, &others);
    close_log ();
    nbdkit_debug ("blkreplay: blkreplay-layer=backend: %" PRIu64 " I/Os on "
                  "the image file recorded, %" PRIu64 " on other files "
                  "(backing, data file) not recorded", recorded, others);
    if (recorded == 0)
      nbdkit_error ("blkreplay: warning: blkreplay-layer=backend, but the "
                    "plugin reported no I/O on its image file through the "
                    "hook: '%s' holds no I/O records (the plugin does not "
                    "use the nbdkit-blk hook, or served no request that "
                    "reached its file; the qcow2 plugin reports its I/O)",
                    log_path);
  }
  if (mode == MODE_REPLAY)
    replayer_free ();
  blk_ctl_free (ctl);
  ctl = NULL;
  free (control_path);
  control_path = NULL;
  free (log_path);
  log_path = NULL;
}

/* ---- connections ---- */

static void *
blkreplay_open (nbdkit_next_open *next, nbdkit_context *nxdata,
                int readonly, const char *exportname, int is_tls)
{
  struct handle *h;

  if (next (nxdata, readonly, exportname) == -1)
    return NULL;
  h = calloc (1, sizeof *h);
  if (h == NULL) {
    nbdkit_error ("blkreplay: out of memory");
    return NULL;
  }
  h->conn = __atomic_add_fetch (&next_conn, 1, __ATOMIC_RELAXED);
  h->exportname = strdup (exportname);
  if (h->exportname == NULL) {
    free (h);
    nbdkit_error ("blkreplay: out of memory");
    return NULL;
  }
  return h;
}

/* The header's export_size if the record about to be appended is the
 * first: the export's size, or with blkreplay-layer=backend the image
 * file's (the connection's if the plugin does not publish it).
 */
static uint64_t
header_size (const struct handle *h)
{
  if (layer == LAYER_BACKEND && backend_export_size ())
    return backend_export_size ();
  return h->size;
}

static int
blkreplay_prepare (nbdkit_next *next, void *handle, int readonly)
{
  struct handle *h = handle;
  struct blklog_record r;
  int64_t size = next->get_size (next);
  size_t nlen = strlen (h->exportname);

  if (size == -1)
    return -1;
  h->size = (uint64_t) size;
  if (mode != MODE_RECORD)
    return 0;
  memset (&r, 0, sizeof r);
  r.type = BLKLOG_CONN_OPEN;
  r.conn = h->conn;
  r.time_ns = blk_mono_ns () - base_ns;
  r.export_size = h->size;
  r.readonly = readonly != 0;
  r.name = h->exportname;
  r.name_len = (uint16_t) (nlen > BLKLOG_NAME_MAX ? BLKLOG_NAME_MAX : nlen);
  if (recorder_append (&r, header_size (h)) == -1) {
    report_loss (__atomic_load_n (&next_id, __ATOMIC_RELAXED) + 1);
    if (!on_error_fail)
      return 0;
    nbdkit_error ("blkreplay-log: cannot record connection %" PRIu64 ": %s",
                  h->conn, blk_errstr (errno));
    return -1;
  }
  return 0;
}

/* .finalize, not .close: nbdkit 1.32 does not call .close for the
 * connections still open when it shuts down, but it finalizes them
 * before .cleanup.
 */
static int
blkreplay_finalize (nbdkit_next *next, void *handle)
{
  struct handle *h = handle;

  if (mode == MODE_RECORD) {
    struct blklog_record r;
    memset (&r, 0, sizeof r);
    r.type = BLKLOG_CONN_CLOSE;
    r.conn = h->conn;
    r.time_ns = blk_mono_ns () - base_ns;
    if (!recorder_failed () && recorder_append (&r, header_size (h)) == -1)
      report_loss (__atomic_load_n (&next_id, __ATOMIC_RELAXED) + 1);
  }
  return 0;
}

static void
blkreplay_close (void *handle)
{
  struct handle *h = handle;

  free (h->exportname);
  free (h);
}

/* ---- the request path ---- */

static inline uint32_t
log_flags (unsigned op, uint32_t flags)
{
  uint32_t f = 0;

  if (flags & NBDKIT_FLAG_FUA)
    f |= BLKLOG_F_FUA;
  if (op == BLKLOG_ZERO && !(flags & NBDKIT_FLAG_MAY_TRIM))
    f |= BLKLOG_F_NO_HOLE;
  if (flags & NBDKIT_FLAG_FAST_ZERO)
    f |= BLKLOG_F_FAST_ZERO;
  if (flags & NBDKIT_FLAG_REQ_ONE)
    f |= BLKLOG_F_REQ_ONE;
  return f;
}

/* Record mode: the record of one finished request.  -1 with *ERR set
 * if it did not reach the log.
 */
__attribute__ ((always_inline))
static inline int
record_request (struct handle *h, uint64_t id, unsigned op, uint32_t flags,
                uint64_t offset, uint64_t length, uint64_t t0, int r,
                int *err, const void *rbuf, const void *wbuf)
{
  struct blklog_record rec;

  rec.type = BLKLOG_REQUEST;
  rec.id = id;
  rec.conn = h->conn;
  rec.op = (uint8_t) op;
  rec.flags = log_flags (op, flags);
  rec.offset = offset;
  rec.length = length;
  rec.submit_ns = t0;
  rec.complete_ns = blk_mono_ns () - base_ns;
  rec.error = r == -1 ? (uint32_t) (*err ? *err : EIO) : 0;
  rec_set_payload (&rec, data_mode, hash_fn, wbuf, r == 0 ? rbuf : NULL,
                   length);
  if (blkreplay_debug_verbose)
    nbdkit_debug ("blkreplay: #%" PRIu64 " conn %" PRIu64 " %s %" PRIu64
                  "+%" PRIu64 " -> %d", id, h->conn, blklog_op_name (op),
                  offset, length, (int) rec.error);
  if (recorder_append (&rec, h->size) == -1) {
    int e = errno;
    report_loss (id);
    if (on_error_fail)
      *err = e ? e : EIO;
    return -1;
  }
  return 0;
}

/* Replay mode: a request that was held back until its predecessor in
 * the recorded order completed is released when the predecessor leaves
 * the filter, but nbdkit sends each reply from its own worker thread
 * after the filter returns.  Pausing the released request briefly lets
 * the predecessor's reply reach the socket first, so that clients see
 * the recorded order on the wire too, not only in the filter (where
 * it is guaranteed; -D blkreplay.verbose=1 logs it).
 */
static void
settle (void)
{
  struct timespec ts = { .tv_sec = 0, .tv_nsec = 2000000 };

  nanosleep (&ts, NULL);
}

/* What request_begin decided (bits of its result, for the callback
 * and request_end).  Kept in a register, not in struct request: the
 * mode is decided once per request, and a flag stored in a structure
 * whose address escapes to the replayer costs loads and stores on
 * every request (measured with bench/bench-blkreplay.sh).
 */
#define REQ_RUN     1           /* call next->OP */
#define REQ_RECORD  2           /* record mode: write its record after */
#define REQ_REPLAY  4           /* replay mode: replayer_end after */
#define REQ_BACKEND 8           /* blkreplay-layer=backend: pass through */

/* One request on its way through the filter, between request_begin
 * and request_end.  Lives on the callback's stack.  The request itself
 * (op, flags, offset, length, buffers) is passed to both rather than
 * copied here, for the same reason.
 */
struct request {
  uint64_t id, t0;              /* record mode: id, submission time */
  struct replay_req rq;         /* replay mode */
};

/* The bookkeeping before next->OP, shared by the request callbacks.
 * The result has REQ_RUN if the callback is to call next->OP;
 * without it the request fails with *ERR (set here): the log failed
 * under blkreplay-on-error=fail, or the replay reproduces a recorded
 * error or refuses a divergent request.
 */
static inline unsigned
request_begin (struct handle *h, struct request *q, unsigned op,
               uint32_t flags, uint64_t offset, uint64_t length,
               const void *wbuf, int *err)
{
  if (mode == MODE_RECORD && layer == LAYER_BACKEND) {
    /* Not recorded: the plugin's I/O for it is (backend.c), with this
     * connection.  A failed log fails it as in the nbdkit layer.
     */
    int lerr = recorder_failed ();
    if (lerr && on_error_fail) {
      report_loss (__atomic_load_n (&next_id, __ATOMIC_RELAXED) + 1);
      *err = lerr;
      return 0;
    }
    backend_set_conn (h->conn);
    return REQ_RUN | REQ_BACKEND;
  }
  if (mode == MODE_RECORD) {
    int lerr;

    q->id = __atomic_add_fetch (&next_id, 1, __ATOMIC_RELAXED);
    q->t0 = blk_mono_ns () - base_ns;
    lerr = recorder_failed ();
    if (lerr) {
      /* The log failed: refuse (fail), or run unrecorded. */
      report_loss (q->id);
      if (on_error_fail) {
        *err = lerr;
        return 0;
      }
      return REQ_RUN;
    }
    return REQ_RUN | REQ_RECORD;
  }
  replayer_begin (&q->rq, h->conn, op, log_flags (op, flags), offset, length,
                  wbuf);
  if (q->rq.skip) {
    *err = q->rq.err;
    return REQ_REPLAY;
  }
  return REQ_RUN | REQ_REPLAY;
}

/* The bookkeeping after next->OP, for the same request and ACT as
 * request_begin.  R is what next->OP returned (-1 with *ERR if it
 * failed or was not called); RBUF is a read's buffer.  Returns what
 * the callback returns.
 */
static inline int
request_end (struct handle *h, struct request *q, unsigned act, unsigned op,
             uint32_t flags, uint64_t offset, uint64_t length,
             const void *rbuf, const void *wbuf, int r, int *err)
{
  if (act & REQ_BACKEND) {
    int lerr = recorder_failed ();
    backend_set_conn (0);
    /* Its file I/O may have missed the log: never acknowledged. */
    if (r == 0 && lerr && on_error_fail) {
      *err = lerr;
      r = -1;
    }
    return r;
  }
  if (act & REQ_RECORD) {
    if (record_request (h, q->id, op, flags, offset, length, q->t0, r, err,
                        rbuf, wbuf) == -1 &&
        on_error_fail)
      r = -1;                   /* not recorded: never acknowledged */
    return r;
  }
  if (act & REQ_REPLAY) {
    replayer_end (&q->rq, r == -1 ? *err : 0, r == 0 ? rbuf : NULL);
    if (q->rq.waited)
      settle ();
    if (r == 0 && q->rq.skip) {
      *err = q->rq.err;
      r = -1;
    }
  }
  return r;
}

/* Each callback: request_begin, next->OP if it says so, and
 * request_end decides what the client gets.
 */
static int
blkreplay_pread (nbdkit_next *next, void *handle, void *buf, uint32_t count,
                 uint64_t offset, uint32_t flags, int *err)
{
  struct request q;
  unsigned act;
  int r = -1;

  act = request_begin (handle, &q, BLKLOG_READ, flags, offset, count, NULL,
                       err);
  if (act & REQ_RUN)
    r = next->pread (next, buf, count, offset, flags, err);
  return request_end (handle, &q, act, BLKLOG_READ, flags, offset, count,
                      buf, NULL, r, err);
}

static int
blkreplay_pwrite (nbdkit_next *next, void *handle, const void *buf,
                  uint32_t count, uint64_t offset, uint32_t flags, int *err)
{
  struct request q;
  unsigned act;
  int r = -1;

  act = request_begin (handle, &q, BLKLOG_WRITE, flags, offset, count, buf,
                       err);
  if (act & REQ_RUN)
    r = next->pwrite (next, buf, count, offset, flags, err);
  return request_end (handle, &q, act, BLKLOG_WRITE, flags, offset, count,
                      NULL, buf, r, err);
}

static int
blkreplay_zero (nbdkit_next *next, void *handle, uint32_t count,
                uint64_t offset, uint32_t flags, int *err)
{
  struct request q;
  unsigned act;
  int r = -1;

  act = request_begin (handle, &q, BLKLOG_ZERO, flags, offset, count, NULL,
                       err);
  if (act & REQ_RUN)
    r = next->zero (next, count, offset, flags, err);
  return request_end (handle, &q, act, BLKLOG_ZERO, flags, offset, count,
                      NULL, NULL, r, err);
}

static int
blkreplay_trim (nbdkit_next *next, void *handle, uint32_t count,
                uint64_t offset, uint32_t flags, int *err)
{
  struct request q;
  unsigned act;
  int r = -1;

  act = request_begin (handle, &q, BLKLOG_TRIM, flags, offset, count, NULL,
                       err);
  if (act & REQ_RUN)
    r = next->trim (next, count, offset, flags, err);
  return request_end (handle, &q, act, BLKLOG_TRIM, flags, offset, count,
                      NULL, NULL, r, err);
}

static int
blkreplay_flush (nbdkit_next *next, void *handle, uint32_t flags, int *err)
{
  struct request q;
  unsigned act;
  int r = -1;

  act = request_begin (handle, &q, BLKLOG_FLUSH, flags, 0, 0, NULL, err);
  if (act & REQ_RUN)
    r = next->flush (next, flags, err);
  return request_end (handle, &q, act, BLKLOG_FLUSH, flags, 0, 0,
                      NULL, NULL, r, err);
}

static int
blkreplay_extents (nbdkit_next *next, void *handle, uint32_t count,
                   uint64_t offset, uint32_t flags,
                   struct nbdkit_extents *extents, int *err)
{
  struct request q;
  unsigned act;
  int r = -1;

  act = request_begin (handle, &q, BLKLOG_EXTENTS, flags, offset, count, NULL,
                       err);
  if (act & REQ_RUN)
    r = next->extents (next, count, offset, flags, extents, err);
  return request_end (handle, &q, act, BLKLOG_EXTENTS, flags, offset, count,
                      NULL, NULL, r, err);
}

static int
blkreplay_cache (nbdkit_next *next, void *handle, uint32_t count,
                 uint64_t offset, uint32_t flags, int *err)
{
  struct request q;
  unsigned act;
  int r = -1;

  act = request_begin (handle, &q, BLKLOG_CACHE, flags, offset, count, NULL,
                       err);
  if (act & REQ_RUN)
    r = next->cache (next, count, offset, flags, err);
  return request_end (handle, &q, act, BLKLOG_CACHE, flags, offset, count,
                      NULL, NULL, r, err);
}

static struct nbdkit_filter filter = {
  .name = "blkreplay",
  .longname = "nbdkit-blk blkreplay filter",
  .description = "record requests into a log, or replay a log",
  .load = blkreplay_load,
  .config = blkreplay_config,
  .config_complete = blkreplay_config_complete,
  .config_help = blkreplay_config_help,
  .get_ready = blkreplay_get_ready,
  .after_fork = blkreplay_after_fork,
  .cleanup = blkreplay_cleanup,
  .unload = blkreplay_unload,
  .open = blkreplay_open,
  .close = blkreplay_close,
  .prepare = blkreplay_prepare,
  .finalize = blkreplay_finalize,
  .pread = blkreplay_pread,
  .pwrite = blkreplay_pwrite,
  .zero = blkreplay_zero,
  .trim = blkreplay_trim,
  .flush = blkreplay_flush,
  .extents = blkreplay_extents,
  .cache = blkreplay_cache,
};

NBDKIT_REGISTER_FILTER (filter)
