/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: the hub behind blk-hook.h (one instance per process).
 *
 * State: the subscriber table.  Writers (subscribe/unsubscribe) hold
 * table_lock; readers on the request path take no lock: each slot is
 * published with a release store of its in_use flag after the slot is
 * filled, and read with an acquire load.  Unsubscribing while requests
 * still run in the unsubscribing module is the caller's bug (nbdkit
 * only unloads filters after the last connection closed).
 */
#include <config.h>

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "blk-hook.h"

unsigned blk_hook_active;
unsigned blk_hook_event_mask;

/* Bit i set while slot i holds an injector (written under table_lock,
 * before blk_hook_active; read after it).  The slow paths visit these
 * slots first: see "Order" in blk-hook.h.
 */
static unsigned injector_mask;

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot {
  int in_use;
  struct blk_hook_subscriber sub;
} slots[BLK_HOOK_MAX_SUBSCRIBERS];

static const char *const event_names[BLK_EV__MAX] = {
#define BLK_HOOK_NAME_(id, name) [BLK_EV_##id] = name,
  BLK_HOOK_EVENTS (BLK_HOOK_NAME_)
#undef BLK_HOOK_NAME_
};

static const char *const op_names[BLK_IO__MAX] = {
  [BLK_IO_READ] = "read", [BLK_IO_WRITE] = "write", [BLK_IO_ZERO] = "zero",
  [BLK_IO_TRIM] = "trim", [BLK_IO_FLUSH] = "flush",
  [BLK_IO_EXTENTS] = "extents", [BLK_IO_CACHE] = "cache",
};

static void
recount_locked (void)
{
  unsigned i, active = 0, events = 0, injectors = 0;

  for (i = 0; i < BLK_HOOK_MAX_SUBSCRIBERS; i++) {
    if (slots[i].in_use)
      active |= 1u << i;
    if (slots[i].in_use && slots[i].sub.event)
      events |= 1u << i;
    if (slots[i].in_use && slots[i].sub.role == BLK_HOOK_INJECTOR)
      injectors |= 1u << i;
  }
  __atomic_store_n (&injector_mask, injectors, __ATOMIC_RELEASE);
  __atomic_store_n (&blk_hook_event_mask, events, __ATOMIC_RELEASE);
  __atomic_store_n (&blk_hook_active, active, __ATOMIC_RELEASE);
}

int
blk_hook_subscribe (const struct blk_hook_subscriber *sub)
{
  int i;

  pthread_mutex_lock (&table_lock);
  for (i = 0; i < BLK_HOOK_MAX_SUBSCRIBERS; i++) {
    if (!slots[i].in_use) {
      slots[i].sub = *sub;
      __atomic_store_n (&slots[i].in_use, 1, __ATOMIC_RELEASE);
      recount_locked ();
      pthread_mutex_unlock (&table_lock);
      return i;
    }
  }
  pthread_mutex_unlock (&table_lock);
  return -1;
}

void
blk_hook_unsubscribe (int handle)
{
  if (handle < 0 || handle >= BLK_HOOK_MAX_SUBSCRIBERS)
    return;
  pthread_mutex_lock (&table_lock);
  __atomic_store_n (&slots[handle].in_use, 0, __ATOMIC_RELEASE);
  recount_locked ();
  pthread_mutex_unlock (&table_lock);
}

const char *
blk_hook_event_name (enum blk_hook_event ev)
{
  if ((unsigned) ev >= BLK_EV__MAX)
    return "unknown";
  return event_names[ev];
}

int
blk_hook_event_lookup (const char *name)
{
  int i;

  for (i = 0; i < BLK_EV__MAX; i++)
    if (strcmp (event_names[i], name) == 0)
      return i;
  return -1;
}

const char *
blk_hook_op_name (enum blk_hook_op op)
{
  if ((unsigned) op >= BLK_IO__MAX)
    return "unknown";
  return op_names[op];
}

/* Published file sizes: bit 63 set means "known" (a file of 2^63
 * bytes does not exist).  Relaxed atomics: a plugin sets them at open,
 * before an observer reads them in its .after_fork.
 */
