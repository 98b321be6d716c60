/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: image locking compatible with QEMU's file driver.
 *
 * QEMU's convention (a fact about how QEMU tools cooperate on a file,
 * not part of the qcow2 format): every user of an image describes
 * what it does with it by shared (read) open-file-description locks
 * on single bytes of the file:
 *
 *   byte 100 + bit   held while the user HAS permission BIT
 *   byte 200 + bit   held while the user does NOT SHARE permission BIT
 *
 * with the permission bits 0 consistent read, 1 write, 2 write
 * unchanged, 3 resize.  A new user first takes its own bytes, then
 * tests (F_OFD_GETLK with a write lock) the opposite bytes: for each
 * permission it wants, 200 + bit must be free; for each it does not
 * share, 100 + bit must be free.  Because everybody takes before
 * testing, of two users racing at least one sees the other.
 *
 * What we take (observed on qemu-nbd 7.2 in /proc/locks, same bytes):
 *   read-write image, data file:   100 101 103 / 201 203
 *   read-only image, backing file: 100         / 201 203
 * so readers share with readers (and with qemu-img info -U, which
 * takes nothing), and any second writer is refused in both directions.
 *
 * OFD locks belong to the open file description: they survive fork
 * (nbdkit's daemonisation, --run), are released only when its last
 * descriptor closes, and do not conflict between threads.
 *
 * Thread model: called at open, single-threaded.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <nbdkit-plugin.h>

#include "store.h"
#include "lock.h"

#define PERM_BASE 100
#define SHARED_BASE 200
#define NPERMS 4

static const char *const perm_name[NPERMS] = {
  "consistent read", "write", "write unchanged", "resize",
};

/* Set (F_RDLCK) or clear (F_UNLCK) the one byte at OFF. */
static int
set_byte (int fd, off_t off, short type)
{
  struct flock fl = {
    .l_type = type, .l_whence = SEEK_SET, .l_start = off, .l_len = 1,
  };
  return fcntl (fd, F_OFD_SETLK, &fl);
}

/* 1 if another open file description holds a lock on the byte at OFF,
 * 0 if not, -1 on error.
 */
static int
byte_taken (int fd, off_t off)
{
  struct flock fl = {
    .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = off, .l_len = 1,
  };
  if (fcntl (fd, F_OFD_GETLK, &fl) == -1)
    return -1;
  return fl.l_type != F_UNLCK;
}

static void
unlock_all (int fd)
{
  struct flock fl = {
    .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = PERM_BASE,
    .l_len = SHARED_BASE + NPERMS - PERM_BASE,
  };
  fcntl (fd, F_OFD_SETLK, &fl);
}

/* OFD locks not supported here (some network/FUSE filesystems). */
static int
unsupported (int fd, const char *path, int e, enum qcow2_locking mode)
{
  unlock_all (fd);
  if (mode == QCOW2_LOCKING_AUTO) {
    nbdkit_debug ("qcow2: %s: OFD locks are not supported (%s): "
                  "not locking (locking=auto)", path, qcow2_errstr (e));
    return 0;
  }
  nbdkit_error ("%s: cannot lock the file (locking=on): %s; "
                "locking=auto or locking=off serve it without locks",
                path, qcow2_errstr (e));
  return -1;
}

int
qcow2_lock_fd (int fd, const char *path, unsigned perms, unsigned unshared,
               enum qcow2_locking mode)
{
  unsigned bit;
  int r;

  if (mode == QCOW2_LOCKING_OFF)
    return 0;

  /* 1. Take our bytes (and drop the ones we no longer need: this is
   * also how a read-write open is downgraded to read-only).
   */
  for (bit = 0; bit < NPERMS; bit++) {
    if (set_byte (fd, PERM_BASE + bit,
                  (perms & (1u << bit)) ? F_RDLCK : F_UNLCK) == -1 ||
        set_byte (fd, SHARED_BASE + bit,
                  (unshared & (1u << bit)) ? F_RDLCK : F_UNLCK) == -1) {
      int e = errno;
      if (e == EINVAL || e == ENOLCK || e == EOPNOTSUPP)
        return unsupported (fd, path, e, mode);
      if (e == EAGAIN || e == EACCES) {
        /* Someone holds an exclusive lock on QEMU's bytes. */
        nbdkit_error ("%s: another process is using the image (it holds "
                      "an exclusive lock on byte %u); stop it, or serve "
                      "with locking=off if you are sure nothing else "
                      "writes it", path,
                      (perms & (1u << bit)) ? PERM_BASE + bit
                      : SHARED_BASE + bit);
        return -1;
      }
      nbdkit_error ("%s: cannot lock the file: %s", path, qcow2_errstr (e));
      return -1;
    }
  }

  /* 2. Test the opposite bytes. */
  for (bit = 0; bit < NPERMS; bit++) {
    int want = !!(perms & (1u << bit)), deny = !!(unshared & (1u << bit));
    int shared_lock;

    if (!want && !deny)
      continue;
    for (shared_lock = 0; shared_lock < 2; shared_lock++) {
      if (shared_lock ? !deny : !want)
        continue;
      r = byte_taken (fd, shared_lock ? PERM_BASE + bit : SHARED_BASE + bit);
      if (r == -1) {
        int e = errno;
        if (e == EINVAL || e == ENOLCK || e == EOPNOTSUPP)
          return unsupported (fd, path, e, mode);
        nbdkit_error ("%s: cannot test the locks on the file: %s", path,
                      qcow2_errstr (e));
        return -1;
      }
      if (r) {
        /* QEMU's own words are quoted so that a search finds both. */
        nbdkit_error ("%s: another process is using the image: failed to "
                      "get %s\"%s\" lock (another process %s); is it served "
                      "by another nbdkit or qemu-nbd, or open in qemu-io, "
                      "qemu-img or a VM?  Stop it, or serve with "
                      "locking=off if you are sure nothing else writes it",
                      path, shared_lock ? "shared " : "", perm_name[bit],
                      shared_lock ? "has this permission, which we do not "
                      "share" : "does not share this permission");
        return -1;
      }
    }
  }
  return 0;
}
