/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk blkreplay: blkaes64 (see blkaes64.h and
 * docs/blkreplay-format.md, "Checksums", for the definition).
 *
 * In short: four 128-bit lanes start at fixed constants; 16-byte block
 * number b of the data (the last one zero-padded) is folded into lane
 * b mod 4 as the round key of one AES encryption round,
 *   lane = aesenc (lane, block) = MixColumns (ShiftRows (SubBytes (lane))) ^ block;
 * then the lanes, the length and three constants are taken in by seven
 * more rounds in a fixed order, and the two 64-bit halves are XORed.
 *
 * Why four lanes: aesenc has a latency of about four cycles and a
 * throughput of one or two per cycle, so four independent chains keep
 * the unit busy.  Why a single round per block is enough here: for a
 * fixed key an AES round is a bijection of the state and the key is
 * XORed in, so a change confined to one block always changes its
 * lane's final state, and the seven rounds at the end spread every
 * lane bit over the whole output.  It detects corruption and
 * divergence; it is not a cryptographic hash (differences in two
 * blocks of a lane can be chosen to cancel).
 */
#include <config.h>

#include <stdint.h>
#include <string.h>

#if defined (__x86_64__)
#include <immintrin.h>
#endif

#include "byte-order.h"
#include "blkaes64.h"

/* The first 128 bits of the fractional parts of the square roots of
 * the first seven primes (2, 3, 5, 7, 11, 13, 17), as bytes in the
 * order of their hex digits (the first 64 bits of each are SHA-512's
 * initial values).  0..3 start the lanes, 4..6 key the last rounds.
 */
static const unsigned char consts[7][16] = {
  { 0x6a, 0x09, 0xe6, 0x67, 0xf3, 0xbc, 0xc9, 0x08,
    0xb2, 0xfb, 0x13, 0x66, 0xea, 0x95, 0x7d, 0x3e },
  { 0xbb, 0x67, 0xae, 0x85, 0x84, 0xca, 0xa7, 0x3b,
    0x25, 0x74, 0x2d, 0x70, 0x78, 0xb8, 0x3b, 0x89 },
  { 0x3c, 0x6e, 0xf3, 0x72, 0xfe, 0x94, 0xf8, 0x2b,
    0xe7, 0x39, 0x80, 0xc0, 0xb9, 0xdb, 0x90, 0x68 },
  { 0xa5, 0x4f, 0xf5, 0x3a, 0x5f, 0x1d, 0x36, 0xf1,
    0xce, 0xa7, 0xe6, 0x1f, 0xc3, 0x7a, 0x20, 0xd5 },
  { 0x51, 0x0e, 0x52, 0x7f, 0xad, 0xe6, 0x82, 0xd1,
    0xde, 0x49, 0xe3, 0x30, 0xe4, 0x2b, 0x4c, 0xbb },
  { 0x9b, 0x05, 0x68, 0x8c, 0x2b, 0x3e, 0x6c, 0x1f,
    0xdb, 0xd9, 0x9e, 0x6f, 0xf3, 0xc9, 0x0b, 0xdc },
  { 0x1f, 0x83, 0xd9, 0xab, 0xfb, 0x41, 0xbd, 0x6b,
    0x23, 0xc4, 0x65, 0x4c, 0x2a, 0x21, 0x75, 0x83 },
};

/* Software AES round tables: te[r][x] is what input byte x in row r
 * contributes to its output column after SubBytes and MixColumns,
 * as a 32-bit column with row i in bits 8i..8i+7.  Built from the
 * S-box, which is built from its definition (FIPS-197 5.1.1), by the
 * constructor below.
 */
static uint32_t te[4][256];
static int use_ni;

/* Multiplication by x (i.e. 2) in GF(2^8) modulo x^8+x^4+x^3+x+1. */
static inline unsigned
xtime (unsigned a)
{
  return ((a << 1) ^ ((a & 0x80) ? 0x1b : 0)) & 0xff;
}

static inline uint32_t
rotl32 (uint32_t v, unsigned n)
{
  return (v << n) | (v >> (32 - n));
}

