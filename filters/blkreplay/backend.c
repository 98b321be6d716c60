/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk blkreplay: blkreplay-layer=backend.
 *
 * The filter subscribes to the hook as an observer and records the
 * plugin's I/O on its image file (io->file == BLK_HOOK_FILE_IMAGE):
 * the qcow2 plugin's preads, pwrites and fdatasyncs of the qcow2 file,
 * at offsets in that file.  A request record per I/O, with the id taken
 * at io_begin, the hub's start/end times as submit/complete, appended
 * at io_end: so the log is in completion order and the crash model's
 * rule (a write is durable at a flush iff it completed before the
 * flush was submitted) applies to the file unchanged.
 *
 * I/O on the other files (a backing file: read-only; a qcow2 external
 * data file) is counted and not recorded: a log models one file.
 *
 * Callbacks run on the plugin's threads, possibly under its locks (the
 * qcow2 plugin's meta_lock, docs/hook.md): recorder_append stores the
 * record into the mapped log (and with sync=always waits for its
 * fdatasync), which stalls the plugin for that long.  That is the
 * price of "never acknowledge what the log may have lost", the
 * filter's rule in both layers.
 *
 * State: cfg and hash_fn (written by backend_start before subscribing,
 * read-only afterwards), hook_handle (idem), the counters (atomics), cur_conn
 * (thread-local: the request the thread serves).
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-filter.h>

#include "backend.h"
#include "blk-hook.h"
#include "recorder.h"
#include "replaylog.h"

/* -D blkreplay.verbose=1 (blkreplay.c). */
extern int blkreplay_debug_verbose;

static struct backend_config cfg;
static blklog_hash_fn *hash_fn;         /* cfg.hash_alg, resolved */
static int hook_handle = -1;
static uint64_t export_size;            /* for the header */
static uint64_t nrecorded, nother;      /* atomic */
static __thread uint64_t cur_conn;

/* What io_begin keeps for io_end (io->priv[hook_handle]). */
struct bk_io {
  uint64_t id;                  /* the first of nids */
  uint64_t nids;
  uint64_t conn;
};

/* The longest record the format accepts (replaylog.h): bigger I/Os are
 * recorded as several records with the same times, which the crash
 * model treats exactly as the one I/O.
 */
static uint64_t
chunk_max (unsigned op)
{
  return op == BLKLOG_READ || op == BLKLOG_WRITE ? BLKLOG_IO_MAX
    : UINT64_C (1) << 31;
}

static uint64_t
nchunks (const struct blk_hook_io *io)
{
  uint64_t m = chunk_max (io->op);

  return io->length == 0 ? 1 : (io->length + m - 1) / m;
}

void
backend_set_conn (uint64_t conn)
{
  cur_conn = conn;
}

static int
backend_io_begin (void *opaque, struct blk_hook_io *io)
{
  int h = __atomic_load_n (&hook_handle, __ATOMIC_ACQUIRE);
  struct bk_io *b;
  int lerr;

  /* The hub may call us between publishing the slot and our storing
   * its number: such an I/O (none in practice: no request runs before
   * .after_fork returns) is not recorded.
   */
  if (h < 0)
    return 0;
  if (io->file != BLK_HOOK_FILE_IMAGE || (unsigned) io->op >= BLKLOG_OP__MAX) {
    __atomic_add_fetch (&nother, 1, __ATOMIC_RELAXED);
    return 0;
  }
  lerr = recorder_failed ();
  if (lerr) {
    /* The log failed: with blkreplay-on-error=fail the plugin's I/O
     * fails too (the client sees the error), else it runs unrecorded.
     */
    cfg.report_loss (__atomic_load_n (cfg.next_id, __ATOMIC_RELAXED) + 1);
    return cfg.on_error_fail ? lerr : 0;
  }
  b = malloc (sizeof *b);
  if (b == NULL)
    /* Never an unrecorded write that looks recorded: fail it. */
    return cfg.on_error_fail ? ENOMEM : 0;
  b->nids = nchunks (io);
  b->id = __atomic_add_fetch (cfg.next_id, b->nids, __ATOMIC_RELAXED)
    - b->nids + 1;
  b->conn = cur_conn;
  io->priv[h] = b;
  return 0;
}

