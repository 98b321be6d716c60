/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: the blkdebug rule engine.  Semantics and locking: see
 * engine.h.
 *
 * Layout: every rule ever added stays in all[] (so the exit report can
 * show how often a removed once-rule fired, and so a pointer read
 * without the lock never dangles); live rules are also in per-event
 * arrays ev[EV] in definition order.  All of that is guarded by lock.
 *
 * The index (engine.h): per event, fast.ev[EV] says "no rules", "judge
 * under the lock" or which prepared set the event arms; the armed set
 * carries per-iotype bounds and sorted intervals.  Both are rebuilt
 * under the lock whenever the rules of an event change (add, remove,
 * clear, a once/count rule or breakpoint used up), and only for that
 * event: requests never rebuild anything.  An event judged under the
 * lock arms a set from a per-(event, state) cache, so it does not
 * allocate per request either.
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blk-hook.h"
#include "cleanup.h"
#include "clock-ns.h"
#include "engine.h"
#include "random.h"
#include "vector.h"

#define NEV BLK_EV__MAX

struct suspended {
  struct suspended *next;
  char *tag;
  bool resumed;
};

DEFINE_VECTOR_TYPE (rule_array, struct bd_rule *);

/* The set an event arms depends on the state only through the inject
 * rules naming that state: every state that no rule of the event names
 * arms the same set (key 0, the state-0 rules alone).  So the cache
 * holds at most one set per distinct rule state plus one, however many
 * states a set-state chain walks through.
 */
struct state_cache {
  int state;                    /* 0: any state no rule names */
  struct bd_armed_set *set;
};
DEFINE_VECTOR_TYPE (state_cache_vector, struct state_cache);

struct bd_engine {
  struct bd_engine_fast fast;   /* first: see engine.h */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int state;
  unsigned next_id;
  uint64_t seed;
  rule_array all;
  rule_array ev[NEV];
  state_cache_vector cache[NEV];
  struct bd_armed_set *garbage;
  struct suspended *susp;       /* oldest first */
  bool shutdown;
  int (*alive) (void);
};

static inline struct bd_armed_set *
load_armed (struct bd_engine *e, int order)
{
  return __atomic_load_n (&e->fast.armed, order);
}

static inline void
store_armed (struct bd_engine *e, struct bd_armed_set *s)
{
  __atomic_store_n (&e->fast.armed, (void *) s, __ATOMIC_RELEASE);
}

static void
array_del (rule_array *a, struct bd_rule *r)
{
  size_t i;

  for (i = 0; i < a->len; i++)
    if (a->ptr[i] == r) {
      rule_array_remove (a, i);
      return;
    }
}

/* A new set with room for N rules (and their intervals), already on
 * the garbage list (it is freed with the engine, whoever still reads
 * it).  NULL when out of memory.
 */
static struct bd_armed_set *
new_set_locked (struct bd_engine *e, size_t n)
{
  struct bd_armed_set *s;
  size_t rules = n * sizeof s->r[0];
  size_t spans = n * BD_IO__MAX * sizeof (struct bd_span);

  /* Rules are counted in the thousands at most (each is a malloc'd
   * struct), far from overflowing this.
   */
  s = malloc (sizeof *s + rules + spans);
  if (s == NULL)
    return NULL;
  s->n = 0;
  s->garbage = e->garbage;
  e->garbage = s;
  return s;
}

