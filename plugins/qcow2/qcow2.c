/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: nbdkit-qcow2-plugin.so, serves a qcow2 image read/write.
 *
 *   nbdkit qcow2 [file=]IMAGE [readonly=true] [snapshot=NAME|ID]
 *                [backing=on|off] [backing-dir=DIR] [cache-size=SIZE]
 *                [discard=unmap|ignore] [create=SIZE [cluster-size=SIZE]]
 *                [locking=on|off|auto]
 *   nbdkit qcow2 rbd:POOL[/NS]/IMAGE[@SNAP] [rbd-conf=FILE] [rbd-id=USER]
 *                [rbd-keyring=FILE] [rbd-cluster=NAME] [rbd-cache=on|off]
 *                [rbd-timeout=DURATION] [rbd-request-timeout=DURATION]
 *                [readonly=true] ...
 *
 * Thread model: parallel.  One image is shared by every connection;
 * its locks are described in image.h and at the top of each engine
 * file.  Configuration globals are written in .config and read-only
 * afterwards; the image pointer is set in .get_ready (an image on RBD:
 * .after_fork) and cleared in .cleanup, when no request runs.
 */
#include <config.h>

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "store-rbd.h"
#include "enum-param.h"
#include "image.h"

/* -D qcow2.meta=1: metadata allocation / table loads. */
__attribute__ ((visibility ("default"))) int qcow2_debug_meta = 0;

static char *filename;
static struct qcow2_options opts = { .backing = 1, .discard = 1 };
static char *backing_dir, *snapshot;
static int64_t create_size = -1;
static unsigned create_cluster_bits = 16;
static struct qcow2_image *img;
/* file=rbd:POOL[/NS]/IMAGE[@SNAP] and the rbd-* options. */
static struct blk_rbd_params rbd_params = BLK_RBD_PARAMS_INIT ("rbd-", "file");
static int is_rbd, rbd_option_given;

/* A failed final flush must not look like a clean exit, but nbdkit
 * 1.32 has no way for a plugin to set its exit status: nbdkit ends
 * with exit (EXIT_SUCCESS) after unloading everything.  So an atexit
 * handler turns that exit into _exit (EXIT_FAILURE).  It is
 * registered from this shared object, so the object is pinned
 * (RTLD_NODELETE) first: otherwise nbdkit's dlclose would run (or
 * unmap) the handler at unload.  If pinning fails, .unload exits
 * instead (skipping only what nbdkit does after unloading).
 */
static int final_flush_failed;

static void
exit_failure (void)
{
  _exit (EXIT_FAILURE);
}

static void
exit_failure_at_exit (void)
{
  Dl_info info;

  if (dladdr ((void *) exit_failure, &info) && info.dli_fname &&
      dlopen (info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) &&
      atexit (exit_failure) == 0)
    return;
  final_flush_failed = 2;       /* .unload exits */
}

/* Close in .cleanup (after the last connection): for RBD this also
 * disconnects from the cluster, which must happen before unload.
 */
static void
qcow2_cleanup (void)
{
  struct blk_rbd_deadline *d = NULL;

  if (is_rbd && img) {
    /* On RBD the metadata write-back can wait for a lost cluster for
     * ever (rbd-timeout= bounds it; the RBD close has its own bound).
     */
    char what[512];

    snprintf (what, sizeof what, "closing qcow2 image %s", filename);
    d = blk_rbd_deadline_start (rbd_params.timeout_ns, what,
                                img->readonly ? "nothing is lost (no writes)"
                                : "qcow2 metadata and data not yet flushed "
                                "to the cluster are lost");
  }
  if (qcow2_close (img) == -1 && !final_flush_failed) {
    nbdkit_error ("qcow2: exiting with status 1 because the final flush "
                  "failed");
    final_flush_failed = 1;
    exit_failure_at_exit ();
  }
  img = NULL;
  blk_rbd_deadline_end (d);
  /* Lost writes: say so with the exit status too (see the rbd plugin's
   * blkrbd_cleanup).
   */
  if (is_rbd && store_rbd_close_failed ())
    _exit (EXIT_FAILURE);
}

