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
 *     definition order) whose iotype and sector match decides; an armed
 *     rule stays armed (failing every later matching request) unless
 *     once/count removes it after it fired.
 *
 * Thread-safe: one mutex (lock) guards the rules, the armed set, the
 * state and the suspended requests; cond signals suspensions and
 * resumptions.  The request path first reads two relaxed atomics
 * (rules per event, armed rules), so an engine whose rules never match
 * costs no lock.
 */
#ifndef NBDKIT_BLK_BLKDEBUG_ENGINE_H
#define NBDKIT_BLK_BLKDEBUG_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blk-hook.h"
#include "rules.h"

struct bd_engine;

/* An armed set: immutable once published (see engine.c).  Here only
 * for the inline fast path below.
 */
struct bd_armed_set {
  struct bd_armed_set *garbage; /* retired sets, freed at the end */
  /* A summary that rejects most requests in a few instructions: the
   * iotypes of all rules, those of rules without a sector or range,
   * and the byte interval [lo, hi) that covers every sector and range.
   */
  uint32_t iomask_any, iomask_unranged;
  uint64_t lo, hi;
  size_t n;                     /* 0: "do not replace" (cache only) */
  struct bd_rule *r[];
};

/* The first member of struct bd_engine: what the inline fast paths
 * below read (atomically), so that an event without rules, an event
 * that re-arms a fixed set, or a request that no armed rule can match
 * costs no function call and no lock.
 */
struct bd_engine_fast {
  unsigned nlive_ev[BLK_EV__MAX];       /* live rules per event */
  bool ev_simple[BLK_EV__MAX];          /* only state-0 inject rules */
  struct bd_armed_set *ev_set[BLK_EV__MAX]; /* the set they arm */
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

static inline int
bd_engine_event (struct bd_engine *e, int ev)
{
  struct bd_engine_fast *f = (struct bd_engine_fast *) e;
  struct bd_armed_set *s;

  if ((unsigned) ev >= BLK_EV__MAX ||
      __atomic_load_n (&f->nlive_ev[ev], __ATOMIC_RELAXED) == 0)
    return 0;
  /* The common case: the event arms a fixed set of rules. */
  if (__atomic_load_n (&f->ev_simple[ev], __ATOMIC_ACQUIRE)) {
    s = __atomic_load_n (&f->ev_set[ev], __ATOMIC_ACQUIRE);
    if (s && __atomic_load_n (&f->armed, __ATOMIC_RELAXED) != s)
      __atomic_store_n (&f->armed, s, __ATOMIC_RELEASE);
    return 0;
  }
  return bd_engine_event_slow (e, ev);
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
  struct bd_engine_fast *f = (struct bd_engine_fast *) e;
  struct bd_armed_set *s = __atomic_load_n (&f->armed, __ATOMIC_ACQUIRE);

  if (s == NULL || !(s->iomask_any & (1u << type)))
    return 0;
  if (!(s->iomask_unranged & (1u << type)) &&
      (length == 0 || offset >= s->hi ||
       (offset < s->lo && s->lo - offset >= length)))
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
