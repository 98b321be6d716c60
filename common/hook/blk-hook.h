/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: the hook between plugins and filters.
 *
 * A plugin cannot see the filters stacked above it, and a filter only
 * sees the requests it forwards.  Error injection, recording and
 * latency accounting also need what happens *inside* a plugin: the
 * qcow2 plugin's metadata I/O, the rbd plugin's librbd calls.  This
 * header is the whole interface.  Both sides link the shared library
 * libnbdkit-blk-hook.so.0, so the process holds exactly one hub,
 * whichever module the dynamic loader pulled it in for first.
 *
 * Plugins (publishers):
 *   blk_hook_event (BLK_EV_L2_LOAD);          // synchronous, this thread
 *
 *   struct blk_hook_io io = BLK_HOOK_IO_INIT (BLK_IO_READ, off, len, "backend");
 *   io.buf = buf;                             // optional: the data
 *   io.file = BLK_HOOK_FILE_DATA;             // optional: not the image
 *   int r = blk_hook_io_begin (&io);          // a subscriber may fail it
 *   if (r == 0)
 *     r = real_pread (...) == -1 ? errno : 0;
 *   blk_hook_io_end (&io, r);                 // always, also when failed
 *
 *   blk_hook_io_end may run on another thread than blk_hook_io_begin
 *   (an asynchronous completion); IO must stay alive in between.
 *
 * Filters (subscribers) call blk_hook_subscribe() once, from .load or
 * .get_ready (before any request), and blk_hook_unsubscribe() from
 * .unload.  See docs/hook.md for the design and the rules.
 *
 * Order: injectors (role BLK_HOOK_INJECTOR: blkdebug) run before
 * observers (BLK_HOOK_OBSERVER, the default: latency, blkreplay), for
 * events and for io_begin, so an observer always sees the outcome an
 * injector chose (its io_end gets the injected io->result), whatever
 * the order of the --filter flags.  Within one role, subscribers run
 * in subscription order, which is .get_ready order: nbdkit calls the
 * filter nearest the plugin first.
 *
 * Locks: callbacks run on the plugin's thread at the point the plugin
 * reports, which may be while the plugin holds its own locks.  The
 * qcow2 plugin raises its metadata events (l2_load, refblock_load,
 * cluster_alloc ...) and brackets its metadata I/O with its metadata
 * lock (meta_lock) held: a callback that sleeps there (a blkdebug
 * delay= or a breakpoint on l2_load) stalls every request that needs
 * metadata, not only the one that raised the event.
 *
 * With no subscriber, each call costs one load and one branch.
 */
#ifndef NBDKIT_BLK_HOOK_H
#define NBDKIT_BLK_HOOK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BLK_HOOK_API __attribute__ ((visibility ("default")))

/* Events: QEMU's BlkdebugEvent names and order (QEMU 7.2), so that
 * blkdebug rule files written for QEMU name the same points.
 */
