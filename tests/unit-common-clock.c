/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: common/include/clock-ns.h */
#include <config.h>

#include <stdint.h>
#include <time.h>

#include <criterion/criterion.h>

#include "clock-ns.h"
#include "blk-hook.h"

Test (clock, monotonic_advances)
{
  uint64_t a = blk_mono_ns (), b;
  struct timespec ten_ms = { .tv_sec = 0, .tv_nsec = 10000000 };

  nanosleep (&ten_ms, NULL);
  b = blk_mono_ns ();
  cr_assert_geq (b - a, UINT64_C (10000000), "slept 10ms, clock says %llu ns",
                 (unsigned long long) (b - a));
  cr_assert_lt (b - a, UINT64_C (5000000000), "10ms sleep took over 5s?");
}

/* The documented relation: blk_hook_now_ns reads the same clock, so
 * the two interleave in order.
 */
Test (clock, same_clock_as_the_hook)
{
  uint64_t a = blk_mono_ns ();
  uint64_t h = blk_hook_now_ns ();
  uint64_t b = blk_mono_ns ();

  cr_assert_leq (a, h);
  cr_assert_leq (h, b);
  cr_assert_lt (b - a, UINT64_C (1000000000));
}

Test (clock, realtime_is_the_epoch)
{
  uint64_t r = blk_real_ns ();
  time_t t = time (NULL);

  /* Within 2s of time(2), which counts seconds since the epoch. */
  cr_assert_leq ((uint64_t) (t - 2) * BLK_NS_PER_SEC, r);
  cr_assert_leq (r, (uint64_t) (t + 2) * BLK_NS_PER_SEC);
}

Test (clock, timespec_ns)
{
  struct timespec ts = { .tv_sec = 3, .tv_nsec = 999999999 };

  cr_assert_eq (blk_timespec_ns (&ts), UINT64_C (3999999999));
}

Test (clock, timespec_add_ns_carries)
{
  struct timespec ts = { .tv_sec = 10, .tv_nsec = 999999999 };

  blk_timespec_add_ns (&ts, 1);
  cr_assert_eq (ts.tv_sec, 11);
  cr_assert_eq (ts.tv_nsec, 0);
  blk_timespec_add_ns (&ts, UINT64_C (2500000000));
  cr_assert_eq (ts.tv_sec, 13);
  cr_assert_eq (ts.tv_nsec, 500000000);
  blk_timespec_add_ns (&ts, UINT64_C (1999999999));
  cr_assert_eq (ts.tv_sec, 15);
  cr_assert_eq (ts.tv_nsec, 499999999);
  blk_timespec_add_ns (&ts, 0);
  cr_assert_eq (ts.tv_sec, 15);
  cr_assert_eq (ts.tv_nsec, 499999999);
}

Test (clock, deadline_is_in_the_future_on_that_clock)
{
  uint64_t before = blk_mono_ns ();
  struct timespec dl = blk_deadline (CLOCK_MONOTONIC, UINT64_C (250000000));
  uint64_t after = blk_mono_ns ();

  cr_assert_geq (blk_timespec_ns (&dl), before + UINT64_C (250000000));
  cr_assert_leq (blk_timespec_ns (&dl), after + UINT64_C (250000000));
  cr_assert_lt (dl.tv_nsec, 1000000000);
}