__attribute__ ((constructor))
static void
blkaes64_init (void)
{
  unsigned char pow3[256], log3[256];
  unsigned i, p = 1;

  /* 3 generates the multiplicative group: power/log tables give the
   * inverse as pow3[255 - log3[x]].
   */
  for (i = 0; i < 255; i++) {
    pow3[i] = (unsigned char) p;
    log3[p] = (unsigned char) i;
    p ^= xtime (p);             /* p *= 3 */
  }
  for (i = 0; i < 256; i++) {
    unsigned b = i ? pow3[(255 - log3[i]) % 255] : 0;
    unsigned s, s2, s3;

    /* The affine transformation: b ^ (b <<< 1) ^ (b <<< 2) ^ (b <<< 3)
     * ^ (b <<< 4) ^ 0x63, rotations on 8 bits.
     */
    s = b;
    for (p = 1; p <= 4; p++)
      s ^= ((b << p) | (b >> (8 - p))) & 0xff;
    s ^= 0x63;
    s2 = xtime (s);
    s3 = s2 ^ s;
    /* MixColumns' column for row 0 is (2, 1, 1, 3); rows 1..3 are its
     * rotations.
     */
    te[0][i] = s2 | (s << 8) | (s << 16) | ((uint32_t) s3 << 24);
    te[1][i] = rotl32 (te[0][i], 8);
    te[2][i] = rotl32 (te[0][i], 16);
    te[3][i] = rotl32 (te[0][i], 24);
  }
#if defined (__x86_64__)
  __builtin_cpu_init ();
  use_ni = __builtin_cpu_supports ("aes") != 0 &&
    __builtin_cpu_supports ("avx") != 0;
#endif
}

int
blkaes64_hw (void)
{
  return use_ni;
}

int
blkaes64_force_software (int yes)
{
  int was = use_ni;

#if defined (__x86_64__)
  use_ni = yes ? 0 :
    __builtin_cpu_supports ("aes") != 0 && __builtin_cpu_supports ("avx") != 0;
#else
  (void) yes;
#endif
  return was;
}

/* ---- portable path ---- */

/* A state or block as four columns, row r of a column in bits 8r..8r+7
 * (so the little-endian load of bytes 4c..4c+3 is column c).
 */
static inline void
sw_load (uint32_t v[4], const unsigned char *p)
{
  v[0] = blk_load_le32 (p);
  v[1] = blk_load_le32 (p + 4);
  v[2] = blk_load_le32 (p + 8);
  v[3] = blk_load_le32 (p + 12);
}

/* S = MixColumns (ShiftRows (SubBytes (S))) ^ K.  ShiftRows moves row
 * r left by r columns, so output column c takes row r from input
 * column c + r.
 */
static inline void
sw_round (uint32_t s[4], const uint32_t k[4])
{
  uint32_t t[4];
  unsigned c;

  for (c = 0; c < 4; c++)
    t[c] = te[0][s[c] & 0xff] ^
      te[1][(s[(c + 1) & 3] >> 8) & 0xff] ^
      te[2][(s[(c + 2) & 3] >> 16) & 0xff] ^
      te[3][s[(c + 3) & 3] >> 24] ^ k[c];
  memcpy (s, t, sizeof t);
}

void
blkaes64_round_sw (unsigned char state[16], const unsigned char key[16])
{
  uint32_t s[4], k[4];
  unsigned c;

  sw_load (s, state);
  sw_load (k, key);
  sw_round (s, k);
  for (c = 0; c < 4; c++)
    blk_store_le32 (state + 4 * c, s[c]);
}

/* Not inlined: blkaes64 () would then save sw_hash's registers before
 * it even tested use_ni, 10 instructions on every AES-NI call.
 */
__attribute__ ((noinline))
static uint64_t
sw_hash (const void *buf, size_t len)
{
  const unsigned char *p = buf;
  uint32_t lane[4][4], b[4];
  size_t n = len;
  unsigned i = 0;

  for (i = 0; i < 4; i++)
    sw_load (lane[i], consts[i]);
  for (i = 0; n >= 16; i = (i + 1) & 3) {
    sw_load (b, p);
    sw_round (lane[i], b);
    p += 16;
    n -= 16;
  }
  if (n > 0) {
    unsigned char last[16] = { 0 };

    memcpy (last, p, n);
    sw_load (b, last);
    sw_round (lane[i], b);
  }
  sw_round (lane[0], lane[1]);
  sw_round (lane[0], lane[2]);
  sw_round (lane[0], lane[3]);
  b[0] = (uint32_t) len;
  b[1] = (uint32_t) ((uint64_t) len >> 32);
  b[2] = b[3] = 0;
  sw_round (lane[0], b);
  for (i = 4; i < 7; i++) {
    sw_load (b, consts[i]);
    sw_round (lane[0], b);
  }
  return ((uint64_t) lane[0][0] | (uint64_t) lane[0][1] << 32) ^
    ((uint64_t) lane[0][2] | (uint64_t) lane[0][3] << 32);
}

