/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: unaligned big- and little-endian loads and stores.
 *
 * Why: on-disk formats (qcow2 is big-endian, the blkreplay log is
 * little-endian) are read from byte buffers at any offset.  memcpy
 * into a register plus a conditional byte swap compiles to a single
 * load or store (plus bswap) on every target we build for, and it is
 * free of the alignment and aliasing UB that a pointer cast would
 * bring under UBSan.
 *
 * Naming: blk_load_{be,le}{16,32,64} (P) reads, blk_store_{be,le}N
 * (P, V) writes and returns P + N/8, so encoders can chain:
 *   p = blk_store_le32 (p, version);
 *   p = blk_store_le64 (p, size);
 * Single bytes need no helper.  Thread model: pure functions.
 */
#ifndef NBDKIT_BLK_BYTE_ORDER_H
#define NBDKIT_BLK_BYTE_ORDER_H

#include <stdint.h>
#include <string.h>

#if !defined (__BYTE_ORDER__) || \
  (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__ && \
   __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__)
#error "byte-order.h: unknown host byte order"
#endif

/* Host <-> fixed order.  Each is its own inverse. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define blk_le16(v) ((uint16_t) (v))
#define blk_le32(v) ((uint32_t) (v))
#define blk_le64(v) ((uint64_t) (v))
#define blk_be16(v) __builtin_bswap16 ((uint16_t) (v))
#define blk_be32(v) __builtin_bswap32 ((uint32_t) (v))
#define blk_be64(v) __builtin_bswap64 ((uint64_t) (v))
#else
#define blk_le16(v) __builtin_bswap16 ((uint16_t) (v))
#define blk_le32(v) __builtin_bswap32 ((uint32_t) (v))
#define blk_le64(v) __builtin_bswap64 ((uint64_t) (v))
#define blk_be16(v) ((uint16_t) (v))
#define blk_be32(v) ((uint32_t) (v))
#define blk_be64(v) ((uint64_t) (v))
#endif

/* One load/store pair per width and order.  The macro keeps the
 * twelve functions identical in shape; each is a plain static inline
 * function, so debuggers and error messages name it.
 */
#define BLK_BYTE_ORDER_PAIR_(order, bits)                               \
  static inline uint##bits##_t                                          \
  blk_load_##order##bits (const void *p)                                \
  {                                                                     \
    uint##bits##_t v;                                                   \
    memcpy (&v, p, sizeof v);                                           \
    return blk_##order##bits (v);                                       \
  }                                                                     \
  static inline unsigned char *                                         \
  blk_store_##order##bits (void *p, uint##bits##_t v)                   \
  {                                                                     \
    v = blk_##order##bits (v);                                          \
    memcpy (p, &v, sizeof v);                                           \
    return (unsigned char *) p + sizeof v;                              \
  }

BLK_BYTE_ORDER_PAIR_ (be, 16)
BLK_BYTE_ORDER_PAIR_ (be, 32)
BLK_BYTE_ORDER_PAIR_ (be, 64)
BLK_BYTE_ORDER_PAIR_ (le, 16)
BLK_BYTE_ORDER_PAIR_ (le, 32)
BLK_BYTE_ORDER_PAIR_ (le, 64)

#undef BLK_BYTE_ORDER_PAIR_

#endif /* NBDKIT_BLK_BYTE_ORDER_H */
