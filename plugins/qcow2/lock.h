/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: QEMU-compatible image locking (lock.c). */
#ifndef QCOW2_LOCK_H
#define QCOW2_LOCK_H

enum qcow2_locking {
  QCOW2_LOCKING_AUTO = 0,       /* on, off where OFD locks fail (EINVAL) */
  QCOW2_LOCKING_ON,
  QCOW2_LOCKING_OFF,
};

/* QEMU's permission bits (block layer), as used in the lock bytes. */
#define QCOW2_PERM_READ   1u    /* consistent read */
#define QCOW2_PERM_WRITE  2u
#define QCOW2_PERM_RESIZE 8u

/* What a writer and a reader hold / do not share (lock.c). */
#define QCOW2_LOCK_RW_PERMS (QCOW2_PERM_READ | QCOW2_PERM_WRITE | QCOW2_PERM_RESIZE)
#define QCOW2_LOCK_RO_PERMS QCOW2_PERM_READ
#define QCOW2_LOCK_UNSHARED (QCOW2_PERM_WRITE | QCOW2_PERM_RESIZE)

/* Lock FD (the file PATH) for PERMS, not sharing UNSHARED; calling it
 * again with fewer bits downgrades.  0 on success (or locking off, or
 * unsupported with locking=auto), -1 with nbdkit_error naming PATH
 * (on a conflict: "another process is using the image").  On failure
 * the bytes are left as far as it got: close FD, or call again with
 * the previous bits to go back.
 */
extern int qcow2_lock_fd (int fd, const char *path, unsigned perms,
                          unsigned unshared, enum qcow2_locking mode);

#endif /* QCOW2_LOCK_H */
