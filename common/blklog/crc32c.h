/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk blkreplay: CRC32C (Castagnoli) and the 64-bit payload hash.
 *
 * Both use the SSE4.2 crc32 instruction when the CPU has it and a
 * table otherwise; the two give identical results (the table is the
 * byte-at-a-time form of the same reflected CRC), so a log written on
 * one machine verifies on any other.  docs/blkreplay-format.md defines
 * blkhash64 exactly.
 *
 * Thread-safety: pure functions; the dispatch choice is made once by a
 * constructor before main/dlopen returns.
 */
#ifndef BLKREPLAY_CRC32C_H
#define BLKREPLAY_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Raw CRC32C update: no pre/post inversion.  STATE is the running
 * register, LEN bytes of BUF are fed in memory order.
 */
extern uint32_t crc32c_update (uint32_t state, const void *buf, size_t len);

/* The standard CRC32C of BUF (initial ~0, final inversion), as used by
 * iSCSI, ext4 and btrfs: crc32c ("123456789") == 0xe3069283.
 */
static inline uint32_t
crc32c (const void *buf, size_t len)
{
  return ~crc32c_update (~UINT32_C (0), buf, len);
}

#if defined (__x86_64__)
/* The CRC32C of a request record without payload data: the 63 bytes
 * (WITH_HASH 0) or 71 bytes (WITH_HASH 1) at P before its CRC, as
 * crc32c (P, 63 + 8 * WITH_HASH).  A fixed sequence of 10 or 11 crc32
 * instructions, inline, for the recorder's fast path: callable only
 * from a function compiled for SSE4.2 (target ("sse4.2")) and run
 * only where crc32c_hw () says the CPU has it.
 */
__attribute__ ((target ("sse4.2")))
static inline uint32_t
crc32c_request_hw (const unsigned char *p, int with_hash)
{
  uint64_t c = UINT32_C (0xffffffff), v;
  uint32_t c32, v32;
  uint16_t v16;

  /* Written out, not a loop: the loop's add, compare and branch would
   * be 21 of the 31 instructions.
   */
#define CRC32C_REQUEST_Q_(off)                  \
  __builtin_memcpy (&v, p + (off), 8);          \
  c = __builtin_ia32_crc32di (c, v)
  CRC32C_REQUEST_Q_ (0);
  CRC32C_REQUEST_Q_ (8);
  CRC32C_REQUEST_Q_ (16);
  CRC32C_REQUEST_Q_ (24);
  CRC32C_REQUEST_Q_ (32);
  CRC32C_REQUEST_Q_ (40);
  CRC32C_REQUEST_Q_ (48);
  p += 56;
  if (with_hash) {
    CRC32C_REQUEST_Q_ (0);
    p += 8;
  }
#undef CRC32C_REQUEST_Q_
  /* 7 bytes left: 4, 2, 1.  (Little-endian host: x86-64.) */
  __builtin_memcpy (&v32, p, 4);
  c32 = __builtin_ia32_crc32si ((uint32_t) c, v32);
  __builtin_memcpy (&v16, p + 4, 2);
  c32 = __builtin_ia32_crc32hi (c32, v16);
  c32 = __builtin_ia32_crc32qi (c32, p[6]);
  return ~c32;
}
#endif

/* 64-bit hash of a payload, see docs/blkreplay-format.md. */
extern uint64_t blkhash64 (const void *buf, size_t len);

/* The function blkhash64 runs on this CPU now, as blkaes64_impl. */
extern uint64_t (*blkhash64_impl (void)) (const void *buf, size_t len);

/* Forces the portable path (unit tests compare both); returns whether
 * the hardware path was in use.
 */
extern int crc32c_force_software (int yes);
/* 1 if the CPU computes CRC32C in hardware (SSE4.2's crc32), so that
 * blkhash64 is the cheap payload hash here.
 */
extern int crc32c_hw (void);

#endif /* BLKREPLAY_CRC32C_H */
