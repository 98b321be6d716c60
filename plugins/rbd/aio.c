/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: one asynchronous librbd request, bracketed by the hook.
 *
 * Each NBD request runs on its own nbdkit worker thread.  It submits
 * one rbd_aio_* call with a completion whose argument is a struct
 * blkrbd_req on that thread's stack, then sleeps on the request's own
 * condition variable.  librbd's completion callback (on a librbd
 * thread) ends the hook bracket, so the "librbd" layer measures
 * submit-to-completion exactly as a uprobe pair on the librbd call
 * and its callback would, then wakes the requester.
 *
 * Shared state: none.  The struct blkrbd_req is shared by exactly two
 * threads, the requester and librbd's callback, and req->lock guards
 * req->done and req->ret.  The callback touches the struct for the
 * last time inside that lock, so the requester may return (and the
 * stack frame vanish) as soon as it sees done.  There is no global
 * lock on the I/O path.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/uio.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "duration.h"
#include "rbd.h"

struct blkrbd_req {
  struct blk_hook_io io;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int done;                     /* guarded by lock */
  ssize_t ret;                  /* guarded by lock */
};

static void
blkrbd_complete (rbd_completion_t c, void *arg)
{
  struct blkrbd_req *req = arg;
  ssize_t ret = rbd_aio_get_return_value (c);

  rbd_aio_release (c);
  blk_hook_io_end (&req->io, ret < 0 ? (int) -ret : 0);

  pthread_mutex_lock (&req->lock);
  req->ret = ret;
  req->done = 1;
  pthread_cond_signal (&req->cond);
  pthread_mutex_unlock (&req->lock);
}

static int
submit (enum blk_hook_op op, void *buf, uint32_t count, uint64_t offset,
        rbd_completion_t c)
{
  rbd_image_t image = blkrbd_conn.image;
  struct iovec iov = { .iov_base = buf, .iov_len = count };

  switch (op) {
  case BLK_IO_READ:
    return rbd_aio_readv (image, &iov, 1, offset, c);
  case BLK_IO_WRITE:
    return rbd_aio_writev (image, &iov, 1, offset, c);
  case BLK_IO_ZERO:
    return rbd_aio_write_zeroes (image, offset, count, c, 0, 0);
  case BLK_IO_TRIM:
    return rbd_aio_discard (image, offset, count, c);
  case BLK_IO_FLUSH:
    return rbd_aio_flush (image, c);
  default:
    return -ENOTSUP;
  }
}

int
blkrbd_io (enum blk_hook_op op, void *buf, uint32_t count, uint64_t offset,
           uint32_t hook_flags)
{
  struct blkrbd_req req = {
    .io = BLK_HOOK_IO_INIT (op, offset, count, "librbd"),
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
  };
  rbd_completion_t c;
  int r;

  req.io.flags = hook_flags;
  /* The data for observers (blkreplay-layer=backend): the write's, or
   * the read's destination, filled when the completion ends the I/O.
   */
  if (op == BLK_IO_WRITE || op == BLK_IO_READ)
    req.io.buf = buf;
  r = blk_hook_io_begin (&req.io);
  if (r) {
    /* A subscriber (blkdebug) fails this I/O without running it. */
    blk_hook_io_end (&req.io, r);
    return r;
  }

  r = rbd_aio_create_completion (&req, blkrbd_complete, &c);
  if (r < 0) {
    blk_hook_io_end (&req.io, -r);
    return -r;
  }
  if (rbd_debug_aio)
    nbdkit_debug ("rbd: aio %s offset %" PRIu64 " count %" PRIu32 " submit",
                  blk_hook_op_name (op), offset, count);
  r = submit (op, buf, count, offset, c);
  if (r < 0) {
    /* Not submitted: the callback will never run. */
    rbd_aio_release (c);
    blk_hook_io_end (&req.io, -r);
    return -r;
  }

  {
    LOCK_GUARD (&req.lock);
    while (!req.done)
      pthread_cond_wait (&req.cond, &req.lock);
  }
  pthread_cond_destroy (&req.cond);
  pthread_mutex_destroy (&req.lock);

  if (rbd_debug_aio)
    nbdkit_debug ("rbd: aio %s offset %" PRIu64 " count %" PRIu32
                  " done: %zd", blk_hook_op_name (op), offset, count, req.ret);
  if (req.ret == -ETIMEDOUT) {
    /* The only sign in the server's log that the cluster is gone. */
    char tbuf[32];

    blk_format_duration (blkrbd_cfg.request_timeout_ns, tbuf, sizeof tbuf);
    if (op == BLK_IO_FLUSH)
      nbdkit_error ("rbd: flush: no answer from the cluster within "
                    "request-timeout=%s: earlier writes may be lost", tbuf);
    else
      nbdkit_error ("rbd: %s of %" PRIu32 " bytes at offset %" PRIu64
                    ": no answer from the cluster within request-timeout=%s",
                    blk_hook_op_name (op), count, offset, tbuf);
  }
  if (req.ret < 0)
    return (int) -req.ret;
  if (op == BLK_IO_READ && (size_t) req.ret != count)
    /* Only a read past the end is short: the image shrank under us. */
    return EIO;
  return 0;
}
