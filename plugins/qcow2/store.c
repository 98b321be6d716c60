/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: hook bracketing around the store.
 *
 * Thread model: stateless; any thread may call these concurrently
 * (the stores themselves are thread-safe, see store.h).
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include <nbdkit-plugin.h>

#include "store.h"
#include "blk-hook.h"

static const char layer[] = "backend";

int
store_pread (struct qcow2_store *b, void *buf, size_t n, uint64_t off, int meta)
{
  struct blk_hook_io io = BLK_HOOK_IO_INIT (BLK_IO_READ, off, n, layer);
  int r;

  io.flags = meta ? BLK_HOOK_F_METADATA : 0;
  io.file = b->hook_file;
  io.buf = buf;
  r = blk_hook_io_begin (&io);
  if (r == 0)
    r = b->ops->pread (b, buf, n, off) == -1 ? (errno ? errno : EIO) : 0;
  blk_hook_io_end (&io, r);
  if (r) {
    nbdkit_error ("%s: read of %zu bytes at offset %" PRIu64 " failed: %s",
                  b->name, n, off, qcow2_errstr (r));
    errno = r;
    return -1;
  }
  return 0;
}

int
store_pwrite (struct qcow2_store *b, const void *buf, size_t n, uint64_t off,
              int meta)
{
  struct blk_hook_io io = BLK_HOOK_IO_INIT (BLK_IO_WRITE, off, n, layer);
  int r;

  io.flags = meta ? BLK_HOOK_F_METADATA : 0;
  io.file = b->hook_file;
  io.buf = buf;
  r = blk_hook_io_begin (&io);
  if (r == 0)
    r = b->ops->pwrite (b, buf, n, off) == -1 ? (errno ? errno : EIO) : 0;
  blk_hook_io_end (&io, r);
  if (r) {
    nbdkit_error ("%s: write of %zu bytes at offset %" PRIu64 " failed: %s",
                  b->name, n, off, qcow2_errstr (r));
    errno = r;
    return -1;
  }
  return 0;
}

int
store_flush (struct qcow2_store *b)
{
  struct blk_hook_io io = BLK_HOOK_IO_INIT (BLK_IO_FLUSH, 0, 0, layer);
  int r;

  io.file = b->hook_file;
  r = blk_hook_io_begin (&io);
  if (r == 0)
    r = b->ops->flush (b) == -1 ? (errno ? errno : EIO) : 0;
  blk_hook_io_end (&io, r);
  if (r) {
    nbdkit_error ("%s: flush failed: %s", b->name, qcow2_errstr (r));
    errno = r;
    return -1;
  }
  return 0;
}

int64_t
store_size (struct qcow2_store *b)
{
  int64_t r = b->ops->size (b);

  if (r == -1)
    nbdkit_error ("%s: cannot get the size: %m", b->name);
  return r;
}

int
store_grow (struct qcow2_store *b, uint64_t new_size)
{
  if (b->ops->grow (b, new_size) == -1) {
    int e = errno;
    nbdkit_error ("%s: cannot grow to %" PRIu64 " bytes: %s",
                  b->name, new_size, qcow2_errstr (e));
    errno = e;
    return -1;
  }
  return 0;
}

void
store_close (struct qcow2_store *b)
{
  if (b)
    b->ops->close (b);
}
