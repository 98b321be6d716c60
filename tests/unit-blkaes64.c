/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: blkaes64, the AES-round payload hash (hash_alg 3,
 * common/blklog/blkaes64.c, docs/blkreplay-format.md).
 *
 * The AES-NI path and the portable path must compute the same function
 * (a log recorded on one CPU is verified on another), the function
 * must not change (the known answers below are in logs people keep),
 * and it must notice the corruptions a replay looks for.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "blkaes64.h"
#include "replaylog.h"

/* xorshift64: the same "random" data on every run and machine, so the
 * known answers below can use it.
 */
static uint64_t rng_state;

static void
fill_random (unsigned char *buf, size_t len, uint64_t seed)
{
  size_t i;

  rng_state = seed;
  for (i = 0; i < len; i++) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    buf[i] = (unsigned char) (rng_state >> 32);
  }
}

/* Both paths on LEN bytes at P; fails if they differ. */
static uint64_t
both_paths (const unsigned char *p, size_t len)
{
  uint64_t hw, sw;
  int had_hw = blkaes64_force_software (0);

  hw = blkaes64 (p, len);
  blkaes64_force_software (1);
  sw = blkaes64 (p, len);
  blkaes64_force_software (!had_hw);
  cr_assert_eq (hw, sw, "AES-NI 0x%016llx != portable 0x%016llx at length "
                "%zu, address %p", (unsigned long long) hw,
                (unsigned long long) sw, len, (const void *) p);
  return hw;
}

/* FIPS-197 Appendix B, round 1: the start-of-round state, the round
 * key, and the start of round 2 (SubBytes, ShiftRows, MixColumns and
 * AddRoundKey, which is what one aesenc does).
 */
Test (blkaes64, fips197_round)
{
  unsigned char s[16] = {
    0x19, 0x3d, 0xe3, 0xbe, 0xa0, 0xf4, 0xe2, 0x2b,
    0x9a, 0xc6, 0x8d, 0x2a, 0xe9, 0xf8, 0x48, 0x08,
  };
  static const unsigned char k[16] = {
    0xa0, 0xfa, 0xfe, 0x17, 0x88, 0x54, 0x2c, 0xb1,
    0x23, 0xa3, 0x39, 0x39, 0x2a, 0x6c, 0x76, 0x05,
  };
  static const unsigned char want[16] = {
    0xa4, 0x9c, 0x7f, 0xf2, 0x68, 0x9f, 0x35, 0x2b,
    0x6b, 0x5b, 0xea, 0x43, 0x02, 0x6a, 0x50, 0x49,
  };

  blkaes64_round_sw (s, k);
  cr_assert_arr_eq (s, want, 16);
}

Test (blkaes64, paths_agree)
{
  static unsigned char buf[65536 + 64];
  static const size_t big[] = { 4095, 4096, 4097, 65536 };
  static const size_t align[] = { 0, 1, 3, 8, 15, 16, 33 };
  size_t len, i, a;

  if (!blkaes64_hw ())
    cr_log_warn ("this CPU has no AES-NI+AVX: only the portable path runs");
  fill_random (buf, sizeof buf, 1);
  for (a = 0; a < sizeof align / sizeof align[0]; a++) {
    for (len = 0; len <= 600; len++)
      both_paths (buf + align[a], len);
    for (i = 0; i < sizeof big / sizeof big[0]; i++)
      if (align[a] + big[i] <= sizeof buf)
        both_paths (buf + align[a], big[i]);
  }
}

/* Fixed answers: a change to the function (or a compiler or emulator
 * computing it differently) fails here.  They were computed by this
 * code and by an independent Python transcription of the definition in
 * docs/blkreplay-format.md; the random data is
 * fill_random (.., 0x9e3779b97f4a7c15).
 */
Test (blkaes64, known_answers)
{
  static unsigned char buf[65536];
  static const unsigned char zero[4096];
  static const struct { size_t len; uint64_t h; } kat[] = {
    { 0, UINT64_C (0xd0486ef8bff37f47) },
    { 1, UINT64_C (0x085668a67aa1d061) },
    { 15, UINT64_C (0x05a7a151005d9adf) },
    { 16, UINT64_C (0xcd51f6dc31b8b356) },
    { 17, UINT64_C (0x6225f9b655c3b354) },
    { 63, UINT64_C (0x04150a0da62bcc8f) },
    { 64, UINT64_C (0xde312d2743235f16) },
    { 65, UINT64_C (0x925bc1686d18a0f9) },
    { 255, UINT64_C (0x5608b43942c9bee6) },
    { 256, UINT64_C (0x3ddbe7433457cbf7) },
    { 511, UINT64_C (0x8d045a78978beddc) },
    { 512, UINT64_C (0xc5b514e265ea648a) },
    { 513, UINT64_C (0xaeeaec8880897ad3) },
    { 4095, UINT64_C (0xed7060f97f9c97cc) },
    { 4096, UINT64_C (0x5b5fc127d93c6c66) },
    { 4097, UINT64_C (0x2a990a9feb691005) },
    { 65536, UINT64_C (0x0a50efb38189f414) },
  };
  size_t i;

  cr_assert_eq (both_paths ((const unsigned char *) "", 0),
                UINT64_C (0xd0486ef8bff37f47));
  cr_assert_eq (both_paths ((const unsigned char *) "abc", 3),
                UINT64_C (0xe46528e18c180327));
  cr_assert_eq (both_paths ((const unsigned char *) "abc\0", 4),
                UINT64_C (0xd77232f29aab3d1d));
  cr_assert_eq (both_paths (zero, sizeof zero),
                UINT64_C (0x89edc462b3f8d0d4));
  fill_random (buf, sizeof buf, UINT64_C (0x9e3779b97f4a7c15));
  for (i = 0; i < sizeof kat / sizeof kat[0]; i++)
    cr_assert_eq (both_paths (buf, kat[i].len), kat[i].h,
                  "length %zu: 0x%016llx", kat[i].len,
                  (unsigned long long) blkaes64 (buf, kat[i].len));
  /* The log's view of it. */
  cr_assert_eq (blklog_payload_hash (BLKLOG_HASH_BLKAES64, buf, 4096),
                UINT64_C (0x5b5fc127d93c6c66));
  cr_assert_str_eq (blklog_hash_name (BLKLOG_HASH_BLKAES64), "blkaes64");
}

