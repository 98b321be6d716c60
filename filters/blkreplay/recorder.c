/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk blkreplay: the log writer of record mode.
 *
 * Request threads encode their record into an in-memory buffer under
 * q_lock; the buffer is written out in batches (double buffering: one
 * write(2) per batch, no allocation per request).
 *
 * Never acknowledge a request whose record may be lost: a request
 * returns only once the write(2) that carries its record has returned
 * (sync=none, interval) or the fdatasync(2) after it (sync=always).
 * Group commit, no per-request hand-off: with sync=none and interval
 * the request thread that finds nobody writing takes the buffer (its
 * record and every record queued meanwhile) and writes it itself;
 * requests arriving during that write queue the next batch and wait
 * for the writer of the current one (byte counters accepted, durable;
 * one broadcast per batch).  The writer thread syncs every interval,
 * takes the batches with sync=always (concurrent requests share one
 * fdatasync), and writes what is left at shutdown.
 *
 * Back-pressure, never drops: when the buffer holds queue_bytes, a
 * request thread waits on q_space until a batch writer has taken it.
 *
 * When a write fails (disk full, I/O error) the writer stops: it cuts
 * the file back to the last whole record it wrote (so the log reads
 * cleanly up to the failure), remembers the first record that did not
 * reach the file, and every request still waiting gets the error.
 *
 * Shared state, all guarded by q_lock: cur/cur_len/cur_cap (the buffer
 * being filled), spare (the writer's), appended/accepted/durable (byte
 * counters: queued, written, synced), file_end/synced, writing (one
 * batch writer at a time: it owns the taken buffer and file_end),
 * writer_timed, nrecords/nwritten, loss (what a failure lost),
 * done_waiters, header_done, failed, stop, closed, finished,
 * writer_idle, nrequests (request records queued: a mark's position),
 * space_waiters, cur_copiers/copy_waiters (big records are copied into
 * space reserved in cur with the lock dropped; nobody takes, moves or
 * frees cur while cur_copiers > 0).  failed is also read without the
 * lock (atomically) by recorder_failed, a hint for the request path.
 * The file descriptor is written by the thread that holds writing (and
 * by recorder_stop after the join); the writer thread's fdatasync may
 * run alongside.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "clock-ns.h"
#include "recorder.h"

static struct recorder_config cfg;
static int fd = -1;

/* Records at least this big (write payloads with blkreplay-data=full)
 * are copied into the queue with q_lock dropped, so that concurrent big
 * writes do not serialise on the copy.  Smaller ones are encoded under
 * the lock: a second lock round trip would cost more than the copy.
 */
#define REC_COPY_OUTSIDE 16384

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_data;       /* writer waits: data or stop */
static pthread_cond_t q_space;      /* producers wait: buffer taken */
static pthread_cond_t q_done;       /* accepted/durable advanced, failed */
static unsigned char *cur, *spare;
static size_t cur_len, cur_cap, spare_cap;
static uint64_t appended, accepted, durable;
static uint64_t file_end, synced;   /* the file's end, what was synced */
static uint64_t nrecords, nwritten, nwaits;
static uint64_t nrequests;          /* request records queued */
static unsigned done_waiters;       /* threads waiting on q_done */
static int header_done, failed, stop, writer_idle, running, closed;
static int finished;                /* recorder_stop wrote the rest */
static int writing;                 /* a thread is writing a batch */
static int writer_timed;            /* the writer sleeps with a deadline */
static unsigned cur_copiers;        /* records being copied into cur */
static int copy_waiters;            /* threads waiting for cur_copiers 0 */
static unsigned space_waiters;      /* producers waiting for a taken buffer */
static uint64_t header_size_val;
static struct recorder_loss loss;   /* valid when failed */
static pthread_t writer;

int
recorder_open (const struct recorder_config *c)
{
  pthread_condattr_t attr;

  cfg = *c;
  fd = open (cfg.path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
             0644);
  if (fd == -1)
    return -1;
  cur_cap = spare_cap = cfg.queue_bytes;
  cur = malloc (cur_cap);
  spare = malloc (spare_cap);
  if (cur == NULL || spare == NULL) {
    free (cur);
    free (spare);
    cur = spare = NULL;
    close (fd);
    fd = -1;
    errno = ENOMEM;
    return -1;
  }
  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (&q_data, &attr);
  pthread_condattr_destroy (&attr);
  pthread_cond_init (&q_space, NULL);
  pthread_cond_init (&q_done, NULL);
  return 0;
}

/* Writes all of P, or stops at the first error: *DONE is what reached
 * the file either way.  -1 with errno on error.
 */
static int
write_all (const unsigned char *p, size_t len, size_t *done)
{
  *done = 0;
  while (len > 0) {
    ssize_t n = write (fd, p, len);
    if (n == -1) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += n;
    len -= (size_t) n;
    *done += (size_t) n;
  }
  return 0;
}

/* A write of batch B (LEN bytes, starting at file offset START) stopped
 * after DONE bytes with errno ERR.  Keep the whole records of the
 * batch, cut the file there, and describe the first lost record.
 * Returns the file offset where the log now ends.  Called by the
 * writer (or recorder_stop) without q_lock: B is private to it.
 */
static uint64_t
batch_failed (const unsigned char *b, size_t len, uint64_t start,
              size_t done, int err, uint64_t *whole_records)
{
  size_t pos = 0, used;
  struct blklog_record r;
  char why[128];
  uint64_t end;

  *whole_records = 0;
  loss.err = err;
  loss.first_lost_id = 0;
  if (start == 0) {
    /* The batch begins with the header. */
    if (done < header_size_val)
      done = 0;
    pos = header_size_val;
  }
  while (pos < len &&
         blklog_parse_record (b + pos, len - pos, &r, &used,
                              why, sizeof why) == BLKLOG_OK) {
    if (pos + used > done) {
      /* Later records are lost too: find the first lost request. */
      if (r.type == BLKLOG_REQUEST && loss.first_lost_id == 0)
        loss.first_lost_id = r.id;
    }
    else
      (*whole_records)++;
    pos += used;
  }
  /* The end of the last whole record written. */
  pos = start == 0 ? (done ? header_size_val : 0) : 0;
  while (done > 0 && pos < done &&
         blklog_parse_record (b + pos, len - pos, &r, &used,
                              why, sizeof why) == BLKLOG_OK &&
         pos + used <= done)
    pos += used;
  end = start + pos;
  /* Best effort: a failed ftruncate leaves a truncated last record,
   * which readers report as such.
   */
  if (ftruncate (fd, (off_t) end) == -1)
    end = start + done;
  return end;
}

/* Takes the buffer being filled and writes it out (q_lock held on entry
 * and return, dropped meanwhile); with SYNC, fdatasyncs it too.  Only
 * one thread at a time writes (writing): the caller checked !writing
 * and cur_len > 0.  Publishes the new end of the file (accepted, and
 * durable after a sync) and wakes the waiters.  Returns the errno of a
 * failure (then failed is set), or 0.
 */
static int
write_batch_locked (int sync)
{
  unsigned char *b;
  size_t len, cap, done = 0;
  uint64_t batch_records, whole, bstart, end;
  int err = 0, sync_failed = 0;

  /* Records still being copied into cur: the buffer is not whole. */
  writing = 1;
  while (cur_copiers > 0) {
    copy_waiters++;
    pthread_cond_wait (&q_space, &q_lock);
    copy_waiters--;
  }
  b = cur;
  len = cur_len;
  cap = cur_cap;
  cur = spare;
  cur_cap = spare_cap;
  cur_len = 0;
  spare = NULL;
  batch_records = nrecords - nwritten;
  bstart = file_end;
  if (space_waiters)
    pthread_cond_broadcast (&q_space);
  pthread_mutex_unlock (&q_lock);

  end = bstart + len;
  if (write_all (b, len, &done) == -1) {
    err = errno;
    end = batch_failed (b, len, bstart, done, err, &whole);
    batch_records = whole;
  }
  /* sync=always syncs what reached the file even after a failed
   * write: those requests are then acknowledged.
   */
  if (sync && end > bstart && fdatasync (fd) == -1) {
    sync_failed = 1;
    if (!err) {
      /* Nothing of this batch is known durable: cut it off. */
      err = errno;
      end = batch_failed (b, len, bstart, 0, err, &whole);
      batch_records = whole;
      loss.sync_failed = 1;
    }
  }

  pthread_mutex_lock (&q_lock);
  spare = b;
  spare_cap = cap;
  writing = 0;
  file_end = end;
  nwritten += batch_records;
  accepted = end;
  if (sync && !sync_failed)
    durable = synced = end;
  if (err) {
    __atomic_store_n (&failed, err, __ATOMIC_RELEASE);
    pthread_cond_broadcast (&q_space);
  }
  if (done_waiters)
    pthread_cond_broadcast (&q_done);
  /* The writer thread syncs (interval) and drains (stop): tell it the
   * file changed if it sleeps without a deadline, or we stop.
   */
  if (writer_idle &&
      (stop || err || (cfg.sync == REC_SYNC_INTERVAL && !writer_timed)))
    pthread_cond_signal (&q_data);
  return err;
}

/* The writer thread: takes the batches with sync=always (a request
 * waits for the sync anyway, and concurrent requests share it); syncs
 * the log every interval with sync=interval; writes what is left when
 * recording stops.  With sync=none and interval, request threads write
 * their batches themselves (recorder_append): no thread hand-off.
 */
static void *
writer_thread (void *arg)
{
  uint64_t last_sync = blk_mono_ns ();

  pthread_mutex_lock (&q_lock);
  for (;;) {
    int sync_due = 0;

    for (;;) {
      uint64_t dl;
      int dirty = file_end > synced;
      if (failed)
        break;
      if (cur_len > 0 && !writing && (cfg.sync == REC_SYNC_ALWAYS || stop))
        break;
      if (stop && !writing && cur_len == 0)
        break;
      if (dirty && cfg.sync == REC_SYNC_INTERVAL && !writing &&
          blk_mono_ns () >= last_sync + cfg.interval_ns) {
        sync_due = 1;
        break;
      }
      writer_idle = 1;
      if (!(dirty && cfg.sync == REC_SYNC_INTERVAL))
        pthread_cond_wait (&q_data, &q_lock);
      else {
        struct timespec ts = { .tv_sec = 0, .tv_nsec = 0 };
        dl = last_sync + cfg.interval_ns;
        blk_timespec_add_ns (&ts, dl);
        writer_timed = 1;
        pthread_cond_timedwait (&q_data, &q_lock, &ts);
        writer_timed = 0;
      }
      writer_idle = 0;
    }
    if (failed)
      break;
    if (cur_len > 0 && !writing && (cfg.sync == REC_SYNC_ALWAYS || stop)) {
      if (write_batch_locked (cfg.sync == REC_SYNC_ALWAYS))
        break;
      continue;
    }
    if (sync_due ||
        (stop && !writing && cfg.sync != REC_SYNC_NONE && file_end > synced)) {
      /* fdatasync alongside request threads' writes: it covers at least
       * what was written before it started.
       */
      uint64_t end = file_end;
      int r;
      pthread_mutex_unlock (&q_lock);
      r = fdatasync (fd);
      last_sync = blk_mono_ns ();
      pthread_mutex_lock (&q_lock);
      if (r == -1) {
        loss.err = errno;
        loss.first_lost_id = 0;
        loss.sync_failed = 1;
        __atomic_store_n (&failed, loss.err, __ATOMIC_RELEASE);
        pthread_cond_broadcast (&q_space);
        pthread_cond_broadcast (&q_done);
        break;
      }
      synced = durable = end;
      continue;
    }
    if (stop && !writing && cur_len == 0)
      break;
  }
  pthread_mutex_unlock (&q_lock);
  return NULL;
}

int
recorder_start (void)
{
  int err = pthread_create (&writer, NULL, writer_thread, NULL);

  if (err) {
    errno = err;
    return -1;
  }
  running = 1;
  return 0;
}

static int
append_header_locked (uint64_t export_size)
{
  struct blklog_header h;
  size_t n;

  memset (&h, 0, sizeof h);
  h.export_size = export_size;
  h.created_ns = blk_real_ns ();
  h.data_mode = cfg.data_mode;
  h.version = BLKLOG_VERSION;
  h.hash_alg = cfg.hash_alg;            /* what the records are hashed with */
  h.layer = cfg.layer;
  strncpy (h.creator, cfg.creator, BLKLOG_CREATOR_MAX);
  n = blklog_header_size (&h);
  /* The buffer is empty before the header: it always fits. */
  cur_len += blklog_encode_header (cur + cur_len, &h);
  appended += n;
  header_size_val = n;
  header_done = 1;
  return 0;
}

/* recorder_append and recorder_mark.  MARK: refuse (ENODATA) rather
 * than write the header, and give the position in *SEQ.
 */
static int
append (const struct blklog_record *r, uint64_t export_size, int mark,
        uint64_t *seq)
{
  size_t n = blklog_record_size (r);
  uint64_t my_end;
  int was_empty;
  LOCK_GUARD (&q_lock);

  if (mark && !header_done) {
    errno = ENODATA;
    return -1;
  }
  if (!header_done) {
    n += BLKLOG_HEADER_FIXED + BLKLOG_CREATOR_MAX;
  }
  /* nbdkit may still run a request of a connection it did not close
   * while it shuts down: the log is already closed for it.
   */
  if (closed) {
    errno = ESHUTDOWN;
    return -1;
  }
  /* Back-pressure: wait until a batch writer took the buffer (or take
   * it: group commit, below).
   */
  while (!failed && !closed && cur_len > 0 && cur_len + n > cur_cap) {
    nwaits++;
    if (cfg.sync != REC_SYNC_ALWAYS && !writing && running && !stop) {
      write_batch_locked (0);
      continue;
    }
    pthread_cond_signal (&q_data);
    space_waiters++;
    pthread_cond_wait (&q_space, &q_lock);
    space_waiters--;
  }
  if (failed || closed) {
    errno = failed ? failed : ESHUTDOWN;
    return -1;
  }
  if (n > cur_cap) {
    /* One record larger than the whole queue (a huge write with
     * blkreplay-data=full): grow rather than refuse it.
     */
    unsigned char *b = realloc (cur, n);
    if (b == NULL) {
      errno = ENOMEM;
      return -1;
    }
    cur = b;
    cur_cap = n;
  }
  was_empty = cur_len == 0;
  if (!header_done)
    append_header_locked (export_size);
  n = blklog_record_size (r);
  if (n >= REC_COPY_OUTSIDE) {
    /* Reserve the space, copy without the lock.  cur cannot move or be
     * taken meanwhile: the writer and recorder_stop wait for
     * cur_copiers, and cur is only reallocated when empty.
     */
    unsigned char *dst = cur + cur_len;
    cur_len += n;
    cur_copiers++;
    pthread_mutex_unlock (&q_lock);
    blklog_encode_record (dst, r);
    pthread_mutex_lock (&q_lock);
    if (--cur_copiers == 0 && copy_waiters)
      pthread_cond_broadcast (&q_space);
  }
  else
    cur_len += blklog_encode_record (cur + cur_len, r);
  appended += n;
  nrecords++;
  /* Under the same lock hold as the encoding: the position is exactly
   * where the record sits in the queue, hence in the file.
   */
  if (seq)
    *seq = nrequests;
  if (r->type == BLKLOG_REQUEST)
    nrequests++;
  my_end = appended;
  if (cfg.sync == REC_SYNC_ALWAYS) {
    /* Wake the writer for the first record of a batch; later ones join
     * the batch it takes when it comes round.  Wait for the sync.
     */
    if (writer_idle && was_empty)
      pthread_cond_signal (&q_data);
    done_waiters++;
    while (!failed && !finished && durable < my_end)
      pthread_cond_wait (&q_done, &q_lock);
    done_waiters--;
  }
  else {
    /* Group commit: if nobody is writing, this thread writes the
     * buffer (its record and whatever joined it) itself; else it waits
     * for the batch in progress, then writes the next one if its
     * record is still queued.  One write(2) per batch, no hand-off.
     */
    while (!failed && !finished && accepted < my_end) {
      if (!writing && running && !stop && cur_len > 0) {
        write_batch_locked (0);
        continue;
      }
      done_waiters++;
      pthread_cond_wait (&q_done, &q_lock);
      done_waiters--;
    }
  }
  /* Acknowledge only what reached the file (or the disk). */
  if ((cfg.sync == REC_SYNC_ALWAYS ? durable : accepted) < my_end) {
    errno = failed ? failed : ESHUTDOWN;
    return -1;
  }
  return 0;
}

int
recorder_append (const struct blklog_record *r, uint64_t export_size)
{
  return append (r, export_size, 0, NULL);
}

int
recorder_mark (const struct blklog_record *r, uint64_t *seq)
{
  return append (r, 0, 1, seq);
}

int
recorder_sync (void)
{
  uint64_t target, end;
  int r, err;

  pthread_mutex_lock (&q_lock);
  target = appended;
  /* Drain: write what is queued (or wait for the batch being written),
   * as a request of sync=none would.
   */
  while (!failed && !closed && accepted < target) {
    if (!writing && running && !stop && cur_len > 0) {
      write_batch_locked (0);
      continue;
    }
    done_waiters++;
    pthread_cond_wait (&q_done, &q_lock);
    done_waiters--;
  }
  if (failed || closed || accepted < target) {
    err = failed ? failed : ESHUTDOWN;
    pthread_mutex_unlock (&q_lock);
    errno = err;
    return -1;
  }
  end = file_end;
  pthread_mutex_unlock (&q_lock);

  /* fd stays open: the filter stops the control socket before
   * recorder_stop.  A concurrent fdatasync of the writer is harmless.
   */
  r = fdatasync (fd);
  err = errno;

  pthread_mutex_lock (&q_lock);
  if (r == -1) {
    /* As when the writer's own sync fails: nothing is known durable,
     * the log has failed.
     */
    if (!failed) {
      loss.err = err;
      loss.first_lost_id = 0;
      loss.sync_failed = 1;
      __atomic_store_n (&failed, err, __ATOMIC_RELEASE);
      pthread_cond_broadcast (&q_space);
      pthread_cond_broadcast (&q_done);
    }
    pthread_mutex_unlock (&q_lock);
    errno = err;
    return -1;
  }
  if (synced < end)
    synced = end;
  if (durable < end) {
    durable = end;
    if (done_waiters)
      pthread_cond_broadcast (&q_done);
  }
  pthread_mutex_unlock (&q_lock);
  return 0;
}

void
recorder_status (struct recorder_status *s)
{
  LOCK_GUARD (&q_lock);
  s->records = nwritten;
  s->requests = nrequests;
  s->bytes = accepted;
  s->durable = durable;
  s->queue_used = cur_len;
  s->queue_bound = cfg.queue_bytes;
  s->waits = nwaits;
  s->pending = nrecords - nwritten;
  s->err = failed;
  s->sync_failed = failed ? loss.sync_failed : 0;
  s->first_lost_id = failed ? loss.first_lost_id : 0;
  s->started = header_done;
}

void
recorder_stop (void)
{
  uint64_t start;
  size_t done;

  if (fd == -1)
    return;
  if (running) {
    {
      LOCK_GUARD (&q_lock);
      /* A log without any connection still gets its header. */
      if (!header_done && !failed)
        append_header_locked (0);
      stop = 1;
      pthread_cond_signal (&q_data);
    }
    pthread_join (writer, NULL);
  }
  {
    /* Requests of connections nbdkit did not finalize may have queued
     * records after the writer left (or, never started: the header
     * alone): write them too, nothing is dropped.
     */
    LOCK_GUARD (&q_lock);
    if (!header_done && !failed)
      append_header_locked (0);
    while (cur_copiers > 0) {
      copy_waiters++;
      pthread_cond_wait (&q_space, &q_lock);
      copy_waiters--;
    }
    closed = 1;
    start = file_end;
    if (cur_len > 0 && !failed) {
      uint64_t records = nrecords - nwritten, whole;
      if (write_all (cur, cur_len, &done) == -1) {
        int err = errno;
        accepted = batch_failed (cur, cur_len, start, done, err, &whole);
        records = whole;
        __atomic_store_n (&failed, err, __ATOMIC_RELEASE);
      }
      else
        accepted = start + cur_len;
      file_end = accepted;
      nwritten += records;
    }
    cur_len = 0;
  }
  if (cfg.sync != REC_SYNC_NONE)
    fdatasync (fd);
  close (fd);
  fd = -1;
  {
    LOCK_GUARD (&q_lock);
    running = 0;
    finished = 1;
    durable = accepted;
    pthread_cond_broadcast (&q_space);
    pthread_cond_broadcast (&q_done);
    free (cur);
    free (spare);
    cur = spare = NULL;
  }
}

int
recorder_failed (void)
{
  return __atomic_load_n (&failed, __ATOMIC_ACQUIRE);
}

int
recorder_loss (struct recorder_loss *l)
{
  LOCK_GUARD (&q_lock);
  if (!failed)
    return 0;
  *l = loss;
  return 1;
}

void
recorder_counts (uint64_t *records, uint64_t *bytes, uint64_t *waits,
                 uint64_t *lost)
{
  LOCK_GUARD (&q_lock);
  *records = nwritten;
  *bytes = accepted;
  *waits = nwaits;
  *lost = nrecords - nwritten;
}
