/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: the engine's index (filters/blkdebug/engine.c, engine.h):
 * the per-event table and the armed set's per-iotype bounds and sorted
 * intervals, which let a request that no rule can match pass without
 * the lock.  What they must never do is hide a rule that matches: every
 * test here judges requests right on the edges of the rules, and one
 * compares the engine with a plain reading of QEMU's rule on random
 * rules and requests.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "blk-hook.h"
#include "engine.h"
#include "random.h"

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

/* What the index publishes for EV (engine.h: NULL, locked or a set). */
static struct bd_armed_set *
ev_index (int ev)
{
  return ((struct bd_engine_fast *) e)->ev[ev];
}

TestSuite (index, .init = setup, .fini = teardown);

Test (index, sector_edges)
{
  add (BD_INJECT, "event=read_aio,iotype=read,sector=8,errno=EIO");
  bd_engine_event (e, BLK_EV_READ_AIO);
  /* QEMU: the sector's first byte (4096) lies inside the request. */
  cr_assert_eq (req (BD_IO_READ, 0, 4096), 0, "ends right before");
  cr_assert_eq (req (BD_IO_READ, 0, 4097), EIO, "ends on its first byte");
  cr_assert_eq (req (BD_IO_READ, 4096, 1), EIO, "starts on it");
  cr_assert_eq (req (BD_IO_READ, 4097, 4096), 0,
                "covers the rest of the sector, not its first byte");
  cr_assert_eq (req (BD_IO_READ, 4096, 0), 0, "length 0");
  cr_assert_eq (req (BD_IO_FLUSH, 0, 0), 0, "a flush never hits a sector");
  /* The fast test alone: certainly no match far away. */
  cr_assert (!bd_engine_may_match (e, BD_IO_READ, 1 << 20, 4096));
  cr_assert (!bd_engine_may_match (e, BD_IO_READ, 0, 4096));
  cr_assert (!bd_engine_may_match (e, BD_IO_WRITE, 4096, 512),
             "no rule of that iotype");
}

Test (index, range_edges)
{
  add (BD_INJECT, "event=read_aio,offset=64K,length=4K,errno=ENOSPC");
  bd_engine_event (e, BLK_EV_READ_AIO);
  cr_assert_eq (req (BD_IO_READ, 60 * 1024, 4096), 0, "ends at its start");
  cr_assert_eq (req (BD_IO_READ, 60 * 1024 + 1, 4096), ENOSPC,
                "last byte on its first");
  cr_assert_eq (req (BD_IO_READ, 68 * 1024 - 1, 4096), ENOSPC,
                "first byte on its last");
  cr_assert_eq (req (BD_IO_READ, 68 * 1024, 4096), 0, "starts at its end");
  cr_assert_eq (req (BD_IO_READ, 0, UINT64_C (1) << 40), ENOSPC,
                "covers it whole");
}

/* The intervals are sorted by start with the largest end so far: a
 * long range that starts first must still be found behind short ones.
 */
Test (index, long_range_behind_short_ones)
{
  add (BD_INJECT, "event=read_aio,iotype=read,sector=100,errno=EPERM");
  add (BD_INJECT, "event=read_aio,iotype=read,offset=0,length=1M,errno=EIO");
  add (BD_INJECT, "event=read_aio,iotype=read,sector=10,errno=ENOSPC");
  add (BD_INJECT, "event=read_aio,iotype=read,sector=5000,errno=EINVAL");
  bd_engine_event (e, BLK_EV_READ_AIO);
  cr_assert_eq (req (BD_IO_READ, 900 * 1024, 512), EIO,
                "inside the long range only");
  cr_assert_eq (req (BD_IO_READ, 100 * 512, 512), EPERM,
                "definition order decides, not the index's order");
  cr_assert_eq (req (BD_IO_READ, 10 * 512, 512), EIO, "sector=10 is later");
  cr_assert_eq (req (BD_IO_READ, 1024 * 1024, 512), 0, "between");
  cr_assert_eq (req (BD_IO_READ, 5000 * 512, 512), EINVAL);
  cr_assert_eq (req (BD_IO_READ, 5001 * 512, 512), 0, "past them all");
}

Test (index, iotypes_apart)
{
  add (BD_INJECT, "event=none,iotype=write,sector=0,errno=EIO");
  add (BD_INJECT, "event=none,iotype=read,sector=1000,errno=ENOSPC");
  add (BD_INJECT, "event=none,iotype=flush,errno=EPERM");
  bd_engine_event (e, BLK_EV_NONE);
  cr_assert_eq (req (BD_IO_READ, 0, 4096), 0, "the write rule's sector");
  cr_assert_eq (req (BD_IO_WRITE, 0, 4096), EIO);
  cr_assert_eq (req (BD_IO_WRITE, 1000 * 512, 512), 0);
  cr_assert_eq (req (BD_IO_READ, 1000 * 512, 512), ENOSPC);
  cr_assert_eq (req (BD_IO_FLUSH, 0, 0), EPERM, "unranged: every flush");
  cr_assert_eq (req (BD_IO_DISCARD, 0, 1 << 20), 0);
  cr_assert (!bd_engine_may_match (e, BD_IO_DISCARD, 0, 1 << 20));
}