/* One bit flipped anywhere in 4 KiB changes the hash: every bit of the
 * first and last bytes, and every 61st bit between (544 positions in
 * all, in every lane and at every offset within a block).  Both paths,
 * so a bug in a path's handling of some block position shows.
 */
Test (blkaes64, bit_flips)
{
  static unsigned char buf[4096];
  uint64_t h;
  size_t bit, n = 0;
  int sw;

  for (sw = 0; sw <= 1; sw++) {
    int had_hw = blkaes64_force_software (sw);

    fill_random (buf, sizeof buf, 7);
    h = blkaes64 (buf, sizeof buf);
    for (bit = 0; bit < sizeof buf * 8; bit++) {
      if (!(bit < 8 || bit >= sizeof buf * 8 - 8 || bit % 61 == 0))
        continue;
      buf[bit / 8] ^= (unsigned char) (1 << (bit % 8));
      cr_assert_neq (blkaes64 (buf, sizeof buf), h, "bit %zu (%s path)",
                     bit, sw ? "portable" : "AES-NI");
      buf[bit / 8] ^= (unsigned char) (1 << (bit % 8));
      n++;
    }
    blkaes64_force_software (!had_hw);
  }
  cr_assert_geq (n, 2 * 512);
}

static void
swap_bytes (unsigned char *a, unsigned char *b, size_t n)
{
  unsigned char t[64];

  memcpy (t, a, n);
  memcpy (a, b, n);
  memcpy (b, t, n);
}

/* Reordered data (a misplaced block or stripe) changes the hash:
 * 16-byte blocks in the same lane and in different lanes, and whole
 * 64-byte stripes, including the first and last.
 */
Test (blkaes64, swaps)
{
  static unsigned char buf[4096];
  static const size_t blocks[][2] = {
    { 0, 1 }, { 0, 4 }, { 1, 2 }, { 3, 7 }, { 5, 200 }, { 0, 255 },
    { 254, 255 }, { 100, 101 },
  };
  static const size_t stripes[][2] = {
    { 0, 1 }, { 0, 63 }, { 62, 63 }, { 10, 40 },
  };
  uint64_t h;
  size_t i;

  fill_random (buf, sizeof buf, 3);
  h = both_paths (buf, sizeof buf);
  for (i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
    unsigned char *a = buf + 16 * blocks[i][0], *b = buf + 16 * blocks[i][1];

    swap_bytes (a, b, 16);
    cr_assert_neq (both_paths (buf, sizeof buf), h, "blocks %zu and %zu",
                   blocks[i][0], blocks[i][1]);
    swap_bytes (a, b, 16);
  }
  for (i = 0; i < sizeof stripes / sizeof stripes[0]; i++) {
    unsigned char *a = buf + 64 * stripes[i][0], *b = buf + 64 * stripes[i][1];

    swap_bytes (a, b, 64);
    cr_assert_neq (both_paths (buf, sizeof buf), h, "stripes %zu and %zu",
                   stripes[i][0], stripes[i][1]);
    swap_bytes (a, b, 64);
  }
  cr_assert_eq (both_paths (buf, sizeof buf), h);
}

static int
cmp_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

  return x < y ? -1 : x > y;
}

/* Zero-padding the last block must not make lengths collide: all-zero
 * buffers of lengths 0..256 hash differently ("abc" and "abc\0" too).
 */
Test (blkaes64, zero_lengths_distinct)
{
  static const unsigned char zero[256];
  uint64_t h[257];
  size_t len;

  for (len = 0; len <= 256; len++)
    h[len] = both_paths (zero, len);
  qsort (h, 257, sizeof h[0], cmp_u64);
  for (len = 1; len <= 256; len++)
    cr_assert_neq (h[len - 1], h[len], "two zero lengths share 0x%016llx",
                   (unsigned long long) h[len]);
  cr_assert_neq (both_paths ((const unsigned char *) "abc", 3),
                 both_paths ((const unsigned char *) "abc\0", 4));
}

/* The writers' default follows the CPU: blkaes64 where AES-NI and AVX
 * are there.
 */
Test (blkaes64, default_choice)
{
  if (blkaes64_hw ())
    cr_assert_eq (blklog_hash_default (), BLKLOG_HASH_BLKAES64);
  else
    cr_assert_neq (blklog_hash_default (), BLKLOG_HASH_BLKAES64);
}