static void
backend_io_end (void *opaque, struct blk_hook_io *io)
{
  int h = __atomic_load_n (&hook_handle, __ATOMIC_ACQUIRE);
  struct bk_io *b = h >= 0 ? io->priv[h] : NULL;
  const unsigned char *buf = io->buf;
  uint64_t m, k, done = 0;
  struct blklog_record rec;

  if (b == NULL)
    return;
  io->priv[h] = NULL;
  memset (&rec, 0, sizeof rec);
  rec.type = BLKLOG_REQUEST;
  rec.conn = b->conn;
  rec.op = (uint8_t) io->op;
  rec.flags = io->flags & BLK_HOOK_F_FUA ? BLKLOG_F_FUA : 0;
  rec.submit_ns = io->start_ns > cfg.base_ns ? io->start_ns - cfg.base_ns : 0;
  rec.complete_ns = io->end_ns > cfg.base_ns ? io->end_ns - cfg.base_ns : 0;
  if (rec.complete_ns < rec.submit_ns)
    rec.complete_ns = rec.submit_ns;
  rec.error = (uint32_t) io->result;
  m = chunk_max (io->op);
  for (k = 0; k < b->nids; k++) {
    uint64_t len = io->length - done < m ? io->length - done : m;
    const unsigned char *p = buf ? buf + done : NULL;

    rec.id = b->id + k;
    rec.offset = io->offset + done;
    rec.length = len;
    rec_set_payload (&rec, cfg.data_mode, hash_fn,
                     io->op == BLK_IO_WRITE ? p : NULL,
                     io->op == BLK_IO_READ && io->result == 0 ? p : NULL, len);
    if (blkreplay_debug_verbose)
      nbdkit_debug ("blkreplay: backend #%" PRIu64 " conn %" PRIu64 " %s %"
                    PRIu64 "+%" PRIu64 " -> %d", rec.id, rec.conn,
                    blklog_op_name (rec.op), rec.offset, rec.length,
                    (int) rec.error);
    if (recorder_append (&rec, export_size) == -1) {
      /* Said once; the client requests after this one fail
       * (blkreplay-on-error=fail: blkreplay.c checks after next->OP).
       */
      cfg.report_loss (rec.id);
      break;
    }
    __atomic_add_fetch (&nrecorded, 1, __ATOMIC_RELAXED);
    done += len;
  }
  free (b);
}

int
backend_start (const struct backend_config *c)
{
  struct blk_hook_subscriber sub = {
    .name = "blkreplay",
    .io_begin = backend_io_begin,
    .io_end = backend_io_end,
    .role = BLK_HOOK_OBSERVER,
  };
  int h;

  cfg = *c;
  hash_fn = blklog_payload_hash_fn (cfg.hash_alg);
  /* The header's export_size: the image file's size when the plugin
   * opened it (what a copy taken before nbdkit started holds).  0 if
   * the plugin does not publish it.
   */
  if (blk_hook_file_size (BLK_HOOK_FILE_IMAGE, &export_size) == -1)
    export_size = 0;
  h = blk_hook_subscribe (&sub);
  __atomic_store_n (&hook_handle, h, __ATOMIC_RELEASE);
  if (h == -1) {
    nbdkit_error ("blkreplay: blkreplay-layer=backend: the hook table is "
                  "full (%d subscribers: too many filters using the hook)",
                  BLK_HOOK_MAX_SUBSCRIBERS);
    return -1;
  }
  return 0;
}

void
backend_stop (void)
{
  int h = __atomic_exchange_n (&hook_handle, -1, __ATOMIC_ACQ_REL);

  if (h >= 0)
    blk_hook_unsubscribe (h);
}

uint64_t
backend_export_size (void)
{
  return export_size;
}

void
backend_counts (uint64_t *recorded, uint64_t *other_files)
{
  *recorded = __atomic_load_n (&nrecorded, __ATOMIC_RELAXED);
  *other_files = __atomic_load_n (&nother, __ATOMIC_RELAXED);
}
