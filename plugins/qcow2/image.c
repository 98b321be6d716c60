/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: opening and closing images (header checks, L1 and
 * refcount tables, backing chain, external data file) and the ordered
 * metadata write-back at flush.
 *
 * Thread model: qcow2_open/qcow2_close run single-threaded (plugin
 * load/unload).  qcow2_flush takes meta_lock, and free_lock
 * exclusively while applying frees (see image.h).
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <nbdkit-plugin.h>

#include "blk-hook.h"
#include "cleanup.h"
#include "image.h"

#define MAX_CHAIN_DEPTH 256

/* The caches of all backing images of one chain share this much
 * (metadata of backing images is only read, and a deep chain must
 * not cost memory in proportion to its depth), or cache-size if that
 * is smaller.  Each backing image may also use at most 4 MiB.
 */
#define BACKING_CACHE_BUDGET (4 * 1024 * 1024)

static char *
dir_of (const char *path)
{
  char *copy = strdup (path), *d, *r;

  if (copy == NULL)
    return NULL;
  d = dirname (copy);
  r = strdup (d);
  free (copy);
  return r;
}

/* Resolve NAME (relative names are relative to the directory of
 * IMG_PATH, as QEMU does) and refuse anything outside DIR (already a
 * realpath).  Formats are never probed; this only finds the file.
 */
static char *
confined_path (const char *img_path, const char *name, const char *dir,
               const char *what)
{
  CLEANUP_FREE char *base = NULL, *joined = NULL;
  char *rp;
  size_t dl;

  if (dir == NULL) {
    nbdkit_error ("%s: refusing to open its %s '%s': backing and data "
                  "files are opened only for an image in a local file%s",
                  img_path, what, name,
                  strcmp (what, "backing file") == 0
                  ? " (backing=off serves the image without it)" : "");
    return NULL;
  }
  dl = strlen (dir);

  if (strncmp (name, "json:", 5) == 0 || strstr (name, "://")) {
    nbdkit_error ("%s: %s '%s' is not a plain file name (protocols and "
                  "json: names are not supported)", img_path, what, name);
    return NULL;
  }
  if (name[0] == '/')
    joined = strdup (name);
  else {
    base = dir_of (img_path);
    if (base && asprintf (&joined, "%s/%s", base, name) == -1)
      joined = NULL;
  }
  if (joined == NULL) {
    nbdkit_error ("%s: %m", img_path);
    return NULL;
  }
  rp = realpath (joined, NULL);
  if (rp == NULL) {
    nbdkit_error ("%s: cannot find its %s '%s': %m", img_path, what, joined);
    return NULL;
  }
  if (!(strcmp (dir, "/") == 0 ||
        (strncmp (rp, dir, dl) == 0 && rp[dl] == '/'))) {
    nbdkit_error ("%s: %s '%s' resolves to '%s', outside the allowed "
                  "directory '%s' (set backing-dir=)", img_path, what, name,
                  rp, dir);
    free (rp);
    return NULL;
  }
  return rp;
}

static int
write_header (struct qcow2_image *img)
{
  uint8_t hdr[QCOW2_V3_HEADER_LEN];
  size_t n = qcow2_header_encode (&img->h, hdr, sizeof hdr);

  if (store_pwrite (img->file, hdr, n, 0, 1) == -1 ||
      store_flush (img->file) == -1)
    return -1;
  return 0;
}

/* With lazy refcounts QEMU's contract is: the dirty bit is set while
 * metadata may be inconsistent on disk, and whoever opens a dirty
 * image repairs the refcounts.  So the ordering syncs can go.
 */
int
qcow2_lazy_mark_dirty (struct qcow2_image *img)
{
  if (!img->lazy || img->dirty_set)
    return 0;
  img->h.incompatible |= QCOW2_INCOMPAT_DIRTY;
  if (write_header (img) == -1) {
    img->h.incompatible &= ~QCOW2_INCOMPAT_DIRTY;
    return -1;
  }
  img->dirty_set = 1;
  if (qcow2_debug_meta)
    nbdkit_debug ("qcow2: %s: lazy refcounts: dirty bit set", img->path);
  return 0;
}

