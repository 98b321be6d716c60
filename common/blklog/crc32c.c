/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk blkreplay: CRC32C and blkhash64 (see crc32c.h).
 *
 * Why two CRC streams for the hash: a 4k payload must hash in well
 * under the project's +1500 instructions per request budget.  The
 * crc32 instruction digests 8 bytes per instruction; two independent
 * streams give 64 bits of result and let the CPU overlap their
 * latencies.
 */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "byte-order.h"
#include "crc32c.h"

/* Reflected Castagnoli polynomial. */
#define POLY UINT32_C (0x82f63b78)

static uint32_t table[256];
static int use_hw;

__attribute__ ((constructor))
static void
crc32c_init (void)
{
  uint32_t i, j, c;

  for (i = 0; i < 256; i++) {
    c = i;
    for (j = 0; j < 8; j++)
      c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
    table[i] = c;
  }
#if defined (__x86_64__)
  __builtin_cpu_init ();
  use_hw = __builtin_cpu_supports ("sse4.2");
#endif
}

int
crc32c_force_software (int yes)
{
  int was = use_hw;

#if defined (__x86_64__)
  use_hw = yes ? 0 : __builtin_cpu_supports ("sse4.2");
#else
  (void) yes;
#endif
  return was;
}

static uint32_t
sw_bytes (uint32_t c, const unsigned char *p, size_t len)
{
  while (len--)
    c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
  return c;
}

/* The CRC of the 8 little-endian bytes of V: what crc32q computes. */
static inline uint32_t
sw_u64 (uint32_t c, uint64_t v)
{
  int i;

  for (i = 0; i < 8; i++) {
    c = table[(c ^ (uint32_t) v) & 0xff] ^ (c >> 8);
    v >>= 8;
  }
  return c;
}

#if defined (__x86_64__)
__attribute__ ((target ("sse4.2")))
static uint32_t
hw_update (uint32_t c, const unsigned char *p, size_t len)
{
  uint64_t c64 = c;

  while (len >= 32) {
    c64 = __builtin_ia32_crc32di (c64, blk_load_le64 (p));
    c64 = __builtin_ia32_crc32di (c64, blk_load_le64 (p + 8));
    c64 = __builtin_ia32_crc32di (c64, blk_load_le64 (p + 16));
    c64 = __builtin_ia32_crc32di (c64, blk_load_le64 (p + 24));
    p += 32;
    len -= 32;
  }
  while (len >= 8) {
    c64 = __builtin_ia32_crc32di (c64, blk_load_le64 (p));
    p += 8;
    len -= 8;
  }
  c = (uint32_t) c64;
  /* The 0..7 bytes left: at most three instructions, not seven (a
   * record's CRC is taken on every request).
   */
  if (len & 4) {
    c = __builtin_ia32_crc32si (c, blk_load_le32 (p));
    p += 4;
  }
  if (len & 2) {
    c = __builtin_ia32_crc32hi (c, blk_load_le16 (p));
    p += 2;
  }
  if (len & 1)
    c = __builtin_ia32_crc32qi (c, *p);
  return c;
}

__attribute__ ((target ("sse4.2")))
static uint64_t
hw_hash (const void *buf, size_t len)
{
  const unsigned char *p = buf;
  uint64_t s0 = UINT32_C (0xffffffff), s1 = UINT32_C (0xfffffffe);
  size_t n = len;

  /* 256 bytes a round: the loop's own increments and test are a
   * quarter of the instructions at 64 bytes a round, 1/16 here.
   */
  while (n >= 256) {
    size_t i;
#pragma GCC unroll 16
    for (i = 0; i < 256; i += 16) {
      s0 = __builtin_ia32_crc32di (s0, blk_load_le64 (p + i));
      s1 = __builtin_ia32_crc32di (s1, blk_load_le64 (p + i + 8));
    }
    p += 256;
    n -= 256;
  }
  while (n >= 16) {
    s0 = __builtin_ia32_crc32di (s0, blk_load_le64 (p));
    s1 = __builtin_ia32_crc32di (s1, blk_load_le64 (p + 8));
    p += 16;
    n -= 16;
  }
  {
    uint32_t t = (uint32_t) s0;
    while (n--)
      t = __builtin_ia32_crc32qi (t, *p++);
    s0 = t;
  }
  s1 = __builtin_ia32_crc32di (s1, (uint64_t) len);
  return ((uint64_t) (~(uint32_t) s0) << 32) | (uint32_t) ~(uint32_t) s1;
}
#endif

int
crc32c_hw (void)
{
  return use_hw;
}

uint32_t
crc32c_update (uint32_t state, const void *buf, size_t len)
{
#if defined (__x86_64__)
  if (use_hw)
    return hw_update (state, buf, len);
#endif
  return sw_bytes (state, buf, len);
}

uint64_t
blkhash64 (const void *buf, size_t len)
{
  const unsigned char *p = buf;
  uint32_t s0 = UINT32_C (0xffffffff), s1 = UINT32_C (0xfffffffe);
  size_t n = len;

#if defined (__x86_64__)
  if (use_hw)
    return hw_hash (p, len);
#endif
  while (n >= 16) {
    s0 = sw_u64 (s0, blk_load_le64 (p));
    s1 = sw_u64 (s1, blk_load_le64 (p + 8));
    p += 16;
    n -= 16;
  }
  s0 = sw_bytes (s0, p, n);
  s1 = sw_u64 (s1, (uint64_t) len);
  return ((uint64_t) ~s0 << 32) | (uint32_t) ~s1;
}

uint64_t
(*blkhash64_impl (void)) (const void *buf, size_t len)
{
#if defined (__x86_64__)
  if (use_hw)
    return hw_hash;
#endif
  return blkhash64;
}
