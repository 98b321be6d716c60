/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: parameters that take one of a fixed set of words
 * (see enum-param.h).
 */
#include <config.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "enum-param.h"
#include "why.h"

/* Does an earlier entry already name E's value? */
static bool
is_synonym (const struct blk_enum_name *table, const struct blk_enum_name *e)
{
  const struct blk_enum_name *f;

  for (f = table; f < e; f++)
    if (f->value == e->value)
      return true;
  return false;
}

int
blk_parse_enum (const char *key, const char *value,
                const struct blk_enum_name *table, int *out,
                char *why, size_t whylen)
{
  const struct blk_enum_name *e;
  char list[512];
  size_t used = 0;
  const char *sep = "";
  int n;

  for (e = table; e->name != NULL; e++)
    if (strcmp (value, e->name) == 0) {
      *out = e->value;
      return 0;
    }

  /* Build "a, b, c" from the listed names; a list too long for the
   * buffer ends in "..." (no table is near that long today).
   */
  list[0] = '\0';
  for (e = table; e->name != NULL; e++) {
    if (is_synonym (table, e))
      continue;
    n = snprintf (list + used, sizeof list - used, "%s%s", sep, e->name);
    if (n < 0 || (size_t) n >= sizeof list - used) {
      memcpy (list + sizeof list - 4, "...", 4);
      break;
    }
    used += (size_t) n;
    sep = ", ";
  }
  return blk_why (why, whylen, "%s: unknown value '%s' (expected one of: %s)",
                  key, value, list);
}

const char *
blk_enum_to_name (const struct blk_enum_name *table, int value)
{
  const struct blk_enum_name *e;

  for (e = table; e->name != NULL; e++)
    if (e->value == value)
      return e->name;
  return NULL;
}