#define BLK_HOOK_EVENTS(X)                                              \
  X (L1_UPDATE, "l1_update")                                            \
  X (L1_GROW_ALLOC_TABLE, "l1_grow_alloc_table")                        \
  X (L1_GROW_WRITE_TABLE, "l1_grow_write_table")                        \
  X (L1_GROW_ACTIVATE_TABLE, "l1_grow_activate_table")                  \
  X (L2_LOAD, "l2_load")                                                \
  X (L2_UPDATE, "l2_update")                                            \
  X (L2_UPDATE_COMPRESSED, "l2_update_compressed")                      \
  X (L2_ALLOC_COW_READ, "l2_alloc_cow_read")                            \
  X (L2_ALLOC_WRITE, "l2_alloc_write")                                  \
  X (READ_AIO, "read_aio")                                              \
  X (READ_BACKING_AIO, "read_backing_aio")                              \
  X (READ_COMPRESSED, "read_compressed")                                \
  X (WRITE_AIO, "write_aio")                                            \
  X (WRITE_COMPRESSED, "write_compressed")                              \
  X (VMSTATE_LOAD, "vmstate_load")                                      \
  X (VMSTATE_SAVE, "vmstate_save")                                      \
  X (COW_READ, "cow_read")                                              \
  X (COW_WRITE, "cow_write")                                            \
  X (REFTABLE_LOAD, "reftable_load")                                    \
  X (REFTABLE_GROW, "reftable_grow")                                    \
  X (REFTABLE_UPDATE, "reftable_update")                                \
  X (REFBLOCK_LOAD, "refblock_load")                                    \
  X (REFBLOCK_UPDATE, "refblock_update")                                \
  X (REFBLOCK_UPDATE_PART, "refblock_update_part")                      \
  X (REFBLOCK_ALLOC, "refblock_alloc")                                  \
  X (REFBLOCK_ALLOC_HOOKUP, "refblock_alloc_hookup")                    \
  X (REFBLOCK_ALLOC_WRITE, "refblock_alloc_write")                      \
  X (REFBLOCK_ALLOC_WRITE_BLOCKS, "refblock_alloc_write_blocks")        \
  X (REFBLOCK_ALLOC_WRITE_TABLE, "refblock_alloc_write_table")          \
  X (REFBLOCK_ALLOC_SWITCH_TABLE, "refblock_alloc_switch_table")        \
  X (CLUSTER_ALLOC, "cluster_alloc")                                    \
  X (CLUSTER_ALLOC_BYTES, "cluster_alloc_bytes")                        \
  X (CLUSTER_FREE, "cluster_free")                                      \
  X (FLUSH_TO_OS, "flush_to_os")                                        \
  X (FLUSH_TO_DISK, "flush_to_disk")                                    \
  X (PWRITEV_RMW_HEAD, "pwritev_rmw_head")                              \
  X (PWRITEV_RMW_AFTER_HEAD, "pwritev_rmw_after_head")                  \
  X (PWRITEV_RMW_TAIL, "pwritev_rmw_tail")                              \
  X (PWRITEV_RMW_AFTER_TAIL, "pwritev_rmw_after_tail")                  \
  X (PWRITEV, "pwritev")                                                \
  X (PWRITEV_ZERO, "pwritev_zero")                                      \
  X (PWRITEV_DONE, "pwritev_done")                                      \
  X (EMPTY_IMAGE_PREPARE, "empty_image_prepare")                        \
  X (L1_SHRINK_WRITE_TABLE, "l1_shrink_write_table")                    \
  X (L1_SHRINK_FREE_L2_CLUSTERS, "l1_shrink_free_l2_clusters")          \
  X (COR_WRITE, "cor_write")                                            \
  X (CLUSTER_ALLOC_SPACE, "cluster_alloc_space")                        \
  X (NONE, "none")                                                      \
  /* NBD operations QEMU's list lacks (raised by our filters). */       \
  X (TRIM_AIO, "trim_aio")                                              \
  X (ZERO_AIO, "zero_aio")                                              \
  X (CACHE_AIO, "cache_aio")                                            \
  X (EXTENTS_AIO, "extents_aio")

enum blk_hook_event {
#define BLK_HOOK_ENUM_(id, name) BLK_EV_##id,
  BLK_HOOK_EVENTS (BLK_HOOK_ENUM_)
#undef BLK_HOOK_ENUM_
  BLK_EV__MAX
};

/* The operation of a bracketed backend I/O. */
enum blk_hook_op {
  BLK_IO_READ,
  BLK_IO_WRITE,
  BLK_IO_ZERO,       /* write zeroes */
  BLK_IO_TRIM,       /* discard */
  BLK_IO_FLUSH,
  BLK_IO_EXTENTS,    /* block status */
  BLK_IO_CACHE,
  BLK_IO__MAX
};

#define BLK_HOOK_MAX_SUBSCRIBERS 8

/* One backend I/O, owned by the plugin from begin to end. */
struct blk_hook_io {
  /* Set by the plugin (BLK_HOOK_IO_INIT). */
  enum blk_hook_op op;
  uint64_t offset;
  uint64_t length;
  const char *layer;        /* static string, e.g. "backend", "librbd" */
  uint32_t flags;           /* BLK_HOOK_F_* */
  /* Which of the plugin's files the I/O is on (BLK_HOOK_FILE_*): an
   * observer that models one file (blkreplay-layer=backend) keeps the
   * I/O of the image itself and leaves the others.  0, the default of
   * BLK_HOOK_IO_INIT, is the image: right for a plugin with one file.
   */
  unsigned file;
  /* The data, NULL if the plugin does not pass it: for a write, what
   * is written (valid from begin to end); for a read, the destination
   * (its contents are valid in io_end when result is 0).
   */
  const void *buf;

  /* Set by the hub. */
  uint64_t start_ns;        /* CLOCK_MONOTONIC, before subscribers' begin */
  uint64_t end_ns;          /* CLOCK_MONOTONIC, at blk_hook_io_end */
  int result;               /* 0 or a positive errno; during io_begin
                               of an observer: what an injector chose */
  uint32_t called;          /* bit i: subscriber i saw begin */
  void *priv[BLK_HOOK_MAX_SUBSCRIBERS]; /* per-subscriber scratch */
};

#define BLK_HOOK_F_FUA       1u  /* the write is made durable */
#define BLK_HOOK_F_METADATA  2u  /* plugin metadata, not guest data */

/* io->file: the image (or the only file), an external data file (qcow2
 * data_file), a backing file (read-only, any depth of the chain).
 */
