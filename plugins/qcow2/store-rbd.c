/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: the RBD store (see store.h), so that
 * `nbdkit qcow2 rbd:POOL/IMAGE` serves a qcow2 image stored in an RBD
 * image.  The cluster connection is common/rbd (shared with the rbd
 * plugin).
 *
 * I/O uses librbd's synchronous calls (rbd_read2, rbd_write2,
 * rbd_flush): the engine already runs each request on its own nbdkit
 * worker thread and waits for every store I/O, and librbd's sync
 * calls are its own aio plus a wait.  The hook bracket is the one
 * store.c puts around every store I/O (layer "backend"), not a
 * second "librbd" one: the qcow2 engine's storage boundary keeps one
 * name whatever the store, blkdebug rules and latency reports written
 * for the file store apply unchanged, and an I/O is never counted
 * twice.
 *
 * Thread model: librbd's image handle is thread-safe.  The size is
 * the only mutable state: grow (called under the engine's meta_lock,
 * but also guarded here by size_lock) resizes and publishes it with an
 * atomic store; readers load it atomically to return zeroes past it.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "store.h"
#include "store-rbd.h"
#include "cleanup.h"

/* RBD resizes are metadata operations on the image header (a round
 * trip each): grow by at least this much at a time.  The space past
 * the qcow2 data stays unallocated (thin) in RBD and reads as zeroes.
 */
#define RBD_GROW_STEP (64ull << 20)

struct rbd_priv {
  const struct blk_rbd_params *params;
  struct blk_rbd_conn conn;
  pthread_mutex_t size_lock;
  uint64_t size;                /* atomic loads; stores under size_lock */
};

/* librbd's ETIMEDOUT (rbd-request-timeout= passed) would reach the
 * client as EINVAL (nbdkit knows only NBD's errors): it is an I/O
 * error of the storage.
 */
static int
set_errno (int r)
{
  errno = r < 0 && r != -ETIMEDOUT && r != -ESHUTDOWN ? -r : EIO;
  return -1;
}

static int
rbdb_pread (struct qcow2_store *b, void *buf, size_t n, uint64_t off)
{
  struct rbd_priv *p = b->priv;
  uint64_t size = __atomic_load_n (&p->size, __ATOMIC_ACQUIRE);
  char *c = buf;
  size_t avail = off >= size ? 0 : (size - off < n ? size - off : n);

  memset (c + avail, 0, n - avail);     /* past the end: zeroes */
  while (avail > 0) {
    ssize_t r = rbd_read2 (p->conn.image, off, avail, c, 0);
    if (r < 0)
      return set_errno ((int) r);
    if (r == 0) {               /* shrunk under us: cannot happen */
      memset (c, 0, avail);
      break;
    }
    c += r; off += (uint64_t) r; avail -= (size_t) r;
  }
  return 0;
}

static int
rbdb_pwrite (struct qcow2_store *b, const void *buf, size_t n, uint64_t off)
{
  struct rbd_priv *p = b->priv;
  const char *c = buf;

  while (n > 0) {
    ssize_t r = rbd_write2 (p->conn.image, off, n, c, 0);
    if (r < 0)
      return set_errno ((int) r);
    if (r == 0)
      return set_errno (-EIO);
    c += r; off += (uint64_t) r; n -= (size_t) r;
  }
  return 0;
}

static int
rbdb_flush (struct qcow2_store *b)
{
  struct rbd_priv *p = b->priv;
  int r = rbd_flush (p->conn.image);

  return r < 0 ? set_errno (r) : 0;
}

static int64_t
rbdb_size (struct qcow2_store *b)
{
  struct rbd_priv *p = b->priv;

  return (int64_t) __atomic_load_n (&p->size, __ATOMIC_ACQUIRE);
}

static int
rbdb_grow (struct qcow2_store *b, uint64_t new_size)
{
  struct rbd_priv *p = b->priv;
  LOCK_GUARD (&p->size_lock);
  uint64_t target;
  int r;

  if (new_size <= p->size)
    return 0;
  target = new_size + RBD_GROW_STEP - 1;
  target -= target % RBD_GROW_STEP;
  r = rbd_resize (p->conn.image, target);
  if (r < 0)
    return set_errno (r);
  __atomic_store_n (&p->size, target, __ATOMIC_RELEASE);
  return 0;
}

/* Set when a close failed (writes may be lost): qcow2.c then exits
 * non-zero.  Written and read in .get_ready/.cleanup only.
 */
static bool close_failed;

bool
store_rbd_close_failed (void)
{
  return close_failed;
}

static void
rbdb_close (struct qcow2_store *b)
{
  struct rbd_priv *p = b->priv;

  if (p) {
    /* rbd_close flushes librbd's cache and releases the exclusive
     * lock (blk_rbd_disconnect, bounded by rbd-timeout=).
     */
    if (blk_rbd_disconnect (p->params, &p->conn) == -1)
      close_failed = true;
    pthread_mutex_destroy (&p->size_lock);
  }
  free (p);
  free (b->name);
  free (b);
}

static const struct qcow2_store_ops rbd_ops = {
  .name = "rbd",
  .pread = rbdb_pread,
  .pwrite = rbdb_pwrite,
  .flush = rbdb_flush,
  .size = rbdb_size,
  .grow = rbdb_grow,
  .close = rbdb_close,
};

struct qcow2_store *
store_rbd_open (const struct blk_rbd_params *params, const char *name,
                bool probe)
{
  struct qcow2_store *b = calloc (1, sizeof *b);
  struct rbd_priv *p = calloc (1, sizeof *p);
  uint64_t size;
  int r;

  if (b == NULL || p == NULL || (b->name = strdup (name)) == NULL) {
    nbdkit_error ("%s: %m", name);
    free (b); free (p);
    return NULL;
  }
  p->params = params;
  p->conn.probe = probe;
  pthread_mutex_init (&p->size_lock, NULL);
  b->ops = &rbd_ops;
  b->priv = p;
  b->caps = params->readonly ? STORE_READONLY : 0;
  if (blk_rbd_connect (params, &p->conn) == -1) {
    rbdb_close (b);
    return NULL;
  }
  r = rbd_get_size (p->conn.image, &size);
  if (r < 0) {
    nbdkit_error ("%s: cannot get the size of the RBD image: %s", name,
                  qcow2_errstr (-r));
    rbdb_close (b);
    return NULL;
  }
  p->size = size;
  return b;
}
