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

/* 64-bit hash of a payload, see docs/blkreplay-format.md. */
extern uint64_t blkhash64 (const void *buf, size_t len);

/* Forces the portable path (unit tests compare both); returns whether
 * the hardware path was in use.
 */
extern int crc32c_force_software (int yes);
/* 1 if the CPU computes CRC32C in hardware (SSE4.2's crc32), so that
 * blkhash64 is the cheap payload hash here.
 */
extern int crc32c_hw (void);

#endif /* BLKREPLAY_CRC32C_H */
