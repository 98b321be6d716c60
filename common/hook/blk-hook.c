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
  unsigned i, active = 0, events = 0;

  for (i = 0; i < BLK_HOOK_MAX_SUBSCRIBERS; i++) {
    if (slots[i].in_use)
      active |= 1u << i;
    if (slots[i].in_use && slots[i].sub.event)
      events |= 1u << i;
  }
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

uint64_t
blk_hook_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* The slow paths visit only the slots whose bit is set.  A slot's
 * contents are published before its bit (release in recount_locked,
 * acquire here).
 */
void
blk_hook_event_slow (enum blk_hook_event ev)
{
  unsigned mask = __atomic_load_n (&blk_hook_event_mask, __ATOMIC_ACQUIRE);

  while (mask) {
    unsigned i = (unsigned) __builtin_ctz (mask);
    const struct slot *s = &slots[i];
    mask &= mask - 1;
    s->sub.event (s->sub.opaque, ev);
  }
}

int
blk_hook_io_begin_slow (struct blk_hook_io *io)
{
  unsigned mask = __atomic_load_n (&blk_hook_active, __ATOMIC_ACQUIRE);
  int r = 0;

  io->start_ns = blk_hook_now_ns ();
  io->end_ns = 0;
  io->result = 0;
  while (mask && r == 0) {
    unsigned i = (unsigned) __builtin_ctz (mask);
    const struct slot *s = &slots[i];
    mask &= mask - 1;
    io->priv[i] = NULL;
    /* A subscriber sees the end of every I/O whose begin it saw,
     * including the one it failed itself.
     */
    if (s->sub.io_end)
      io->called |= 1u << i;
    if (s->sub.io_begin)
      r = s->sub.io_begin (s->sub.opaque, io);
  }
  return r;
}

void
blk_hook_io_end_slow (struct blk_hook_io *io)
{
  /* Only subscribers that saw the begin and are still subscribed. */
  unsigned mask = io->called & __atomic_load_n (&blk_hook_active,
                                                __ATOMIC_ACQUIRE);

  io->end_ns = blk_hook_now_ns ();
  while (mask) {
    unsigned i = (unsigned) __builtin_ctz (mask);
    const struct slot *s = &slots[i];
    mask &= mask - 1;
    s->sub.io_end (s->sub.opaque, io);
  }
}