#define BLK_HOOK_FILE_IMAGE    0u
#define BLK_HOOK_FILE_DATA     1u
#define BLK_HOOK_FILE_BACKING  2u
#define BLK_HOOK_FILES         3u

#define BLK_HOOK_IO_INIT(op_, off_, len_, layer_)                       \
  { .op = (op_), .offset = (off_), .length = (len_), .layer = (layer_) }

/* What a subscriber does with the I/O, which decides when it runs. */
enum blk_hook_role {
  /* Watches only (latency, blkreplay): the default, 0.  Observers run
   * after every injector, and every observer sees every I/O, also one
   * an injector failed.
   */
  BLK_HOOK_OBSERVER = 0,
  /* Changes the outcome (blkdebug: errors, delays, breakpoints).
   * Injectors run first; the first one that fails an I/O ends the
   * injectors' round (later injectors do not see that I/O).
   */
  BLK_HOOK_INJECTOR = 1,
};

/* A subscriber.  Callbacks may be NULL.  They run on the plugin's
 * thread, possibly under the plugin's locks (see the top of this
 * file), and must be thread-safe; they must not call back into the hub.
 */
struct blk_hook_subscriber {
  const char *name;
  void *opaque;
  /* A plugin reported EV. */
  void (*event) (void *opaque, enum blk_hook_event ev);
  /* Before a backend I/O runs: return 0 to let it run, or a positive
   * errno to fail it without running it (io_end still follows).
   */
  int (*io_begin) (void *opaque, struct blk_hook_io *io);
  /* After it finished (io->result, io->end_ns are set). */
  void (*io_end) (void *opaque, struct blk_hook_io *io);
  /* Last, so subscribers built before it existed are observers. */
  enum blk_hook_role role;
};

/* Bit i set while slot i holds a subscriber (blk_hook_active), and while
 * slot i holds one with an event callback (blk_hook_event_mask).  Read
 * through the inline functions below; exported so the no-subscriber
 * check is a load and a branch, not a call, and so the slow paths visit
 * only the slots in use.
 */
extern BLK_HOOK_API unsigned blk_hook_active;
extern BLK_HOOK_API unsigned blk_hook_event_mask;

/* Subscribe SUB (copied).  Returns a handle >= 0, or -1 if the table
 * of BLK_HOOK_MAX_SUBSCRIBERS is full.
 */
extern BLK_HOOK_API int blk_hook_subscribe (const struct blk_hook_subscriber *sub);
extern BLK_HOOK_API void blk_hook_unsubscribe (int handle);

/* Names: "l2_load" <-> BLK_EV_L2_LOAD, "read" <-> BLK_IO_READ. */
extern BLK_HOOK_API const char *blk_hook_event_name (enum blk_hook_event ev);
extern BLK_HOOK_API int blk_hook_event_lookup (const char *name);
extern BLK_HOOK_API const char *blk_hook_op_name (enum blk_hook_op op);

/* A plugin publishes the size of one of its files (BLK_HOOK_FILE_*)
 * when it opens it, so that an observer modelling the file knows what
 * it started from (blkreplay-layer=backend writes it in its log
 * header).  blk_hook_file_size returns 0 and *SIZE if it was
 * published, -1 if not.  Lock-free; the last value set wins.
 */
extern BLK_HOOK_API void blk_hook_set_file_size (unsigned file,
                                                 uint64_t size);
extern BLK_HOOK_API int blk_hook_file_size (unsigned file, uint64_t *size);

/* Monotonic clock in ns, the time base of every hook timestamp. */
extern BLK_HOOK_API uint64_t blk_hook_now_ns (void);

/* Slow paths: only reached with subscribers. */
extern BLK_HOOK_API void blk_hook_event_slow (enum blk_hook_event ev);
extern BLK_HOOK_API int blk_hook_io_begin_slow (struct blk_hook_io *io);
extern BLK_HOOK_API void blk_hook_io_end_slow (struct blk_hook_io *io);

static inline void
blk_hook_event (enum blk_hook_event ev)
{
  if (__builtin_expect (__atomic_load_n (&blk_hook_event_mask, __ATOMIC_RELAXED), 0))
    blk_hook_event_slow (ev);
}

static inline int
blk_hook_io_begin (struct blk_hook_io *io)
{
  io->called = 0;
  if (__builtin_expect (__atomic_load_n (&blk_hook_active, __ATOMIC_RELAXED), 0))
    return blk_hook_io_begin_slow (io);
  return 0;
}

static inline void
blk_hook_io_end (struct blk_hook_io *io, int result)
{
  io->result = result;
  if (__builtin_expect (io->called != 0, 0))
    blk_hook_io_end_slow (io);
}

#ifdef __cplusplus
}
#endif

#endif /* NBDKIT_BLK_HOOK_H */
