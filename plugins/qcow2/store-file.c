/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: the file store (see store.h).
 *
 * Thread model: pread/pwrite/fdatasync on one descriptor are safe from
 * many threads; the descriptor is set at open and closed at close, so
 * there is no shared mutable state and no lock.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nbdkit-plugin.h>

#include "store.h"
#include "lock.h"

struct file_priv {
  int fd;
};

static int
file_pread (struct qcow2_store *b, void *buf, size_t n, uint64_t off)
{
  struct file_priv *p = b->priv;
  char *c = buf;

  while (n > 0) {
    ssize_t r = pread (p->fd, c, n, (off_t) off);
    if (r == -1) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (r == 0) {               /* past the end: zeroes (store.h) */
      memset (c, 0, n);
      return 0;
    }
    c += r; n -= (size_t) r; off += (uint64_t) r;
  }
  return 0;
}

static int
file_pwrite (struct qcow2_store *b, const void *buf, size_t n, uint64_t off)
{
  struct file_priv *p = b->priv;
  const char *c = buf;

  while (n > 0) {
    ssize_t r = pwrite (p->fd, c, n, (off_t) off);
    if (r == -1) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    c += r; n -= (size_t) r; off += (uint64_t) r;
  }
  return 0;
}

static int
file_flush (struct qcow2_store *b)
{
  struct file_priv *p = b->priv;

  return fdatasync (p->fd);
}

static int64_t
file_size (struct qcow2_store *b)
{
  struct file_priv *p = b->priv;
  struct stat st;

  if (fstat (p->fd, &st) == -1)
    return -1;
  return st.st_size;
}

static int
file_grow (struct qcow2_store *b, uint64_t new_size)
{
  struct file_priv *p = b->priv;
  struct stat st;

  if (fstat (p->fd, &st) == -1)
    return -1;
  if ((uint64_t) st.st_size >= new_size)
    return 0;
  return ftruncate (p->fd, (off_t) new_size);
}

static void
file_close (struct qcow2_store *b)
{
  struct file_priv *p = b->priv;

  if (p)
    close (p->fd);
  free (p);
  free (b->name);
  free (b);
}

static const struct qcow2_store_ops file_ops = {
  .name = "file",
  .pread = file_pread,
  .pwrite = file_pwrite,
  .flush = file_flush,
  .size = file_size,
  .grow = file_grow,
  .close = file_close,
};

struct qcow2_store *
store_file_open (const char *path, int readonly, int create)
{
  struct qcow2_store *b = calloc (1, sizeof *b);
  struct file_priv *p = calloc (1, sizeof *p);
  int flags = O_CLOEXEC | (readonly ? O_RDONLY : O_RDWR);
  struct stat st;

  if (create)
    flags |= O_CREAT | O_EXCL;
  if (b == NULL || p == NULL || (b->name = strdup (path)) == NULL) {
    nbdkit_error ("%s: %m", path);
    free (b); free (p);
    return NULL;
  }
  p->fd = open (path, flags, 0644);
  if (p->fd == -1 && !readonly && !create &&
      (errno == EACCES || errno == EROFS || errno == EPERM)) {
    /* Not writable (mode, read-only mount, immutable file): a user
     * who serves it without readonly=true most likely serves it with
     * nbdkit -r, so read-only is what is wanted; writes are refused
     * (can_write is false) rather than the server refusing to start.
     */
    int e = errno;
    p->fd = open (path, O_CLOEXEC | O_RDONLY);
    if (p->fd >= 0) {
      nbdkit_debug ("%s: cannot open read-write (%s): serving it read-only",
                    path, qcow2_errstr (e));
      b->caps |= STORE_READONLY;
    }
  }
  if (p->fd == -1) {
    nbdkit_error ("%s: cannot open%s: %m", path,
                  readonly ? " read-only" : " read-write");
    free (b->name); free (b); free (p);
    return NULL;
  }
  if (fstat (p->fd, &st) == -1 || !S_ISREG (st.st_mode)) {
    nbdkit_error ("%s: not a regular file", path);
    close (p->fd);
    free (b->name); free (b); free (p);
    return NULL;
  }
  if (readonly)
    b->caps |= STORE_READONLY;
  b->ops = &file_ops;
  b->priv = p;
  b->caps |= STORE_EXTENDS_ON_WRITE;
  return b;
}

int
store_file_lock (struct qcow2_store *b, unsigned perms, unsigned unshared,
                 int mode)
{
  if (b == NULL || b->ops != &file_ops)
    return 0;                   /* other stores lock their own way */
  return qcow2_lock_fd (((struct file_priv *) b->priv)->fd, b->name,
                        perms, unshared, (enum qcow2_locking) mode);
}

int
store_file_id (struct qcow2_store *b, uint64_t *dev, uint64_t *ino)
{
  struct stat st;

  if (b == NULL || b->ops != &file_ops ||
      fstat (((struct file_priv *) b->priv)->fd, &st) == -1)
    return -1;
  *dev = (uint64_t) st.st_dev;
  *ino = (uint64_t) st.st_ino;
  return 0;
}
