/* nbdkit-blk blkreplay: the log writer of record mode.
 *
 * Why a writer thread: a request must not wait for the log file's
 * write(2), let alone fdatasync(2).  Request threads encode their
 * record into an in-memory buffer under q_lock and return; the writer
 * thread swaps that buffer for an empty one and writes it out with
 * the lock dropped (double buffering: one write per batch, no
 * allocation per request).
 *
 * Back-pressure, never drops: when the buffer holds queue_bytes, a
 * request thread waits on q_space until the writer has taken it.
 *
 * Shared state, all guarded by q_lock: cur/cur_len/cur_cap (the buffer
 * being filled), spare (the writer's), appended/durable (byte counters
 * for sync=always), header_done, failed, stop, closed, writer_idle,
 * cur_copiers/copy_waiters (big records are copied into space reserved
 * in cur with the lock dropped; nobody takes, moves or frees cur while
 * cur_copiers > 0).  The file
 * descriptor is used by the writer thread only (and by recorder_stop
 * after the join).
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
#include "recorder.h"

static struct recorder_config cfg;
static int fd = -1;

/* The longest a record waits in memory before the writer writes its
 * batch out (the log is not durable before its sync anyway).
 */
#define REC_BATCH_NS UINT64_C (20000000)

/* Records at least this big (write payloads with blkreplay-data=full)
 * are copied into the queue with q_lock dropped, so that concurrent big
 * writes do not serialise on the copy.  Smaller ones are encoded under
 * the lock: a second lock round trip would cost more than the copy.
 */
#define REC_COPY_OUTSIDE 16384

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_data;       /* writer waits: data or stop */
static pthread_cond_t q_space;      /* producers wait: buffer taken */
static pthread_cond_t q_durable;    /* sync=always: durable advanced */
static unsigned char *cur, *spare;
static size_t cur_len, cur_cap, spare_cap;
static uint64_t appended, durable;
static uint64_t nrecords, nwaits;
static int header_done, failed, stop, writer_idle, running, closed;
static unsigned cur_copiers;        /* records being copied into cur */
static int copy_waiters;            /* threads waiting for cur_copiers 0 */
static uint64_t header_size_val;
static pthread_t writer;

static uint64_t
mono_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

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
  pthread_cond_init (&q_durable, NULL);
  return 0;
}

static int
write_all (const unsigned char *p, size_t len)
{
  while (len > 0) {
    ssize_t n = write (fd, p, len);
    if (n == -1) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += n;
    len -= (size_t) n;
  }
  return 0;
}

/* Whether the writer should take the buffer now (q_lock held). */
static int
batch_ready (uint64_t t, uint64_t batch_deadline)
{
  if (cur_len == 0)
    return 0;
  return stop || cfg.sync == REC_SYNC_ALWAYS || cur_len >= cur_cap / 4 ||
    t >= batch_deadline;
}

