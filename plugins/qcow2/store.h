/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: the storage interface (the "store").
 *
 * The qcow2 engine never touches a file descriptor: every byte of the
 * image, of its external data file and of a raw backing file goes
 * through one of these.  A store is a byte-addressed device with five
 * operations; the rbd plugin adds an RBD implementation next to the
 * file one (store-file.c).  Keep it that narrow.
 *
 *   pread (b, buf, n, off)   read N bytes at OFF.  Bytes past the end
 *                            of the store read as zeroes (return 0).
 *   pwrite (b, buf, n, off)  write N bytes at OFF; OFF + N <= size as
 *                            last set by grow, unless the store has
 *                            STORE_EXTENDS_ON_WRITE.
 *   flush (b)                make every completed write durable.
 *   size (b)                 current size in bytes, or -1.
 *   grow (b, new_size)       make the store at least NEW_SIZE bytes
 *                            (never shrinks).  The engine calls it
 *                            before writing past the end, unless the
 *                            store has STORE_EXTENDS_ON_WRITE.
 *   close (b)                release everything (also frees B).
 *
 * Every operation returns 0 or -1 with errno set (size: -1), and must
 * be callable from many threads at once on the same store.
 *
 * The engine calls the store_* wrappers below, never the ops: they
 * bracket every I/O through the shared hook (layer "backend", see
 * common/hook/blk-hook.h) so that blkdebug can fail it and latency can
 * time it, and they keep error reporting in one place.
 *
 * Naming: "store", not "backend", because "backend" already means
 * nbdkit's plugin/filter chain and the hook layer these I/Os are
 * bracketed in (and so blkdebug-layer=backend); the layer keeps its
 * name, since filters and users select it by that word.
 */
#ifndef QCOW2_STORE_H
#define QCOW2_STORE_H

#include "errstr.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct qcow2_store;

struct qcow2_store_ops {
  const char *name;                     /* "file", "rbd" */
  int (*pread) (struct qcow2_store *b, void *buf, size_t n, uint64_t off);
  int (*pwrite) (struct qcow2_store *b, const void *buf, size_t n,
                 uint64_t off);
  int (*flush) (struct qcow2_store *b);
  int64_t (*size) (struct qcow2_store *b);
  int (*grow) (struct qcow2_store *b, uint64_t new_size);
  void (*close) (struct qcow2_store *b);
};

#define STORE_EXTENDS_ON_WRITE 1u       /* pwrite past the end grows it */
#define STORE_READONLY 2u               /* opened read-only: no pwrite/grow */

struct qcow2_store {
  const struct qcow2_store_ops *ops;
  void *priv;                           /* the implementation's state */
  char *name;                           /* for messages: the path */
  unsigned caps;                        /* STORE_* */
  unsigned hook_file;                   /* BLK_HOOK_FILE_*: set by the
                                         * opener (image.c), 0 = the image */
};

/* The file implementation (store-file.c).  With READONLY, PATH is
 * opened O_RDONLY.  Otherwise O_RDWR is tried first and, if the file
 * cannot be written (EACCES, EROFS, EPERM: mode 444, read-only mount,
 * immutable), it is opened O_RDONLY instead and the store gets
 * STORE_READONLY: the caller then serves it read-only.  With CREATE
 * the file is created (O_EXCL), never read-only.  On error it calls
 * nbdkit_error naming the file and returns NULL.
 */
extern struct qcow2_store *store_file_open (const char *path, int readonly,
                                            int create);

/* Take QEMU's locks on a file store (lock.h: QCOW2_PERM_* bits,
 * MODE an enum qcow2_locking); a no-op on other stores.  0 or -1
 * with nbdkit_error.
 */
extern int store_file_lock (struct qcow2_store *b, unsigned perms,
                            unsigned unshared, int mode);

/* The identity (st_dev, st_ino) of a file store's file, to detect a
 * backing chain that loops.  -1 for other stores.
 */
extern int store_file_id (struct qcow2_store *b, uint64_t *dev, uint64_t *ino);

/* Wrappers used by the engine: hook bracketing + nbdkit_error on
 * failure (naming WHAT, e.g. "L2 table").  META marks qcow2 metadata
 * (BLK_HOOK_F_METADATA) as opposed to guest data.
 */
extern int store_pread (struct qcow2_store *b, void *buf, size_t n,
                        uint64_t off, int meta);
extern int store_pwrite (struct qcow2_store *b, const void *buf, size_t n,
                         uint64_t off, int meta);
extern int store_flush (struct qcow2_store *b);
extern int64_t store_size (struct qcow2_store *b);
extern int store_grow (struct qcow2_store *b, uint64_t new_size);
extern void store_close (struct qcow2_store *b);

/* Errors raised while serving requests name errno with this, not %m:
 * the project's rule, common/include/errstr.h.
 */
#define qcow2_errstr blk_errstr

#endif /* QCOW2_STORE_H */