/* meta_lock held.  The header changes a writer owes the image, done
 * once, before the first byte of a write-class request is written:
 *
 * - clear the autoclear bits: we do not maintain persistent bitmaps
 *   (nor keep an external data file a valid raw image), so QEMU must
 *   learn not to trust them before anything changes; persistent
 *   bitmaps are removed altogether (extension and clusters), so that
 *   they do not stay behind as leaks (qcow2_drop_bitmaps);
 * - (lazy refcounts) the dirty bit is not set here but by
 *   qcow2_lazy_mark_dirty at the first metadata write-back, since an
 *   overwrite of allocated clusters leaves the refcounts exact.
 */
static int
begin_writing_locked (struct qcow2_image *img)
{
  uint64_t autoclear = img->h.autoclear;

  if (img->write_ready)
    return 0;
  if (img->readonly) {
    errno = EROFS;
    return -1;
  }
  if (img->h.version >= 3 && img->h.has_bitmaps_ext) {
    /* Removes the extension, clears all autoclear bits, queues the
     * frees of the bitmaps' clusters (bitmaps.c). */
    if (qcow2_drop_bitmaps (img) == -1)
      return -1;
  }
  else if (img->h.version >= 3 && autoclear) {
    img->h.autoclear = 0;
    if (write_header (img) == -1) {
      int e = errno;
      img->h.autoclear = autoclear;
      nbdkit_error ("%s: cannot prepare the image for writing: clearing "
                    "the autoclear bits (0x%" PRIx64 ") in its header "
                    "failed: %s", img->path, autoclear, qcow2_errstr (e));
      errno = e;
      return -1;
    }
    if (qcow2_debug_meta)
      nbdkit_debug ("qcow2: %s: autoclear bits 0x%" PRIx64 " cleared",
                    img->path, autoclear);
  }
  /* Release: a thread that sees write_ready also sees the header. */
  __atomic_store_n (&img->write_ready, 1, __ATOMIC_RELEASE);
  return 0;
}

int
qcow2_begin_writing (struct qcow2_image *img)
{
  if (__atomic_load_n (&img->write_ready, __ATOMIC_ACQUIRE))
    return 0;                   /* the usual case: one load, no lock */
  {
    LOCK_GUARD (&img->meta_lock);
    return begin_writing_locked (img);
  }
}

/* The writer's locks, taken when the first read-write connection
 * opens rather than at start-up: the plugin cannot tell nbdkit -r
 * (every connection read-only) from a read-write server before that,
 * and a reader must not keep other readers out.  The reader's locks
 * held since open already keep every other writer out, so nothing
 * can write the image in between.
 */
int
qcow2_lock_for_writing (struct qcow2_image *img)
{
  LOCK_GUARD (&img->meta_lock);

  if (img->readonly || img->write_locked)
    return 0;
  if (store_file_lock (img->file, QCOW2_LOCK_RW_PERMS, QCOW2_LOCK_UNSHARED,
                       img->locking) == -1 ||
      (img->data != img->file &&
       store_file_lock (img->data, QCOW2_LOCK_RW_PERMS, QCOW2_LOCK_UNSHARED,
                        img->locking) == -1)) {
    /* Back to a reader's locks (a downgrade finds no conflict), so
     * that the other user is still kept from writing.
     */
    store_file_lock (img->file, QCOW2_LOCK_RO_PERMS, QCOW2_LOCK_UNSHARED,
                     img->locking);
    if (img->data != img->file)
      store_file_lock (img->data, QCOW2_LOCK_RO_PERMS, QCOW2_LOCK_UNSHARED,
                       img->locking);
    return -1;
  }
  img->write_locked = 1;
  return 0;
}

static int
read_table (struct qcow2_image *img, uint64_t off, uint64_t n,
            uint64_t **out, const char *what)
{
  uint8_t *buf = malloc (n ? n * 8 : 1);
  uint64_t *t = calloc (n ? n : 1, sizeof *t), i;

  if (buf == NULL || t == NULL) {
    nbdkit_error ("%s: %m", img->path);
    free (buf); free (t);
    return -1;
  }
  if (n && store_pread (img->file, buf, n * 8, off, 1) == -1) {
    nbdkit_error ("%s: cannot read the %s", img->path, what);
    free (buf); free (t);
    return -1;
  }
  for (i = 0; i < n; i++)
    t[i] = blk_load_be64 (buf + i * 8);
  free (buf);
  *out = t;
  return 0;
}

