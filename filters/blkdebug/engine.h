/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: the blkdebug rule engine (QEMU's semantics).
 *
 *   state starts at 1;
 *   bd_engine_event (EV): every rule of EV is judged against the state
 *     before the event; the first-defined matching set-state rule gives
 *     the new state, applied after all rules were judged; if any inject
 *     rule matches, the matching inject rules replace the armed set;
 *     matching breakpoints are removed and suspend the caller;
 *   bd_engine_check (IOTYPE, OFFSET, LENGTH): the first armed rule (in
 *     definition order) whose iotype, sector and range match decides;
 *     an armed rule stays armed (failing every later matching request)
 *     unless once/count removes it after it fired.
 *
 * Concurrency.  One mutex (lock) guards the rules, their counters, the
 * state, the state cache and the suspended requests; cond signals
 * suspensions and resumptions.  What a request reads on its no-match
 * path is published for lock-free readers instead (RCU-like, no
 * reference counts):
 *
 *  - the armed set and the per-event index (struct bd_engine_fast) are
 *    pointers to immutable objects, written only under lock with
 *    release stores and read with acquire loads (a plain load on
 *    x86-64);
 *  - an object is built completely before its pointer is published and
 *    never changes afterwards; a retired object goes to a garbage list
 *    freed with the engine, so a reader holding a stale pointer never
 *    dangles (objects change only when rules are added or removed, so
 *    the list grows with rule changes, never with requests).
 *
 * Why pointer swaps and not a generation counter or a read-write lock:
 * a reader needs one consistent snapshot (set plus its index), which
 * one acquire load of one pointer gives; an rwlock's read side would
 * write a shared cache line per request, and a seqlock's retry loop
 * costs more loads than the whole no-match test.
 *
 * A reader with a stale pointer sees the engine as it was just before
 * the concurrent change: an event re-arming a prepared set, racing a
 * locked event, is equivalent to one of the two orders; a request
 * judged against a set that still lists a rule just removed skips it
 * under the lock (rule->removed).  Everything that acts (a rule that
 * fires, set-state, breakpoints, counters) happens under the lock.
 */
#ifndef NBDKIT_BLK_BLKDEBUG_ENGINE_H
#define NBDKIT_BLK_BLKDEBUG_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blk-hook.h"
#include "rules.h"

struct bd_engine;

/* One byte interval [lo, hi) of the sector= or offset=/length=
 * restriction of armed rules; in a sorted array hi is the largest end
 * of this interval and all the earlier ones (see below).
 */
struct bd_span {
  uint64_t lo, hi;
};

/* An armed set: immutable once published (see above).  Here only for
 * the inline fast path below.
 *
 * Besides the rules (definition order, as QEMU judges them), an index
 * per iotype T that tells a request, without the lock, that no rule
 * of the set can match it:
 *  - lo[T], hi[T]: every rule of T restricts requests to [lo, hi);
 *    no rule of T: lo = UINT64_MAX, hi = 0; a rule of T without a
 *    sector or range (unranged): lo = 0, hi = UINT64_MAX;
 *  - span[T][0 .. nspan[T]-1]: the intervals of T's ranged rules,
 *    sorted by lo, each hi raised to the largest end so far, so that a
 *    binary search answers "does any interval overlap the request";
 *  - unranged: the iotypes (bits) with an unranged rule.
 */
struct bd_armed_set {
  struct bd_armed_set *garbage; /* retired objects, freed at the end */
  uint64_t lo[BD_IO__MAX], hi[BD_IO__MAX];
  uint32_t unranged;
  uint32_t nspan[BD_IO__MAX];
  struct bd_span *span[BD_IO__MAX];
  size_t n;                     /* 0: "do not replace" (cache only) */
  struct bd_rule *r[];
};

/* ev[EV] of struct bd_engine_fast: NULL if EV has no live rule; this
 * value if they must be judged under the lock (set-state rules,
 * breakpoints, inject rules that depend on the state); otherwise the
 * (non-empty) set EV arms, whatever the state.
 */
#define BD_EV_LOCKED ((struct bd_armed_set *) 1)

/* The first member of struct bd_engine: what the inline fast paths
 * below read, so that an event without rules, an event that re-arms a
 * fixed set, or a request that no armed rule can match costs no
 * function call and no lock.
 */
struct bd_engine_fast {
  struct bd_armed_set *ev[BLK_EV__MAX]; /* the event index, see above */
  struct bd_armed_set *armed;           /* NULL: nothing armed */
};

/* What a request must do; filled by bd_engine_check. */
struct bd_outcome {
  unsigned rule_id;
  int error;                    /* 0 or an errno to fail with */
  uint64_t delay_ns;            /* sleep this long first */
  uint32_t corrupt;             /* reads: flip this many bits */
  uint64_t corrupt_seed;        /* ... at positions drawn from this */
  bool torn;                    /* writes: write torn_bytes, then fail */
  uint64_t torn_bytes;

  /* For the injection log line (filled under the engine's lock). */
  char origin[96];              /* the rule's origin (file:line, ...) */
  uint64_t fired;               /* the rule's fired count, this one included */
  bool log;                     /* log this one (rate limit, see below) */
  uint64_t log_suppressed;      /* injections of the rule not logged
                                 * since its last logged line */
};

/* The injection log's rate limit: at most BD_LOG_BURST lines per rule
 * per second (of CLOCK_MONOTONIC); the first line after a suppressed
 * stretch says how many were left out.  bd_log_admit updates a rule's
 * window (SEC, N, SUPPRESSED) for an injection at second NOW: returns
 * true if it is to be logged, with *REPORT = injections suppressed
 * before it.  Pure (the caller holds the lock that guards the fields).
 */
#define BD_LOG_BURST 5
extern bool bd_log_admit (uint64_t *sec, uint32_t *n, uint64_t *suppressed,
                          uint64_t now, uint64_t *report);

/* SEED: blkdebug-seed= (rules without their own seed= derive theirs
 * from it and their id).
 */
extern struct bd_engine *bd_engine_new (uint64_t seed);
extern void bd_engine_free (struct bd_engine *e);

/* Called about every 50ms while a request is suspended; return 0 to
 * give up (server shutting down, client gone).  May be NULL.
 */
extern void bd_engine_set_alive_cb (struct bd_engine *e, int (*alive) (void));

/* Take ownership of R (finished), give it the next id.  Returns the id,
 * or -1 (out of memory; R is freed).
 */
extern int bd_engine_add (struct bd_engine *e, struct bd_rule *r);
/* Remove rule ID (not breakpoints).  0, or -1 if there is none. */
extern int bd_engine_remove (struct bd_engine *e, unsigned id);
/* Remove every inject and set-state rule; disarm. */
extern void bd_engine_clear (struct bd_engine *e);

extern int bd_engine_get_state (struct bd_engine *e);
extern void bd_engine_set_state (struct bd_engine *e, int state);

/* Raise EV.  Returns 0, or -1 if a breakpoint suspended the caller and
 * it was released by shutdown (the request should fail, ESHUTDOWN).
 */
extern int bd_engine_event_slow (struct bd_engine *e, int ev);

/* The lock-free part of raising EV: true if it is done (EV has no
 * rules, or it re-armed its prepared set); false if the caller must
 * call bd_engine_event_slow.
 */
static inline bool
bd_engine_event_fast (struct bd_engine *e, int ev)
{
  struct bd_engine_fast *f = (struct bd_engine_fast *) e;
  struct bd_armed_set *s;

  if ((unsigned) ev >= BLK_EV__MAX ||
      (s = __atomic_load_n (&f->ev[ev], __ATOMIC_ACQUIRE)) == NULL)
    return true;
  if (s == BD_EV_LOCKED)
    return false;
  /* The common case: the event arms a fixed set.  Compare first: the
   * store would move the cache line between the worker threads.
   */
  if (__atomic_load_n (&f->armed, __ATOMIC_RELAXED) != s)
    __atomic_store_n (&f->armed, s, __ATOMIC_RELEASE);
  return true;
}

static inline int
bd_engine_event (struct bd_engine *e, int ev)
{
  return bd_engine_event_fast (e, ev) ? 0 : bd_engine_event_slow (e, ev);
}

/* The interval search of the index (engine.c): can a rule of S match
 * a request of TYPE at OFFSET+LENGTH, as far as its iotype, sector and
 * range tell?  Lock-free, a leaf function: for requests inside the
 * bounds of S's rules.
 */
extern bool bd_set_search (const struct bd_armed_set *s, enum bd_iotype type,
                           uint64_t offset, uint64_t length);

/* Is a request of TYPE at OFFSET+LENGTH inside the bounds of the
 * rules of S (not NULL)?  false: no rule of S can match it.
 */
static inline bool
bd_set_in_bounds (const struct bd_armed_set *s, enum bd_iotype type,
                  uint64_t offset, uint64_t length)
{
  /* offset + length - 1: the last byte; for LENGTH 0 it wraps to the
   * largest value, so that only the unranged rules (lo = 0) pass the
   * bounds (the search then refuses a sector or range).
   */
  return offset < s->hi[type] && offset + length - 1 >= s->lo[type];
}

/* The bounds, then the search: false means certainly not; true means
 * "judge it" (bd_engine_check_slow decides).
 */
static inline bool
bd_set_may_match (const struct bd_armed_set *s, enum bd_iotype type,
                  uint64_t offset, uint64_t length)
{
  return bd_set_in_bounds (s, type, offset, length) &&
         bd_set_search (s, type, offset, length);
}

/* Can an armed rule match a request of TYPE at OFFSET+LENGTH (LENGTH
 * 0: a flush)?  A few loads, no lock; a call only for requests inside
 * the bounds of the armed rules.  Requests end at or below 2^63
 * (nbdkit's limit on an export's size; the index relies on OFFSET <
 * UINT64_MAX).
 */
static inline bool
bd_engine_may_match (struct bd_engine *e, enum bd_iotype type,
                     uint64_t offset, uint64_t length)
{
  struct bd_engine_fast *f = (struct bd_engine_fast *) e;
  const struct bd_armed_set *s = __atomic_load_n (&f->armed,
                                                  __ATOMIC_ACQUIRE);

  return s && bd_set_may_match (s, type, offset, length);
}

/* Raise EV, then tell whether a request of TYPE at OFFSET+LENGTH that
 * the event announces is inside the bounds of the armed rules: the
 * common request path in one piece (the set an event arms is the one
 * its request is judged against, with no second load), and no call,
 * so that the caller needs no stack frame.  Returns
 *   0: EV raised, no armed rule can match: the request goes through;
 *   1: EV raised; judge the request (bd_engine_check);
 *  -1: EV needs the lock: call bd_engine_event_slow, then judge.
 */
static inline int
bd_engine_event_in_bounds (struct bd_engine *e, int ev, enum bd_iotype type,
                           uint64_t offset, uint64_t length)
{
  struct bd_engine_fast *f = (struct bd_engine_fast *) e;
  struct bd_armed_set *s = __atomic_load_n (&f->ev[ev], __ATOMIC_ACQUIRE);

  if (s == BD_EV_LOCKED)
    return -1;
  if (s == NULL) {
    s = __atomic_load_n (&f->armed, __ATOMIC_ACQUIRE);
    if (s == NULL)
      return 0;
  }
  else if (__atomic_load_n (&f->armed, __ATOMIC_RELAXED) != s)
    __atomic_store_n (&f->armed, s, __ATOMIC_RELEASE);
  return bd_set_in_bounds (s, type, offset, length);
}

/* Judge a request against the armed rules.  Returns 1 with OUT filled
 * if a rule fired, 0 if the request goes through untouched.
 */
extern int bd_engine_check_slow (struct bd_engine *e, enum bd_iotype type,
                                 uint64_t offset, uint64_t length,
                                 struct bd_outcome *out);

static inline int
bd_engine_check (struct bd_engine *e, enum bd_iotype type, uint64_t offset,
                 uint64_t length, struct bd_outcome *out)
{
  if (!bd_engine_may_match (e, type, offset, length))
    return 0;
  return bd_engine_check_slow (e, type, offset, length, out);
}

/* Breakpoints (QEMU's break / resume / remove_break / wait_break). */
extern int bd_engine_break (struct bd_engine *e, int ev, const char *tag);
/* Resume the oldest request suspended with TAG: 0, or -1 if none. */
extern int bd_engine_resume (struct bd_engine *e, const char *tag);
/* Remove breakpoints with TAG and resume every request suspended with
 * it: 0, or -1 if there was neither.
 */
extern int bd_engine_remove_break (struct bd_engine *e, const char *tag);
/* Wait until a request is suspended with TAG: 0, or -1 on timeout
 * (TIMEOUT_NS 0: wait forever) or shutdown.
 */
extern int bd_engine_wait_break (struct bd_engine *e, const char *tag,
                                 uint64_t timeout_ns);
/* Number of requests suspended now. */
extern unsigned bd_engine_suspended (struct bd_engine *e);

/* Release every suspended request with an error and stop suspending. */
extern void bd_engine_shutdown (struct bd_engine *e);

/* A malloc'd text: one line per rule (live ones; with ALL also the
 * removed ones), each from bd_rule_describe.  *N gets the count.
 */
extern char *bd_engine_list (struct bd_engine *e, bool all, unsigned *n);

/* Flip NBITS bits of BUF (LEN bytes) at positions drawn from SEED. */
extern void bd_corrupt (void *buf, size_t len, uint32_t nbits, uint64_t seed);

#endif /* NBDKIT_BLK_BLKDEBUG_ENGINE_H */
