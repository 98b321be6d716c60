/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: the hook hub (common/hook). */
#include <config.h>

#include <errno.h>

#include <criterion/criterion.h>

#include "blk-hook.h"

static int events[BLK_EV__MAX], begins, ends, fail_with, last_result;
static int order[8], norder;

static void on_event (void *o, enum blk_hook_event ev) { events[ev]++; }
static int
on_begin (void *o, struct blk_hook_io *io)
{
  begins++;
  order[norder++] = (int) (intptr_t) o;
  return fail_with;
}
static void
on_end (void *o, struct blk_hook_io *io)
{
  ends++;
  last_result = io->result;
  cr_assert (io->end_ns >= io->start_ns);
}

static void
reset (void)
{
  memset (events, 0, sizeof events);
  begins = ends = fail_with = last_result = norder = 0;
}

Test (hook, no_subscriber_is_a_no_op, .init = reset)
{
  struct blk_hook_io io = BLK_HOOK_IO_INIT (BLK_IO_READ, 0, 512, "backend");
  cr_assert_eq (blk_hook_active, 0);
  blk_hook_event (BLK_EV_L2_LOAD);
  cr_assert_eq (blk_hook_io_begin (&io), 0);
  cr_assert_eq (io.called, 0);
  blk_hook_io_end (&io, 0);
  cr_assert_eq (ends, 0);
}

Test (hook, events_and_brackets, .init = reset)
{
  struct blk_hook_subscriber s = { .name = "t", .event = on_event,
    .io_begin = on_begin, .io_end = on_end, .opaque = (void *) 1 };
  int h = blk_hook_subscribe (&s);
  struct blk_hook_io io = BLK_HOOK_IO_INIT (BLK_IO_WRITE, 4096, 512, "backend");

  cr_assert (h >= 0);
  cr_assert_neq (blk_hook_active, 0);
  blk_hook_event (BLK_EV_L2_LOAD);
  blk_hook_event (BLK_EV_L2_LOAD);
  cr_assert_eq (events[BLK_EV_L2_LOAD], 2);
  cr_assert_eq (blk_hook_io_begin (&io), 0);
  cr_assert_eq (begins, 1);
  blk_hook_io_end (&io, EIO);
  cr_assert_eq (ends, 1);
  cr_assert_eq (last_result, EIO);
  blk_hook_unsubscribe (h);
  cr_assert_eq (blk_hook_active, 0);
}

Test (hook, injected_error_stops_later_injectors, .init = reset)
{
  struct blk_hook_subscriber a = { .name = "a", .io_begin = on_begin,
    .io_end = on_end, .opaque = (void *) 1, .role = BLK_HOOK_INJECTOR };
  struct blk_hook_subscriber b = { .name = "b", .io_begin = on_begin,
    .io_end = on_end, .opaque = (void *) 2, .role = BLK_HOOK_INJECTOR };
  int ha = blk_hook_subscribe (&a), hb = blk_hook_subscribe (&b);
  struct blk_hook_io io = BLK_HOOK_IO_INIT (BLK_IO_READ, 0, 512, "backend");

  fail_with = ENOSPC;
  cr_assert_eq (blk_hook_io_begin (&io), ENOSPC);
  cr_assert_eq (begins, 1);           /* b never saw it */
  cr_assert_eq (order[0], 1);
  blk_hook_io_end (&io, ENOSPC);
  cr_assert_eq (ends, 1);             /* a (the one that failed it) sees the end */
  blk_hook_unsubscribe (ha);
  blk_hook_unsubscribe (hb);
}

/* An observer subscribed first still runs after an injector, sees
 * every I/O (also one the injector failed), and the injected result in
 * begin and end: the order of the --filter flags does not matter.
 */
static int seen_in_begin;
static int
observe_begin (void *o, struct blk_hook_io *io)
{
  order[norder++] = (int) (intptr_t) o;
  seen_in_begin = io->result;
  return 0;
}