static int
select_snapshot (struct qcow2_image *img, const char *want, uint64_t fsize)
{
  struct qcow2_snapshot *s = NULL;
  uint64_t len;
  uint8_t *buf;
  char why[256];
  uint32_t i, found = UINT32_MAX;
  int r = -1;

  if (img->h.nb_snapshots == 0) {
    nbdkit_error ("%s: snapshot '%s' not found: the image has no snapshots",
                  img->path, want);
    return -1;
  }
  len = fsize - img->h.snapshots_offset;
  if (len > 16 * 1024 * 1024)
    len = 16 * 1024 * 1024;
  buf = malloc (len);
  if (buf == NULL) {
    nbdkit_error ("%s: %m", img->path);
    return -1;
  }
  if (store_pread (img->file, buf, len, img->h.snapshots_offset, 1) == -1)
    goto out;
  if (qcow2_snapshots_parse (buf, len, img->h.nb_snapshots, &img->h, fsize,
                             &s, why, sizeof why) == -1) {
    nbdkit_error ("%s: %s", img->path, why);
    goto out;
  }
  for (i = 0; i < img->h.nb_snapshots && found == UINT32_MAX; i++)
    if (strcmp (s[i].id, want) == 0)
      found = i;
  for (i = 0; i < img->h.nb_snapshots && found == UINT32_MAX; i++)
    if (strcmp (s[i].name, want) == 0)
      found = i;
  if (found == UINT32_MAX) {
    nbdkit_error ("%s: no snapshot with the ID or name '%s' "
                  "(list them with 'qemu-img snapshot -l')", img->path, want);
    goto out;
  }
  img->l1_offset = s[found].l1_table_offset;
  img->l1_size = s[found].l1_size;
  img->size = s[found].disk_size;
  r = 0;
 out:
  qcow2_snapshots_free (s, img->h.nb_snapshots);
  free (buf);
  return r;
}

/* A backing chain that comes back to one of its own files (A backs
 * onto A, A -> B -> A) would be opened again and again until the
 * depth limit: refuse it at once, naming the loop.  Files are compared
 * by identity (st_dev, st_ino), so links and different spellings of a
 * name do not hide a loop.
 */
static int
refuse_loop (const struct qcow2_image *img, const char *bpath)
{
  const struct qcow2_image *p, *hit = NULL;
  struct stat st;
  char *chain = NULL, *t;

  if (stat (bpath, &st) == -1)
    return 0;                   /* opening it will say why */
  for (p = img; p && !hit; p = p->overlay)
    if (p->have_id && p->dev == (uint64_t) st.st_dev &&
        p->ino == (uint64_t) st.st_ino)
      hit = p;
  if (hit == NULL)
    return 0;
  /* "top -> ... -> img -> bpath", built from IMG up. */
  if (asprintf (&chain, "%s", bpath) == -1)
    chain = NULL;
  for (p = img; p && chain; p = p->overlay) {
    if (asprintf (&t, "%s -> %s", p->path, chain) == -1)
      t = NULL;
    free (chain);
    chain = t;
  }
  nbdkit_error ("%s: backing chain loop: %s (the backing file '%s' is "
                "already in the chain as %s); fix it with "
                "'qemu-img rebase -u -b NEW-BACKING -F FORMAT %s', or use "
                "backing=off", img->path, chain ? chain : bpath,
                img->h.backing_file, hit->path, img->path);
  free (chain);
  return -1;
}