static void *
writer_thread (void *arg)
{
  uint64_t last_sync = mono_ns (), written = 0, batch_deadline = UINT64_MAX;
  int dirty = 0;

  pthread_mutex_lock (&q_lock);
  for (;;) {
    unsigned char *b;
    size_t len, cap;
    int err = 0, sync_due = 0, stopping;

    /* Sleep until a batch is worth a write(2): the buffer is a
     * quarter full, or its first record waited REC_BATCH_NS, or
     * sync=always, or the log must be synced, or we stop.  Producers
     * signal only for the first record of a batch, so a request
     * normally costs no wake-up at all.
     */
    for (;;) {
      uint64_t t = mono_ns (), dl = UINT64_MAX;
      if (failed)
        break;
      if (cur_len > 0 && batch_deadline == UINT64_MAX)
        batch_deadline = t + REC_BATCH_NS;
      if (batch_ready (t, batch_deadline))
        break;
      if (dirty && cfg.sync == REC_SYNC_INTERVAL &&
          t >= last_sync + cfg.interval_ns) {
        sync_due = 1;
        break;
      }
      if (stop)
        break;
      if (cur_len > 0)
        dl = batch_deadline;
      if (dirty && cfg.sync == REC_SYNC_INTERVAL &&
          last_sync + cfg.interval_ns < dl)
        dl = last_sync + cfg.interval_ns;
      writer_idle = 1;
      if (dl == UINT64_MAX)
        pthread_cond_wait (&q_data, &q_lock);
      else {
        struct timespec ts = { .tv_sec = (time_t) (dl / 1000000000u),
                               .tv_nsec = (long) (dl % 1000000000u) };
        pthread_cond_timedwait (&q_data, &q_lock, &ts);
      }
      writer_idle = 0;
    }
    if (failed || (cur_len == 0 && stop && !dirty))
      break;
    /* Records still being copied into cur: the buffer is not whole. */
    while (cur_copiers > 0) {
      copy_waiters++;
      pthread_cond_wait (&q_space, &q_lock);
      copy_waiters--;
    }

    /* Take the filled buffer, hand back the empty one. */
    b = cur;
    len = cur_len;
    cap = cur_cap;
    cur = spare;
    cur_cap = spare_cap;
    cur_len = 0;
    spare = NULL;
    batch_deadline = UINT64_MAX;
    stopping = stop;
    pthread_cond_broadcast (&q_space);
    pthread_mutex_unlock (&q_lock);

    if (len > 0) {
      if (write_all (b, len) == -1)
        err = errno;
      dirty = cfg.sync != REC_SYNC_NONE;
    }
    if (!err && dirty &&
        (cfg.sync == REC_SYNC_ALWAYS || stopping || sync_due ||
         mono_ns () - last_sync >= cfg.interval_ns)) {
      if (fdatasync (fd) == -1)
        err = errno;
      last_sync = mono_ns ();
      dirty = 0;
    }
    written += len;

    pthread_mutex_lock (&q_lock);
    spare = b;
    spare_cap = cap;
    if (err) {
      failed = err;
      pthread_cond_broadcast (&q_space);
    }
    if (cfg.sync == REC_SYNC_ALWAYS || err) {
      durable = written;
      pthread_cond_broadcast (&q_durable);
    }
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
  {
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    h.created_ns = (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
  }
  h.data_mode = cfg.data_mode;
  strncpy (h.creator, cfg.creator, BLKLOG_CREATOR_MAX);
  n = blklog_header_size (&h);
  /* The buffer is empty before the header: it always fits. */
  cur_len += blklog_encode_header (cur + cur_len, &h);
  appended += n;
  header_size_val = n;
  header_done = 1;
  return 0;
}

int
recorder_append (const struct blklog_record *r, uint64_t export_size)
{
  size_t n = blklog_record_size (r);
  uint64_t my_end;
  int was_empty;
  LOCK_GUARD (&q_lock);

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
  /* Back-pressure: wait until the writer took the buffer. */
  while (!failed && !closed && cur_len > 0 && cur_len + n > cur_cap) {
    nwaits++;
    pthread_cond_signal (&q_data);
    pthread_cond_wait (&q_space, &q_lock);
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
  my_end = appended;
  /* Wake the writer for the first record of a batch (it then sleeps
   * until the batch deadline), a quarter-full buffer, or sync=always.
   */
  if (writer_idle &&
      (was_empty || cur_len >= cur_cap / 4 || cfg.sync == REC_SYNC_ALWAYS))
    pthread_cond_signal (&q_data);

  if (cfg.sync == REC_SYNC_ALWAYS) {
    while (!failed && durable < my_end)
      pthread_cond_wait (&q_durable, &q_lock);
    if (failed) {
      errno = failed;
      return -1;
    }
  }
  return 0;
}

void
recorder_stop (void)
{
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
    running = 0;
  }
  else if (!header_done) {
    /* Never forked/started (e.g. nbdkit --run failed early). */
    append_header_locked (0);
    if (write_all (cur, cur_len) == -1)
      failed = errno;
    cur_len = 0;
  }
  {
    /* Requests of connections nbdkit did not finalize may have queued
     * records after the writer left: write them too, nothing is
     * dropped.
     */
    LOCK_GUARD (&q_lock);
    while (cur_copiers > 0) {
      copy_waiters++;
      pthread_cond_wait (&q_space, &q_lock);
      copy_waiters--;
    }
    closed = 1;
    if (cur_len > 0 && !failed && write_all (cur, cur_len) == -1)
      failed = errno;
    cur_len = 0;
  }
  if (cfg.sync != REC_SYNC_NONE)
    fdatasync (fd);
  close (fd);
  fd = -1;
  {
    LOCK_GUARD (&q_lock);
    pthread_cond_broadcast (&q_space);
    free (cur);
    free (spare);
    cur = spare = NULL;
  }
}

int
recorder_failed (void)
{
  LOCK_GUARD (&q_lock);
  return failed;
}

void
recorder_counts (uint64_t *records, uint64_t *bytes, uint64_t *waits)
{
  LOCK_GUARD (&q_lock);
  *records = nrecords;
  *bytes = appended;
  *waits = nwaits;
}
