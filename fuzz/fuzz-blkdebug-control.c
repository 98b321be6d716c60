/* libFuzzer target: the blkdebug control protocol (command parser and
 * dispatcher, bd_control_exec), without the socket.  Each input is a
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

#include "control.h"
#include "engine.h"

static void
check_reply (const char *buf, size_t len, int r)
{
  /* Every reply starts "OK" (r == 0) or "ERR " (r == -1) and ends in a
   * newline.
   */
  if (len == 0 || buf[len - 1] != '\n')
    abort ();
  if (r == 0 ? strncmp (buf, "OK", 2) != 0 : strncmp (buf, "ERR ", 4) != 0)
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct bd_engine *e;
  char *text, *line, *save = NULL;
  unsigned n;
  int ev, t;

  if (size > BD_CONTROL_MAX_LINE * 8)
    return 0;
  text = malloc (size + 1);
  e = bd_engine_new (1);
  if (text == NULL || e == NULL)
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
    int r;

    if (out == NULL)
      abort ();
    r = bd_control_exec (e, line, out);
    if (fclose (out) == EOF)
      abort ();
    check_reply (buf, len, r);
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
  bd_engine_free (e);
  free (text);
  return 0;
}
