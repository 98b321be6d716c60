/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk bench: what waiting for an asynchronous backend costs
 * under nbdkit 1.32, with the backend itself free.
 *
 *   nbdkit bench/.libs/nbdkit-handoff-plugin.so [size=SIZE] [mode=MODE]
 *
 * A RAM disk (size, default 256M).  mode=direct copies the data on the
 * nbdkit worker thread that received the request, as nbdkit's memory
 * plugin does.  mode=handoff (the default) does what every plugin over
 * an asynchronous library (the rbd plugin over librbd) must do with
 * nbdkit 1.32's synchronous plugin API: the worker hands the request
 * to another thread (here one completion thread, as librbd completes
 * requests on its own threads), sleeps, and is woken when it is done.
 * The difference between the two modes, in server CPU per request and
 * context switches per request, is the price of that wait alone;
 * bench/bench-rbd.sh reports it beside the rbd figures.
 *
 * Shared state: the request queue (queue_head/queue_tail, quit) is
 * guarded by queue_lock and signalled with queue_cond; each request's
 * done flag by its own lock and cond, on the requester's stack.  The
 * RAM buffer is read and written without a lock: the NBD client owns
 * the consistency of its overlapping requests, as with a real disk.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

struct req {
  struct req *next;
  void *dst;
  const void *src;
  size_t len;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done;                    /* guarded by lock */
};

static int64_t size = 256 * 1024 * 1024;
static bool handoff = true;
static char *ram;

static pthread_t completer;
static bool completer_started;
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cond = PTHREAD_COND_INITIALIZER;
static struct req *queue_head, *queue_tail;   /* guarded by queue_lock */
static bool quit;                             /* guarded by queue_lock */

static int
handoff_config (const char *key, const char *value)
{
  if (strcmp (key, "size") == 0) {
    size = nbdkit_parse_size (value);
    if (size <= 0) {
      nbdkit_error ("size: must be a positive size, not '%s'", value);
      return -1;
    }
  }
  else if (strcmp (key, "mode") == 0) {
    if (strcmp (value, "handoff") == 0)
      handoff = true;
    else if (strcmp (value, "direct") == 0)
      handoff = false;
    else {
      nbdkit_error ("mode: use handoff or direct, not '%s'", value);
      return -1;
    }
  }
  else {
    nbdkit_error ("unknown parameter '%s' (use size= or mode=)", key);
    return -1;
  }
  return 0;
}

static void *
completer_main (void *arg)
{
  (void) arg;
  for (;;) {
    struct req *r;

    pthread_mutex_lock (&queue_lock);
    while (!queue_head && !quit)
      pthread_cond_wait (&queue_cond, &queue_lock);
    if (!queue_head) {
      pthread_mutex_unlock (&queue_lock);
      return NULL;
    }
    r = queue_head;
    queue_head = r->next;
    if (!queue_head)
      queue_tail = NULL;
    pthread_mutex_unlock (&queue_lock);

    memcpy (r->dst, r->src, r->len);
    pthread_mutex_lock (&r->lock);
    r->done = true;
    pthread_cond_signal (&r->cond);
    pthread_mutex_unlock (&r->lock);
  }
}

static int
handoff_get_ready (void)
{
  ram = calloc (1, size);
  if (!ram) {
    nbdkit_error ("cannot allocate %" PRIi64 " bytes: %m", size);
    return -1;
  }
  return 0;
}

/* The completion thread starts after nbdkit forks (--run, background). */
static int
handoff_after_fork (void)
{
  int err;

  if (!handoff)
    return 0;
  err = pthread_create (&completer, NULL, completer_main, NULL);
  if (err) {
    errno = err;
    nbdkit_error ("cannot start the completion thread: %m");
    return -1;
  }
  completer_started = true;
  return 0;
}

static void
handoff_unload (void)
{
  if (completer_started) {
    pthread_mutex_lock (&queue_lock);
    quit = true;
    pthread_cond_signal (&queue_cond);
    pthread_mutex_unlock (&queue_lock);
    pthread_join (completer, NULL);
  }
  free (ram);
}

static void *
handoff_open (int readonly)
{
  (void) readonly;
  return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
handoff_get_size (void *h)
{
  (void) h;
  return size;
}

static int
copy (void *dst, const void *src, size_t len)
{
  if (!handoff) {
    memcpy (dst, src, len);
    return 0;
  }

  struct req r = {
    .dst = dst, .src = src, .len = len,
    .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
  };
  pthread_mutex_lock (&queue_lock);
  if (queue_tail)
    queue_tail->next = &r;
  else
    queue_head = &r;
  queue_tail = &r;
  pthread_cond_signal (&queue_cond);
  pthread_mutex_unlock (&queue_lock);

  pthread_mutex_lock (&r.lock);
  while (!r.done)
    pthread_cond_wait (&r.cond, &r.lock);
  pthread_mutex_unlock (&r.lock);
  return 0;
}

static int
handoff_pread (void *h, void *buf, uint32_t count, uint64_t offset,
               uint32_t flags)
{
  (void) h; (void) flags;
  return copy (buf, ram + offset, count);
}

static int
handoff_pwrite (void *h, const void *buf, uint32_t count, uint64_t offset,
                uint32_t flags)
{
  (void) h; (void) flags;
  return copy (ram + offset, buf, count);
}

static int
handoff_can_multi_conn (void *h)
{
  (void) h;
  return 1;
}

static struct nbdkit_plugin plugin = {
  .name = "handoff",
  .longname = "nbdkit-blk bench: RAM disk completed on another thread",
  .config = handoff_config,
  .config_help = "size=SIZE  mode=handoff|direct",
  .get_ready = handoff_get_ready,
  .after_fork = handoff_after_fork,
  .unload = handoff_unload,
  .open = handoff_open,
  .get_size = handoff_get_size,
  .can_multi_conn = handoff_can_multi_conn,
  .pread = handoff_pread,
  .pwrite = handoff_pwrite,
};

NBDKIT_REGISTER_PLUGIN (plugin)