Test (hook, observers_run_after_injectors, .init = reset)
{
  struct blk_hook_subscriber obs = { .name = "obs", .io_begin = observe_begin,
    .io_end = on_end, .opaque = (void *) 1 };
  struct blk_hook_subscriber obs2 = { .name = "obs2",
    .io_begin = observe_begin, .opaque = (void *) 3 };
  struct blk_hook_subscriber inj = { .name = "inj", .io_begin = on_begin,
    .opaque = (void *) 2, .role = BLK_HOOK_INJECTOR };
  int ho = blk_hook_subscribe (&obs), ho2 = blk_hook_subscribe (&obs2);
  int hi = blk_hook_subscribe (&inj);
  struct blk_hook_io io = BLK_HOOK_IO_INIT (BLK_IO_READ, 0, 512, "backend");

  cr_assert (ho >= 0 && ho2 >= 0 && hi >= 0);
  fail_with = EIO;
  cr_assert_eq (blk_hook_io_begin (&io), EIO);
  cr_assert_eq (norder, 3);
  cr_assert_eq (order[0], 2, "the injector runs first");
  cr_assert_eq (order[1], 1);
  cr_assert_eq (order[2], 3, "every observer runs");
  cr_assert_eq (seen_in_begin, EIO);
  blk_hook_io_end (&io, EIO);
  cr_assert_eq (ends, 1);
  cr_assert_eq (last_result, EIO);

  /* Without an injected error the observers see 0. */
  fail_with = 0;
  norder = 0;
  cr_assert_eq (blk_hook_io_begin (&io), 0);
  cr_assert_eq (seen_in_begin, 0);
  cr_assert_eq (order[0], 2);
  blk_hook_io_end (&io, 0);
  blk_hook_unsubscribe (ho);
  blk_hook_unsubscribe (ho2);
  blk_hook_unsubscribe (hi);
}

Test (hook, table_full_and_names)
{
  struct blk_hook_subscriber s = { .name = "x" };
  int h[BLK_HOOK_MAX_SUBSCRIBERS], i;

  for (i = 0; i < BLK_HOOK_MAX_SUBSCRIBERS; i++)
    cr_assert ((h[i] = blk_hook_subscribe (&s)) >= 0);
  cr_assert_eq (blk_hook_subscribe (&s), -1);
  for (i = 0; i < BLK_HOOK_MAX_SUBSCRIBERS; i++)
    blk_hook_unsubscribe (h[i]);
  cr_assert_eq (blk_hook_active, 0);

  cr_assert_str_eq (blk_hook_event_name (BLK_EV_L1_UPDATE), "l1_update");
  cr_assert_str_eq (blk_hook_event_name (BLK_EV_CLUSTER_ALLOC_SPACE),
                    "cluster_alloc_space");
  cr_assert_eq (blk_hook_event_lookup ("l2_load"), BLK_EV_L2_LOAD);
  cr_assert_eq (blk_hook_event_lookup ("none"), BLK_EV_NONE);
  cr_assert_eq (blk_hook_event_lookup ("no_such_event"), -1);
  cr_assert_str_eq (blk_hook_op_name (BLK_IO_TRIM), "trim");
  /* QEMU's order: l1_update is 0, as in its BlkdebugEvent enum */
  cr_assert_eq (BLK_EV_L1_UPDATE, 0);
}

/* blkreplay-layer=backend needs the data and the file of an I/O, and
 * the size the image file had when the plugin opened it.
 */
static const void *seen_buf;
static unsigned seen_file;
static void
on_end_data (void *o, struct blk_hook_io *io)
{
  seen_buf = io->buf;
  seen_file = io->file;
}

Test (hook, buf_and_file_reach_observers, .init = reset)
{
  struct blk_hook_subscriber s = { .name = "t", .io_end = on_end_data };
  int h = blk_hook_subscribe (&s);
  char data[512] = "x";
  struct blk_hook_io io = BLK_HOOK_IO_INIT (BLK_IO_WRITE, 0, 512, "backend");

  cr_assert_null (io.buf);
  cr_assert_eq (io.file, BLK_HOOK_FILE_IMAGE);  /* the default */
  io.buf = data;
  io.file = BLK_HOOK_FILE_DATA;
  cr_assert_eq (blk_hook_io_begin (&io), 0);
  blk_hook_io_end (&io, 0);
  cr_assert_eq (seen_buf, data);
  cr_assert_eq (seen_file, BLK_HOOK_FILE_DATA);
  blk_hook_unsubscribe (h);
}

Test (hook, file_sizes)
{
  uint64_t sz = 1;

  cr_assert_eq (blk_hook_file_size (BLK_HOOK_FILE_DATA, &sz), -1);
  cr_assert_eq (sz, 1);
  blk_hook_set_file_size (BLK_HOOK_FILE_IMAGE, 0);
  cr_assert_eq (blk_hook_file_size (BLK_HOOK_FILE_IMAGE, &sz), 0);
  cr_assert_eq (sz, 0);
  blk_hook_set_file_size (BLK_HOOK_FILE_IMAGE, UINT64_C (196608));
  cr_assert_eq (blk_hook_file_size (BLK_HOOK_FILE_IMAGE, &sz), 0);
  cr_assert_eq (sz, 196608);
  cr_assert_eq (blk_hook_file_size (BLK_HOOK_FILES, &sz), -1);
}