Test (index, unranged_beside_ranged)
{
  add (BD_INJECT, "event=read_aio,iotype=read,sector=8,errno=EIO");
  add (BD_INJECT, "event=read_aio,iotype=read,errno=ENOSPC");
  bd_engine_event (e, BLK_EV_READ_AIO);
  cr_assert_eq (req (BD_IO_READ, 8 * 512, 512), EIO);
  cr_assert_eq (req (BD_IO_READ, UINT64_C (1) << 50, 512), ENOSPC,
                "the unranged rule matches anywhere");
}

Test (index, events)
{
  add (BD_INJECT, "event=read_aio,iotype=read,errno=EIO");
  cr_assert_null (ev_index (BLK_EV_WRITE_AIO), "no rules: nothing to do");
  cr_assert (ev_index (BLK_EV_READ_AIO) != NULL &&
             ev_index (BLK_EV_READ_AIO) != BD_EV_LOCKED,
             "state-independent inject rules: a prepared set");
  cr_assert_eq (req (BD_IO_READ, 0, 512), 0, "not armed before its event");
  bd_engine_event (e, BLK_EV_WRITE_AIO);
  cr_assert_eq (req (BD_IO_READ, 0, 512), 0, "another event arms nothing");
  bd_engine_event (e, BLK_EV_READ_AIO);
  cr_assert_eq (req (BD_IO_READ, 0, 512), EIO);
  bd_engine_event (e, BLK_EV_WRITE_AIO);
  cr_assert_eq (req (BD_IO_READ, 0, 512), EIO,
                "an event without rules leaves the armed set");
}

/* Rules added and removed at run time (the control socket) change the
 * index of their event at once.
 */
Test (index, rebuilt_on_add_and_remove)
{
  int a, b;

  a = add (BD_INJECT, "event=read_aio,sector=8,errno=EIO");
  b = add (BD_INJECT, "event=read_aio,sector=16,errno=ENOSPC");
  bd_engine_event (e, BLK_EV_READ_AIO);
  cr_assert_eq (req (BD_IO_READ, 16 * 512, 512), ENOSPC);
  cr_assert_eq (bd_engine_remove (e, (unsigned) b), 0);
  cr_assert_eq (req (BD_IO_READ, 16 * 512, 512), 0,
                "removed from the armed set at once");
  cr_assert_eq (req (BD_IO_READ, 8 * 512, 512), EIO, "the other stays");
  bd_engine_event (e, BLK_EV_READ_AIO);
  cr_assert_eq (req (BD_IO_READ, 16 * 512, 512), 0, "and from the event");
  add (BD_INJECT, "event=read_aio,sector=1000,errno=EPERM");
  cr_assert_eq (req (BD_IO_READ, 1000 * 512, 512), 0,
                "a new rule waits for its event");
  bd_engine_event (e, BLK_EV_READ_AIO);
  cr_assert_eq (req (BD_IO_READ, 1000 * 512, 512), EPERM);
  cr_assert_eq (bd_engine_remove (e, (unsigned) a), 0);
  bd_engine_clear (e);
  cr_assert_null (ev_index (BLK_EV_READ_AIO), "cleared");
  cr_assert_null (((struct bd_engine_fast *) e)->armed, "disarmed");
  cr_assert_eq (req (BD_IO_READ, 1000 * 512, 512), 0);
}

/* A state-dependent rule sends its event to the locked path; removing
 * it brings the prepared set back.
 */
Test (index, states)
{
  int s2;

  add (BD_INJECT, "event=read_aio,sector=8,errno=EIO");
  s2 = add (BD_INJECT, "event=read_aio,state=2,sector=16,errno=ENOSPC");
  cr_assert_eq (ev_index (BLK_EV_READ_AIO), BD_EV_LOCKED);
  bd_engine_event (e, BLK_EV_READ_AIO);
  cr_assert_eq (req (BD_IO_READ, 16 * 512, 512), 0, "state 1");
  cr_assert_eq (req (BD_IO_READ, 8 * 512, 512), EIO, "state 0: any");
  bd_engine_set_state (e, 2);
  bd_engine_event (e, BLK_EV_READ_AIO);
  cr_assert_eq (req (BD_IO_READ, 16 * 512, 512), ENOSPC, "state 2");
  cr_assert_eq (req (BD_IO_READ, 8 * 512, 512), EIO);
  bd_engine_set_state (e, 3);
  bd_engine_event (e, BLK_EV_READ_AIO);
  cr_assert_eq (req (BD_IO_READ, 16 * 512, 512), 0, "state 3");
  cr_assert_eq (bd_engine_remove (e, (unsigned) s2), 0);
  cr_assert (ev_index (BLK_EV_READ_AIO) != BD_EV_LOCKED);

  /* set-state rules are judged under the lock too. */
  add (BD_SET_STATE, "event=write_aio,state=3,new_state=2");
  cr_assert_eq (ev_index (BLK_EV_WRITE_AIO), BD_EV_LOCKED);
  bd_engine_event (e, BLK_EV_WRITE_AIO);
  cr_assert_eq (bd_engine_get_state (e), 2);
}

