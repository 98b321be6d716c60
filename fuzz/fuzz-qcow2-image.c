/* libFuzzer target: the whole qcow2 engine (open, L1/L2/refcount
 * tables, compressed clusters, subclusters, extents, then writes,
 * zeroes, trims and flush) on an arbitrary image held in memory.
 * Everything read from the image is untrusted: the engine must
 * report errors, never crash, hang or read/write out of bounds.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "backend.h"
#include "image.h"

#define MAX_MEM (64u * 1024 * 1024)

/* nbdkit's functions the engine calls. */
void nbdkit_error (const char *fs, ...) { (void) fs; }
void nbdkit_debug (const char *fs, ...) { (void) fs; }
int nbdkit_add_extent (struct nbdkit_extents *e, uint64_t o, uint64_t l,
                       uint32_t t) { return 0; }
int qcow2_debug_meta = 0;

struct mem { uint8_t *p; size_t n; };

static int
mem_pread (struct backend *b, void *buf, size_t n, uint64_t off)
{
  struct mem *m = b->priv;
  size_t k = 0;

  if (off < m->n)
    k = m->n - off < n ? m->n - off : n;
  if (k)
    memcpy (buf, m->p + off, k);
  memset ((uint8_t *) buf + k, 0, n - k);
  return 0;
}

static int
mem_pwrite (struct backend *b, const void *buf, size_t n, uint64_t off)
{
  struct mem *m = b->priv;

  if (off > MAX_MEM || n > MAX_MEM - off) {
    errno = ENOSPC;
    return -1;
  }
  if (off + n > m->n) {
    uint8_t *p = realloc (m->p, off + n);
    if (p == NULL)
      return -1;
    memset (p + m->n, 0, off + n - m->n);
    m->p = p;
    m->n = off + n;
  }
  memcpy (m->p + off, buf, n);
  return 0;
}

static int mem_flush (struct backend *b) { return 0; }
static int64_t mem_size (struct backend *b) { return ((struct mem *) b->priv)->n; }
static int mem_grow (struct backend *b, uint64_t n) { return 0; }
static void
mem_close (struct backend *b)
{
  struct mem *m = b->priv;
  free (m->p);
  free (m);
  free (b->name);
  free (b);
}

static const struct backend_ops mem_ops = {
  "mem", mem_pread, mem_pwrite, mem_flush, mem_size, mem_grow, mem_close,
};

static struct backend *
mem_open (const uint8_t *data, size_t size)
{
  struct backend *b = calloc (1, sizeof *b);
  struct mem *m = calloc (1, sizeof *m);

  b->ops = &mem_ops;
  b->priv = m;
  b->name = strdup ("fuzz");
  b->caps = BACKEND_EXTENDS_ON_WRITE;
  m->p = malloc (size ? size : 1);
  memcpy (m->p, data, size);
  m->n = size;
  return b;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static uint8_t buf[256 * 1024];
  struct qcow2_options o = { .backing = 1, .cache_size = 256 * 1024 };
  struct qcow2_image *img;
  uint64_t off, end;
  int rw;

  for (rw = 0; rw < 2; rw++) {
    o.readonly = !rw;
    img = qcow2_open_backend (mem_open (data, size), "fuzz", &o, 0);
    if (img == NULL)
      return 0;
    end = img->size < 4 * 1024 * 1024 ? img->size : 4 * 1024 * 1024;
    for (off = 0; off < end; off += sizeof buf)
      qcow2_read (img, buf, end - off < sizeof buf ? end - off : sizeof buf, off);
    if (img->size > 512)
      qcow2_read (img, buf, 512, img->size - 512);
    qcow2_extents (img, end, 0, NULL);
    if (rw && end >= 3 * 65536) {
      memset (buf, 0xa5, sizeof buf);
      qcow2_write (img, buf, 4096, 1000);
      qcow2_write (img, buf, 70000, 65536 - 500);
      qcow2_zero (img, 65536, 0, 1, 0);
      qcow2_trim (img, 131072, 65536);
      qcow2_flush (img);
      qcow2_read (img, buf, 4096, 0);
    }
    qcow2_close (img);
  }
  return 0;
}
