/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: on-disk format constants and the header parser.
 *
 * The parser is pure (a byte buffer in, a struct out, no I/O) so that
 * the unit tests and the libFuzzer target run exactly this code on
 * untrusted bytes.  Every rejection fills WHY with a sentence a user
 * can act on.
 *
 * Thread model: no shared state.
 */
#ifndef QCOW2_HEADER_H
#define QCOW2_HEADER_H

#include <stddef.h>
#include <stdint.h>

/* Every on-disk field is big-endian: blk_load_be* / blk_store_be*. */
#include "byte-order.h"

#define QCOW2_MAGIC 0x514649fbu          /* "QFI\xfb" */

/* Incompatible feature bits. */
#define QCOW2_INCOMPAT_DIRTY        (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT      (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE    (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION  (1ull << 3)
#define QCOW2_INCOMPAT_EXTL2        (1ull << 4)
#define QCOW2_INCOMPAT_KNOWN        0x1full
/* Compatible feature bits. */
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ull << 0)
/* Autoclear feature bits. */
#define QCOW2_AUTOCLEAR_BITMAPS     (1ull << 0)
#define QCOW2_AUTOCLEAR_DATA_RAW    (1ull << 1)

/* Header extension types. */
#define QCOW2_EXT_END               0x00000000u
#define QCOW2_EXT_BACKING_FORMAT    0xe2792acau
#define QCOW2_EXT_FEATURE_TABLE     0x6803f857u
#define QCOW2_EXT_BITMAPS           0x23852875u
#define QCOW2_EXT_CRYPTO            0x0537be77u
#define QCOW2_EXT_DATA_FILE         0x44415441u

/* L1/L2 entries. */
#define QCOW2_OFLAG_COPIED          (1ull << 63)
#define QCOW2_OFLAG_COMPRESSED      (1ull << 62)
#define QCOW2_OFLAG_ZERO            (1ull << 0)
#define QCOW2_OFFSET_MASK           0x00fffffffffffe00ull  /* bits 9-55 */
#define QCOW2_L1_RESERVED           0x7f000000000001ffull
#define QCOW2_L2_RESERVED           0x3f000000000001feull

/* Limits, chosen like QEMU's so that any image QEMU opens, we open. */
#define QCOW2_MIN_CLUSTER_BITS      9
#define QCOW2_MAX_CLUSTER_BITS      21
#define QCOW2_MAX_L1_BYTES          (32u * 1024 * 1024)
#define QCOW2_MAX_REFTABLE_BYTES    (8u * 1024 * 1024)
#define QCOW2_MAX_SNAPSHOTS         65536
#define QCOW2_MAX_NAME              1023  /* backing/data file names */
#define QCOW2_V2_HEADER_LEN         72
#define QCOW2_V3_HEADER_LEN         104

#define QCOW2_COMPRESSION_DEFLATE   0
#define QCOW2_COMPRESSION_ZSTD      1

struct qcow2_header {
  uint32_t version;
  uint64_t backing_file_offset;
  uint32_t backing_file_size;
  uint32_t cluster_bits;
  uint64_t size;
  uint32_t crypt_method;
  uint32_t l1_size;
  uint64_t l1_table_offset;
  uint64_t refcount_table_offset;
  uint32_t refcount_table_clusters;
  uint32_t nb_snapshots;
  uint64_t snapshots_offset;
  uint64_t incompatible;
  uint64_t compatible;
  uint64_t autoclear;
  uint32_t refcount_order;
  uint32_t header_length;
  uint8_t compression_type;

  /* From the header extensions / the backing file name field. */
  char *backing_file;           /* NULL: none */
  char *backing_format;         /* NULL: extension absent */
  char *data_file;              /* NULL: none */
  int has_bitmaps_ext;
  /* The (last) bitmaps extension: where it sits in the first cluster
   * (offset of its type field, bytes including the 8-byte head and
   * padding) and its fields as read, NOT validated: they are checked
   * only by whoever follows them (bitmaps.c).  ext_end: where the
   * extension area ends (first cluster end or the backing file name).
   */
  uint64_t bitmaps_ext_off, bitmaps_ext_len, ext_end;
  uint32_t nb_bitmaps;
  uint64_t bitmap_dir_size, bitmap_dir_offset;
  int bitmaps_ext_short;        /* extension data shorter than 24 bytes */
};

/* Parse the header at the start of BUF (LEN bytes: the first cluster
 * of the image, or the whole file if shorter).  FILE_SIZE is the size
 * of the image file; tables must lie inside it.  Returns 0, or -1 with
 * a reason in WHY.  On success free with qcow2_header_free.
 */
extern int qcow2_header_parse (const uint8_t *buf, size_t len,
                               uint64_t file_size, struct qcow2_header *h,
                               char *why, size_t whylen);
extern void qcow2_header_free (struct qcow2_header *h);

/* Serialise the fixed part of H (72 or header_length bytes, at most
 * LEN) into BUF: used to rewrite feature bits and table pointers.
 */
extern size_t qcow2_header_encode (const struct qcow2_header *h,
                                   uint8_t *buf, size_t len);

/* One internal snapshot. */
struct qcow2_snapshot {
  uint64_t l1_table_offset;
  uint32_t l1_size;
  uint64_t disk_size;           /* virtual size when taken */
  char *id;
  char *name;
};

/* Parse NB snapshot entries from BUF (LEN bytes read at the header's
 * snapshots_offset).  CLUSTER_SIZE and FILE_SIZE bound the L1 tables.
 * Returns 0 with *OUT (free with qcow2_snapshots_free), or -1 + WHY.
 */
extern int qcow2_snapshots_parse (const uint8_t *buf, size_t len,
                                  uint32_t nb, const struct qcow2_header *h,
                                  uint64_t file_size,
                                  struct qcow2_snapshot **out,
                                  char *why, size_t whylen);
extern void qcow2_snapshots_free (struct qcow2_snapshot *s, uint32_t nb);

#endif /* QCOW2_HEADER_H */
