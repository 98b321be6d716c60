/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the qcow2 header parser (plugins/qcow2/header.c). */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "header.h"

#define CS 65536

static uint8_t img[4 * CS];
static char why[256];

/* A valid empty v3 image: header, reftable at 1, L1 at 3. */
static void
make_v3 (void)
{
  struct qcow2_header h = {
    .version = 3, .cluster_bits = 16, .size = 1 << 30, .l1_size = 2,
    .l1_table_offset = 3 * CS, .refcount_table_offset = CS,
    .refcount_table_clusters = 1, .refcount_order = 4, .header_length = 104,
  };
  memset (img, 0, sizeof img);
  cr_assert_eq (qcow2_header_encode (&h, img, sizeof img), 104);
}

static int
parse (struct qcow2_header *h)
{
  why[0] = '\0';
  return qcow2_header_parse (img, CS, sizeof img, h, why, sizeof why);
}

Test (qcow2_header, valid_v3)
{
  struct qcow2_header h;
  make_v3 ();
  cr_assert_eq (parse (&h), 0, "%s", why);
  cr_assert_eq (h.version, 3);
  cr_assert_eq (h.size, 1 << 30);
  cr_assert_null (h.backing_file);
  qcow2_header_free (&h);
}

Test (qcow2_header, extensions_and_backing)
{
  struct qcow2_header h;
  make_v3 ();
  /* Unknown extension (skipped), then backing format, then end. */
  blk_store_be32 (img + 104, 0x11223344); blk_store_be32 (img + 108, 3);
  blk_store_be32 (img + 120, QCOW2_EXT_BACKING_FORMAT); blk_store_be32 (img + 124, 5);
  memcpy (img + 128, "qcow2", 5);
  memcpy (img + 512, "base.qcow2", 10);
  blk_store_be64 (img + 8, 512); blk_store_be32 (img + 16, 10);
  cr_assert_eq (parse (&h), 0, "%s", why);
  cr_assert_str_eq (h.backing_file, "base.qcow2");
  cr_assert_str_eq (h.backing_format, "qcow2");
  qcow2_header_free (&h);
}

/* The bitmaps extension is located (for removal at the first write)
 * and its fields recorded as read, never rejected: bitmaps.c checks
 * them and only leaks on nonsense.
 */
Test (qcow2_header, bitmaps_extension)
{
  struct qcow2_header h;
  make_v3 ();
  /* backing format (8+8), bitmaps (8+24), end; backing name at 512. */
  blk_store_be32 (img + 104, QCOW2_EXT_BACKING_FORMAT); blk_store_be32 (img + 108, 5);
  memcpy (img + 112, "qcow2", 5);
  blk_store_be32 (img + 120, QCOW2_EXT_BITMAPS); blk_store_be32 (img + 124, 24);
  blk_store_be32 (img + 128, 2);
  blk_store_be64 (img + 136, 48);
  blk_store_be64 (img + 144, 2 * CS + 3);      /* unaligned: still parsed */
  memcpy (img + 512, "base.qcow2", 10);
  blk_store_be64 (img + 8, 512); blk_store_be32 (img + 16, 10);
  cr_assert_eq (parse (&h), 0, "%s", why);
  cr_assert (h.has_bitmaps_ext);
  cr_assert_eq (h.bitmaps_ext_off, 120);
  cr_assert_eq (h.bitmaps_ext_len, 32);
  cr_assert_eq (h.ext_end, 512);
  cr_assert_eq (h.nb_bitmaps, 2);
  cr_assert_eq (h.bitmap_dir_size, 48);
  cr_assert_eq (h.bitmap_dir_offset, 2 * CS + 3);
  cr_assert_not (h.bitmaps_ext_short);
  qcow2_header_free (&h);

  /* Too short to hold its fields: flagged, not rejected. */
  blk_store_be32 (img + 124, 8);
  cr_assert_eq (parse (&h), 0, "%s", why);
  cr_assert (h.has_bitmaps_ext);
  cr_assert (h.bitmaps_ext_short);
  cr_assert_eq (h.bitmaps_ext_len, 16);
  qcow2_header_free (&h);
}

