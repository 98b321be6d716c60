/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk test fixture: nbdkit-hookevents-filter.so.
 *
 * Subscribes to the hook and counts what the plugin below reports:
 * events by name and bracketed I/Os by layer and operation; at unload
 * it writes "event NAME COUNT" and "io LAYER OP COUNT" lines to
 * hookevents-file=PATH.  With hookevents-fail-nth=N it fails the Nth
 * bracketed I/O (counting from 1) with EIO, to drive the plugin's
 * error paths.  Used by the qcow2 tests; not installed.
 *
 * Thread model: parallel.  Counters are atomics; the configuration is
 * read-only after .config.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-filter.h>

#include "blk-hook.h"

static char *file;
static uint64_t fail_nth;
static uint64_t ev_count[BLK_EV__MAX];
static uint64_t io_count[BLK_IO__MAX];
static uint64_t io_seq;
static int handle = -1;

static void
on_event (void *opaque, enum blk_hook_event ev)
{
  __atomic_add_fetch (&ev_count[ev], 1, __ATOMIC_RELAXED);
}

static int
on_io_begin (void *opaque, struct blk_hook_io *io)
{
  uint64_t n = __atomic_add_fetch (&io_seq, 1, __ATOMIC_RELAXED);

  __atomic_add_fetch (&io_count[io->op], 1, __ATOMIC_RELAXED);
  return fail_nth && n == fail_nth ? EIO : 0;
}

static int
hookevents_config (nbdkit_next_config *next, nbdkit_backend *nxdata,
                   const char *key, const char *value)
{
  if (strcmp (key, "hookevents-file") == 0) {
    free (file);
    file = strdup (value);
    return file ? 0 : -1;
  }
  if (strcmp (key, "hookevents-fail-nth") == 0) {
    if (sscanf (value, "%" SCNu64, &fail_nth) != 1) {
      nbdkit_error ("%s: cannot parse '%s'", key, value);
      return -1;
    }
    return 0;
  }
  return next (nxdata, key, value);
}

static void
hookevents_load (void)
{
  struct blk_hook_subscriber sub = {
    .name = "hookevents", .event = on_event, .io_begin = on_io_begin,
  };
  handle = blk_hook_subscribe (&sub);
}

static void
hookevents_unload (void)
{
  FILE *fp;
  int i;

  if (handle >= 0)
    blk_hook_unsubscribe (handle);
  if (file && (fp = fopen (file, "w")) != NULL) {
    for (i = 0; i < BLK_EV__MAX; i++)
      fprintf (fp, "event %s %" PRIu64 "\n", blk_hook_event_name (i),
               ev_count[i]);
    for (i = 0; i < BLK_IO__MAX; i++)
      fprintf (fp, "io %s %" PRIu64 "\n", blk_hook_op_name (i), io_count[i]);
    fclose (fp);
  }
  free (file);
}

static struct nbdkit_filter filter = {
  .name = "hookevents",
  .longname = "nbdkit-blk hook events test filter",
  .load = hookevents_load,
  .unload = hookevents_unload,
  .config = hookevents_config,
};

NBDKIT_REGISTER_FILTER (filter)
