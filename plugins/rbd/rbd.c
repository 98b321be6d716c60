/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: nbdkit-rbd-plugin.so, a Ceph RBD image over NBD through
 * librbd's asynchronous API.
 *
 *   nbdkit rbd [image=]POOL[/NAMESPACE]/IMAGE[@SNAPSHOT] [conf=FILE]
 *              [id=USER] [keyring=FILE] [cluster=NAME] [snapshot=NAME]
 *              [readonly=BOOL] [cache=MODE] [timeout=DURATION]
 *              [request-timeout=DURATION]
 *
 *   cache=none|writethrough|writeback|directsync|unsafe (default
 *   writethrough; the old rbd-cache=on|off is still accepted alone)
 *
 * Thread model: parallel.  Shared state and what guards it:
 * - blkrbd_cfg (parameters): written in .config/.config_complete only;
 * - blkrbd_conn (cluster, pool context, image handle): written in
 *   .after_fork and .cleanup only, when no request runs; librbd's
 *   image handle is itself thread-safe (.get_ready's check uses a
 *   connection of its own, closed before nbdkit forks);
 * - each request's state lives on its worker thread (aio.c).
 * So the I/O path takes no lock of this plugin at all.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "duration.h"
#include "rbd.h"

struct blk_rbd_params blkrbd_cfg = BLK_RBD_PARAMS_INIT ("", "image");
struct blk_rbd_conn blkrbd_conn;
static char *snapshot_param;    /* snapshot= */
static bool have_image;
/* What flush and FUA do: cache='s policy (cache-mode.c), set in
 * .config_complete, read-only after.
 */
static const struct blk_rbd_cache_policy *cache_policy;

NBDKIT_DLL_PUBLIC int rbd_debug_aio = 0;

static void
blkrbd_unload (void)
{
  blk_rbd_params_free (&blkrbd_cfg);
  free (snapshot_param);
}

static int
blkrbd_config (const char *key, const char *value)
{
  if (strcmp (key, "image") == 0) {
    char err[256];

    rbd_spec_free (&blkrbd_cfg.spec);
    if (rbd_spec_parse (value, &blkrbd_cfg.spec, err, sizeof err) == -1) {
      nbdkit_error ("image: %s", err);
      return -1;
    }
    have_image = true;
    return 0;
  }
  if (strcmp (key, "snapshot") == 0)
    return blk_rbd_set_string (&snapshot_param, key, value);
  if (strcmp (key, "readonly") == 0) {
    int b = nbdkit_parse_bool (value);

    if (b == -1)
      return -1;
    blkrbd_cfg.readonly = b;
    return 0;
  }
  /* conf, id, keyring, cluster, cache, rbd-cache, timeout,
   * request-timeout.
   */
  switch (blk_rbd_config (&blkrbd_cfg, key, value)) {
  case 1: return 0;
  case -1: return -1;
  }
  nbdkit_error ("rbd: unknown parameter '%s' (see nbdkit-rbd-plugin(1))", key);
  return -1;
}

static int
blkrbd_config_complete (void)
{
  if (!have_image) {
    nbdkit_error ("rbd: no image given: nbdkit rbd POOL[/NAMESPACE]/IMAGE[@SNAPSHOT]");
    return -1;
  }
  if (snapshot_param) {
    if (blkrbd_cfg.spec.snap && strcmp (blkrbd_cfg.spec.snap, snapshot_param)) {
      nbdkit_error ("snapshot: '%s' contradicts the snapshot '%s' in image=",
                    snapshot_param, blkrbd_cfg.spec.snap);
      return -1;
    }
    free (blkrbd_cfg.spec.snap);
    blkrbd_cfg.spec.snap = snapshot_param;
    snapshot_param = NULL;
  }
  /* A snapshot cannot be written. */
  if (blkrbd_cfg.spec.snap)
    blkrbd_cfg.readonly = true;

  /* rbd-cache=on|off is the older, raw switch: it leaves the rest of
   * librbd's cache as the conf has it, so flush and FUA always go to
   * librbd.  With both, which one wins would be a guess.
   */
  if (blkrbd_cfg.rbd_cache >= 0 &&
      blkrbd_cfg.cache_mode != BLK_RBD_CACHE_UNSET) {
    nbdkit_error ("rbd-cache: give either cache=%s or rbd-cache=%s, "
                  "not both (cache= says what flush and FUA promise)",
                  blk_enum_to_name (blk_rbd_cache_modes,
                                    blkrbd_cfg.cache_mode),
                  blkrbd_cfg.rbd_cache ? "on" : "off");
    return -1;
  }
  if (blkrbd_cfg.rbd_cache < 0 &&
      blkrbd_cfg.cache_mode == BLK_RBD_CACHE_UNSET)
    blkrbd_cfg.cache_mode = BLK_RBD_CACHE_DEFAULT;
  cache_policy = blk_rbd_cache_policy (blkrbd_cfg.cache_mode);
  return 0;
}