static int
span_cmp (const void *a, const void *b)
{
  const struct bd_span *x = a, *y = b;

  return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Fill the index of S from its rules (engine.h, struct bd_armed_set). */
static void
index_set (struct bd_armed_set *s)
{
  struct bd_span *next = (struct bd_span *) &s->r[s->n];
  size_t i, j;
  int t;

  s->unranged = 0;
  for (t = 0; t < BD_IO__MAX; t++) {
    s->span[t] = next;
    s->nspan[t] = 0;
    for (i = 0; i < s->n; i++) {
      const struct bd_rule *r = s->r[i];

      if (!(r->iotype_mask & (1u << t)))
        continue;
      if (r->sector_offset < 0 && r->length == 0) {
        s->unranged |= 1u << t;
        continue;
      }
      /* Both restrictions: the request must meet both; either interval
       * bounds it, the sector's is the smaller.
       */
      if (r->sector_offset >= 0)
        next[s->nspan[t]] = (struct bd_span) {
          (uint64_t) r->sector_offset, (uint64_t) r->sector_offset + 1
        };
      else
        next[s->nspan[t]] = (struct bd_span) {
          r->offset, r->offset + r->length
        };
      s->nspan[t]++;
    }
    qsort (s->span[t], s->nspan[t], sizeof *s->span[t], span_cmp);
    for (j = 1; j < s->nspan[t]; j++)
      if (s->span[t][j].hi < s->span[t][j - 1].hi)
        s->span[t][j].hi = s->span[t][j - 1].hi;
    next += s->nspan[t];
    if (s->unranged & (1u << t)) {
      s->lo[t] = 0;
      s->hi[t] = UINT64_MAX;
    }
    else if (s->nspan[t] == 0) {
      s->lo[t] = UINT64_MAX;
      s->hi[t] = 0;
    }
    else {
      s->lo[t] = s->span[t][0].lo;
      s->hi[t] = s->span[t][s->nspan[t] - 1].hi;
    }
  }
}

/* Exact for the intervals: does a rule of S for TYPE have no sector
 * or range, or one that overlaps OFFSET+LENGTH?  (Rules with both a
 * sector and a range are tested on the sector only: may_match decides.)
 */
bool
bd_set_search (const struct bd_armed_set *s, enum bd_iotype type,
               uint64_t offset, uint64_t length)
{
  const struct bd_span *sp = s->span[type];
  size_t a = 0, b = s->nspan[type];
  uint64_t end = offset + length;

  if (s->unranged & (1u << type))
    return true;
  if (length == 0)
    return false;
  /* a = the number of intervals that start before the request ends;
   * one of them overlaps iff the largest end among them is past
   * OFFSET.
   */
  while (a < b) {
    size_t m = a + (b - a) / 2;
    if (sp[m].lo < end)
      a = m + 1;
    else
      b = m;
  }
  return a > 0 && sp[a - 1].hi > offset;
}

/* The inject rules of EV that match STATE, in definition order. */
static struct bd_armed_set *
set_for_locked (struct bd_engine *e, int ev, int state)
{
  rule_array *a = &e->ev[ev];
  struct bd_armed_set *s = new_set_locked (e, a->len);
  size_t i;

  if (s == NULL)
    return NULL;
  for (i = 0; i < a->len; i++)
    if (a->ptr[i]->action == BD_INJECT &&
        (a->ptr[i]->state == 0 || a->ptr[i]->state == state))
      s->r[s->n++] = a->ptr[i];
  index_set (s);
  return s;
}

/* Recompute the index of EV after its rules changed. */
static void
rebuild_locked (struct bd_engine *e, int ev)
{
  rule_array *a = &e->ev[ev];
  struct bd_armed_set *idx = a->len > 0 ? BD_EV_LOCKED : NULL;
  bool simple = a->len > 0;
  size_t i;

  for (i = 0; i < a->len; i++)
    if (a->ptr[i]->action != BD_INJECT || a->ptr[i]->state != 0)
      simple = false;
  state_cache_vector_clear (&e->cache[ev]);
  /* Out of memory: the locked path still gives the right answers. */
  if (simple) {
    struct bd_armed_set *s = set_for_locked (e, ev, 0);
    if (s)
      idx = s;
  }
  __atomic_store_n (&e->fast.ev[ev], idx, __ATOMIC_RELEASE);
}

struct bd_engine *
bd_engine_new (uint64_t seed)
{
  struct bd_engine *e = calloc (1, sizeof *e);

  if (e == NULL)
    return NULL;
  pthread_mutex_init (&e->lock, NULL);
  pthread_cond_init (&e->cond, NULL);
  e->state = 1;
  e->next_id = 1;
  e->seed = seed;
  return e;
}

void
bd_engine_free (struct bd_engine *e)
{
  size_t i;

  if (e == NULL)
    return;
  for (i = 0; i < e->all.len; i++)
    bd_rule_free (e->all.ptr[i]);
  rule_array_reset (&e->all);
  for (i = 0; i < NEV; i++) {
    rule_array_reset (&e->ev[i]);
    state_cache_vector_reset (&e->cache[i]);
  }
  while (e->garbage) {
    struct bd_armed_set *s = e->garbage;
    e->garbage = s->garbage;
    free (s);
  }
  pthread_mutex_destroy (&e->lock);
  pthread_cond_destroy (&e->cond);
  free (e);
}

void
bd_engine_set_alive_cb (struct bd_engine *e, int (*alive) (void))
{
  e->alive = alive;
}

int
bd_engine_add (struct bd_engine *e, struct bd_rule *r)
{
  LOCK_GUARD (&e->lock);

  if (r->event < 0 || r->event >= NEV ||
      rule_array_append (&e->all, r) == -1) {
    bd_rule_free (r);
    return -1;
  }
  if (rule_array_append (&e->ev[r->event], r) == -1) {
    e->all.len--;
    bd_rule_free (r);
    return -1;
  }
  r->id = e->next_id++;
  /* Not blk_xorshift64s_seed: that sets bit 0, and the sequences
   * users pinned with seed= predate it.  Only 0 must be avoided.
   */
  r->rng = blk_splitmix64 (r->has_seed
                           ? r->seed : e->seed ^ blk_splitmix64 (r->id));
  if (r->rng == 0)
    r->rng = 1;
  rebuild_locked (e, r->event);
  return (int) r->id;
}

static bool
is_armed_locked (struct bd_engine *e, struct bd_rule *r)
{
  struct bd_armed_set *s = load_armed (e, __ATOMIC_ACQUIRE);
  size_t i;

  for (i = 0; s && i < s->n; i++)
    if (s->r[i] == r)
      return true;
  return false;
}

/* Take R out of the live tables (it stays in all[] for reports). */
static void
unlink_rule_locked (struct bd_engine *e, struct bd_rule *r, bool rebuild)
{
  if (r->removed)
    return;
  __atomic_store_n (&r->removed, true, __ATOMIC_RELAXED);
  array_del (&e->ev[r->event], r);
  if (is_armed_locked (e, r)) {
    struct bd_armed_set *old = load_armed (e, __ATOMIC_ACQUIRE);
    struct bd_armed_set *s = new_set_locked (e, old->n);
    size_t i;
    if (s) {
      for (i = 0; i < old->n; i++)
        if (old->r[i] != r)
          s->r[s->n++] = old->r[i];
      index_set (s);
      store_armed (e, s->n ? s : NULL);
    }
    /* else: the stale set still lists R, which is skipped as removed */
  }
  if (rebuild)
    rebuild_locked (e, r->event);
}

int
bd_engine_remove (struct bd_engine *e, unsigned id)
{
  size_t i;
  LOCK_GUARD (&e->lock);

  for (i = 0; i < e->all.len; i++) {
    struct bd_rule *r = e->all.ptr[i];
    if (r->id == id && !r->removed && r->action != BD_SUSPEND) {
      unlink_rule_locked (e, r, true);
      return 0;
    }
  }
  return -1;
}

void
bd_engine_clear (struct bd_engine *e)
{
  size_t i;
  LOCK_GUARD (&e->lock);

  for (i = 0; i < e->all.len; i++)
    if (e->all.ptr[i]->action != BD_SUSPEND)
      unlink_rule_locked (e, e->all.ptr[i], false);
  store_armed (e, NULL);
  for (i = 0; i < NEV; i++)
    rebuild_locked (e, (int) i);
}

int
bd_engine_get_state (struct bd_engine *e)
{
  LOCK_GUARD (&e->lock);
  return e->state;
}

void
bd_engine_set_state (struct bd_engine *e, int state)
{
  LOCK_GUARD (&e->lock);
  e->state = state;
}

/* Suspend the caller under TAG until resumed or shutdown.  Called with
 * the lock held; returns with it held.
 */
static int
suspend_locked (struct bd_engine *e, char *tag)
{
  struct suspended s = { .tag = tag }, **pp;
  int ret = 0;

  for (pp = &e->susp; *pp; pp = &(*pp)->next)
    ;
  *pp = &s;
  pthread_cond_broadcast (&e->cond);     /* wake wait_break */
  while (!s.resumed && !e->shutdown) {
    /* e->cond uses the default clock, CLOCK_REALTIME. */
    struct timespec ts = blk_deadline (CLOCK_REALTIME, 50000000);
    pthread_cond_timedwait (&e->cond, &e->lock, &ts);
    if (!s.resumed && e->alive) {
      int ok;
      /* The callback may sleep or call into nbdkit: not under lock. */
      pthread_mutex_unlock (&e->lock);
      ok = e->alive ();
      pthread_mutex_lock (&e->lock);
      if (!ok && !s.resumed) {
        ret = -1;
        break;
      }
    }
  }
  if (!s.resumed)
    ret = -1;
  for (pp = &e->susp; *pp; pp = &(*pp)->next)
    if (*pp == &s) {
      *pp = s.next;
      break;
    }
  free (tag);
  return ret;
}

/* The set EV arms in the current state (cached), or NULL. */
static struct bd_armed_set *
cached_set_locked (struct bd_engine *e, int ev)
{
  rule_array *a = &e->ev[ev];
  state_cache_vector *c = &e->cache[ev];
  struct bd_armed_set *s;
  int key = 0;
  size_t i;

  for (i = 0; i < a->len; i++)
    if (a->ptr[i]->action == BD_INJECT && a->ptr[i]->state != 0 &&
        a->ptr[i]->state == e->state) {
      key = e->state;
      break;
    }
  for (i = 0; i < c->len; i++)
    if (c->ptr[i].state == key)
      return c->ptr[i].set;
  s = set_for_locked (e, ev, key);
  if (s == NULL)
    return NULL;
  /* Bounded by the rules (see struct state_cache); without memory for
   * the entry the set is still valid, only not remembered.
   */
  state_cache_vector_append (c, (struct state_cache) { key, s });
  return s;
}

int
bd_engine_event_slow (struct bd_engine *e, int ev)
{
  rule_array *a;
  struct bd_armed_set *s;
  size_t i, nbreak = 0;
  bool state_set = false, rebuild = false;
  int new_state, ret = 0;
  char *tags[8];

  if ((unsigned) ev >= NEV)
    return 0;

  LOCK_GUARD (&e->lock);
  a = &e->ev[ev];
  if (a->len == 0)
    return 0;
  /* Inject rules: judged against the state before the event. */
  s = cached_set_locked (e, ev);
  if (s && s->n > 0)
    store_armed (e, s);
  new_state = e->state;
  for (i = 0; i < a->len; i++) {
    struct bd_rule *r = a->ptr[i];

    if (r->state && r->state != e->state)
      continue;
    switch (r->action) {
    case BD_INJECT:
      break;
    case BD_SET_STATE:
      /* QEMU walks the rules newest first, each overwriting the new
       * state: the first-defined matching rule wins.
       */
      if (!state_set) {
        new_state = r->new_state;
        state_set = true;
        /* This rule's new_state is the one applied: it acted.  The
         * later matching ones were hits only (QEMU: overwritten).
         */
        r->fired++;
      }
      r->matches++;
      break;
    case BD_SUSPEND:
      if (nbreak < sizeof tags / sizeof tags[0] && !e->shutdown) {
        tags[nbreak] = r->tag;
        r->tag = NULL;
        nbreak++;
        r->fired++;
        /* Breakpoints are one-shot. */
        unlink_rule_locked (e, r, false);
        rebuild = true;
        i--;
      }
      break;
    }
  }
  e->state = new_state;
  if (rebuild)
    rebuild_locked (e, ev);

  for (i = 0; i < nbreak; i++)
    if (suspend_locked (e, tags[i]) == -1) {
      ret = -1;
      for (i++; i < nbreak; i++)
        free (tags[i]);
      break;
    }
  return ret;
}

/* Whole seconds of CLOCK_MONOTONIC: the log's rate-limit window.
 * Read only when a rule fires, never on the no-match path.
 */
static uint64_t
now_sec (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec;
}

/* Does the request match R's iotype and range (immutable fields)? */
static inline bool
may_match (const struct bd_rule *c, enum bd_iotype type, uint64_t offset,
           uint64_t length)
{
  if (!(c->iotype_mask & (1u << type)))
    return false;
  /* QEMU: the sector's first byte lies inside the request; a request
   * of length 0 (flush) never matches a sector.
   */
  if (c->sector_offset >= 0 &&
      !(length && (uint64_t) c->sector_offset >= offset &&
        (uint64_t) c->sector_offset - offset < length))
    return false;
  if (c->length &&
      !(length && offset < c->offset + c->length &&
        c->offset < offset + length))
    return false;
  return true;
}

int
bd_engine_check_slow (struct bd_engine *e, enum bd_iotype type,
                      uint64_t offset, uint64_t length,
                      struct bd_outcome *out)
{
  struct bd_armed_set *s = load_armed (e, __ATOMIC_ACQUIRE);
  struct bd_rule *r = NULL;
  size_t i;

  /* Lock-free: the bounds passed (engine.h); look closer, in
   * O(log rules), before taking the lock.
   */
  if ((unsigned) type >= BD_IO__MAX || s == NULL ||
      !bd_set_search (s, type, offset, length))
    return 0;

  LOCK_GUARD (&e->lock);
  s = load_armed (e, __ATOMIC_ACQUIRE);
  for (i = 0; s && i < s->n; i++) {
    struct bd_rule *c = s->r[i];

    if (c->removed || !may_match (c, type, offset, length))
      continue;
    c->matches++;
    if (c->matches <= c->after)
      continue;
    if (c->has_prob && (blk_xorshift64s_next (&c->rng) >> 32) >= c->prob)
      continue;
    r = c;
    break;
  }
  if (r == NULL)
    return 0;
  /* QEMU: errno=0 matches (and hides later rules) but does nothing. */
  if (r->error == 0 && r->delay_ns == 0 && r->corrupt == 0)
    return 0;

  memset (out, 0, sizeof *out);
  out->rule_id = r->id;
  out->error = r->error;
  out->delay_ns = r->delay_ns;
  if (r->corrupt && type == BD_IO_READ) {
    out->corrupt = r->corrupt;
    out->corrupt_seed = blk_xorshift64s_next (&r->rng);
  }
  if (r->has_torn && type == BD_IO_WRITE) {
    out->torn = true;
    out->torn_bytes = r->torn < length ? r->torn : length;
    if (out->error == 0)
      out->error = EIO;
  }
  r->fired++;
  /* What the log line needs, copied under the lock: R may be removed
   * (and its fields change) once we let go.
   */
  out->fired = r->fired;
  memcpy (out->origin, r->origin, sizeof out->origin);
  out->log = bd_log_admit (&r->log_sec, &r->log_n, &r->log_suppressed,
                           now_sec (), &out->log_suppressed);
  if (r->count && r->fired >= r->count)
    unlink_rule_locked (e, r, true);
  return 1;
}

bool
bd_log_admit (uint64_t *sec, uint32_t *n, uint64_t *suppressed,
              uint64_t now, uint64_t *report)
{
  *report = 0;
  if (now != *sec) {
    /* A new window: the first line reports what the last ones hid. */
    *sec = now;
    *n = 0;
  }
  if (*n >= BD_LOG_BURST) {
    ++*suppressed;
    return false;
  }
  ++*n;
  *report = *suppressed;
  *suppressed = 0;
  return true;
}

int
bd_engine_break (struct bd_engine *e, int ev, const char *tag)
{
  struct bd_rule *r = bd_rule_new (BD_SUSPEND, "break");

  if (r == NULL || (r->tag = strdup (tag)) == NULL) {
    bd_rule_free (r);
    return -1;
  }
  r->event = ev;
  snprintf (r->origin, sizeof r->origin, "break %s", tag);
  return bd_engine_add (e, r) < 0 ? -1 : 0;
}

int
bd_engine_resume (struct bd_engine *e, const char *tag)
{
  struct suspended *s;
  LOCK_GUARD (&e->lock);

  for (s = e->susp; s; s = s->next)
    if (!s->resumed && strcmp (s->tag, tag) == 0) {
      s->resumed = true;
      pthread_cond_broadcast (&e->cond);
      return 0;
    }
  return -1;
}

int
bd_engine_remove_break (struct bd_engine *e, const char *tag)
{
  struct suspended *s;
  size_t i;
  int ret = -1;
  LOCK_GUARD (&e->lock);

  for (i = 0; i < e->all.len; i++) {
    struct bd_rule *r = e->all.ptr[i];
    if (r->action == BD_SUSPEND && !r->removed && r->tag &&
        strcmp (r->tag, tag) == 0) {
      unlink_rule_locked (e, r, true);
      ret = 0;
    }
  }
  for (s = e->susp; s; s = s->next)
    if (!s->resumed && strcmp (s->tag, tag) == 0) {
      s->resumed = true;
      ret = 0;
    }
  pthread_cond_broadcast (&e->cond);
  return ret;
}

int
bd_engine_wait_break (struct bd_engine *e, const char *tag,
                      uint64_t timeout_ns)
{
  LOCK_GUARD (&e->lock);
  struct timespec dl = blk_deadline (CLOCK_REALTIME, timeout_ns);

  for (;;) {
    struct suspended *s;
    for (s = e->susp; s; s = s->next)
      if (!s->resumed && strcmp (s->tag, tag) == 0)
        return 0;
    if (e->shutdown)
      return -1;
    if (timeout_ns == 0)
      pthread_cond_wait (&e->cond, &e->lock);
    else if (pthread_cond_timedwait (&e->cond, &e->lock, &dl) == ETIMEDOUT)
      return -1;
  }
}

unsigned
bd_engine_suspended (struct bd_engine *e)
{
  struct suspended *s;
  unsigned n = 0;
  LOCK_GUARD (&e->lock);

  for (s = e->susp; s; s = s->next)
    n += !s->resumed;
  return n;
}

void
bd_engine_shutdown (struct bd_engine *e)
{
  LOCK_GUARD (&e->lock);
  e->shutdown = true;
  pthread_cond_broadcast (&e->cond);
}

char *
bd_engine_list (struct bd_engine *e, bool all, unsigned *n)
{
  char *buf = NULL, line[512];
  size_t len = 0, i;
  FILE *fp = open_memstream (&buf, &len);
  LOCK_GUARD (&e->lock);

  if (fp == NULL)
    return NULL;
  *n = 0;
  for (i = 0; i < e->all.len; i++) {
    struct bd_rule *r = e->all.ptr[i];
    bool is_armed;

    if (r->removed && !all)
      continue;
    is_armed = !r->removed && is_armed_locked (e, r);
    bd_rule_describe (r, line, sizeof line);
    fprintf (fp, "%s%s%s\n", line, is_armed ? " armed" : "",
             r->removed ? " removed" : "");
    (*n)++;
  }
  if (fclose (fp) == EOF) {
    free (buf);
    return NULL;
  }
  return buf;
}

void
bd_corrupt (void *buf, size_t len, uint32_t nbits, uint64_t seed)
{
  unsigned char *p = buf;
  uint64_t s = blk_xorshift64s_seed (seed);
  uint32_t i;

  if (len == 0)
    return;
  for (i = 0; i < nbits; i++) {
    uint64_t bit = blk_xorshift64s_next (&s) % ((uint64_t) len * 8);
    p[bit / 8] ^= (unsigned char) (1u << (bit % 8));
  }
}
