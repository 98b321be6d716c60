/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the blkdebug rule parsers (QEMU rule files and
 * inline rules), which read user files and control-socket input, and
 * the engine's index built from what they accept: every rule is added
 * to an engine, its event raised, and requests on the edges of its
 * sector and range judged; the index must never hide an armed rule
 * that matches, nor let through one that does not (checked through the
 * rules' match counters against a plain reading of the rule).
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blk-hook.h"
#include "engine.h"
#include "rules.h"

static void
check (const struct bd_rule *r)
{
  char line[512];

  /* What the parser promised for every rule it accepts. */
  if (r->event < 0 || r->state < 0 || r->error < 0 || r->error > 4095)
    abort ();
  if (r->action == BD_INJECT && r->iotype_mask == 0)
    abort ();
  if (r->length && r->offset + r->length < r->offset)
    abort ();
  bd_rule_describe (r, line, sizeof line);
  if (memchr (line, '\0', sizeof line) == NULL)
    abort ();
  /* blkdebug-strict=qemu: refuses exactly the rules that used an
   * extension, with a message.
   */
  line[0] = '\0';
  if (bd_rule_check_qemu (r, line, sizeof line) == -1) {
    if (r->ext_key[0] == '\0' || line[0] == '\0' ||
        memchr (line, '\0', sizeof line) == NULL)
      abort ();
  }
  else if (r->ext_key[0] != '\0')
    abort ();
}

/* QEMU's rule, read plainly (engine.c: may_match). */
static bool
plain_match (const struct bd_rule *r, enum bd_iotype t, uint64_t off,
             uint64_t len)
{
  if (r->removed || !(r->iotype_mask & (1u << t)))
    return false;
  if (r->sector_offset >= 0 &&
      !(len && (uint64_t) r->sector_offset >= off &&
        (uint64_t) r->sector_offset - off < len))
    return false;
  if (r->length &&
      !(len && off < r->offset + r->length && r->offset < off + len))
    return false;
  return true;
}

/* Judge one request (single thread: the armed set cannot change under
 * us before bd_engine_check takes it).
 */
static void
judge_one (struct bd_engine *e, enum bd_iotype t, uint64_t off, uint64_t len)
{
  struct bd_armed_set *s = ((struct bd_engine_fast *) e)->armed;
  struct bd_rule *first = NULL;
  uint64_t before = 0, sum = 0, after = 0;
  struct bd_outcome o;
  size_t i;
  int fired;

  /* No such request: nbdkit's exports end below 2^63 (engine.h). */
  if (off > INT64_MAX || len > (uint64_t) INT64_MAX + 1 - off)
    return;
  for (i = 0; s && i < s->n; i++) {
    sum += s->r[i]->matches;
    if (first == NULL && plain_match (s->r[i], t, off, len))
      first = s->r[i];
  }
  if (first)
    before = first->matches;
  fired = bd_engine_check (e, t, off, len, &o);
  if (first) {
    /* The first matching rule is always counted, whatever decides. */
    if (first->matches != before + 1)
      abort ();
    return;
  }
  for (i = 0; s && i < s->n; i++)
    after += s->r[i]->matches;
  if (fired || after != sum)
    abort ();
}

/* Requests of TYPE around byte EDGE: starting and ending on it, one
 * byte either side, lengths 0, 1, 512 and 4096.
 */
static void
around (struct bd_engine *e, enum bd_iotype t, uint64_t edge)
{
  static const uint64_t lens[] = { 0, 1, 512, 4096 };
  size_t i;
  int d;

  for (i = 0; i < sizeof lens / sizeof lens[0]; i++)
    for (d = -1; d <= 1; d++) {
      uint64_t x = edge + (uint64_t) (int64_t) d;
      if ((d < 0 && edge == 0) || (d > 0 && edge == UINT64_MAX))
        continue;
      judge_one (e, t, x, lens[i]);
      if (x >= lens[i])
        judge_one (e, t, x - lens[i], lens[i]);
    }
}

/* Add the rules (the engine takes them) and judge requests on their
 * edges after raising each rule's event.
 */
static void
exercise_index (struct bd_rule **rules, size_t n)
{
  struct bd_engine *e = bd_engine_new (1);
  int ev[16];
  size_t i, j, nev = 0;

  if (e == NULL) {
    for (i = 0; i < n; i++)
      bd_rule_free (rules[i]);
    return;
  }
  for (i = 0; i < n; i++) {
    int event = rules[i]->event;
    /* Enough to fill every part of the index, few enough to stay fast. */
    if (i >= 64) {
      bd_rule_free (rules[i]);
      continue;
    }
    if (bd_engine_add (e, rules[i]) >= 0 && nev < 16)
      ev[nev++] = event;
  }
  for (i = 0; i < nev; i++) {
    bd_engine_event (e, ev[i]);
    /* Twice: after=, once and count= change what the second sees. */
    for (j = 0; j < 2; j++) {
      struct bd_armed_set *s = ((struct bd_engine_fast *) e)->armed;
      size_t k;
      for (k = 0; s && k < s->n && k < 4; k++) {
        const struct bd_rule *r = s->r[k];
        if (r->sector_offset >= 0)
          around (e, BD_IO_READ, (uint64_t) r->sector_offset);
        if (r->length) {
          around (e, BD_IO_WRITE, r->offset);
          around (e, BD_IO_WRITE, r->offset + r->length);
        }
      }
      judge_one (e, BD_IO_FLUSH, 0, 0);
      judge_one (e, BD_IO_DISCARD, 0, 4096);
    }
  }
  bd_engine_free (e);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char why[512];

  if (size == 0)
    return 0;
  if (data[0] & 1) {
    bd_rule_list l = empty_vector;
    size_t i;
    if (bd_parse_config ((const char *) data + 1, size - 1, "fuzz.cfg", &l,
                         why, sizeof why) == 0) {
      for (i = 0; i < l.len; i++)
        check (l.ptr[i]);
      /* The engine takes the rules. */
      exercise_index (l.ptr, l.len);
      l.len = 0;
    }
    else if (l.len != 0)
      abort ();                 /* the list must be unchanged on error */
    bd_list_free (&l);
  }
  else {
    char *s = malloc (size);
    struct bd_rule *r;
    if (s == NULL)
      return 0;
    memcpy (s, data + 1, size - 1);
    s[size - 1] = '\0';
    r = bd_parse_inline (data[0] & 2 ? BD_SET_STATE : BD_INJECT, s, "fuzz",
                         why, sizeof why);
    if (r) {
      check (r);
      exercise_index (&r, 1);
    }
    free (s);
  }
  return 0;
}
