/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk test fixture: nbdkit-hooktest-plugin.so.
 *
 * A RAM disk that behaves like a format plugin towards the hook: it
 * reports QEMU blkdebug events and brackets each of its "backend"
 * accesses, optionally sleeping inside the bracket to stand in for a
 * slow storage backend.  Used by the tests of the filters that
 * subscribe to the hook; it is not installed.
 *
 *   nbdkit hooktest size=64M [read-delay=2ms] [write-delay=..] [layer=NAME]
 *
 * Thread model: parallel.  data_lock guards the RAM buffer.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "blk-hook.h"
#include "cleanup.h"

static int64_t size = 64 * 1024 * 1024;
static uint64_t read_delay_ns, write_delay_ns;
static const char *layer = "backend";
static char *layer_copy;
static unsigned char *data;
static pthread_mutex_t data_lock = PTHREAD_MUTEX_INITIALIZER;

static int
parse_ns (const char *key, const char *value, uint64_t *ns)
{
  double v;
  char unit[4] = "";

  if (sscanf (value, "%lf%3s", &v, unit) < 1 || v < 0) {
    nbdkit_error ("%s: cannot parse '%s'", key, value);
    return -1;
  }
  if (strcmp (unit, "ms") == 0) v *= 1e6;
  else if (strcmp (unit, "us") == 0) v *= 1e3;
  else if (strcmp (unit, "s") == 0) v *= 1e9;
  else if (unit[0] && strcmp (unit, "ns") != 0) {
    nbdkit_error ("%s: unknown unit in '%s'", key, value);
    return -1;
  }
  *ns = (uint64_t) v;
  return 0;
}

static int
hooktest_config (const char *key, const char *value)
{
  if (strcmp (key, "size") == 0) {
    size = nbdkit_parse_size (value);
    return size == -1 ? -1 : 0;
  }
  if (strcmp (key, "read-delay") == 0)
    return parse_ns (key, value, &read_delay_ns);
  if (strcmp (key, "write-delay") == 0)
    return parse_ns (key, value, &write_delay_ns);
  if (strcmp (key, "layer") == 0) {
    free (layer_copy);
    layer = layer_copy = strdup (value);
    return layer ? 0 : -1;
  }
  nbdkit_error ("hooktest: unknown parameter '%s'", key);
  return -1;
}

static int
hooktest_get_ready (void)
{
  data = calloc (1, (size_t) size);
  if (data == NULL) {
    nbdkit_error ("hooktest: cannot allocate %" PRIi64 " bytes: %m", size);
    return -1;
  }
  return 0;
}

static void
hooktest_unload (void)
{
  free (data);
  free (layer_copy);
}

static void *
hooktest_open (int readonly)
{
  return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
hooktest_get_size (void *handle)
{
  return size;
}

static int hooktest_can_multi_conn (void *h) { return 1; }
static int hooktest_can_fua (void *h) { return NBDKIT_FUA_NATIVE; }

static void
sleep_ns (uint64_t ns)
{
  struct timespec ts = { .tv_sec = (time_t) (ns / 1000000000u),
                         .tv_nsec = (long) (ns % 1000000000u) };
  while (ns && nanosleep (&ts, &ts) == -1 && errno == EINTR)
    ;
}

/* One bracketed backend access: the heart of what this fixture tests. */
static int
backend_io (enum blk_hook_op op, void *buf, uint32_t count, uint64_t offset,
            uint64_t delay_ns)
{
  struct blk_hook_io io = BLK_HOOK_IO_INIT (op, offset, count, layer);
  int r = blk_hook_io_begin (&io);

  if (r == 0) {
    sleep_ns (delay_ns);
    LOCK_GUARD (&data_lock);
    switch (op) {
    case BLK_IO_READ: memcpy (buf, data + offset, count); break;
    case BLK_IO_WRITE: memcpy (data + offset, buf, count); break;
    case BLK_IO_ZERO: case BLK_IO_TRIM: memset (data + offset, 0, count); break;
    default: break;
    }
  }
  blk_hook_io_end (&io, r);
  if (r) {
    nbdkit_set_error (r);
    return -1;
  }
  return 0;
}

static int
hooktest_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
                uint32_t flags)
{
  blk_hook_event (BLK_EV_READ_AIO);
  return backend_io (BLK_IO_READ, buf, count, offset, read_delay_ns);
}

static int
hooktest_pwrite (void *handle, const void *buf, uint32_t count,
                 uint64_t offset, uint32_t flags)
{
  blk_hook_event (BLK_EV_WRITE_AIO);
  return backend_io (BLK_IO_WRITE, (void *) buf, count, offset, write_delay_ns);
}

static int
hooktest_zero (void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
  blk_hook_event (BLK_EV_PWRITEV_ZERO);
  return backend_io (BLK_IO_ZERO, NULL, count, offset, write_delay_ns);
}

static int
hooktest_trim (void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
  return backend_io (BLK_IO_TRIM, NULL, count, offset, 0);
}

static int
hooktest_flush (void *handle, uint32_t flags)
{
  blk_hook_event (BLK_EV_FLUSH_TO_DISK);
  return backend_io (BLK_IO_FLUSH, NULL, 0, 0, 0);
}

static struct nbdkit_plugin plugin = {
  .name = "hooktest",
  .description = "nbdkit-blk test fixture: RAM disk that uses the hook",
  .config = hooktest_config,
  .get_ready = hooktest_get_ready,
  .unload = hooktest_unload,
  .open = hooktest_open,
  .get_size = hooktest_get_size,
  .can_multi_conn = hooktest_can_multi_conn,
  .can_fua = hooktest_can_fua,
  .pread = hooktest_pread,
  .pwrite = hooktest_pwrite,
  .zero = hooktest_zero,
  .trim = hooktest_trim,
  .flush = hooktest_flush,
  .errno_is_preserved = 0,
};

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL
NBDKIT_REGISTER_PLUGIN (plugin)
