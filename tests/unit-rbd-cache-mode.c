/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: unit tests of the rbd plugin's cache= table
 * (common/rbd/cache-mode.c): the librbd options of each mode and
 * what its replies promise, checked against each other.
 */
#include <config.h>

#include <string.h>

#include <criterion/criterion.h>

#include "cache-mode.h"

static const struct blk_rbd_cache_policy *
mode (const char *name)
{
  const struct blk_enum_name *e;

  for (e = blk_rbd_cache_modes; e->name; e++)
    if (strcmp (e->name, name) == 0)
      return blk_rbd_cache_policy ((enum blk_rbd_cache_mode) e->value);
  cr_assert_fail ("no cache mode '%s'", name);
  return NULL;
}

static void
str_or_null (const char *got, const char *want, const char *what)
{
  if (want == NULL)
    cr_expect_null (got, "%s: expected to be left as in the conf, got %s",
                    what, got);
  else {
    cr_assert_not_null (got, "%s: not set, expected %s", what, want);
    cr_expect_str_eq (got, want, "%s", what);
  }
}

Test (cache_mode, names_in_qemu_order)
{
  const char *want[] = { "none", "writethrough", "writeback", "directsync",
                         "unsafe", NULL };
  size_t i;

  for (i = 0; want[i]; i++) {
    cr_assert_not_null (blk_rbd_cache_modes[i].name);
    cr_expect_str_eq (blk_rbd_cache_modes[i].name, want[i]);
  }
  cr_expect_null (blk_rbd_cache_modes[i].name, "more modes than QEMU's five");
}

Test (cache_mode, librbd_options)
{
  const struct blk_rbd_cache_policy *p;

  p = mode ("none");
  str_or_null (p->rbd_cache, "false", "none: rbd_cache");
  str_or_null (p->max_dirty, NULL, "none: rbd_cache_max_dirty");
  p = mode ("directsync");
  str_or_null (p->rbd_cache, "false", "directsync: rbd_cache");
  p = mode ("writethrough");
  str_or_null (p->rbd_cache, "true", "writethrough: rbd_cache");
  str_or_null (p->max_dirty, "0", "writethrough: rbd_cache_max_dirty");
  p = mode ("writeback");
  str_or_null (p->rbd_cache, "true", "writeback: rbd_cache");
  str_or_null (p->writethrough_until_flush, "false",
               "writeback: rbd_cache_writethrough_until_flush");
  str_or_null (p->max_dirty, NULL, "writeback: rbd_cache_max_dirty");
  p = mode ("unsafe");
  str_or_null (p->rbd_cache, "true", "unsafe: rbd_cache");
  str_or_null (p->writethrough_until_flush, "false",
               "unsafe: rbd_cache_writethrough_until_flush");
}

Test (cache_mode, promises)
{
  const struct blk_rbd_cache_policy *p;

  p = mode ("none");
  cr_expect (p->write_durable_on_ack && p->flush_calls_librbd && !p->fua_flushes);
  p = mode ("directsync");
  cr_expect (p->write_durable_on_ack && p->flush_calls_librbd && !p->fua_flushes);
  p = mode ("writethrough");
  cr_expect (p->write_durable_on_ack && p->flush_calls_librbd && !p->fua_flushes);
  p = mode ("writeback");
  cr_expect (!p->write_durable_on_ack && p->flush_calls_librbd && p->fua_flushes);
  p = mode ("unsafe");
  cr_expect (!p->write_durable_on_ack && !p->flush_calls_librbd && !p->fua_flushes);
}

/* The safety rule every mode but unsafe keeps: a FUA write's reply
 * means it is on the OSDs, either because every reply does or because
 * a flush follows it; and a mode that can hold writes in the cache
 * flushes on NBD_CMD_FLUSH.
 */
Test (cache_mode, fua_and_flush_safe_except_unsafe)
{
  const struct blk_enum_name *e;

  for (e = blk_rbd_cache_modes; e->name; e++) {
    const struct blk_rbd_cache_policy *p =
      blk_rbd_cache_policy ((enum blk_rbd_cache_mode) e->value);
    bool cached = p->rbd_cache && strcmp (p->rbd_cache, "true") == 0 &&
      !(p->max_dirty && strcmp (p->max_dirty, "0") == 0);

    cr_expect_eq (cached, !p->write_durable_on_ack,
                  "%s: librbd options and write_durable_on_ack disagree",
                  e->name);
    if (e->value == BLK_RBD_CACHE_UNSAFE)
      continue;
    cr_expect (p->write_durable_on_ack || p->fua_flushes,
               "%s: a FUA write could be acknowledged from the cache",
               e->name);
    cr_expect (p->flush_calls_librbd, "%s: flush skips librbd", e->name);
  }
}

/* No mode (qcow2 on RBD, or rbd-cache=on|off): librbd as the conf set
 * it, so every flush and FUA goes to librbd, and no option is set.
 */
Test (cache_mode, unset_is_conservative)
{
  const struct blk_rbd_cache_policy *p =
    blk_rbd_cache_policy (BLK_RBD_CACHE_UNSET);

  cr_assert_not_null (p);
  cr_expect_null (p->rbd_cache);
  cr_expect_null (p->writethrough_until_flush);
  cr_expect_null (p->max_dirty);
  cr_expect (p->flush_calls_librbd && p->fua_flushes && !p->write_durable_on_ack);
}

Test (cache_mode, default_keeps_every_acknowledged_write)
{
  const struct blk_rbd_cache_policy *p =
    blk_rbd_cache_policy (BLK_RBD_CACHE_DEFAULT);

  cr_expect_eq (BLK_RBD_CACHE_DEFAULT, BLK_RBD_CACHE_WRITETHROUGH);
  cr_expect (p->write_durable_on_ack && p->flush_calls_librbd);
}