/* A once rule leaves the index of its event when it fired; the other
 * rules of the event stay, armed and re-armed.
 */
Test (index, once)
{
  add (BD_INJECT, "event=read_aio,sector=8,once=on,errno=EIO");
  add (BD_INJECT, "event=read_aio,sector=9,errno=ENOSPC");
  bd_engine_event (e, BLK_EV_READ_AIO);
  cr_assert_eq (req (BD_IO_READ, 8 * 512, 1024), EIO);
  cr_assert_eq (req (BD_IO_READ, 8 * 512, 1024), ENOSPC, "used up");
  bd_engine_event (e, BLK_EV_READ_AIO);
  cr_assert_eq (req (BD_IO_READ, 8 * 512, 512), 0, "not re-armed");
  cr_assert_eq (req (BD_IO_READ, 9 * 512, 512), ENOSPC);
}

/* The engine against a plain reading of QEMU's rule (first armed rule
 * in definition order whose iotype, sector and range match), on random
 * rules close together and random requests around their edges.
 */
static bool
plain_match (const struct bd_rule *r, enum bd_iotype t, uint64_t off,
             uint64_t len)
{
  if (!(r->iotype_mask & (1u << t)))
    return false;
  if (r->sector_offset >= 0 &&
      !((uint64_t) r->sector_offset >= off &&
        (uint64_t) r->sector_offset < off + len))
    return false;
  /* Our extension: a range never matches a request of length 0. */
  if (r->length &&
      !(len && off < r->offset + r->length && r->offset < off + len))
    return false;
  return true;
}

Test (index, random_against_plain)
{
  uint64_t rng = blk_xorshift64s_seed (42);
  int round;

  for (round = 0; round < 200; round++) {
    struct bd_rule *rules[12];
    int n = 1 + (int) (blk_xorshift64s_next (&rng) % 12), i, k;

    bd_engine_free (e);
    e = bd_engine_new (1);
    for (i = 0; i < n; i++) {
      char text[200];
      uint64_t x = blk_xorshift64s_next (&rng);
      /* No iotype=: QEMU's default, reads and writes among others. */
      static const char *const io[] = {
        ",iotype=read", ",iotype=write", ""
      };
      int len = snprintf (text, sizeof text, "event=read_aio,errno=%d%s",
                          i + 1, io[x % 3]);
      switch ((x >> 8) % 4) {
      case 0:
        snprintf (text + len, sizeof text - len, ",sector=%u",
                  (unsigned) (x >> 16) % 64);
        break;
      case 1:
        snprintf (text + len, sizeof text - len, ",offset=%u,length=%u",
                  (unsigned) (x >> 16) % 32768,
                  1 + (unsigned) (x >> 32) % 8192);
        break;
      case 2:
        snprintf (text + len, sizeof text - len, ",offset=%u",
                  (unsigned) (x >> 16) % 32768);
        break;
      default:
        if (((x >> 16) & 7) == 0)
          break;                /* now and then an unranged rule */
        snprintf (text + len, sizeof text - len, ",sector=%u",
                  (unsigned) (x >> 16) % 64);
      }
      add (BD_INJECT, text);
    }
    bd_engine_event (e, BLK_EV_READ_AIO);
    for (i = 0; i < n; i++)
      rules[i] = ((struct bd_engine_fast *) e)->armed->r[i];
    for (k = 0; k < 300; k++) {
      uint64_t x = blk_xorshift64s_next (&rng);
      enum bd_iotype t = x & 1 ? BD_IO_WRITE : BD_IO_READ;
      uint64_t off = (x >> 1) % 40000, len = (x >> 20) % 9000;
      int want = 0;

      for (i = 0; i < n && want == 0; i++)
        if (plain_match (rules[i], t, off, len))
          want = rules[i]->error;
      cr_assert_eq (req (t, off, len), want,
                    "round %d: %s %" PRIu64 "+%" PRIu64 ": rule %d expected",
                    round, t == BD_IO_READ ? "read" : "write", off, len,
                    want);
    }
  }
}