static int
open_backing (struct qcow2_image *img, const struct qcow2_options *o)
{
  CLEANUP_FREE char *bpath = NULL;
  const char *fmt = img->h.backing_format;

  if (img->depth + 1 >= MAX_CHAIN_DEPTH) {
    nbdkit_error ("%s: backing chain deeper than %d images (a loop?)",
                  img->path, MAX_CHAIN_DEPTH);
    return -1;
  }
  if (fmt == NULL) {
    nbdkit_error ("%s: the image names a backing file ('%s') but not its "
                  "format, and formats are never probed: record it with "
                  "'qemu-img rebase -u -b %s -F FORMAT', or use backing=off",
                  img->path, img->h.backing_file, img->h.backing_file);
    return -1;
  }
  bpath = confined_path (img->path, img->h.backing_file, o->backing_dir,
                         "backing file");
  if (bpath == NULL)
    return -1;
  if (refuse_loop (img, bpath) == -1)
    return -1;
  if (strcmp (fmt, "qcow2") == 0) {
    struct qcow2_options bo = *o;
    bo.readonly = 1;
    bo.snapshot = NULL;
    bo.overlay = img;
    if (bo.cache_size == 0 || bo.cache_size > BACKING_CACHE_BUDGET)
      bo.cache_size = BACKING_CACHE_BUDGET;
    if (bo.budget == NULL) {      /* IMG is the top of the chain */
      img->backing_budget = calloc (1, sizeof *img->backing_budget);
      if (img->backing_budget == NULL) {
        nbdkit_error ("%s: %m", img->path);
        return -1;
      }
      img->backing_budget->limit = bo.cache_size;
      bo.budget = img->backing_budget;
    }
    img->backing = qcow2_open (bpath, &bo, img->depth + 1);
    if (img->backing == NULL)
      return -1;
    img->backing_size = img->backing->size;
  }
  else if (strcmp (fmt, "raw") == 0) {
    int64_t sz;
    img->backing_raw = store_file_open (bpath, 1, 0);
    if (img->backing_raw == NULL)
      return -1;
    img->backing_raw->hook_file = BLK_HOOK_FILE_BACKING;
    if (store_file_lock (img->backing_raw, QCOW2_LOCK_RO_PERMS,
                         QCOW2_LOCK_UNSHARED, o->locking) == -1)
      return -1;
    sz = store_size (img->backing_raw);
    if (sz == -1)
      return -1;
    img->backing_size = (uint64_t) sz;
  }
  else {
    nbdkit_error ("%s: backing file '%s' has format '%s': only qcow2 and "
                  "raw are supported", img->path, img->h.backing_file, fmt);
    return -1;
  }
  return 0;
}

struct qcow2_image *
qcow2_open (const char *path, const struct qcow2_options *opts, int depth)
{
  struct qcow2_options o = *opts;
  CLEANUP_FREE char *dir = NULL;
  struct qcow2_store *file;

  if (depth == 0) {
    /* The confinement directory for the whole chain. */
    dir = o.backing_dir ? realpath (o.backing_dir, NULL) : NULL;
    if (o.backing_dir && dir == NULL) {
      nbdkit_error ("backing-dir: cannot resolve '%s': %m", o.backing_dir);
      return NULL;
    }
    if (dir == NULL) {
      CLEANUP_FREE char *rp = realpath (path, NULL);
      dir = rp ? dir_of (rp) : NULL;
      if (dir == NULL) {
        nbdkit_error ("%s: %m", path);
        return NULL;
      }
    }
    o.backing_dir = dir;
  }
  file = store_file_open (path, o.readonly || o.snapshot != NULL, 0);
  if (file == NULL)
    return NULL;
  /* Lock before reading anything, as QEMU does: what we read must not
   * be changing under us.  A reader's locks (which already keep every
   * other writer out); qcow2_lock_for_writing takes a writer's.
   */
  if (store_file_lock (file, QCOW2_LOCK_RO_PERMS, QCOW2_LOCK_UNSHARED,
                       o.locking) == -1) {
    store_close (file);
    return NULL;
  }
  return qcow2_open_store (file, path, &o, depth);
}

