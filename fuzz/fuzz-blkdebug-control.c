/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the control protocol (common/control's line
 * parser, --json prefix, registry, replies) with blkdebug's commands
 * (filters/blkdebug/control-cmds.c), without the socket.  Each input is a
 * sequence of command lines run against a fresh engine; afterwards
 * every event is raised and every request type judged, so rules that
 * the protocol accepted also go through the engine.
 *
 * The engine is shut down before the commands run: wait_break then
 * returns at once instead of waiting for a request that never comes,
 * and breakpoints do not suspend the fuzzer's thread.
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control-cmds.h"
#include "engine.h"

static void
check_reply (const char *buf, size_t len, int r, int json)
{
  /* Every reply ends in a newline and starts "OK" (r == 0) or "ERR "
   * (r == -1); in JSON, {"ok":true or {"ok":false, on one line with
   * no control byte (strings escaped).
   */
  if (len == 0 || buf[len - 1] != '\n' || strlen (buf) != len)
    abort ();
  if (json) {
    size_t i;
    if (strncmp (buf, r == 0 ? "{\"ok\":true" : "{\"ok\":false,\"error\":",
                 r == 0 ? 10 : 18) != 0 || len < 3 ||
        buf[len - 2] != '}')
      abort ();
    for (i = 0; i < len - 1; i++)
      if ((unsigned char) buf[i] < 0x20)
        abort ();
  }
  else if (r == 0 ? strncmp (buf, "OK", 2) != 0
           : strncmp (buf, "ERR ", 4) != 0)
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct bd_engine *e;
  struct blk_ctl *ctl;
  char *text, *line, *save = NULL;
  unsigned n;
  int ev, t;

  if (size > BLK_CTL_MAX_LINE * 8)
    return 0;
  text = malloc (size + 1);
  e = bd_engine_new (1);
  ctl = e ? bd_control_new (e) : NULL;
  if (text == NULL || ctl == NULL)
    abort ();
  memcpy (text, data, size);
  text[size] = '\0';
  bd_engine_shutdown (e);
  /* The first byte picks the layer the socket's rules go to. */
  bd_control_set_layer (size > 0 && (data[0] & 1));

  for (line = strtok_r (text, "\n", &save); line;
       line = strtok_r (NULL, "\n", &save)) {
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream (&buf, &len);
    const char *p = line + strspn (line, " \t");
    /* The parser strips a trailing CR/LF before it looks for the
     * prefix: "--json\r" is the prefix alone.
     */
    int r, json = strncmp (p, "--json", 6) == 0 &&
      (p[6] == ' ' || p[6] == '\t' || p[6 + strspn (p + 6, "\r\n")] == '\0');

    if (out == NULL)
      abort ();
    r = blk_ctl_exec (ctl, line, out);
    if (fclose (out) == EOF)
      abort ();
    check_reply (buf, len, r, json);
    free (buf);
  }

  for (ev = 0; ev < BLK_EV__MAX; ev++) {
    struct bd_outcome o;
    bd_engine_event (e, ev);
    for (t = 0; t < BD_IO__MAX; t++)
      if (bd_engine_check (e, (enum bd_iotype) t, (uint64_t) ev * 4096,
                           t == BD_IO_FLUSH ? 0 : 65536, &o) &&
          (o.error < 0 || (o.torn && o.torn_bytes > 65536)))
        abort ();
  }
  free (bd_engine_list (e, true, &n));
  blk_ctl_free (ctl);
  bd_engine_free (e);
  free (text);
  return 0;
}