Test (qcow2_header, rejects)
{
  struct qcow2_header h;
  struct { unsigned off, width; uint64_t val; const char *msg; } cases[] = {
    { 0, 4, 0, "bad magic" },
    { 4, 4, 1, "version 1" },
    { 20, 4, 8, "cluster size" },
    { 20, 4, 22, "cluster size" },
    { 24, 8, 1ull << 63, "absurd" },
    { 36, 4, 1, "too small" },
    { 40, 8, 5 * CS, "outside the file" },
    { 56, 4, 0, "refcount table size" },
    { 72, 8, 1ull << 40, "incompatible feature bit 40" },
    { 96, 4, 9, "refcount order" },
    { 100, 4, 100, "header length" },
    { 32, 4, 2, "encrypted" },
  };
  size_t i;

  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    make_v3 ();
    if (cases[i].width == 4)
      blk_store_be32 (img + cases[i].off, (uint32_t) cases[i].val);
    else
      blk_store_be64 (img + cases[i].off, cases[i].val);
    cr_assert_eq (parse (&h), -1, "case %zu accepted", i);
    cr_assert (strstr (why, cases[i].msg), "case %zu: '%s' lacks '%s'",
               i, why, cases[i].msg);
    qcow2_header_free (&h);
  }
}

/* QEMU validates the L1 table's offset whatever its size: an empty
 * L1 table (virtual size 0) at an unaligned offset is refused with
 * "Active L1 table offset invalid", and so must it be here.
 */
Test (qcow2_header, empty_l1_unaligned)
{
  struct qcow2_header h;
  make_v3 ();
  blk_store_be64 (img + 24, 0);                /* size 0: no L1 entry needed */
  blk_store_be32 (img + 36, 0);                /* l1_size 0 */
  blk_store_be64 (img + 40, 0);                /* offset 0 is aligned: ok */
  cr_assert_eq (parse (&h), 0, "%s", why);
  qcow2_header_free (&h);
  blk_store_be64 (img + 40, 0x30001);
  cr_assert_eq (parse (&h), -1, "unaligned empty L1 table accepted");
  cr_assert (strstr (why, "L1 table offset 196609 is not cluster aligned"),
             "%s", why);
  qcow2_header_free (&h);
  blk_store_be64 (img + 40, 0x8000000000000000ull);
  cr_assert_eq (parse (&h), -1, "L1 offset past 2^63 accepted");
  cr_assert (strstr (why, "L1 table offset"), "%s", why);
  qcow2_header_free (&h);
}

Test (qcow2_header, extension_overrun)
{
  struct qcow2_header h;
  make_v3 ();
  blk_store_be32 (img + 104, 0x11223344); blk_store_be32 (img + 108, CS);
  cr_assert_eq (parse (&h), -1);
  cr_assert (strstr (why, "overruns"), "%s", why);
  qcow2_header_free (&h);
}

Test (qcow2_header, snapshot_table)
{
  struct qcow2_header h;
  struct qcow2_snapshot *s;
  uint8_t t[128] = { 0 };

  make_v3 ();
  cr_assert_eq (parse (&h), 0, "%s", why);
  blk_store_be64 (t, 3 * CS); blk_store_be32 (t + 8, 2);
  t[13] = 1; t[15] = 4;                      /* id "1", name "snap" */
  blk_store_be32 (t + 36, 16);
  blk_store_be64 (t + 48, 12345 * 512);         /* disk size */
  memcpy (t + 56, "1snap", 5);
  cr_assert_eq (qcow2_snapshots_parse (t, sizeof t, 1, &h, sizeof img, &s,
                                       why, sizeof why), 0, "%s", why);
  cr_assert_str_eq (s[0].name, "snap");
  cr_assert_str_eq (s[0].id, "1");
  cr_assert_eq (s[0].disk_size, 12345 * 512);
  qcow2_snapshots_free (s, 1);
  /* Truncated. */
  cr_assert_eq (qcow2_snapshots_parse (t, 50, 1, &h, sizeof img, &s,
                                       why, sizeof why), -1);
  qcow2_header_free (&h);
}
