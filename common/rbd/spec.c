/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: parsing an RBD image specification (see spec.h).
 *
 * The rules are librbd's naming rules, checked here so that a typo is
 * reported as such before any connection is made: no component may
 * be empty, pool, namespace and image names cannot contain '/' or
 * '@', and a snapshot name is everything after the first '@'.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dup-part.h"
#include "spec.h"

void
rbd_spec_free (struct rbd_spec *spec)
{
  free (spec->pool);
  free (spec->nspace);
  free (spec->image);
  free (spec->snap);
  memset (spec, 0, sizeof *spec);
}

int
rbd_spec_parse (const char *str, struct rbd_spec *spec,
                char *errbuf, size_t errlen)
{
  const char *at, *slash1, *slash2, *end;
  const char *ns_start = NULL, *img_start;
  size_t ns_len = 0;

  memset (spec, 0, sizeof *spec);

  at = strchr (str, '@');
  end = at ? at : str + strlen (str);

  slash1 = memchr (str, '/', (size_t) (end - str));
  if (slash1 == NULL) {
    snprintf (errbuf, errlen,
              "'%s' has no pool: expected POOL[/NAMESPACE]/IMAGE[@SNAPSHOT]",
              str);
    return -1;
  }
  slash2 = memchr (slash1 + 1, '/', (size_t) (end - slash1 - 1));
  if (slash2) {
    if (memchr (slash2 + 1, '/', (size_t) (end - slash2 - 1))) {
      snprintf (errbuf, errlen,
                "'%s' has too many '/': expected POOL[/NAMESPACE]/IMAGE[@SNAPSHOT]",
                str);
      return -1;
    }
    ns_start = slash1 + 1;
    ns_len = (size_t) (slash2 - ns_start);
    img_start = slash2 + 1;
  }
  else
    img_start = slash1 + 1;

  if (slash1 == str) {
    snprintf (errbuf, errlen, "'%s': the pool name is empty", str);
    return -1;
  }
  if (ns_start && ns_len == 0) {
    snprintf (errbuf, errlen, "'%s': the namespace name is empty", str);
    return -1;
  }
  if (img_start == end) {
    snprintf (errbuf, errlen, "'%s': the image name is empty", str);
    return -1;
  }
  if (at && at[1] == '\0') {
    snprintf (errbuf, errlen, "'%s': the snapshot name after '@' is empty", str);
    return -1;
  }

  spec->pool = dup_part (str, (size_t) (slash1 - str));
  spec->nspace = dup_part (ns_start ? ns_start : "", ns_len);
  spec->image = dup_part (img_start, (size_t) (end - img_start));
  if (at)
    spec->snap = strdup (at + 1);
  if (!spec->pool || !spec->nspace || !spec->image || (at && !spec->snap)) {
    rbd_spec_free (spec);
    snprintf (errbuf, errlen, "out of memory");
    return -1;
  }
  return 0;
}