static void
qcow2_unload (void)
{
  qcow2_close (img);
  img = NULL;
  blk_rbd_params_free (&rbd_params);
  free (filename);
  free (backing_dir);
  free (snapshot);
  if (final_flush_failed == 2)
    _exit (EXIT_FAILURE);
}

static int
set_string (char **p, const char *value)
{
  free (*p);
  *p = strdup (value);
  if (*p == NULL) {
    nbdkit_error ("strdup: %m");
    return -1;
  }
  return 0;
}

/* The parameters that take one of a fixed set of words.  discard=on
 * and off are older spellings, accepted but not listed in the error.
 */
static const struct blk_enum_name locking_names[] = {
  { "auto", QCOW2_LOCKING_AUTO }, { "on", QCOW2_LOCKING_ON },
  { "off", QCOW2_LOCKING_OFF }, { NULL, 0 }
};
static const struct blk_enum_name discard_names[] = {
  { "unmap", 1 }, { "ignore", 0 }, { "on", 1 }, { "off", 0 }, { NULL, 0 }
};

/* KEY=VALUE, VALUE one of TABLE's names: store its value in *OUT. */
static int
config_enum (const char *key, const char *value,
             const struct blk_enum_name *table, int *out)
{
  char why[256];

  if (blk_parse_enum (key, value, table, out, why, sizeof why) == -1) {
    nbdkit_error ("%s", why);
    return -1;
  }
  return 0;
}

static int
qcow2_config (const char *key, const char *value)
{
  int r;

  if (strcmp (key, "file") == 0) {
    free (filename);
    is_rbd = strncmp (value, "rbd:", 4) == 0;
    if (is_rbd) {
      char err[256];
      rbd_spec_free (&rbd_params.spec);
      if (rbd_spec_parse (value + 4, &rbd_params.spec, err, sizeof err) == -1) {
        nbdkit_error ("file: '%s': %s (expected rbd:POOL[/NAMESPACE]/IMAGE)",
                      value, err);
        filename = NULL;
        return -1;
      }
      filename = strdup (value);
    }
    else
      filename = nbdkit_absolute_path (value);
    return filename ? 0 : -1;
  }
  if (strcmp (key, "readonly") == 0) {
    r = nbdkit_parse_bool (value);
    if (r == -1)
      return -1;
    opts.readonly = r;
    return 0;
  }
  if (strcmp (key, "locking") == 0)
    return config_enum (key, value, locking_names, &opts.locking);
  if (strcmp (key, "snapshot") == 0)
    return set_string (&snapshot, value);
  if (strcmp (key, "backing") == 0) {
    r = nbdkit_parse_bool (value);
    if (r == -1)
      return -1;
    opts.backing = r;
    return 0;
  }
  if (strcmp (key, "backing-dir") == 0) {
    free (backing_dir);
    backing_dir = nbdkit_absolute_path (value);
    return backing_dir ? 0 : -1;
  }
  if (strcmp (key, "cache-size") == 0) {
    int64_t v = nbdkit_parse_size (value);
    if (v == -1)
      return -1;
    if (v < 65536) {
      nbdkit_error ("cache-size: '%s' is too small (at least 64K)", value);
      return -1;
    }
    opts.cache_size = (uint64_t) v;
    return 0;
  }
  if (strcmp (key, "discard") == 0)
    return config_enum (key, value, discard_names, &opts.discard);
  if (strcmp (key, "create") == 0) {
    create_size = nbdkit_parse_size (value);
    return create_size == -1 ? -1 : 0;
  }
  if (strcmp (key, "cluster-size") == 0) {
    int64_t v = nbdkit_parse_size (value);
    unsigned bits = 0;
    if (v == -1)
      return -1;
    while (bits < 63 && (1ll << bits) < v)
      bits++;
    if ((1ll << bits) != v || bits < QCOW2_MIN_CLUSTER_BITS ||
        bits > QCOW2_MAX_CLUSTER_BITS) {
      nbdkit_error ("cluster-size: '%s' must be a power of 2 from 512 to 2M",
                    value);
      return -1;
    }
    create_cluster_bits = bits;
    return 0;
  }
  switch (blk_rbd_config (&rbd_params, key, value)) {
  case 1: rbd_option_given = 1; return 0;
  case -1: return -1;
  }
  nbdkit_error ("qcow2: unknown parameter '%s'", key);
  return -1;
}