/* ---- AES-NI path ---- */

#if defined (__x86_64__)
/* VEX-encoded vaesenc takes an unaligned memory operand, so each
 * 16-byte block costs one instruction; the legacy SSE aesenc would
 * need a separate load.  Hence "avx" as well as "aes".
 */
#define NI_BLOCK(s, q) \
  (s) = _mm_aesenc_si128 ((s), _mm_loadu_si128 ((const __m128i *) (q)))
#define NI_STRIPE(q) do {                        \
    NI_BLOCK (s0, (q));                          \
    NI_BLOCK (s1, (q) + 16);                     \
    NI_BLOCK (s2, (q) + 32);                     \
    NI_BLOCK (s3, (q) + 48);                     \
  } while (0)

__attribute__ ((target ("aes,avx")))
static uint64_t
ni_hash (const void *buf, size_t len)
{
  const unsigned char *p = buf;
  __m128i s0 = _mm_loadu_si128 ((const __m128i *) consts[0]);
  __m128i s1 = _mm_loadu_si128 ((const __m128i *) consts[1]);
  __m128i s2 = _mm_loadu_si128 ((const __m128i *) consts[2]);
  __m128i s3 = _mm_loadu_si128 ((const __m128i *) consts[3]);
  size_t n = len, k;

  /* 1 KiB a round: the loop's own add, compare and branch are 3
   * instructions per 64 aesenc (at 64 bytes a round they would be 3
   * per 4, a 4 KiB payload 190 instructions more).
   */
  while (n >= 1024) {
    size_t i;

#pragma GCC unroll 4
    for (i = 0; i < 1024; i += 256) {
      NI_STRIPE (p + i);
      NI_STRIPE (p + i + 64);
      NI_STRIPE (p + i + 128);
      NI_STRIPE (p + i + 192);
    }
    p += 1024;
    n -= 1024;
  }
  while (n >= 64) {
    NI_STRIPE (p);
    p += 64;
    n -= 64;
  }
  /* 0..3 whole blocks, then a zero-padded partial one, continuing the
   * lane order.  The partial block is copied so as not to read past
   * the buffer.
   */
  k = n / 16;
  if (k > 0) NI_BLOCK (s0, p);
  if (k > 1) NI_BLOCK (s1, p + 16);
  if (k > 2) NI_BLOCK (s2, p + 32);
  if (n & 15) {
    unsigned char last[16] = { 0 };
    __m128i b;

    memcpy (last, p + 16 * k, n & 15);
    b = _mm_loadu_si128 ((const __m128i *) last);
    switch (k) {
    case 0: s0 = _mm_aesenc_si128 (s0, b); break;
    case 1: s1 = _mm_aesenc_si128 (s1, b); break;
    case 2: s2 = _mm_aesenc_si128 (s2, b); break;
    default: s3 = _mm_aesenc_si128 (s3, b); break;
    }
  }
  s0 = _mm_aesenc_si128 (s0, s1);
  s0 = _mm_aesenc_si128 (s0, s2);
  s0 = _mm_aesenc_si128 (s0, s3);
  s0 = _mm_aesenc_si128 (s0, _mm_cvtsi64_si128 ((long long) len));
  NI_BLOCK (s0, consts[4]);
  NI_BLOCK (s0, consts[5]);
  NI_BLOCK (s0, consts[6]);
  s0 = _mm_xor_si128 (s0, _mm_unpackhi_epi64 (s0, s0));
  return (uint64_t) _mm_cvtsi128_si64 (s0);
}
#endif

uint64_t
blkaes64 (const void *buf, size_t len)
{
#if defined (__x86_64__)
  if (use_ni)
    return ni_hash (buf, len);
#endif
  return sw_hash (buf, len);
}

uint64_t
(*blkaes64_impl (void)) (const void *buf, size_t len)
{
#if defined (__x86_64__)
  if (use_ni)
    return ni_hash;
#endif
  return sw_hash;
}
