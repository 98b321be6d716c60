/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: clocks in nanoseconds.
 *
 * Why one header: four modules carried the same five-line
 * clock_gettime wrapper under three names.
 *
 *  - blk_mono_ns (): CLOCK_MONOTONIC.  For durations and deadlines
 *    (latency, timeouts, replay pacing).  Never jumps when the wall
 *    clock is set; the epoch is arbitrary (boot), so never store it
 *    where another machine or boot reads it.
 *
 *  - blk_real_ns (): CLOCK_REALTIME, nanoseconds since the Unix epoch.
 *    For timestamps a human or another host reads (log headers,
 *    reports).  Can jump backwards: never subtract two of them to time
 *    an operation.
 *
 * Relation to the hook: blk_hook_now_ns () (common/hook) reads the
 * same CLOCK_MONOTONIC, so its io->start_ns / io->end_ns compare and
 * subtract directly with blk_mono_ns ().  It stays an exported
 * function because it is part of the hook library's installed ABI
 * (blk-hook.h); code that does not otherwise link the hook uses this
 * inline version, which also saves a cross-library call on hot paths.
 *
 *  - blk_deadline (CLK, NS): a struct timespec NS nanoseconds from now
 *    on CLK, for pthread_cond_timedwait (CLOCK_MONOTONIC when the
 *    condition variable was made with pthread_condattr_setclock,
 *    otherwise CLOCK_REALTIME).  blk_timespec_add_ns advances an
 *    existing deadline, e.g. a periodic writer's next tick.
 *
 * clock_gettime cannot fail for these two clocks on Linux with a
 * valid pointer, so the result is not checked.  Thread model: pure.
 */
#ifndef NBDKIT_BLK_CLOCK_NS_H
#define NBDKIT_BLK_CLOCK_NS_H

#include <stdint.h>
#include <time.h>

#define BLK_NS_PER_SEC UINT64_C (1000000000)

static inline uint64_t
blk_timespec_ns (const struct timespec *ts)
{
  return (uint64_t) ts->tv_sec * BLK_NS_PER_SEC + (uint64_t) ts->tv_nsec;
}

static inline uint64_t
blk_mono_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return blk_timespec_ns (&ts);
}

static inline uint64_t
blk_real_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return blk_timespec_ns (&ts);
}

/* *TS += NS, keeping tv_nsec in [0, 1e9). */
static inline void
blk_timespec_add_ns (struct timespec *ts, uint64_t ns)
{
  uint64_t nsec = (uint64_t) ts->tv_nsec + ns % BLK_NS_PER_SEC;

  ts->tv_sec += (time_t) (ns / BLK_NS_PER_SEC + nsec / BLK_NS_PER_SEC);
  ts->tv_nsec = (long) (nsec % BLK_NS_PER_SEC);
}

static inline struct timespec
blk_deadline (clockid_t clk, uint64_t ns)
{
  struct timespec ts;

  clock_gettime (clk, &ts);
  blk_timespec_add_ns (&ts, ns);
  return ts;
}

#endif /* NBDKIT_BLK_CLOCK_NS_H */