static int
qcow2_config_complete (void)
{
  if (filename == NULL) {
    nbdkit_error ("qcow2: file=IMAGE is required");
    return -1;
  }
  if (snapshot && create_size >= 0) {
    nbdkit_error ("qcow2: snapshot= and create= cannot be combined");
    return -1;
  }
  if (!is_rbd && rbd_option_given) {
    nbdkit_error ("qcow2: rbd-* parameters need an image on RBD "
                  "(file=rbd:POOL/IMAGE), not '%s'", filename);
    return -1;
  }
  if (is_rbd) {
    if (create_size >= 0) {
      nbdkit_error ("qcow2: create= does not work on RBD: create the image "
                    "with qemu-img and 'rbd import' it");
      return -1;
    }
    if (backing_dir) {
      nbdkit_error ("qcow2: backing-dir= does not apply to an image on RBD "
                    "(its backing and data files are never opened)");
      return -1;
    }
    /* An RBD snapshot, a qcow2 snapshot or readonly=true: open the
     * RBD image read-only (no exclusive lock, no writes).
     */
    rbd_params.readonly = opts.readonly || snapshot || rbd_params.spec.snap;
  }
  return 0;
}

/* The image on RBD is opened here (checked in .get_ready already):
 * librados' threads would not survive nbdkit's fork into the
 * background.
 */
static int
qcow2_after_fork (void)
{
  struct qcow2_store *b;

  if (!is_rbd)
    return 0;
  b = store_rbd_open (&rbd_params, filename, false);
  if (b == NULL)
    return -1;
  opts.backing_dir = NULL;
  opts.snapshot = snapshot;
  img = qcow2_open_store (b, filename, &opts, 0);
  return img ? 0 : -1;
}

/* An image on RBD: open it (cluster, RBD image, qcow2 header) and
 * close it again before nbdkit binds its socket or forks, so that any
 * mistake ends nbdkit with a non-zero status before a client can
 * connect (see the rbd plugin's blkrbd_get_ready).  Nothing is
 * written: an unchanged image is closed without a flush.
 */
static int
qcow2_probe_rbd (void)
{
  struct qcow2_store *b = store_rbd_open (&rbd_params, filename, true);
  struct qcow2_image *probe;

  if (b == NULL)
    return -1;
  opts.backing_dir = NULL;
  opts.snapshot = snapshot;
  probe = qcow2_open_store (b, filename, &opts, 0);
  qcow2_close (probe);
  return probe && !store_rbd_close_failed () ? 0 : -1;
}

static int
qcow2_get_ready (void)
{
  if (is_rbd)
    return qcow2_probe_rbd ();  /* then qcow2_after_fork */
  if (create_size >= 0 && access (filename, F_OK) == -1) {
    if (opts.readonly) {
      nbdkit_error ("%s: create= needs a writable image", filename);
      return -1;
    }
    if (qcow2_create (filename, (uint64_t) create_size,
                      create_cluster_bits) == -1)
      return -1;
    nbdkit_debug ("qcow2: created %s (%" PRIi64 " bytes)", filename,
                  create_size);
  }
  opts.backing_dir = backing_dir;
  opts.snapshot = snapshot;
  img = qcow2_open (filename, &opts, 0);
  return img ? 0 : -1;
}

