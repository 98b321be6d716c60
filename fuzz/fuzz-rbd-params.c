/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the rbd image spec (POOL[/NS]/IMAGE[@SNAP]) and
 * the Ceph connection parameters of the rbd plugin and of qcow2 on
 * RBD (common/rbd/spec.c, common/rbd/params.c), which take command
 * line input.
 *
 * Input: the first byte picks the parameter prefix ("" as in the rbd
 * plugin, "rbd-" as in the qcow2 plugin); the rest is lines KEY=VALUE,
 * given in order as nbdkit would (a line without '=' is an image
 * spec).  nbdkit's functions are replaced by the stubs below.
 */
#include <config.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "params.h"
#include "spec.h"

/* Stubs: format the message (so bad format arguments show up under
 * the sanitizers) and drop it.
 */
void
nbdkit_error (const char *fs, ...)
{
  char buf[1024];
  va_list args;

  va_start (args, fs);
  vsnprintf (buf, sizeof buf, fs, args);
  va_end (args);
}

int
nbdkit_parse_bool (const char *str)
{
  if (!strcmp (str, "1") || !strcmp (str, "on") || !strcmp (str, "true") ||
      !strcmp (str, "yes"))
    return 1;
  if (!strcmp (str, "0") || !strcmp (str, "off") || !strcmp (str, "false") ||
      !strcmp (str, "no"))
    return 0;
  nbdkit_error ("could not decipher boolean (%s)", str);
  return -1;
}

/* What the spec parser promises for every spec it accepts: non-empty
 * names without separators, and that the parts give back the input.
 */
static void
check_spec (const char *str, const struct rbd_spec *s)
{
  char back[4096];

  if (!s->pool || !s->nspace || !s->image)
    abort ();
  if (!s->pool[0] || !s->image[0] || (s->snap && !s->snap[0]))
    abort ();
  if (strpbrk (s->pool, "/@") || strpbrk (s->nspace, "/@") ||
      strpbrk (s->image, "/@"))
    abort ();
  snprintf (back, sizeof back, "%s%s%s/%s%s%s", s->pool,
            s->nspace[0] ? "/" : "", s->nspace, s->image,
            s->snap ? "@" : "", s->snap ? s->snap : "");
  if (strlen (str) < sizeof back - 1 && strcmp (back, str) != 0)
    abort ();
}

static void
check_params (const struct blk_rbd_params *p)
{
  const uint64_t day = 86400ull * 1000000000;

  if (p->timeout_ns == 0 || p->timeout_ns > day ||
      p->request_timeout_ns > day)
    abort ();
  if (p->rbd_cache < -1 || p->rbd_cache > 1)
    abort ();
  /* cache= is the rbd plugin's alone (no prefix), and one of the five. */
  if (p->cache_mode < BLK_RBD_CACHE_UNSET ||
      p->cache_mode > BLK_RBD_CACHE_UNSAFE ||
      (p->key_prefix[0] && p->cache_mode != BLK_RBD_CACHE_UNSET))
    abort ();
  if ((p->conf && !p->conf[0]) || (p->id && !p->id[0]) ||
      (p->keyring && !p->keyring[0]) || (p->cluster && !p->cluster[0]))
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct blk_rbd_params p = BLK_RBD_PARAMS_INIT ("", "image");
  char *input, *line, *next;

  if (size == 0)
    return 0;
  if (data[0] & 1)
    p.key_prefix = "rbd-";
  input = malloc (size);
  if (input == NULL)
    return 0;
  memcpy (input, data + 1, size - 1);
  input[size - 1] = '\0';

  for (line = input; line; line = next) {
    char *eq;
    char err[256];

    next = strchr (line, '\n');
    if (next)
      *next++ = '\0';
    eq = strchr (line, '=');
    if (eq == NULL) {
      struct rbd_spec s;

      if (rbd_spec_parse (line, &s, err, sizeof err) == 0) {
        check_spec (line, &s);
        rbd_spec_free (&s);
      }
      else if (memchr (err, '\0', sizeof err) == NULL)
        abort ();
      continue;
    }
    *eq = '\0';
    if (blk_rbd_config (&p, line, eq + 1) == 1)
      check_params (&p);
  }
  check_params (&p);
  blk_rbd_params_free (&p);
  free (input);
  return 0;
}
