/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: parsing the Ceph connection parameters (see params.h). */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "duration.h"
#include "enum-param.h"
#include "params.h"

int
blk_rbd_set_string (char **dst, const char *key, const char *value)
{
  if (value[0] == '\0') {
    nbdkit_error ("%s: the value is empty", key);
    return -1;
  }
  free (*dst);
  *dst = strdup (value);
  if (*dst == NULL) {
    nbdkit_error ("%s: strdup: %m", key);
    return -1;
  }
  return 0;
}

static bool
is_key (const struct blk_rbd_params *p, const char *key, const char *name)
{
  size_t n = strlen (p->key_prefix);

  return strncmp (key, p->key_prefix, n) == 0 && strcmp (key + n, name) == 0;
}

/* librados takes whole seconds: anything above this does not fit the
 * options (and means "never" to a human anyway).
 */
#define MAX_TIMEOUT_NS (86400ull * 1000000000)

/* *NS changes only if VALUE is valid (found by fuzz-rbd-params: a
 * rejected timeout=0 used to leave a zero timeout behind).
 */
static int
parse_timeout (const char *key, const char *value, bool zero_ok,
               uint64_t *ns)
{
  char err[128];
  uint64_t v;

  if (blk_parse_duration (value, 1000000000, &v, err, sizeof err) == -1) {
    nbdkit_error ("%s: cannot parse '%s': %s", key, value, err);
    return -1;
  }
  if (v == 0 && !zero_ok) {
    nbdkit_error ("%s: '%s' is zero: give a positive duration such as 10s",
                  key, value);
    return -1;
  }
  if (v > MAX_TIMEOUT_NS) {
    nbdkit_error ("%s: '%s' is more than a day: give at most 24h", key, value);
    return -1;
  }
  *ns = v;
  return 1;
}

/* The options both modules take, named PREFIX + name ("rbd-cache" is
 * the same in both: it already says rbd).
 */
int
blk_rbd_config (struct blk_rbd_params *p, const char *key, const char *value)
{
  int b;

  if (is_key (p, key, "conf"))
    return blk_rbd_set_string (&p->conf, key, value) == -1 ? -1 : 1;
  if (is_key (p, key, "id"))
    return blk_rbd_set_string (&p->id, key, value) == -1 ? -1 : 1;
  if (is_key (p, key, "keyring"))
    return blk_rbd_set_string (&p->keyring, key, value) == -1 ? -1 : 1;
  if (is_key (p, key, "cluster"))
    return blk_rbd_set_string (&p->cluster, key, value) == -1 ? -1 : 1;
  if (strcmp (key, "rbd-cache") == 0) {
    b = nbdkit_parse_bool (value);
    if (b == -1) {
      nbdkit_error ("%s: cannot parse '%s': use on or off", key, value);
      return -1;
    }
    p->rbd_cache = b;
    return 1;
  }
  /* cache=MODE, QEMU's names for what the cache may do with an
   * acknowledged write (cache-mode.h).  Only the rbd plugin has it: in
   * the qcow2 plugin the prefixed name would be rbd-cache, the boolean
   * above.
   */
  if (p->key_prefix[0] == '\0' && strcmp (key, "cache") == 0) {
    char why[640];
    int m;

    if (blk_parse_enum (key, value, blk_rbd_cache_modes, &m,
                        why, sizeof why) == -1) {
      nbdkit_error ("%s", why);
      return -1;
    }
    p->cache_mode = (enum blk_rbd_cache_mode) m;
    return 1;
  }
  if (is_key (p, key, "timeout"))
    return parse_timeout (key, value, false, &p->timeout_ns);
  /* 0 is allowed: wait for an OSD for ever, as Ceph does by default. */
  if (is_key (p, key, "request-timeout"))
    return parse_timeout (key, value, true, &p->request_timeout_ns);
  return 0;
}

void
blk_rbd_params_free (struct blk_rbd_params *p)
{
  rbd_spec_free (&p->spec);
  free (p->conf);
  free (p->id);
  free (p->keyring);
  free (p->cluster);
  p->conf = p->id = p->keyring = p->cluster = NULL;
}
