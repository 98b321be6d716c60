/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: unit tests of the rbd image specification parser. */
#include <config.h>

#include <string.h>

#include <criterion/criterion.h>

#include "spec.h"

static void
ok (const char *str, const char *pool, const char *ns, const char *image,
    const char *snap)
{
  struct rbd_spec s;
  char err[256] = "";

  cr_assert_eq (rbd_spec_parse (str, &s, err, sizeof err), 0,
                "'%s' rejected: %s", str, err);
  cr_expect_str_eq (s.pool, pool);
  cr_expect_str_eq (s.nspace, ns);
  cr_expect_str_eq (s.image, image);
  if (snap)
    cr_expect_str_eq (s.snap, snap);
  else
    cr_expect_null (s.snap);
  rbd_spec_free (&s);
}

static void
bad (const char *str, const char *reason)
{
  struct rbd_spec s;
  char err[256] = "";

  cr_assert_eq (rbd_spec_parse (str, &s, err, sizeof err), -1,
                "'%s' accepted", str);
  cr_expect (strstr (err, reason) != NULL,
             "'%s': error '%s' lacks '%s'", str, err, reason);
  cr_expect (strstr (err, str) != NULL || str[0] == '\0',
             "'%s': error '%s' does not echo the value", str, err);
}

Test (rbd_spec, pool_image)
{
  ok ("rbd/disk", "rbd", "", "disk", NULL);
  ok ("my-pool/vm.1_disk", "my-pool", "", "vm.1_disk", NULL);
}

Test (rbd_spec, namespace)
{
  ok ("rbd/tenant/disk", "rbd", "tenant", "disk", NULL);
}

Test (rbd_spec, snapshot)
{
  ok ("rbd/disk@snap1", "rbd", "", "disk", "snap1");
  ok ("rbd/ns/disk@s", "rbd", "ns", "disk", "s");
  /* Everything after the first '@' is the snapshot's name. */
  ok ("rbd/disk@a/b@c", "rbd", "", "disk", "a/b@c");
}

Test (rbd_spec, errors)
{
  bad ("disk", "no pool");
  bad ("", "no pool");
  bad ("disk@snap", "no pool");
  bad ("/disk", "pool name is empty");
  bad ("rbd/", "image name is empty");
  bad ("rbd/ns/", "image name is empty");
  bad ("rbd//disk", "namespace name is empty");
  bad ("rbd/disk@", "snapshot name");
  bad ("a/b/c/d", "too many");
}
