/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: filters/blkdebug/engine.c (QEMU's semantics). */
#include <config.h>

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "blk-hook.h"
#include "engine.h"

static struct bd_engine *e;

static void setup (void) { e = bd_engine_new (1); }
static void teardown (void) { bd_engine_free (e); }

static int
add (enum bd_action act, const char *text)
{
  char why[512];
  struct bd_rule *r = bd_parse_inline (act, text, "t", why, sizeof why);
  cr_assert_not_null (r, "%s: %s", text, why);
  return bd_engine_add (e, r);
}

/* errno of a request, 0 if it passes. */
static int
req (enum bd_iotype t, uint64_t off, uint64_t len)
{
  struct bd_outcome o;
  return bd_engine_check (e, t, off, len, &o) ? o.error : 0;
}

TestSuite (engine, .init = setup, .fini = teardown);

Test (engine, armed_until_replaced)
{
  add (BD_INJECT, "event=read_aio,iotype=write,errno=5");
  add (BD_INJECT, "event=write_aio,iotype=read,errno=28");
  cr_assert_eq (req (BD_IO_WRITE, 0, 512), 0, "nothing armed at start");
  bd_engine_event (e, BLK_EV_READ_AIO);
  cr_assert_eq (req (BD_IO_WRITE, 0, 512), EIO);
  cr_assert_eq (req (BD_IO_WRITE, 0, 512), EIO, "stays armed");
  cr_assert_eq (req (BD_IO_READ, 0, 512), 0);
  bd_engine_event (e, BLK_EV_FLUSH_TO_OS);      /* no rules: no change */
  cr_assert_eq (req (BD_IO_WRITE, 0, 512), EIO);
  bd_engine_event (e, BLK_EV_WRITE_AIO);        /* replaces the set */
  cr_assert_eq (req (BD_IO_WRITE, 0, 512), 0);
  cr_assert_eq (req (BD_IO_READ, 0, 512), ENOSPC);
}

Test (engine, once)
{
  add (BD_INJECT, "event=none,once=on,errno=EPERM");
  bd_engine_event (e, BLK_EV_NONE);
  cr_assert_eq (req (BD_IO_FLUSH, 0, 0), EPERM);
  cr_assert_eq (req (BD_IO_FLUSH, 0, 0), 0);
  bd_engine_event (e, BLK_EV_NONE);
  cr_assert_eq (req (BD_IO_READ, 0, 1), 0, "once removes the rule for good");
}

Test (engine, states)
{
  add (BD_SET_STATE, "event=read_aio,state=1,new_state=2");
  add (BD_SET_STATE, "event=read_aio,state=1,new_state=3");
  add (BD_INJECT, "event=read_aio,state=2,errno=5");
  cr_assert_eq (bd_engine_get_state (e), 1);
  bd_engine_event (e, BLK_EV_READ_AIO);
  cr_assert_eq (bd_engine_get_state (e), 2, "first-defined set-state wins");
  cr_assert_eq (req (BD_IO_READ, 0, 1), 0,
                "inject rules are judged against the state before the event");
  bd_engine_event (e, BLK_EV_READ_AIO);
  cr_assert_eq (req (BD_IO_READ, 0, 1), EIO);
}

Test (engine, sector)
{
  add (BD_INJECT, "event=none,sector=8");
  bd_engine_event (e, BLK_EV_NONE);
  cr_assert_eq (req (BD_IO_READ, 0, 4096), 0);
  cr_assert_eq (req (BD_IO_READ, 4096, 1), EIO);
  cr_assert_eq (req (BD_IO_READ, 4000, 97), EIO);
  cr_assert_eq (req (BD_IO_READ, 4097, 512), 0, "first byte must be inside");
  cr_assert_eq (req (BD_IO_FLUSH, 0, 0), 0, "never a flush");
}

Test (engine, errno_zero_hides_later_rules)
{
  add (BD_INJECT, "event=none,iotype=read,errno=0,once=on");
  add (BD_INJECT, "event=none,errno=5");
  bd_engine_event (e, BLK_EV_NONE);
  cr_assert_eq (req (BD_IO_READ, 0, 1), 0);
  cr_assert_eq (req (BD_IO_READ, 0, 1), 0, "errno=0 is not removed by once");
  cr_assert_eq (req (BD_IO_WRITE, 0, 1), EIO);
}

Test (engine, after_count_range)
{
  add (BD_INJECT, "event=none,after=2,count=2,offset=1M,length=4K");
  bd_engine_event (e, BLK_EV_NONE);
  cr_assert_eq (req (BD_IO_READ, 0, 4096), 0, "outside the range");
  cr_assert_eq (req (BD_IO_READ, 1 << 20, 512), 0, "after: 1");
  cr_assert_eq (req (BD_IO_READ, 1 << 20, 512), 0, "after: 2");
  cr_assert_eq (req (BD_IO_READ, (1 << 20) - 512, 1024), EIO);
  cr_assert_eq (req (BD_IO_READ, (1 << 20) + 4095, 1), EIO);
  cr_assert_eq (req (BD_IO_READ, 1 << 20, 512), 0, "count exhausted");
}

Test (engine, probability_is_deterministic)
{
  int i, hits1 = 0, hits2 = 0;
  char a[200], b[200];

  add (BD_INJECT, "event=none,probability=0.5,seed=42");
  bd_engine_event (e, BLK_EV_NONE);
  for (i = 0; i < 200; i++)
    hits1 += (a[i] = req (BD_IO_READ, 0, 1) != 0);
  bd_engine_free (e);
  e = bd_engine_new (99);
  add (BD_INJECT, "event=none,probability=0.5,seed=42");
  bd_engine_event (e, BLK_EV_NONE);
  for (i = 0; i < 200; i++)
    hits2 += (b[i] = req (BD_IO_READ, 0, 1) != 0);
  cr_assert (memcmp (a, b, sizeof a) == 0, "same seed, same sequence");
  cr_assert (hits1 > 60 && hits1 < 140, "p=0.5 fired %d of 200", hits1);
  cr_assert_eq (hits1, hits2);
}

Test (engine, remove_and_clear)
{
  int id = add (BD_INJECT, "event=none");
  add (BD_INJECT, "event=none,errno=28");
  bd_engine_event (e, BLK_EV_NONE);
  cr_assert_eq (req (BD_IO_READ, 0, 1), EIO);
  cr_assert_eq (bd_engine_remove (e, (unsigned) id), 0);
  cr_assert_eq (bd_engine_remove (e, (unsigned) id), -1);
  cr_assert_eq (req (BD_IO_READ, 0, 1), ENOSPC);
  bd_engine_clear (e);
  cr_assert_eq (req (BD_IO_READ, 0, 1), 0);
}

static void *
raiser (void *arg)
{
  return (void *) (intptr_t) bd_engine_event (e, BLK_EV_READ_AIO);
}

Test (engine, breakpoint)
{
  pthread_t t;
  void *ret;

  cr_assert_eq (bd_engine_break (e, BLK_EV_READ_AIO, "A"), 0);
  cr_assert_eq (bd_engine_resume (e, "A"), -1, "nothing suspended yet");
  pthread_create (&t, NULL, raiser, NULL);
  cr_assert_eq (bd_engine_wait_break (e, "A", 5000000000u), 0);
  cr_assert_eq (bd_engine_suspended (e), 1);
  cr_assert_eq (bd_engine_resume (e, "A"), 0);
  pthread_join (t, &ret);
  cr_assert_eq ((intptr_t) ret, 0);
  /* One-shot: the next event does not stop. */
  cr_assert_eq (bd_engine_event (e, BLK_EV_READ_AIO), 0);
  cr_assert_eq (bd_engine_wait_break (e, "A", 10000000), -1, "timeout");
}

Test (engine, shutdown_releases)
{
  pthread_t t;
  void *ret;

  bd_engine_break (e, BLK_EV_READ_AIO, "B");
  pthread_create (&t, NULL, raiser, NULL);
  cr_assert_eq (bd_engine_wait_break (e, "B", 5000000000u), 0);
  bd_engine_shutdown (e);
  pthread_join (t, &ret);
  cr_assert_eq ((intptr_t) ret, -1, "released with an error");
}

Test (engine, remove_break_resumes)
{
  pthread_t t;
  void *ret;

  bd_engine_break (e, BLK_EV_READ_AIO, "C");
  bd_engine_break (e, BLK_EV_WRITE_AIO, "C");
  pthread_create (&t, NULL, raiser, NULL);
  cr_assert_eq (bd_engine_wait_break (e, "C", 5000000000u), 0);
  cr_assert_eq (bd_engine_remove_break (e, "C"), 0);
  pthread_join (t, &ret);
  cr_assert_eq ((intptr_t) ret, 0);
  cr_assert_eq (bd_engine_event (e, BLK_EV_WRITE_AIO), 0, "removed too");
  cr_assert_eq (bd_engine_remove_break (e, "C"), -1);
}

Test (engine, corrupt_flips_bits)
{
  unsigned char buf[64] = { 0 }, buf2[64] = { 0 };
  int i, bits = 0;

  bd_corrupt (buf, sizeof buf, 3, 77);
  bd_corrupt (buf2, sizeof buf2, 3, 77);
  cr_assert (memcmp (buf, buf2, sizeof buf) == 0);
  for (i = 0; i < 64; i++)
    bits += __builtin_popcount (buf[i]);
  cr_assert (bits == 3 || bits == 1, "3 flips (two may cancel): %d", bits);
}

Test (engine, range_summary)
{
  add (BD_INJECT, "event=none,sector=8,errno=1");
  add (BD_INJECT, "event=none,sector=100,errno=2");
  add (BD_INJECT, "event=none,iotype=write,offset=1M,length=4K,errno=3");
  bd_engine_event (e, BLK_EV_NONE);
  cr_assert_eq (req (BD_IO_READ, 8 * 512 + 1, 100 * 512), 2,
                "starts inside the summary interval, covers sector 100");
  cr_assert_eq (req (BD_IO_READ, 50 * 512, 512), 0);
  cr_assert_eq (req (BD_IO_READ, 0, 8 * 512), 0);
  cr_assert_eq (req (BD_IO_READ, 0, 8 * 512 + 1), 1);
  cr_assert_eq (req (BD_IO_WRITE, (1 << 20) + 4095, 10), 3);
  cr_assert_eq (req (BD_IO_READ, (1 << 20) + 4095, 10), 0);
  cr_assert_eq (req (BD_IO_FLUSH, 0, 0), 0);
}

/* Thread safety: workers raise events and judge requests while the
 * main thread adds once-rules; every once-rule fires exactly once.
 */
static int stop_workers;
static unsigned long failures[4];

static void *
worker (void *arg)
{
  intptr_t k = (intptr_t) arg;
  struct bd_outcome o;

  while (!__atomic_load_n (&stop_workers, __ATOMIC_ACQUIRE)) {
    bd_engine_event (e, k & 1 ? BLK_EV_READ_AIO : BLK_EV_WRITE_AIO);
    bd_engine_event (e, BLK_EV_PWRITEV);
    if (bd_engine_check (e, k & 1 ? BD_IO_READ : BD_IO_WRITE,
                         (uint64_t) k * 4096, 4096, &o))
      failures[k]++;
  }
  return NULL;
}

Test (engine, threads)
{
  pthread_t t[4];
  intptr_t k;
  int i;
  unsigned long total = 0;

  add (BD_SET_STATE, "event=pwritev,state=1,new_state=2");
  add (BD_SET_STATE, "event=pwritev,state=2,new_state=1");
  for (k = 0; k < 4; k++)
    pthread_create (&t[k], NULL, worker, (void *) k);
  for (i = 0; i < 200; i++) {
    add (BD_INJECT, i & 1 ? "event=read_aio,once=on,iotype=read"
                          : "event=write_aio,once=on,iotype=write");
    usleep (200);
  }
  usleep (20000);
  __atomic_store_n (&stop_workers, 1, __ATOMIC_RELEASE);
  for (k = 0; k < 4; k++)
    pthread_join (t[k], NULL);
  for (k = 0; k < 4; k++)
    total += failures[k];
  /* A rule added after the last event of its kind may not have fired. */
  cr_assert (total <= 200 && total >= 150, "once-rules fired %lu times", total);
}

/* A set-state chain through more states than any cache slot count must
 * not allocate per event: the sets depend only on the states the rules
 * name.  (It used to keep 16 states and allocate an armed set for every
 * event in any other state: ~45 bytes per event, 45 MB per million.)
 */
Test (engine, state_cache_bounded)
{
  struct mallinfo2 before, after;
  char rule[128];
  int i;

  for (i = 1; i <= 40; i++) {
    snprintf (rule, sizeof rule, "event=read_aio,state=%d,new_state=%d",
              i, i % 40 + 1);
    add (BD_SET_STATE, rule);
  }
  add (BD_INJECT, "event=read_aio,state=7,iotype=write,errno=EIO");
  add (BD_INJECT, "event=read_aio,iotype=flush,errno=ENOSPC");
  for (i = 0; i < 1000; i++)            /* warm up every cache entry */
    bd_engine_event (e, BLK_EV_READ_AIO);
  before = mallinfo2 ();
  for (i = 0; i < 200000; i++)
    bd_engine_event (e, BLK_EV_READ_AIO);
  after = mallinfo2 ();
  cr_assert_lt (after.uordblks - before.uordblks, 4096,
                "200000 events allocated %zu bytes",
                after.uordblks - before.uordblks);
  /* Still QEMU's semantics: state 7 arms both rules, others one. */
  while (bd_engine_get_state (e) != 7)
    bd_engine_event (e, BLK_EV_READ_AIO);
  bd_engine_event (e, BLK_EV_READ_AIO);   /* judged in 7, moves to 8 */
  cr_assert_eq (req (BD_IO_WRITE, 0, 512), EIO);
  cr_assert_eq (req (BD_IO_FLUSH, 0, 0), ENOSPC);
  bd_engine_event (e, BLK_EV_READ_AIO);   /* judged in 8 */
  cr_assert_eq (req (BD_IO_WRITE, 0, 512), 0);
  cr_assert_eq (req (BD_IO_FLUSH, 0, 0), ENOSPC);
}

/* The listing's fired= of a set-state rule: the times its new_state
 * was applied.  (It stayed 0: only inject rules and breakpoints were
 * counted.)
 */
Test (engine, set_state_fired)
{
  char *l;
  unsigned n;

  add (BD_SET_STATE, "event=read_aio,state=1,new_state=2");
  add (BD_SET_STATE, "event=read_aio,state=1,new_state=3");
  add (BD_SET_STATE, "event=read_aio,state=2,new_state=1");
  bd_engine_event (e, BLK_EV_READ_AIO);         /* 1 -> 2 by rule 1 */
  bd_engine_event (e, BLK_EV_READ_AIO);         /* 2 -> 1 by rule 3 */
  bd_engine_event (e, BLK_EV_READ_AIO);         /* 1 -> 2 by rule 1 */
  l = bd_engine_list (e, false, &n);
  cr_assert_not_null (l);
  cr_assert_eq (n, 3);
  cr_assert (strstr (l, "1 set-state event=read_aio state=1 new_state=2 "
                     "hits=2 fired=2") != NULL, "%s", l);
  cr_assert (strstr (l, "2 set-state event=read_aio state=1 new_state=3 "
                     "hits=2 fired=0") != NULL,
             "a rule overridden by an earlier one did not act: %s", l);
  cr_assert (strstr (l, "3 set-state event=read_aio state=2 new_state=1 "
                     "hits=1 fired=1") != NULL, "%s", l);
  free (l);
}

/* What the filter's injection log line is built from. */
Test (engine, outcome_names_the_rule)
{
  struct bd_outcome o;
  char why[512];
  struct bd_rule *r = bd_parse_inline (BD_INJECT, "event=read_aio,errno=28",
                                       "blkdebug-inject #1", why, sizeof why);

  cr_assert_not_null (r);
  cr_assert_eq (bd_engine_add (e, r), 1);
  bd_engine_event (e, BLK_EV_READ_AIO);
  cr_assert_eq (bd_engine_check (e, BD_IO_READ, 4096, 512, &o), 1);
  cr_assert_eq (o.rule_id, 1);
  cr_assert_eq (o.error, ENOSPC);
  cr_assert_str_eq (o.origin, "blkdebug-inject #1");
  cr_assert_eq (o.fired, 1);
  cr_assert (o.log, "the first injection is logged");
  cr_assert_eq (o.log_suppressed, 0);
  cr_assert_eq (bd_engine_check (e, BD_IO_READ, 0, 512, &o), 1);
  cr_assert_eq (o.fired, 2);
}

/* The rate limit: BD_LOG_BURST lines per second, then silence, then
 * the first line of a later second reports what was left out.
 */
Test (engine, log_rate_limit)
{
  uint64_t sec = 0, supp = 0, report;
  uint32_t n = 0;
  int i;

  for (i = 0; i < BD_LOG_BURST; i++) {
    cr_assert (bd_log_admit (&sec, &n, &supp, 100, &report));
    cr_assert_eq (report, 0);
  }
  for (i = 0; i < 7; i++)
    cr_assert (!bd_log_admit (&sec, &n, &supp, 100, &report),
               "over the burst within one second");
  cr_assert (bd_log_admit (&sec, &n, &supp, 101, &report));
  cr_assert_eq (report, 7, "the next second's first line counts them");
  cr_assert (bd_log_admit (&sec, &n, &supp, 101, &report));
  cr_assert_eq (report, 0, "and only once");
}
