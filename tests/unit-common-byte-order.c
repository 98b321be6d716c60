/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: common/include/byte-order.h */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "byte-order.h"

static const unsigned char bytes[] = {
  0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
};

Test (byte_order, loads)
{
  cr_assert_eq (blk_load_be16 (bytes), 0x0102);
  cr_assert_eq (blk_load_le16 (bytes), 0x0201);
  cr_assert_eq (blk_load_be32 (bytes), 0x01020304u);
  cr_assert_eq (blk_load_le32 (bytes), 0x04030201u);
  cr_assert_eq (blk_load_be64 (bytes), UINT64_C (0x0102030405060708));
  cr_assert_eq (blk_load_le64 (bytes), UINT64_C (0x0807060504030201));
}

/* Any offset: the formats put fields at odd offsets. */
Test (byte_order, unaligned)
{
  cr_assert_eq (blk_load_be16 (bytes + 1), 0x0203);
  cr_assert_eq (blk_load_be32 (bytes + 1), 0x02030405u);
  cr_assert_eq (blk_load_be64 (bytes + 1), UINT64_C (0x0203040506070809));
  cr_assert_eq (blk_load_le64 (bytes + 1), UINT64_C (0x0908070605040302));
}

Test (byte_order, high_bits_do_not_sign_extend)
{
  static const unsigned char ff[8] = {
    0xff, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x80,
  };
  cr_assert_eq (blk_load_be16 (ff), 0xfffe);
  cr_assert_eq (blk_load_be32 (ff), 0xfffe8000u);
  cr_assert_eq (blk_load_be64 (ff), UINT64_C (0xfffe800000000080));
  cr_assert_eq (blk_load_le64 (ff), UINT64_C (0x800000000080feff));
}

Test (byte_order, stores_chain_and_round_trip)
{
  unsigned char buf[1 + 2 + 4 + 8 + 2 + 4 + 8];
  unsigned char *p = buf;

  memset (buf, 0xaa, sizeof buf);
  p++;                                  /* start unaligned */
  p = blk_store_be16 (p, 0x1234);
  p = blk_store_be32 (p, 0x89abcdefu);
  p = blk_store_be64 (p, UINT64_C (0x0011223344556677));
  p = blk_store_le16 (p, 0x1234);
  p = blk_store_le32 (p, 0x89abcdefu);
  p = blk_store_le64 (p, UINT64_C (0x0011223344556677));
  cr_assert_eq (p, buf + sizeof buf);

  static const unsigned char want[] = {
    0xaa,
    0x12, 0x34,
    0x89, 0xab, 0xcd, 0xef,
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
    0x34, 0x12,
    0xef, 0xcd, 0xab, 0x89,
    0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00,
  };
  cr_assert_arr_eq (buf, want, sizeof want);

  cr_assert_eq (blk_load_be16 (buf + 1), 0x1234);
  cr_assert_eq (blk_load_be32 (buf + 3), 0x89abcdefu);
  cr_assert_eq (blk_load_be64 (buf + 7), UINT64_C (0x0011223344556677));
  cr_assert_eq (blk_load_le16 (buf + 15), 0x1234);
  cr_assert_eq (blk_load_le32 (buf + 17), 0x89abcdefu);
  cr_assert_eq (blk_load_le64 (buf + 21), UINT64_C (0x0011223344556677));
}

/* The host <-> order macros are involutions. */
Test (byte_order, conversions)
{
  uint64_t v = UINT64_C (0x0102030405060708);

  cr_assert_eq (blk_be64 (blk_be64 (v)), v);
  cr_assert_eq (blk_le64 (blk_le64 (v)), v);
  cr_assert_eq (blk_be32 (blk_le32 (0x01020304u)), 0x04030201u);
}
