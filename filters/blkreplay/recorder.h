/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk blkreplay: the log writer of record mode (recorder.c). */
#ifndef BLKREPLAY_RECORDER_H
#define BLKREPLAY_RECORDER_H

#include <stddef.h>
#include <stdint.h>

#include "replaylog.h"

enum rec_sync { REC_SYNC_NONE, REC_SYNC_INTERVAL, REC_SYNC_ALWAYS };

struct recorder_config {
  const char *path;
  enum rec_sync sync;
  uint64_t interval_ns;         /* REC_SYNC_INTERVAL */
  size_t queue_bytes;           /* blkreplay-queue: the preallocation
                                 * chunk and mapping window */
  uint32_t data_mode;           /* enum blklog_data, for the header */
  uint8_t hash_alg;             /* enum blklog_hash, for the header */
  uint8_t layer;                /* enum blklog_layer, for the header */
  const char *creator;
};

/* The payload of a request record R of LEN bytes, by DATA_MODE (enum
 * blklog_data): a write (WBUF) keeps its hash, and its data with
 * "full"; a successful read (RBUF, NULL if it failed) keeps its hash.
 * The one place that decides it, for client requests (blkreplay.c) and
 * the plugin's file I/O (backend.c) alike.  HASH is the log's hash_alg
 * resolved once (blklog_payload_hash_fn).
 */
static inline void
rec_set_payload (struct blklog_record *r, uint32_t data_mode,
                 blklog_hash_fn *hash, const void *wbuf, const void *rbuf,
                 uint64_t len)
{
  r->payload = BLKLOG_PAYLOAD_NONE;
  r->hash = 0;
  r->data = NULL;
  if (data_mode == BLKLOG_DATA_NONE)
    return;
  if (wbuf) {
    r->hash = hash (wbuf, len);
    if (data_mode == BLKLOG_DATA_FULL) {
      r->payload = BLKLOG_PAYLOAD_DATA;
      r->data = wbuf;
    }
    else
      r->payload = BLKLOG_PAYLOAD_HASH;
  }
  else if (rbuf) {
    r->hash = hash (rbuf, len);
    r->payload = BLKLOG_PAYLOAD_HASH;
  }
}

/* Creates/truncates the log file, which must be a regular file (it is
 * mapped): ENOTSUP if it is not.  -1 with errno set.
 */
extern int recorder_open (const struct recorder_config *cfg);
/* Starts the writer thread (after nbdkit forked).  -1 with errno. */
extern int recorder_start (void);
/* Stores R into the log's mapping and returns (with sync=always: once
 * an fdatasync after the store completed).  Sets the export size of
 * the header if no record was queued yet.  -1 with errno if R did not
 * reach the log (recorder_loss says what was lost): recording never
 * drops a record silently.  A request record without payload data
 * (R->payload BLKLOG_PAYLOAD_NONE or BLKLOG_PAYLOAD_HASH, R->id not 0)
 * that fits in the mapped space is encoded straight into the mapping
 * under the store lock alone (recorder.c, Locks), its CRC32C a fixed
 * sequence of crc32 instructions where the CPU has SSE4.2: the same
 * bytes as the general way.
 */
extern int recorder_append (const struct blklog_record *r,
                            uint64_t export_size);
/* Appends the mark record R as recorder_append does (so every request
 * record stored before it precedes it in the file) and
 * sets *SEQ to the number of request records before it.  -1 with
 * errno ENODATA if nothing was recorded yet (the header, which needs
 * the first connection's export size, is not written), or as
 * recorder_append.
 */
extern int recorder_mark (const struct blklog_record *r, uint64_t *seq);

/* fdatasyncs the log; returns once every record stored before the call
 * is durable.  -1 with errno if the log has failed (or fails now: a
 * failed fdatasync fails the log as the writer's own would).  Not
 * after recorder_stop.
 */
extern int recorder_sync (void);

struct recorder_status {
  uint64_t records;             /* whole records in the file */
  uint64_t requests;            /* request records queued in all */
  uint64_t bytes;               /* bytes in the file */
  uint64_t durable;             /* bytes known synced */
  uint64_t allocated;           /* bytes of the file (preallocated) */
  uint64_t lost;                /* records refused after a failure */
  int err;                      /* errno that stopped the log, or 0 */
  int sync_failed;
  uint64_t first_lost_id;
  int started;                  /* the header is stored */
};
extern void recorder_status (struct recorder_status *s);

/* Cuts the preallocated space off, syncs (unless sync=none), joins the
 * writer thread and closes.
 */
extern void recorder_stop (void);

/* The errno that stopped the log writer, or 0.  Lock-free: an inline
 * atomic load, not a call (the request path asks on every request).
 */
extern int rec_failed;
static inline int
recorder_failed (void)
{
  return __atomic_load_n (&rec_failed, __ATOMIC_ACQUIRE);
}

/* What the failure of the log lost. */
struct recorder_loss {
  int err;                      /* errno of the failed extension/mapping
                                 * or fdatasync */
  int sync_failed;              /* fdatasync failed (else extension) */
  uint64_t first_lost_id;       /* first request record lost, 0: none */
};
/* 1 and *L if the log failed, else 0. */
extern int recorder_loss (struct recorder_loss *l);

/* Counters for the summary: records and bytes in the file, records
 * refused after the log failed (lost).
 */
extern void recorder_counts (uint64_t *records, uint64_t *bytes,
                             uint64_t *lost);

#endif /* BLKREPLAY_RECORDER_H */