#define blkrbd_config_help \
  "[image=]POOL[/NS]/IMAGE[@SNAP] (required) The RBD image.\n" \
  "conf=FILE                 Ceph configuration (default: $CEPH_CONF, /etc/ceph).\n" \
  "id=USER                   Ceph user without 'client.' (default: admin).\n" \
  "keyring=FILE              Keyring holding the user's key.\n" \
  "cluster=NAME              Cluster name (default: ceph).\n" \
  "snapshot=NAME             Serve this snapshot, read-only.\n" \
  "readonly=BOOL             Open the image read-only.\n" \
  "cache=MODE                none|writethrough|writeback|directsync|unsafe\n" \
  "                          (default writethrough: every reply means on the OSDs).\n" \
  "rbd-cache=on|off          Older: librbd's rbd_cache alone (not with cache=).\n" \
  "timeout=DURATION          Bound on connecting and on closing (default 30s).\n" \
  "request-timeout=DURATION  Fail an I/O the cluster does not complete within\n" \
  "                          DURATION with EIO (default 60s, 0: wait for ever)."

/* Before nbdkit binds its socket or forks: every mistake a user can
 * fix (pool, image, snapshot, key, monitors) ends nbdkit here, with a
 * non-zero status, in every mode (-f, daemon, --run, -U -).  Failing
 * in .after_fork instead leaves a --run parent or a client waiting on
 * a socket nobody serves.  The check closes its connection again:
 * librados' threads would not survive the fork.  SIGTERM still has
 * its default action here (nbdkit sets its handlers later), so a user
 * can interrupt a slow connect.
 */
static int
blkrbd_get_ready (void)
{
  return blk_rbd_probe (&blkrbd_cfg);
}

/* The connection that serves, after the fork.  It fails only if the
 * cluster changed since .get_ready (a race the user cannot avoid).
 */
static int
blkrbd_after_fork (void)
{
  if (blk_rbd_connect (&blkrbd_cfg, &blkrbd_conn) == -1) {
    blk_rbd_disconnect (&blkrbd_cfg, &blkrbd_conn);
    return -1;
  }
  return 0;
}

static void
blkrbd_cleanup (void)
{
  /* Bounded by timeout= (blk_rbd_disconnect).  A failed close has lost
   * writes: say so with the exit status too, which nbdkit would leave
   * at 0.  _exit: librados is shut down, but nbdkit's own exit path
   * would unload us first and report success.
   */
  if (blk_rbd_disconnect (&blkrbd_cfg, &blkrbd_conn) == -1)
    _exit (EXIT_FAILURE);
}

static void *
blkrbd_open (int readonly)
{
  return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
blkrbd_get_size (void *handle)
{
  uint64_t size;
  int r = rbd_get_size (blkrbd_conn.image, &size);

  if (r < 0) {
    nbdkit_error ("rbd: cannot get the size of '%s': %s",
                  blkrbd_cfg.spec.image, strerror (-r));
    return -1;
  }
  return (int64_t) size;
}

static int
blkrbd_block_size (void *handle, uint32_t *minimum, uint32_t *preferred,
                   uint32_t *maximum)
{
  /* librbd accepts any byte range.  Below one object (the layout's
   * unit of placement and of discard) requests cost more per byte, so
   * prefer whole objects, within what NBD allows.
   */
  uint64_t pref = blkrbd_conn.obj_size;

  if (pref < 4096) pref = 4096;
  if (pref > 32 * 1024 * 1024) pref = 32 * 1024 * 1024;
  *minimum = 1;
  *preferred = (uint32_t) pref;
  *maximum = 0xffffffff;
  return 0;
}

static int
blkrbd_can_write (void *handle)
{
  return !blkrbd_cfg.readonly;
}

static int
blkrbd_can_multi_conn (void *handle)
{
  /* Every connection of this server shares one librbd image handle
   * (and its cache): a flush on any connection flushes everything, so
   * connections are consistent with each other.  Between servers the
   * exclusive-lock feature (if enabled) serialises writers; without it
   * each server still sees the others' data after it is flushed.
   */
  return 1;
}

/* Flush is advertised in every mode, as qemu-nbd does: with unsafe it
 * is accepted and not done (the mode's point is that a client which
 * flushes need not be changed to go fast).
 */
static int blkrbd_can_flush (void *handle) { return 1; }
static int blkrbd_can_trim (void *handle) { return !blkrbd_cfg.readonly; }
static int blkrbd_can_zero (void *handle) { return !blkrbd_cfg.readonly; }
static int blkrbd_can_fua (void *handle) { return NBDKIT_FUA_NATIVE; }
static int blkrbd_can_extents (void *handle) { return 1; }
static int blkrbd_is_rotational (void *handle) { return 0; }

/* nbdkit sends any errno outside NBD's few as EINVAL, "Invalid
 * argument", which tells a client the request was wrong.  librbd's
 * ETIMEDOUT (request-timeout= passed), ESHUTDOWN (this client was
 * blocklisted) and the like mean the storage failed: EIO.
 */
static int
result (int r)
{
  if (r == 0)
    return 0;
  switch (r) {
  case EPERM: case EIO: case ENOMEM: case EINVAL: case ENOSPC:
  case EOVERFLOW: case ENOTSUP: case EROFS: case EDQUOT: case EFBIG:
    break;
  default:
    r = EIO;
  }
  nbdkit_set_error (r);
  return -1;
}

static int
blkrbd_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
              uint32_t flags)
{
  return result (blkrbd_io (BLK_IO_READ, buf, count, offset, 0));
}