#define FILE_SIZE_KNOWN (UINT64_C (1) << 63)
static uint64_t file_sizes[BLK_HOOK_FILES];

void
blk_hook_set_file_size (unsigned file, uint64_t size)
{
  if (file < BLK_HOOK_FILES && size < FILE_SIZE_KNOWN)
    __atomic_store_n (&file_sizes[file], size | FILE_SIZE_KNOWN,
                      __ATOMIC_RELEASE);
}

int
blk_hook_file_size (unsigned file, uint64_t *size)
{
  uint64_t v;

  if (file >= BLK_HOOK_FILES)
    return -1;
  v = __atomic_load_n (&file_sizes[file], __ATOMIC_ACQUIRE);
  if (!(v & FILE_SIZE_KNOWN))
    return -1;
  *size = v & ~FILE_SIZE_KNOWN;
  return 0;
}

uint64_t
blk_hook_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* The slow paths visit only the slots whose bit is set, injectors
 * first.  A slot's contents are published before its bit (release in
 * recount_locked, acquire here).
 */
static inline unsigned
injectors_of (unsigned mask)
{
  return mask & __atomic_load_n (&injector_mask, __ATOMIC_ACQUIRE);
}

/* The next slot to visit, taken out of INJ (injectors first), then
 * out of OBS; -1 when both are empty.
 */
static inline int
next_in_order (unsigned *inj, unsigned *obs)
{
  unsigned *m = *inj ? inj : obs;
  unsigned i;

  if (*m == 0)
    return -1;
  i = (unsigned) __builtin_ctz (*m);
  *m &= *m - 1;
  return (int) i;
}

void
blk_hook_event_slow (enum blk_hook_event ev)
{
  unsigned mask = __atomic_load_n (&blk_hook_event_mask, __ATOMIC_ACQUIRE);
  unsigned inj = injectors_of (mask), obs = mask & ~inj;
  int i;

  while ((i = next_in_order (&inj, &obs)) >= 0)
    slots[i].sub.event (slots[i].sub.opaque, ev);
}

/* Call slot I's io_begin (if any); a subscriber sees the end of every
 * I/O whose begin it saw, including one it failed itself.
 */
static inline int
begin_one (unsigned i, struct blk_hook_io *io)
{
  const struct slot *s = &slots[i];

  io->priv[i] = NULL;
  if (s->sub.io_end)
    io->called |= 1u << i;
  return s->sub.io_begin ? s->sub.io_begin (s->sub.opaque, io) : 0;
}

int
blk_hook_io_begin_slow (struct blk_hook_io *io)
{
  unsigned mask = __atomic_load_n (&blk_hook_active, __ATOMIC_ACQUIRE);
  unsigned inj = injectors_of (mask), obs = mask & ~inj;
  int r = 0;

  /* The start is taken before any injector runs: a delay it adds
   * counts as backend time, as a slow disk's would.
   */
  io->start_ns = blk_hook_now_ns ();
  io->end_ns = 0;
  io->result = 0;
  /* Injectors: the first failure decides. */
  while (inj && r == 0) {
    unsigned i = (unsigned) __builtin_ctz (inj);
    inj &= inj - 1;
    r = begin_one (i, io);
  }
  /* Observers: all of them, so each counts the I/O with the outcome
   * the injectors chose.  An observer that fails an I/O (none should)
   * still fails it, but does not hide it from the others.
   */
  io->result = r;
  while (obs) {
    unsigned i = (unsigned) __builtin_ctz (obs);
    int r2;
    obs &= obs - 1;
    r2 = begin_one (i, io);
    if (r == 0)
      r = r2;
  }
  return r;
}

void
blk_hook_io_end_slow (struct blk_hook_io *io)
{
  /* Only subscribers that saw the begin and are still subscribed;
   * injectors first, like the begin.
   */
  unsigned mask = io->called & __atomic_load_n (&blk_hook_active,
                                                __ATOMIC_ACQUIRE);
  unsigned inj = injectors_of (mask), obs = mask & ~inj;
  int i;

  io->end_ns = blk_hook_now_ns ();
  while ((i = next_in_order (&inj, &obs)) >= 0)
    slots[i].sub.io_end (slots[i].sub.opaque, io);
}
