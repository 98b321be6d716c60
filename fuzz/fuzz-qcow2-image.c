/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the whole qcow2 engine (open, L1/L2/refcount
 * tables, compressed clusters, subclusters, extents, then writes,
 * zeroes, trims and flush) on an arbitrary image.  Everything read
 * from the image is untrusted: the engine must report errors, never
 * crash, hang or read/write out of bounds.
 *
 * The input is written as img.qcow2 into a private directory that
 * also holds small fixed files an image may name (confined there by
 * backing-dir): base.raw and base.qcow2 (backing files), data.raw (an
 * external data file, reset every run).  So backing chains (also
 * loops: an image naming img.qcow2 as its backing file), external
 * data files and locking are exercised.  The cache is as small as the
 * engine allows, and accesses are spread over many L2 tables, so L2
 * tables are evicted (and written back when dirty); writes allocate
 * all over, which grows the refcount table of small-cluster images.
 * Then snapshot "1" is opened, if there is one.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nbdkit-plugin.h>

#include "store.h"
#include "image.h"

/* nbdkit's functions the engine calls.  FUZZ_QCOW2_VERBOSE=1 prints
 * the messages (to see what a seed reaches).
 */
static void
say (const char *fs, va_list args)
{
  static int verbose = -1;

  if (verbose == -1)
    verbose = getenv ("FUZZ_QCOW2_VERBOSE") != NULL;
  if (verbose) {
    vfprintf (stderr, fs, args);
    fputc ('\n', stderr);
  }
}
void nbdkit_error (const char *fs, ...)
{
  va_list a;
  va_start (a, fs); say (fs, a); va_end (a);
}
void nbdkit_debug (const char *fs, ...)
{
  va_list a;
  va_start (a, fs); say (fs, a); va_end (a);
}
int nbdkit_add_extent (struct nbdkit_extents *e, uint64_t o, uint64_t l,
                       uint32_t t) { return 0; }
int qcow2_debug_meta = 1;  /* messages only with FUZZ_QCOW2_VERBOSE */

static char dir[64];
static char img_path[128], data_path[128];

/* Write N bytes of BUF to PATH, replacing it. */
static void
write_file (const char *path, const void *buf, size_t n)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  if (fd == -1 || (n && write (fd, buf, n) != (ssize_t) n)) {
    perror (path);
    abort ();
  }
  close (fd);
}

static void
cleanup (void)
{
  static const char *const names[] = {
    "img.qcow2", "data.raw", "base.raw", "base.qcow2",
  };
  char p[128];
  size_t i;

  for (i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf (p, sizeof p, "%s/%s", dir, names[i]);
    unlink (p);
  }
  rmdir (dir);
}

/* The fixed files, made once per process. */
static void
setup (void)
{
  static uint8_t pat[256 * 1024];
  char p[128];
  struct qcow2_options o = { .backing = 0, .locking = QCOW2_LOCKING_OFF };
  struct qcow2_image *b;
  size_t i;

  strcpy (dir, "/tmp/fuzz-qcow2-XXXXXX");
  if (mkdtemp (dir) == NULL) {
    perror ("mkdtemp");
    abort ();
  }
  atexit (cleanup);
  snprintf (img_path, sizeof img_path, "%s/img.qcow2", dir);
  snprintf (data_path, sizeof data_path, "%s/data.raw", dir);
  for (i = 0; i < sizeof pat; i++)
    pat[i] = (uint8_t) (i * 7 + (i >> 12));
  snprintf (p, sizeof p, "%s/base.raw", dir);
  write_file (p, pat, sizeof pat);
  snprintf (p, sizeof p, "%s/base.qcow2", dir);
  if (qcow2_create (p, 4 * 1024 * 1024, 16) == -1 ||
      (b = qcow2_open (p, &o, 0)) == NULL) {
    fprintf (stderr, "cannot create %s\n", p);
    abort ();
  }
  qcow2_write (b, pat, sizeof pat, 65536);
  qcow2_close (b);
}

/* Reads (and with RW writes, zeroes, trims, a flush) spread over the
 * image: the first 4 MiB, the last sector, and one cluster in each of
 * up to 12 L2 tables' ranges (more than the 4 slots of the cache).
 */
static void
exercise (struct qcow2_image *img, int rw)
{
  static uint8_t buf[256 * 1024];
  uint64_t off, end, stride, n;
  unsigned i;

  end = img->size < 4 * 1024 * 1024 ? img->size : 4 * 1024 * 1024;
  for (off = 0; off < end; off += sizeof buf)
    qcow2_read (img, buf, end - off < sizeof buf ? end - off : sizeof buf, off);
  if (img->size > 512)
    qcow2_read (img, buf, 512, img->size - 512);
  qcow2_extents (img, end, 0, NULL);
  stride = img->cluster_size << img->l2_bits;
  for (i = 1; i <= 12 && stride && img->size / stride >= i; i++) {
    off = stride * i - (i & 1 ? 4096 : 0);
    if (off + 4096 > img->size)
      break;
    qcow2_read (img, buf, 4096, off);
    if (rw) {
      memset (buf, 0x30 + i, 4096);
      qcow2_write (img, buf, 4096, off);
    }
  }
  if (rw && end >= 3 * 65536) {
    memset (buf, 0xa5, sizeof buf);
    qcow2_write (img, buf, 4096, 1000);
    qcow2_write (img, buf, 70000, 65536 - 500);
    /* Many new clusters: small-cluster images (whose refcount table
     * covers little) grow their refcount table. */
    n = img->cluster_size <= 4096 ? 32768 : 4096;
    for (off = 2 * 65536; off + n <= end; off += 32768)
      qcow2_write (img, buf, n, off);
    qcow2_zero (img, 65536, 0, 1, 0);
    qcow2_trim (img, 131072, 65536);
    qcow2_flush (img);
    qcow2_read (img, buf, 4096, 0);
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static uint8_t zero[64 * 1024];
  struct qcow2_options o = {
    .backing = 1, .cache_size = 64 * 1024, .discard = 1,
  };
  struct qcow2_image *img;
  int rw;

  if (dir[0] == '\0')
    setup ();
  o.backing_dir = dir;
  write_file (img_path, data, size);
  write_file (data_path, zero, sizeof zero);
  for (rw = 0; rw < 2; rw++) {
    o.readonly = !rw;
    img = qcow2_open (img_path, &o, 0);
    if (img == NULL)
      return 0;
    if (rw && qcow2_lock_for_writing (img) == -1)
      rw = 0;
    exercise (img, rw);
    qcow2_close (img);
  }
  /* An internal snapshot, read-only. */
  o.readonly = 1;
  o.snapshot = "1";
  img = qcow2_open (img_path, &o, 0);
  if (img) {
    exercise (img, 0);
    qcow2_close (img);
  }
  return 0;
}
