/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the blkdebug rule parsers (QEMU rule files and
 * inline rules), which read user files and control-socket input.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
      bd_rule_free (r);
    }
    free (s);
  }
  return 0;
}
