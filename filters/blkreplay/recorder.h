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
  size_t queue_bytes;           /* bound of the in-memory queue */
  uint32_t data_mode;           /* enum blklog_data, for the header */
  const char *creator;
};

/* Creates/truncates the log file.  -1 with errno set. */
extern int recorder_open (const struct recorder_config *cfg);
/* Starts the writer thread (after nbdkit forked).  -1 with errno. */
extern int recorder_start (void);
/* Queues R for the log, blocking while the queue is full (and, with
 * sync=always, until R is durable).  Sets the export size of the
 * header if no record was queued yet.  -1 with errno if the log
 * cannot be written: recording never drops a record silently.
 */
extern int recorder_append (const struct blklog_record *r,
                            uint64_t export_size);
/* Drains the queue, syncs (unless sync=none), joins and closes. */
extern void recorder_stop (void);

/* The errno that stopped the log writer, or 0. */
extern int recorder_failed (void);

/* Counters for the debug summary. */
extern void recorder_counts (uint64_t *records, uint64_t *bytes,
                             uint64_t *waits);

#endif /* BLKREPLAY_RECORDER_H */