static void *
qcow2_open_conn (int readonly)
{
  /* A corrupt or dirty image is served read-only (image.c): a client
   * asking for read-write gets the reason instead of a silent
   * read-only export.  nbdkit -r makes every connection read-only.
   */
  if (!readonly && img->write_refused) {
    nbdkit_error ("%s: %s", img->path, img->write_refused);
    return NULL;
  }
  if (!readonly && qcow2_lock_for_writing (img) == -1)
    return NULL;
  return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
qcow2_get_size (void *h)
{
  return (int64_t) img->size;
}

static int qcow2_can_write (void *h) { return !img->readonly; }
static int qcow2_can_flush (void *h) { return 1; }
static int qcow2_can_fua (void *h) { return NBDKIT_FUA_EMULATE; }
static int qcow2_can_trim (void *h) { return !img->readonly && opts.discard; }
static int qcow2_can_zero (void *h) { return !img->readonly; }
static int qcow2_can_fast_zero (void *h) { return 1; }
static int qcow2_can_extents (void *h) { return 1; }
static int qcow2_can_multi_conn (void *h) { return 1; }

static int
fail_errno (void)
{
  nbdkit_set_error (errno ? errno : EIO);
  return -1;
}

static int
qcow2_pread (void *h, void *buf, uint32_t count, uint64_t offset,
             uint32_t flags)
{
  return qcow2_read (img, buf, count, offset) == -1 ? fail_errno () : 0;
}

static int
qcow2_pwrite (void *h, const void *buf, uint32_t count, uint64_t offset,
              uint32_t flags)
{
  return qcow2_write (img, buf, count, offset) == -1 ? fail_errno () : 0;
}

static int
qcow2_zero_cb (void *h, uint32_t count, uint64_t offset, uint32_t flags)
{
  int r = qcow2_zero (img, count, offset, !!(flags & NBDKIT_FLAG_MAY_TRIM),
                      !!(flags & NBDKIT_FLAG_FAST_ZERO));
  return r == -1 ? fail_errno () : 0;
}

static int
qcow2_trim_cb (void *h, uint32_t count, uint64_t offset, uint32_t flags)
{
  return qcow2_trim (img, count, offset) == -1 ? fail_errno () : 0;
}

static int
qcow2_flush_cb (void *h, uint32_t flags)
{
  return qcow2_flush (img) == -1 ? fail_errno () : 0;
}

static int
qcow2_extents_cb (void *h, uint32_t count, uint64_t offset, uint32_t flags,
                  struct nbdkit_extents *ext)
{
  return qcow2_extents (img, count, offset, ext) == -1 ? fail_errno () : 0;
}

#define qcow2_config_help \
  "[file=]IMAGE          The qcow2 image (required).\n" \
  "readonly=true         Open the image read-only.\n" \
  "snapshot=NAME|ID      Export an internal snapshot (read-only).\n" \
  "backing=on|off        Open the backing chain (default on).\n" \
  "backing-dir=DIR       Backing/data files must lie inside DIR.\n" \
  "cache-size=SIZE       L2 + refcount cache size (default 16M).\n" \
  "discard=unmap|ignore  What trim does (default unmap).\n" \
  "create=SIZE           Create a v3 image if IMAGE is missing.\n" \
  "cluster-size=SIZE     Cluster size for create= (default 64K).\n" \
  "locking=on|off|auto   QEMU-compatible image locks (default auto).\n" \
  "file=rbd:POOL[/NS]/IMAGE[@SNAP]  A qcow2 image stored in Ceph RBD, with:\n" \
  "rbd-conf=FILE  rbd-id=USER  rbd-keyring=FILE  rbd-cluster=NAME\n" \
  "rbd-cache=on|off  rbd-timeout=DURATION  rbd-request-timeout=DURATION\n" \
  "(as conf= ... of the rbd plugin)."

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
  .name = "qcow2",
  .longname = "nbdkit-blk qcow2 plugin",
  .version = PACKAGE_VERSION,
  .unload = qcow2_unload,
  .config = qcow2_config,
  .config_complete = qcow2_config_complete,
  .config_help = qcow2_config_help,
  .magic_config_key = "file",
  .get_ready = qcow2_get_ready,
  .after_fork = qcow2_after_fork,
  .cleanup = qcow2_cleanup,
  .open = qcow2_open_conn,
  .get_size = qcow2_get_size,
  .can_write = qcow2_can_write,
  .can_flush = qcow2_can_flush,
  .can_fua = qcow2_can_fua,
  .can_trim = qcow2_can_trim,
  .can_zero = qcow2_can_zero,
  .can_fast_zero = qcow2_can_fast_zero,
  .can_extents = qcow2_can_extents,
  .can_multi_conn = qcow2_can_multi_conn,
  .pread = qcow2_pread,
  .pwrite = qcow2_pwrite,
  .zero = qcow2_zero_cb,
  .trim = qcow2_trim_cb,
  .flush = qcow2_flush_cb,
  .extents = qcow2_extents_cb,
  .errno_is_preserved = 0,
};

NBDKIT_REGISTER_PLUGIN (plugin)