/* FUA: a flush after the write, as librbd has no per-write FUA, when
 * the mode lets librbd acknowledge writes before the OSDs have them
 * (writeback, or a cache as the conf set it).  Otherwise the write's
 * completion already means it is on the OSDs: nothing to add.
 */
static int
fua_flush (uint32_t flags)
{
  if (!(flags & NBDKIT_FLAG_FUA) || !cache_policy->fua_flushes)
    return 0;
  return result (blkrbd_io (BLK_IO_FLUSH, NULL, 0, 0, BLK_HOOK_F_FUA));
}

static int
blkrbd_pwrite (void *handle, const void *buf, uint32_t count,
               uint64_t offset, uint32_t flags)
{
  uint32_t hf = flags & NBDKIT_FLAG_FUA ? BLK_HOOK_F_FUA : 0;

  if (result (blkrbd_io (BLK_IO_WRITE, (void *) buf, count, offset, hf)) == -1)
    return -1;
  return fua_flush (flags);
}

static int
blkrbd_zero (void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
  uint32_t hf = flags & NBDKIT_FLAG_FUA ? BLK_HOOK_F_FUA : 0;

  if (result (blkrbd_io (BLK_IO_ZERO, NULL, count, offset, hf)) == -1)
    return -1;
  return fua_flush (flags);
}

static int
blkrbd_trim (void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
  uint32_t hf = flags & NBDKIT_FLAG_FUA ? BLK_HOOK_F_FUA : 0;

  if (result (blkrbd_io (BLK_IO_TRIM, NULL, count, offset, hf)) == -1)
    return -1;
  return fua_flush (flags);
}

static int
blkrbd_flush (void *handle, uint32_t flags)
{
  if (!cache_policy->flush_calls_librbd)
    return 0;                   /* cache=unsafe */
  return result (blkrbd_io (BLK_IO_FLUSH, NULL, 0, 0, 0));
}

static int
blkrbd_extents_cb (void *handle, uint32_t count, uint64_t offset,
                   uint32_t flags, struct nbdkit_extents *extents)
{
  return result (blkrbd_extents (count, offset, extents));
}

static struct nbdkit_plugin plugin = {
  .name = "rbd",
  .longname = "nbdkit-blk Ceph RBD plugin",
  .version = PACKAGE_VERSION,
  .description = "Serve a Ceph RBD image through librbd's asynchronous API",
  .unload = blkrbd_unload,
  .config = blkrbd_config,
  .config_complete = blkrbd_config_complete,
  .config_help = blkrbd_config_help,
  .magic_config_key = "image",
  .get_ready = blkrbd_get_ready,
  .after_fork = blkrbd_after_fork,
  .cleanup = blkrbd_cleanup,
  .open = blkrbd_open,
  .get_size = blkrbd_get_size,
  .block_size = blkrbd_block_size,
  .can_write = blkrbd_can_write,
  .can_multi_conn = blkrbd_can_multi_conn,
  .can_flush = blkrbd_can_flush,
  .can_trim = blkrbd_can_trim,
  .can_zero = blkrbd_can_zero,
  .can_fua = blkrbd_can_fua,
  .can_extents = blkrbd_can_extents,
  .is_rotational = blkrbd_is_rotational,
  .pread = blkrbd_pread,
  .pwrite = blkrbd_pwrite,
  .zero = blkrbd_zero,
  .trim = blkrbd_trim,
  .flush = blkrbd_flush,
  .extents = blkrbd_extents_cb,
  .errno_is_preserved = 0,
};

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL
NBDKIT_REGISTER_PLUGIN (plugin)
