/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk blkreplay: blkaes64, the payload hash built on AES rounds
 * (hash_alg 3, docs/blkreplay-format.md defines it exactly).
 *
 * Why AES: the aesenc instruction takes 16 bytes of data in per
 * instruction (as its round key), twice what crc32 takes, so a 4 KiB
 * payload costs about half of blkhash64's instructions.  Where the CPU
 * has AES-NI and AVX the VEX-encoded vaesenc reads its data straight
 * from memory; elsewhere a table-driven software AES round written
 * from FIPS-197 computes the same value (slower), so a log recorded on
 * one machine verifies on any other.
 *
 * Thread-safety: pure functions; the tables and the dispatch choice
 * are set up once by a constructor before main/dlopen returns.
 */
#ifndef BLKREPLAY_BLKAES64_H
#define BLKREPLAY_BLKAES64_H

#include <stddef.h>
#include <stdint.h>

/* The 64-bit blkaes64 hash of LEN bytes of BUF. */
extern uint64_t blkaes64 (const void *buf, size_t len);

/* The function blkaes64 runs on this CPU now (the AES-NI path or the
 * portable one): same values, without blkaes64's dispatch on every
 * call.  Resolved once by a writer that hashes every request.
 */
extern uint64_t (*blkaes64_impl (void)) (const void *buf, size_t len);

/* 1 if this CPU runs the AES-NI path (AES-NI and AVX), so that
 * blkaes64 is the cheap payload hash here.
 */
extern int blkaes64_hw (void);

/* Forces the portable path (yes != 0) or restores the CPU's choice;
 * returns whether the AES-NI path was in use.  For the unit tests,
 * which compare both paths; not thread-safe against concurrent hashing.
 */
extern int blkaes64_force_software (int yes);

/* One software AES encryption round, what the aesenc instruction
 * computes: STATE = MixColumns (ShiftRows (SubBytes (STATE))) ^ KEY,
 * bytes in FIPS-197's input order (byte 4c+r is row r, column c).
 * Exposed for the unit test's FIPS-197 known-answer check.
 */
extern void blkaes64_round_sw (unsigned char state[16],
                               const unsigned char key[16]);

#endif /* BLKREPLAY_BLKAES64_H */