struct qcow2_image *
qcow2_open_store (struct qcow2_store *file, const char *path,
                  const struct qcow2_options *opts, int depth)
{
  struct qcow2_image *img = calloc (1, sizeof *img);
  struct qcow2_options o = *opts;
  CLEANUP_FREE uint8_t *hbuf = NULL;
  uint8_t first[QCOW2_V3_HEADER_LEN] = { 0 };
  char why[256];
  int64_t fsize;
  uint64_t hlen, cache, i, l1_needed;
  unsigned n;
  pthread_rwlockattr_t rwa;

  if (img == NULL || (img->path = strdup (path)) == NULL) {
    nbdkit_error ("%s: %m", path);
    free (img);
    store_close (file);
    return NULL;
  }
  img->depth = depth;
  img->overlay = o.overlay;
  img->have_id = store_file_id (file, &img->dev, &img->ino) == 0;
  img->readonly = o.readonly || o.snapshot != NULL;
  pthread_mutex_init (&img->meta_lock, NULL);
  pthread_cond_init (&img->inflight_cond, NULL);
  pthread_rwlockattr_init (&rwa);
  pthread_rwlockattr_setkind_np (&rwa,
                                 PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init (&img->free_lock, &rwa);
  pthread_rwlockattr_destroy (&rwa);
  img->file = file;
  img->data = img->file;
  /* Which file the hook says an I/O is on: the image only at the top
   * of the chain (blkreplay-layer=backend records that one).
   */
  file->hook_file = depth ? BLK_HOOK_FILE_BACKING : BLK_HOOK_FILE_IMAGE;
  if (!img->readonly && (file->caps & STORE_READONLY)) {
    img->readonly = 1;
    nbdkit_debug ("qcow2: %s: the storage cannot be written: serving the "
                  "image read-only", path);
  }
  fsize = store_size (img->file);
  if (fsize == -1)
    goto fail;
  if (depth == 0)
    blk_hook_set_file_size (BLK_HOOK_FILE_IMAGE, (uint64_t) fsize);
  hlen = (uint64_t) fsize < sizeof first ? (uint64_t) fsize : sizeof first;
  if (store_pread (img->file, first, hlen, 0, 1) == -1)
    goto fail;
  n = blk_load_be32 (first + 20);
  if (n < QCOW2_MIN_CLUSTER_BITS || n > QCOW2_MAX_CLUSTER_BITS)
    n = QCOW2_MIN_CLUSTER_BITS; /* the parser names the problem */
  hlen = (uint64_t) fsize < (1ull << n) ? (uint64_t) fsize : (1ull << n);
  hbuf = malloc (hlen ? hlen : 1);
  if (hbuf == NULL || store_pread (img->file, hbuf, hlen, 0, 1) == -1)
    goto fail;
  if (qcow2_header_parse (hbuf, hlen, (uint64_t) fsize, &img->h,
                          why, sizeof why) == -1) {
    nbdkit_error ("%s: %s", path, why);
    goto fail;
  }
  /* The external data file first: if it cannot be written, neither
   * can the image, and the checks below depend on that.
   */
  if (img->h.incompatible & QCOW2_INCOMPAT_DATA_FILE) {
    CLEANUP_FREE char *dp = confined_path (path, img->h.data_file,
                                           o.backing_dir, "external data file");
    if (dp == NULL)
      goto fail;
    img->data = store_file_open (dp, img->readonly, 0);
    if (img->data == NULL) {
      img->data = img->file;
      goto fail;
    }
    img->data->hook_file = depth ? BLK_HOOK_FILE_BACKING : BLK_HOOK_FILE_DATA;
    if (!img->readonly && (img->data->caps & STORE_READONLY)) {
      img->readonly = 1;
      nbdkit_debug ("qcow2: %s: its external data file cannot be written: "
                    "serving the image read-only", path);
    }
    if (store_file_lock (img->data, QCOW2_LOCK_RO_PERMS,
                         QCOW2_LOCK_UNSHARED, o.locking) == -1)
      goto fail;
  }
  /* A corrupt or dirty image is served read-only, as QEMU opens it
   * read-only: nbdkit -r works (the plugin cannot tell -r from a
   * read-write server before the first connection), and read-write
   * connections are refused with this message (qcow2.c).
   */
  if (!img->readonly && (img->h.incompatible & QCOW2_INCOMPAT_CORRUPT))
    img->write_refused = "the image is marked corrupt: repair it with "
      "'qemu-img check -r all', or serve it read-only (nbdkit -r or "
      "readonly=true)";
  else if (!img->readonly && (img->h.incompatible & QCOW2_INCOMPAT_DIRTY))
    img->write_refused = "the image is dirty (lazy refcounts were not "
      "written back): repair its refcounts with 'qemu-img check -r all', "
      "or serve it read-only (nbdkit -r or readonly=true)";
  if (img->write_refused) {
    nbdkit_debug ("qcow2: %s: %s: serving it read-only", path,
                  img->write_refused);
    img->readonly = 1;
  }
  img->locking = o.locking;

  img->cluster_bits = img->h.cluster_bits;
  img->cluster_size = 1ull << img->cluster_bits;
  img->extl2 = !!(img->h.incompatible & QCOW2_INCOMPAT_EXTL2);
  img->esize = img->extl2 ? 16 : 8;
  img->l2_bits = img->cluster_bits - (img->extl2 ? 4 : 3);
  img->sc_bits = img->cluster_bits - (img->extl2 ? 5 : 0);
  img->external_data = !!(img->h.incompatible & QCOW2_INCOMPAT_DATA_FILE);
  img->size = img->h.size;
  img->l1_size = img->h.l1_size;
  img->l1_offset = img->h.l1_table_offset;
  img->refcount_order = img->h.refcount_order;
  img->rb_entries = (img->cluster_size * 8) >> img->refcount_order;
  img->rc_max = img->refcount_order == 6 ? UINT64_MAX
    : (1ull << (1u << img->refcount_order)) - 1;
  img->host_end = ((uint64_t) fsize + img->cluster_size - 1) / img->cluster_size;
  img->grown_to = (uint64_t) fsize;

  if (o.snapshot && select_snapshot (img, o.snapshot, (uint64_t) fsize) == -1)
    goto fail;
  l1_needed = (img->size + (img->cluster_size << img->l2_bits) - 1)
    >> (img->cluster_bits + img->l2_bits);
  if (l1_needed > img->l1_size) {
    nbdkit_error ("%s: L1 table (%" PRIu32 " entries) too small for the "
                  "virtual size %" PRIu64, path, img->l1_size, img->size);
    goto fail;
  }
  if (read_table (img, img->l1_offset, img->l1_size, &img->l1, "L1 table") == -1)
    goto fail;
  for (i = 0; i < img->l1_size; i++) {
    if ((img->l1[i] & QCOW2_L1_RESERVED) ||
        ((img->l1[i] & QCOW2_OFFSET_MASK) & (img->cluster_size - 1))) {
      nbdkit_error ("%s: corrupt L1 entry %" PRIu64 ": 0x%016" PRIx64
                    " (reserved bits set or unaligned)", path, i, img->l1[i]);
      goto fail;
    }
  }
  img->reftable_entries = (uint64_t) img->h.refcount_table_clusters
    * img->cluster_size / 8;
  if (!img->readonly)
    blk_hook_event (BLK_EV_REFTABLE_LOAD);
  if (!img->readonly &&
      read_table (img, img->h.refcount_table_offset, img->reftable_entries,
                  &img->reftable, "refcount table") == -1)
    goto fail;
  if (img->readonly)
    img->reftable_entries = 0;

  cache = o.cache_size ? o.cache_size : 16 * 1024 * 1024;
  n = (unsigned) (cache * 3 / 4 / img->cluster_size);
  if (mcache_init (&img->l2c, img->cluster_size, n < 4 ? 4 : n,
                   img->l1_size) == -1) {
    nbdkit_error ("%s: cannot allocate the L2 cache: %m", path);
    goto fail;
  }
  n = img->readonly ? 0 : (unsigned) (cache / 4 / img->cluster_size);
  if (mcache_init (&img->rbc, img->cluster_size,
                   img->readonly ? 1 : (n < 4 ? 4 : n),
                   img->reftable_entries) == -1) {
    nbdkit_error ("%s: cannot allocate the refcount cache: %m", path);
    goto fail;
  }

  /* Backing images share their budget (open_backing). */
  img->l2c.budget = img->rbc.budget = o.budget;
  if (img->h.backing_file && o.backing && open_backing (img, &o) == -1)
    goto fail;

  img->lazy = !img->readonly && img->h.version >= 3 &&
    (img->h.compatible & QCOW2_COMPAT_LAZY_REFCOUNTS);
  /* Nothing is written at open, not even the header: an image that is
   * only read (nbdkit -r, or no client ever writes) stays byte for
   * byte as it was.  qcow2_begin_writing does the header changes at
   * the first write-class request.
   */
  if (qcow2_debug_meta)
    nbdkit_debug ("qcow2: opened %s: v%" PRIu32 ", cluster %" PRIu64
                  ", size %" PRIu64 ", refcount bits %u%s%s%s%s", path,
                  img->h.version, img->cluster_size, img->size,
                  1u << img->refcount_order, img->extl2 ? ", extended L2" : "",
                  img->external_data ? ", external data" : "",
                  img->backing || img->backing_raw ? ", backing" : "",
                  img->readonly ? ", read-only" : "");
  return img;

 fail:
  qcow2_close (img);
  return NULL;
}

int
qcow2_close (struct qcow2_image *img)
{
  int r = 0;

  if (img == NULL)
    return 0;
  if (qcow2_debug_meta)
    nbdkit_debug ("qcow2: closing %s", img->path);
  if (!img->readonly && img->l1 && img->reftable) {
    /* What the final flush has to write, for the message if it fails. */
    unsigned l2 = img->l2c.ndirty, rb = img->rbc.ndirty;
    size_t frees = img->pending.len;

    if (qcow2_flush (img) == -1) {
      nbdkit_error ("%s: the final flush at shutdown failed (%u L2 "
                    "table(s), %u refcount block(s), %zu pending free(s) "
                    "to write back, and the guest data written since the "
                    "last flush to make durable): data clients wrote and "
                    "were told was written may be lost; check the storage "
                    "(is the file system full?) and run 'qemu-img check' "
                    "on the image", img->path, l2, rb, frees);
      r = -1;
    }
    else if (img->dirty_set) {
      /* Everything is consistent on disk again. */
      img->h.incompatible &= ~QCOW2_INCOMPAT_DIRTY;
      if (write_header (img) == 0)
        img->dirty_set = 0;
    }
  }
  if (img->backing)
    qcow2_close (img->backing);
  store_close (img->backing_raw);
  if (img->data && img->data != img->file)
    store_close (img->data);
  store_close (img->file);
  mcache_free (&img->l2c);
  mcache_free (&img->rbc);
  free (img->backing_budget);   /* after the backing images' caches */
  qcow2_header_free (&img->h);
  free (img->l1);
  free (img->reftable);
  qcow2_u64s_reset (&img->pending);
  qcow2_u64s_reset (&img->inflight);
  free (img->path);
  pthread_mutex_destroy (&img->meta_lock);
  pthread_rwlock_destroy (&img->free_lock);
  pthread_cond_destroy (&img->inflight_cond);
  free (img);
  return r;
}

/* The write-back order that makes a crash leak at worst (image.h). */
int
qcow2_flush (struct qcow2_image *img)
{
  LOCK_GUARD (&img->meta_lock);
  int meta = img->rbc.ndirty || img->reftable_dirty;

  if (img->readonly)
    return 0;
  /* Metadata is only dirty after a write-class request, which began
   * writing; checked anyway so that no path writes tables before the
   * header changes.  A flush with nothing dirty writes nothing.
   */
  if ((meta || img->l2c.ndirty || img->l1_dirty || img->pending.len) &&
      (begin_writing_locked (img) == -1 ||
       qcow2_lazy_mark_dirty (img) == -1))
    return -1;
  blk_hook_event (BLK_EV_FLUSH_TO_OS);
  if (img->data != img->file && store_flush (img->data) == -1)
    return -1;
  /* 1. refcount increments (and guest data in the same file). */
  if (meta) {
    if (rc_writeback_all (img) == -1 ||
        (!img->lazy && store_flush (img->file) == -1))
      return -1;
  }
  /* 2. L2 tables, then the L1 table. */
  if (img->l2c.ndirty || img->l1_dirty) {
    if (!meta && !img->lazy && store_flush (img->file) == -1)
      return -1;                /* data before L2 */
    if (l2_writeback_all (img) == -1 ||
        (!img->lazy && store_flush (img->file) == -1))
      return -1;
    meta = 1;
  }
  /* 3. Frees, now that nothing on disk references those clusters. */
  if (img->pending.len) {
    int r;
    {
      RWLOCK_WRLOCK_GUARD (&img->free_lock);
      r = apply_pending_frees (img);
    }
    if (r == -1 || rc_writeback_all (img) == -1)
      return -1;
    meta = 1;
  }
  blk_hook_event (BLK_EV_FLUSH_TO_DISK);
  if (store_flush (img->file) == -1)
    return -1;
  if (qcow2_debug_meta && meta)
    nbdkit_debug ("qcow2: %s: metadata written back", img->path);
  return 0;
}
