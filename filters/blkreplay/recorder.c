/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk blkreplay: the log writer of record mode.
 *
 * A request thread stores its record straight into a MAP_SHARED
 * mapping of the log file, under the store lock (see Locks below):
 * reserve the bytes at the tail, encode the record there, advance the
 * tail.  No system call, no wake-up, no allocation per request.
 *
 * Never acknowledge a request whose record may be lost: a store into a
 * shared file mapping is in the page cache the moment it is done, as
 * after write(2), so a record survives a crash (a kill) of nbdkit once
 * recorder_append returns; with sync=always it returns only once an
 * fdatasync(2) issued after the store completed (concurrent requests
 * share one: the first waiter syncs for everybody queued so far).
 *
 * Records are stored under s_lock, payloads (blkreplay-data=full)
 * included: the file never has a hole before a stored record, so after
 * a kill it is whole records, at most one torn record (the one being
 * stored, never acknowledged) and the zeros of the preallocated tail,
 * which readers take as the end of the log (docs/blkreplay-format.md).
 * Copying a payload with the lock dropped would let a later record be
 * acknowledged before an earlier reservation is filled (a hole before
 * it, where readers stop); keeping that out needs ordered completion
 * (more state, a wait) for no gain measured here.  A record with 4 KiB
 * or more of payload data is not copied into the mapping but written
 * with one pwritev(2) at the tail, still under q_lock: first stores
 * into fresh pages of a shared file mapping fault once per page, and
 * with the faults under the lock 4 KiB full-data writes ran at 22 MiB/s
 * against write(2)'s 28 (64 KiB and 1 MiB: 15% slower); with pwritev
 * they run as fast as before (docs/blkreplay-cost.md).  The page cache
 * is the same for both, so the mapping sees what pwritev wrote.
 *
 * Space: the file grows by posix_fallocate(3) in chunks (blkreplay-
 * queue=SIZE, 16M by default), ahead of the tail: the writer thread
 * extends it by a chunk when less than half a chunk is left (one
 * signal per half chunk of records), an appending thread inline only
 * if the record does not fit.  The mapping is a sliding window of one
 * chunk (or of the record's size if bigger), moved under q_lock when a
 * record would cross its end.  A failed posix_fallocate or mmap (disk
 * full, I/O error) stops the log as a failed write(2) did: it keeps its
 * whole records, the refused record's request id is the first lost,
 * and every later append fails with the same errno.  recorder_stop
 * cuts the file to the end of the last record and syncs per the mode.
 *
 * Locks.  Two, always taken in this order: q_lock (a pthread mutex:
 * the condition variables q_data and q_done wait on it) and s_lock (a
 * three-state futex lock, below: one compare-and-exchange to take it,
 * one exchange to drop it uncontended, where glibc's mutex costs about
 * 55 instructions a pair on every request, docs/blkreplay-cost.md).
 * "q_lock held" in this file means both are held (lock_all/unlock_all):
 * every path but one takes both, so everything below is guarded by the
 * pair.  The one exception is the request fast path
 * (recorder_append with a request record without payload data
 * that fits below fast_end): it takes s_lock alone, stores its record
 * at the tail, advances tail, nrecords and nrequests, and drops it.
 * Invariants that keep that safe:
 *  - Whatever the fast path reads (tail, fast_end, win, win_off) or
 *    writes (tail, nrecords, nrequests, the bytes at the tail) is
 *    written elsewhere only with both locks held, and read elsewhere
 *    only with both held (or s_lock alone): a thread holding q_lock
 *    but not s_lock (waiting in cond_wait_all, or between the two
 *    lock calls) touches none of it.
 *  - A record is stored whole and tail advanced under one hold of
 *    s_lock, so records are in the file whole, in order, with no hole
 *    before a stored one, as with one lock; a request is acknowledged
 *    only after its store, so never before it is in the file.
 *  - The fast path needs nothing that takes q_lock: fast_end (kept by
 *    bounds_locked with room_end and ext_at) is at most ext_at, so a
 *    fast store never crosses the point where the writer must be
 *    signalled (the record that would goes the general way and signals
 *    under q_lock), and it is 0 with sync=always (every append waits
 *    for an fdatasync on q_done) and whenever room_end is 0 (no header,
 *    failed, closed).
 *  - s_lock is never held while waiting: cond_wait_all drops it before
 *    pthread_cond_wait releases q_lock and takes it again after; the
 *    fdatasync and posix_fallocate calls run with both dropped.  So a
 *    thread blocked on s_lock waits only for a short store, and a
 *    thread that finds it taken sleeps in FUTEX_WAIT: no spinning,
 *    whatever the number of threads per core.
 *  - Lock order: the fast path that does not fit drops s_lock, then
 *    takes q_lock and s_lock (lock_all) and runs the general path; no
 *    thread takes q_lock while holding s_lock.
 *
 * Shared state, all guarded by the pair (see above for the fast
 * path): win/win_off/win_len (the mapping), tail (the end of the last
 * record: the log's size), file_size (allocated), ext_wanted/
 * ext_failed (the writer's extension request), room_end/ext_at/
 * fast_end (the fast paths' bounds, derived from the others by
 * bounds_locked whenever they change), running, durable/
 * durable_records (what a completed fdatasync covered), syncing (a
 * thread runs an fdatasync: sync_waiters wait on q_done),
 * sync_first_id/unsynced_first_id (sync=always: the first request an
 * fdatasync in flight, or the next one, covers), nrecords, nrequests
 * (a mark's position), nlost, header_done, rec_failed, loss, stop,
 * closed, finished.  rec_failed is also read without the locks
 * (atomically) by recorder_failed, a hint for the request path.  fd
 * is used without the locks for fdatasync and the writer's
 * posix_fallocate; it is closed by recorder_stop once no thread can
 * use it (writer joined, no sync running, closed set).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "clock-ns.h"
#include "crc32c.h"
#include "recorder.h"

static struct recorder_config cfg;
static int fd = -1;
static uint64_t chunk;              /* preallocation step, page multiple */
static uint64_t page_size;

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
/* s_lock: 0 free, 1 held, 2 held and a thread may sleep on it. */
static int s_lock;
static pthread_cond_t q_data;       /* writer waits: extend, stop */
static pthread_cond_t q_done;       /* a sync finished, or failed */
static unsigned char *win;          /* the mapping, or NULL */
static uint64_t win_off, win_len;   /* what of the file it maps */
static uint64_t tail, file_size;
/* The fast path's two bounds (bounds_locked keeps them): a request
 * record ending at or below room_end can be stored with no further
 * check (0 before the header, after a failure, when closed); past
 * ext_at the writer is asked to extend (UINT64_MAX while asked).
 */
static uint64_t room_end, ext_at = UINT64_MAX;
/* The request fast path's bound (s_lock alone): room_end, but never
 * past ext_at (crossing it signals the writer, which needs q_lock),
 * and 0 with sync=always (the append waits for an fdatasync).
 */
static uint64_t fast_end;
static uint64_t durable, durable_records;
static uint64_t nrecords, nrequests, nlost;
static uint64_t sync_first_id, unsynced_first_id;
static unsigned sync_waiters;
static int syncing, ext_wanted, ext_failed;
static int header_done, stop, running, closed;
static int finished;                /* recorder_stop's last sync is done */
static struct recorder_loss loss;   /* valid when rec_failed != 0 */
static pthread_t writer;
static int crc_hw;                  /* crc32c_hw (), for the fast path */

/* The errno that stopped the log, or 0 (recorder.h): written under
 * q_lock (atomically, once), read without it by recorder_failed.
 */
int rec_failed;

/* The largest request record without a data payload. */
#define REC_REQ_MAX (8 + BLKLOG_REQ_FIXED + 8)

/* Records with at least this much payload data are written with one
 * pwritev(2) into the allocated space rather than copied into the
 * mapping: the kernel copies a big payload into the page cache faster
 * than first stores into fresh pages of a shared mapping take (each
 * page a fault), measured in docs/blkreplay-cost.md.  Still under
 * q_lock, at the tail: the file keeps no hole before a record.
 */
#define REC_PWRITE_MIN 4096

/* s_lock, a futex lock of three states ("Futexes Are Tricky", Ulrich
 * Drepper, 2011, the third mutex): taking it free is one compare and
 * exchange, releasing it uncontended one exchange, where glibc's
 * mutex costs about 55 instructions per pair.  A thread that finds it
 * held sleeps in the kernel (FUTEX_WAIT): it never spins, so more
 * threads than cores cannot starve its holder.
 */
static void
s_lock_wait (int c)
{
  if (c != 2)
    c = __atomic_exchange_n (&s_lock, 2, __ATOMIC_ACQUIRE);
  while (c != 0) {
    /* Returns at once (EAGAIN) if it changed since, or on EINTR. */
    syscall (SYS_futex, &s_lock, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
    c = __atomic_exchange_n (&s_lock, 2, __ATOMIC_ACQUIRE);
  }
}

static inline void
s_lock_take (void)
{
  int c = 0;

  if (!__atomic_compare_exchange_n (&s_lock, &c, 1, 0, __ATOMIC_ACQUIRE,
                                    __ATOMIC_RELAXED))
    s_lock_wait (c);
}

static inline void
s_lock_drop (void)
{
  if (__atomic_exchange_n (&s_lock, 0, __ATOMIC_RELEASE) == 2)
    syscall (SYS_futex, &s_lock, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Both locks, always in this order: what "q_lock held" means in the
 * rest of this file.  A thread holding q_lock holds s_lock too except
 * while it waits on a condition variable (cond_wait_all) or has
 * dropped both (unlock_all) for a system call.
 */
static inline void
lock_all (void)
{
  pthread_mutex_lock (&q_lock);
  s_lock_take ();
}

static inline void
unlock_all (void)
{
  s_lock_drop ();
  pthread_mutex_unlock (&q_lock);
}

static void
unlock_all_cleanup (int *unused)
{
  (void) unused;
  unlock_all ();
}
#define ALL_GUARD()                                                     \
  __attribute__ ((cleanup (unlock_all_cleanup))) int all_guard_ =       \
    (lock_all (), 0);                                                   \
  (void) all_guard_

/* pthread_cond_wait on q_lock: s_lock is not held while waiting, so
 * request fast paths go on storing records meanwhile.
 */
static void
cond_wait_all (pthread_cond_t *c)
{
  s_lock_drop ();
  pthread_cond_wait (c, &q_lock);
  s_lock_take ();
}

static void
cond_timedwait_all (pthread_cond_t *c, const struct timespec *ts)
{
  s_lock_drop ();
  pthread_cond_timedwait (c, &q_lock, ts);
  s_lock_take ();
}

/* Recomputes room_end and ext_at from what they summarise.  q_lock
 * held.
 */
static void
bounds_locked (void)
{
  uint64_t w = win_off + win_len;

  room_end = rec_failed || closed || !header_done ? 0 :
    w < file_size ? w : file_size;
  ext_at = ext_wanted || ext_failed || !running || stop ? UINT64_MAX :
    file_size > chunk / 2 ? file_size - chunk / 2 : 0;
  fast_end = cfg.sync == REC_SYNC_ALWAYS ? 0 :
    room_end < ext_at ? room_end : ext_at;
}

int
recorder_open (const struct recorder_config *c)
{
  pthread_condattr_t attr;
  struct stat st;
  long ps = sysconf (_SC_PAGESIZE);

  cfg = *c;
  crc_hw = crc32c_hw ();
  page_size = ps > 0 ? (uint64_t) ps : 4096;
  chunk = (cfg.queue_bytes + page_size - 1) / page_size * page_size;
  fd = open (cfg.path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd == -1)
    return -1;
  /* Mapped, hence a regular file; checked before O_TRUNC touches it. */
  if (fstat (fd, &st) == -1) {
    int e = errno;
    close (fd);
    fd = -1;
    errno = e;
    return -1;
  }
  if (!S_ISREG (st.st_mode)) {
    close (fd);
    fd = -1;
    errno = ENOTSUP;
    return -1;
  }
  if (ftruncate (fd, 0) == -1) {
    int e = errno;
    close (fd);
    fd = -1;
    errno = e;
    return -1;
  }
  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (&q_data, &attr);
  pthread_condattr_destroy (&attr);
  pthread_cond_init (&q_done, NULL);
  return 0;
}

/* Stops the log with ERR: LOST_ID is the first request without a
 * record (0: none known).  q_lock held.
 */
static void
fail_locked (int err, int sync_failed, uint64_t lost_id)
{
  if (rec_failed)
    return;
  loss.err = err;
  loss.sync_failed = sync_failed;
  loss.first_lost_id = lost_id;
  __atomic_store_n (&rec_failed, err, __ATOMIC_RELEASE);
  bounds_locked ();
  pthread_cond_broadcast (&q_done);
}

/* Allocates the file up to SIZE (the caller holds q_lock, or is the
 * writer thread, which publishes file_size itself).  posix_fallocate
 * returns the error rather than setting errno.
 */
static int
extend_to (uint64_t size)
{
  int err;

  do
    err = posix_fallocate (fd, 0, (off_t) size);
  while (err == EINTR);
  return err;
}

/* Allocates the file up to END at least.  q_lock held.  0, or the
 * errno that stops the log.
 */
static int
allocate_locked (uint64_t end)
{
  if (end > file_size) {
    /* The writer thread did not keep ahead: extend here, a chunk if
     * the disk has it, else just what the record needs.
     */
    uint64_t want = (end + chunk - 1) / chunk * chunk;
    int err = extend_to (want);
    if (err) {
      want = (end + page_size - 1) / page_size * page_size;
      err = extend_to (want);
      if (err)
        return err;
    }
    file_size = want;
    ext_failed = 0;
    bounds_locked ();
  }
  return 0;
}

/* Makes [tail, tail + N) storable: allocated in the file and inside
 * the window.  q_lock held.  0, or the errno that stops the log.
 */
static int
make_room_locked (uint64_t n)
{
  uint64_t end = tail + n;
  int err = allocate_locked (end);

  if (err)
    return err;
  if (win == NULL || end > win_off + win_len) {
    uint64_t off = tail / page_size * page_size;
    uint64_t len = chunk;
    void *m;
    if (end - off > len)
      len = (end - off + page_size - 1) / page_size * page_size;
    m = mmap (NULL, (size_t) len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
              (off_t) off);
    if (m == MAP_FAILED)
      return errno;
    if (win)
      munmap (win, (size_t) win_len);
    win = m;
    win_off = off;
    win_len = len;
  }
  bounds_locked ();
  return 0;
}

/* Runs (or joins) an fdatasync that covers the log up to TARGET.
 * q_lock held on entry and return, dropped while syncing.  One sync at
 * a time: the others wait for it, and the next covers all of them.
 * 0, or -1 with errno if the log failed (or was closed) first.
 */
static int
sync_upto_locked (uint64_t target)
{
  while (!rec_failed && durable < target) {
    if (closed) {
      /* recorder_stop syncs what was stored (unless sync=none). */
      if (finished)
        break;
      sync_waiters++;
      cond_wait_all (&q_done);
      sync_waiters--;
      continue;
    }
    if (!syncing) {
      uint64_t end = tail, records = nrecords;
      int r, err;
      syncing = 1;
      sync_first_id = unsynced_first_id;
      unsynced_first_id = 0;
      unlock_all ();
      r = fdatasync (fd);
      err = errno;
      lock_all ();
      syncing = 0;
      if (r == -1) {
        /* Nothing after durable is known durable. */
        fail_locked (err, 1, sync_first_id ? sync_first_id
                                            : unsynced_first_id);
        break;
      }
      if (durable < end) {
        durable = end;
        durable_records = records;
      }
      if (sync_waiters)
        pthread_cond_broadcast (&q_done);
      continue;
    }
    sync_waiters++;
    cond_wait_all (&q_done);
    sync_waiters--;
  }
  if (durable < target) {
    errno = rec_failed ? rec_failed : ESHUTDOWN;
    return -1;
  }
  return 0;
}

/* The writer thread: extends the file ahead of the tail when asked;
 * syncs the log every interval with sync=interval.  With sync=none it
 * sleeps until asked.
 */
static void *
writer_thread (void *arg)
{
  uint64_t last_sync = blk_mono_ns ();

  lock_all ();
  while (!stop && !rec_failed) {
    if (ext_wanted) {
      uint64_t want = file_size + chunk;
      int err;
      unlock_all ();
      err = extend_to (want);
      lock_all ();
      ext_wanted = 0;
      if (err)
        /* The appending thread tries again inline when it must, and
         * fails the log if that fails too.
         */
        ext_failed = err;
      else if (want > file_size)
        file_size = want;
      bounds_locked ();
      continue;
    }
    if (cfg.sync == REC_SYNC_INTERVAL) {
      uint64_t now = blk_mono_ns ();
      if (now >= last_sync + cfg.interval_ns) {
        last_sync = now;
        if (tail > durable && !closed)
          sync_upto_locked (tail);
        continue;
      }
      else {
        /* Wakes every interval even when idle: no signal per request. */
        struct timespec ts = { .tv_sec = 0, .tv_nsec = 0 };
        blk_timespec_add_ns (&ts, last_sync + cfg.interval_ns);
        cond_timedwait_all (&q_data, &ts);
      }
    }
    else
      cond_wait_all (&q_data);
  }
  unlock_all ();
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
  lock_all ();
  running = 1;
  bounds_locked ();
  unlock_all ();
  return 0;
}

/* Stores the header at offset 0.  q_lock held.  0 or an errno. */
static int
append_header_locked (uint64_t export_size)
{
  struct blklog_header h;
  size_t n;
  int err;

  memset (&h, 0, sizeof h);
  h.export_size = export_size;
  h.created_ns = blk_real_ns ();
  h.data_mode = cfg.data_mode;
  h.version = BLKLOG_VERSION;
  h.hash_alg = cfg.hash_alg;            /* what the records are hashed with */
  h.layer = cfg.layer;
  strncpy (h.creator, cfg.creator, BLKLOG_CREATOR_MAX);
  n = blklog_header_size (&h);
  err = make_room_locked (n);
  if (err)
    return err;
  tail += blklog_encode_header (win + (tail - win_off), &h);
  header_done = 1;
  bounds_locked ();
  return 0;
}

/* Writes the data request record R (N bytes) at the tail with one
 * gathered write.  q_lock held; the space is allocated.  0 or errno.
 */
static int
pwrite_record_locked (const struct blklog_record *r, uint64_t n)
{
  unsigned char head[BLKLOG_REQ_HEAD_MAX], crc[4];
  size_t hlen = blklog_encode_request_head (head, crc, r);
  struct iovec iov[3] = {
    { head, hlen }, { (void *) r->data, r->length }, { crc, 4 },
  };
  struct iovec *v = iov;
  int nv = 3;
  uint64_t off = tail, left = n;

  while (left > 0) {
    ssize_t w = pwritev (fd, v, nv, (off_t) off);
    if (w == -1) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    if (w == 0)
      return EIO;
    off += (uint64_t) w;
    left -= (uint64_t) w;
    while (nv > 0 && (size_t) w >= v->iov_len) {
      w -= (ssize_t) v->iov_len;
      v++;
      nv--;
    }
    if (nv > 0) {
      v->iov_base = (char *) v->iov_base + w;
      v->iov_len -= (size_t) w;
    }
  }
  return 0;
}

/* After N bytes of a record were stored at the tail: publish them
 * (tail, counters, a mark's position in *SEQ), ask the writer for
 * space when due, and with sync=always wait for the fdatasync that
 * covers them.  Shared by the general path and the request fast path.
 * q_lock held on entry, released on return.  0, or -1 with errno.
 */
static inline int
stored_unlock (uint64_t n, uint64_t id, uint64_t *seq)
{
  tail += n;
  nrecords++;
  /* Under the same lock hold as the store: the position is exactly
   * where the record sits in the file.
   */
  if (seq)
    *seq = nrequests;
  nrequests += id != 0;
  /* Less than half a chunk left: the writer extends (once per half
   * chunk, not per request).
   */
  if (tail > ext_at) {
    ext_wanted = 1;
    bounds_locked ();           /* ext_at and fast_end move up */
    pthread_cond_signal (&q_data);
  }
  if (cfg.sync == REC_SYNC_ALWAYS) {
    if (unsynced_first_id == 0)
      unsynced_first_id = id;
    if (sync_upto_locked (tail) == -1) {
      int err = errno;
      unlock_all ();
      errno = err;
      return -1;
    }
  }
  unlock_all ();
  return 0;
}

/* recorder_append and recorder_mark after the fast path's check, and
 * recorder_append's general path: the log has failed or is
 * closed, needs its header, more space, a window move, or R carries
 * data.  q_lock held on entry, released on return.  MARK: refuse
 * (ENODATA) rather than write the header, and give the position in
 * *SEQ.
 */
static int
append_locked (const struct blklog_record *r, uint64_t export_size, int mark,
               uint64_t *seq)
{
  uint64_t id = r->type == BLKLOG_REQUEST ? r->id : 0;
  uint64_t n;
  int err;

  if (rec_failed | closed)
    goto refused;
  if (!header_done) {
    if (mark) {
      unlock_all ();
      errno = ENODATA;
      return -1;
    }
    err = append_header_locked (export_size);
    if (err)
      goto stop_log;
  }
  n = blklog_record_size (r);
  if (r->payload == BLKLOG_PAYLOAD_DATA && r->length >= REC_PWRITE_MIN) {
    err = allocate_locked (tail + n);
    if (!err)
      err = pwrite_record_locked (r, n);
    if (err)
      goto stop_log;
  }
  else {
    if (tail + n > room_end) {
      err = make_room_locked (n);
      if (err)
        goto stop_log;
    }
    blklog_encode_record (win + (tail - win_off), r);
  }
  return stored_unlock (n, id, seq);

 stop_log:
  fail_locked (err, 0, id);
 refused:
  if (rec_failed)
    nlost++;
  err = rec_failed ? rec_failed : ESHUTDOWN;
  unlock_all ();
  errno = err;
  return -1;
}

/* recorder_append's fast path for a request record without payload
 * data; HW: the CPU has SSE4.2 and the
 * caller is compiled for it.  Inlined into each of the two callers
 * below, so the CRC's crc32 instructions are inline too: the bytes are
 * blklog_encode_record's (both encode with
 * blklog_store_request_fields; unit-blkreplay-log compares them).
 */
__attribute__ ((always_inline))
static inline int
append_request (const struct blklog_record *r, uint64_t export_size, int hw)
{
  s_lock_take ();
  if (tail + REC_REQ_MAX <= fast_end) {
    unsigned char *p = win + (tail - win_off);
    size_t n = blklog_store_request_nodata (p, r->id, r->conn, r->op,
                                            r->flags, r->offset, r->length,
                                            r->submit_ns, r->complete_ns,
                                            r->error, r->payload, r->hash);
    uint32_t c;

#if defined (__x86_64__)
    if (hw)
      c = crc32c_request_hw (p, r->payload != BLKLOG_PAYLOAD_NONE);
    else
#endif
      c = crc32c (p, n);
    blk_store_le32 (p + n, c);
    /* Nothing else to do: fast_end keeps the tail at or below ext_at
     * (no signal for the writer) and is 0 with sync=always.
     */
    tail += n + 4;
    nrecords++;
    nrequests++;
    s_lock_drop ();
    return 0;
  }
  /* The general way, with both locks (in their order). */
  s_lock_drop ();
  lock_all ();
  return append_locked (r, export_size, 0, NULL);
}

#if defined (__x86_64__)
__attribute__ ((target ("sse4.2")))
static int
append_request_hw (const struct blklog_record *r, uint64_t export_size)
{
  return append_request (r, export_size, 1);
}
#endif

/* Not inlined into recorder_append: its register saves would
 * then run before the test that picks the SSE4.2 version.
 */
__attribute__ ((noinline))
static int
append_request_sw (const struct blklog_record *r, uint64_t export_size)
{
  return append_request (r, export_size, 0);
}

int
recorder_append (const struct blklog_record *r, uint64_t export_size)
{
  if (r->type == BLKLOG_REQUEST && r->payload != BLKLOG_PAYLOAD_DATA) {
#if defined (__x86_64__)
    if (crc_hw)
      return append_request_hw (r, export_size);
#endif
    return append_request_sw (r, export_size);
  }
  lock_all ();
  return append_locked (r, export_size, 0, NULL);
}

int
recorder_mark (const struct blklog_record *r, uint64_t *seq)
{
  lock_all ();
  return append_locked (r, 0, 1, seq);
}

int
recorder_sync (void)
{
  int r, err;

  /* fd stays open: the filter stops the control socket before
   * recorder_stop.
   */
  lock_all ();
  if (rec_failed || closed) {
    err = rec_failed ? rec_failed : ESHUTDOWN;
    unlock_all ();
    errno = err;
    return -1;
  }
  r = sync_upto_locked (tail);
  err = errno;
  unlock_all ();
  errno = err;
  return r;
}

void
recorder_status (struct recorder_status *s)
{
  ALL_GUARD ();
  s->records = nrecords;
  s->requests = nrequests;
  s->bytes = tail;
  s->durable = durable;
  s->allocated = file_size;
  s->lost = nlost;
  s->err = rec_failed;
  s->sync_failed = rec_failed ? loss.sync_failed : 0;
  s->first_lost_id = rec_failed ? loss.first_lost_id : 0;
  s->started = header_done;
}

void
recorder_stop (void)
{
  uint64_t end;

  if (fd == -1)
    return;
  if (running) {
    {
      ALL_GUARD ();
      stop = 1;
      bounds_locked ();
      pthread_cond_signal (&q_data);
    }
    pthread_join (writer, NULL);
  }
  {
    ALL_GUARD ();
    /* A log without any connection still gets its header. */
    if (!header_done && !rec_failed) {
      int err = append_header_locked (0);
      if (err)
        fail_locked (err, 0, 0);
    }
    /* No request stores from here on (nbdkit may still run one of a
     * connection it did not close): it gets ESHUTDOWN.
     */
    closed = 1;
    bounds_locked ();
    while (syncing) {
      sync_waiters++;
      cond_wait_all (&q_done);
      sync_waiters--;
    }
    if (win)
      munmap (win, (size_t) win_len);
    win = NULL;
    win_off = win_len = 0;
    end = tail;
    if (rec_failed && loss.sync_failed && cfg.sync == REC_SYNC_ALWAYS) {
      /* As when the write of a batch could not be synced: the log
       * keeps what is known durable.
       */
      end = tail = durable;
      nrecords = durable_records;
    }
    /* The preallocated space goes; a failed ftruncate leaves it, which
     * readers take as an unclean stop (the log reads the same).
     */
    if (ftruncate (fd, (off_t) end) == 0)
      file_size = end;
  }
  if (cfg.sync != REC_SYNC_NONE && fdatasync (fd) == 0) {
    ALL_GUARD ();
    durable = tail;
    durable_records = nrecords;
  }
  close (fd);
  fd = -1;
  {
    ALL_GUARD ();
    running = 0;
    finished = 1;
    pthread_cond_broadcast (&q_done);
  }
}

int
recorder_loss (struct recorder_loss *l)
{
  ALL_GUARD ();
  if (!rec_failed)
    return 0;
  *l = loss;
  return 1;
}

void
recorder_counts (uint64_t *records, uint64_t *bytes, uint64_t *lost)
{
  ALL_GUARD ();
  *records = nrecords;
  *bytes = tail;
  *lost = nlost;
}
