/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: header, header extensions and snapshot table
 * parsing with strict validation (see header.h).  Pure functions.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dup-part.h"
#include "header.h"
#include "minmax.h"
#include "why.h"

/* Does [off, off+len) lie inside a file of FILE_SIZE bytes? */
static int
inside (uint64_t off, uint64_t len, uint64_t file_size)
{
  return off <= file_size && len <= file_size - off;
}

/* Name of an unknown incompatible bit from the feature name table, if
 * the image carries one: lets the error say *what* is unsupported.
 */
static void
feature_name (const uint8_t *tbl, size_t n, unsigned bit, char *out,
              size_t outlen)
{
  size_t i;

  out[0] = '\0';
  for (i = 0; tbl && i + 48 <= n; i += 48) {
    if (tbl[i] == 0 && tbl[i + 1] == bit) {
      size_t l = strnlen ((const char *) tbl + i + 2, 46);
      snprintf (out, outlen, " (%.*s)", (int) l, tbl + i + 2);
      return;
    }
  }
}

int
qcow2_header_parse (const uint8_t *buf, size_t len, uint64_t file_size,
                    struct qcow2_header *h, char *why, size_t whylen)
{
  uint64_t cluster_size, l2_entries, l1_needed, ext_end, off;
  const uint8_t *ftbl = NULL;
  size_t ftbl_len = 0;
  unsigned bit;

  memset (h, 0, sizeof *h);
  if (len < QCOW2_V2_HEADER_LEN)
    return blk_why (why, whylen, "file too short for a qcow2 header (%zu bytes)", len);
  if (blk_load_be32 (buf) != QCOW2_MAGIC)
    return blk_why (why, whylen, "not a qcow2 image (bad magic)");
  h->version = blk_load_be32 (buf + 4);
  if (h->version != 2 && h->version != 3)
    return blk_why (why, whylen, "unsupported qcow2 version %" PRIu32
                    " (only 2 and 3)", h->version);
  h->backing_file_offset = blk_load_be64 (buf + 8);
  h->backing_file_size = blk_load_be32 (buf + 16);
  h->cluster_bits = blk_load_be32 (buf + 20);
  h->size = blk_load_be64 (buf + 24);
  h->crypt_method = blk_load_be32 (buf + 32);
  h->l1_size = blk_load_be32 (buf + 36);
  h->l1_table_offset = blk_load_be64 (buf + 40);
  h->refcount_table_offset = blk_load_be64 (buf + 48);
  h->refcount_table_clusters = blk_load_be32 (buf + 56);
  h->nb_snapshots = blk_load_be32 (buf + 60);
  h->snapshots_offset = blk_load_be64 (buf + 64);

  if (h->version == 2) {
    h->header_length = QCOW2_V2_HEADER_LEN;
    h->refcount_order = 4;
  }
  else {
    if (len < QCOW2_V3_HEADER_LEN)
      return blk_why (why, whylen, "file too short for a version 3 header");
    h->incompatible = blk_load_be64 (buf + 72);
    h->compatible = blk_load_be64 (buf + 80);
    h->autoclear = blk_load_be64 (buf + 88);
    h->refcount_order = blk_load_be32 (buf + 96);
    h->header_length = blk_load_be32 (buf + 100);
    if (h->header_length < QCOW2_V3_HEADER_LEN || h->header_length % 8)
      return blk_why (why, whylen, "invalid header length %" PRIu32
                      " (must be >= 104 and a multiple of 8)", h->header_length);
    if (h->header_length > len)
      return blk_why (why, whylen, "header length %" PRIu32
                      " goes past the first cluster", h->header_length);
    if (h->header_length > QCOW2_V3_HEADER_LEN)
      h->compression_type = buf[104];
  }

  if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
      h->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
    return blk_why (why, whylen, "unsupported cluster size 2^%" PRIu32
                    " (512 B to 2 MiB)", h->cluster_bits);
  cluster_size = 1ull << h->cluster_bits;
  if (h->header_length > cluster_size)
    return blk_why (why, whylen, "header larger than a cluster");
  if (h->crypt_method != 0)
    return blk_why (why, whylen, "encrypted images (method %" PRIu32
                    ") are not supported", h->crypt_method);
  if (h->refcount_order > 6)
    return blk_why (why, whylen, "invalid refcount order %" PRIu32
                    " (refcounts are 1 to 64 bits)", h->refcount_order);

  /* Header extensions: they end at the first cluster's end, or at the
   * backing file name if that sits in the first cluster.
   */
  ext_end = MIN ((uint64_t) len, cluster_size);
  if (h->backing_file_offset && h->backing_file_offset < ext_end)
    ext_end = h->backing_file_offset;
  h->ext_end = ext_end;
  off = h->header_length;
  while (off + 8 <= ext_end) {
    uint32_t type = blk_load_be32 (buf + off);
    uint32_t elen = blk_load_be32 (buf + off + 4);
    const uint8_t *d = buf + off + 8;

    if (type == QCOW2_EXT_END)
      break;
    if (elen > ext_end - off - 8)
      return blk_why (why, whylen, "header extension 0x%08" PRIx32
                      " at offset %" PRIu64 " (length %" PRIu32
                      ") overruns the first cluster", type, off, elen);
    switch (type) {
    case QCOW2_EXT_BACKING_FORMAT:
      if (elen == 0 || elen > 16)
        return blk_why (why, whylen, "invalid backing format name length %" PRIu32, elen);
      free (h->backing_format);
      h->backing_format = dup_part (d, elen);
      if (!h->backing_format || strlen (h->backing_format) != elen)
        return blk_why (why, whylen, "invalid backing format name");
      break;
    case QCOW2_EXT_DATA_FILE:
      if (elen == 0 || elen > QCOW2_MAX_NAME)
        return blk_why (why, whylen, "invalid data file name length %" PRIu32, elen);
      free (h->data_file);
      h->data_file = dup_part (d, elen);
      if (!h->data_file || strlen (h->data_file) != elen)
        return blk_why (why, whylen, "invalid external data file name");
      break;
    case QCOW2_EXT_FEATURE_TABLE:
      ftbl = d; ftbl_len = elen;
      break;
    case QCOW2_EXT_BITMAPS:
      h->has_bitmaps_ext = 1;
      h->bitmaps_ext_off = off;
      h->bitmaps_ext_len = 8 + (((uint64_t) elen + 7) & ~7ull);
      if (h->bitmaps_ext_len > ext_end - off)  /* padding past the end */
        h->bitmaps_ext_len = ext_end - off;
      h->bitmaps_ext_short = elen < 24;
      if (elen >= 24) {
        h->nb_bitmaps = blk_load_be32 (d);
        h->bitmap_dir_size = blk_load_be64 (d + 8);
        h->bitmap_dir_offset = blk_load_be64 (d + 16);
      }
      break;
    default:                    /* unknown extensions are skipped */
      break;
    }
    off += 8 + (((uint64_t) elen + 7) & ~7ull);
  }

  if (h->incompatible & ~QCOW2_INCOMPAT_KNOWN) {
    char name[64];
    for (bit = 0; bit < 64; bit++)
      if ((h->incompatible & ~QCOW2_INCOMPAT_KNOWN) & (1ull << bit))
        break;
    feature_name (ftbl, ftbl_len, bit, name, sizeof name);
    return blk_why (why, whylen, "unsupported incompatible feature bit %u%s",
                    bit, name);
  }
  if (h->compression_type > QCOW2_COMPRESSION_ZSTD)
    return blk_why (why, whylen, "unknown compression type %u", h->compression_type);
  if ((h->compression_type != 0) !=
      !!(h->incompatible & QCOW2_INCOMPAT_COMPRESSION))
    return blk_why (why, whylen, "compression type %u does not match the "
                    "compression-type feature bit", h->compression_type);
  if ((h->incompatible & QCOW2_INCOMPAT_EXTL2) && h->cluster_bits < 14)
    return blk_why (why, whylen, "extended L2 entries need clusters of 16 KiB or more");
  if ((h->incompatible & QCOW2_INCOMPAT_DATA_FILE) && h->data_file == NULL)
    return blk_why (why, whylen, "the image needs an external data file but "
                    "names none in its header");
  if (!(h->incompatible & QCOW2_INCOMPAT_DATA_FILE) && h->data_file) {
    free (h->data_file);        /* stale name without the bit: ignore */
    h->data_file = NULL;
  }

  /* Backing file name. */
  if (h->backing_file_offset) {
    if (h->backing_file_size == 0 || h->backing_file_size > QCOW2_MAX_NAME)
      return blk_why (why, whylen, "invalid backing file name length %" PRIu32,
                      h->backing_file_size);
    if (h->backing_file_offset > len ||
        h->backing_file_size > len - h->backing_file_offset)
      return blk_why (why, whylen, "backing file name (offset %" PRIu64
                      ") is not inside the first cluster", h->backing_file_offset);
    h->backing_file = dup_part (buf + h->backing_file_offset,
                                  h->backing_file_size);
    if (!h->backing_file || strlen (h->backing_file) != h->backing_file_size)
      return blk_why (why, whylen, "invalid backing file name");
  }

  /* The tables. */
  l2_entries = cluster_size / ((h->incompatible & QCOW2_INCOMPAT_EXTL2) ? 16 : 8);
  if (h->size > (1ull << 62))
    return blk_why (why, whylen, "absurd virtual size %" PRIu64, h->size);
  l1_needed = (h->size + cluster_size * l2_entries - 1) / (cluster_size * l2_entries);
  if ((uint64_t) h->l1_size * 8 > QCOW2_MAX_L1_BYTES)
    return blk_why (why, whylen, "L1 table too large (%" PRIu32 " entries)",
                    h->l1_size);
  if (l1_needed > h->l1_size)
    return blk_why (why, whylen, "L1 table (%" PRIu32 " entries) too small for "
                    "the virtual size %" PRIu64, h->l1_size, h->size);
  /* As QEMU does, the offset is checked even for an empty table: an
   * unaligned or absurd offset means a damaged header, not an image
   * of size 0 (QEMU: "Active L1 table offset invalid").
   */
  if (h->l1_table_offset % cluster_size ||
      h->l1_table_offset > (uint64_t) INT64_MAX - (uint64_t) h->l1_size * 8)
    return blk_why (why, whylen, "L1 table offset %" PRIu64
                    " is not cluster aligned", h->l1_table_offset);
  if (h->l1_size) {
    if (h->l1_table_offset == 0)
      return blk_why (why, whylen, "L1 table offset %" PRIu64
                      " is not cluster aligned", h->l1_table_offset);
    if (!inside (h->l1_table_offset, (uint64_t) h->l1_size * 8, file_size))
      return blk_why (why, whylen, "L1 table (offset %" PRIu64
                      ") lies outside the file (%" PRIu64 " bytes)",
                      h->l1_table_offset, file_size);
  }
  if (h->refcount_table_clusters == 0 ||
      (uint64_t) h->refcount_table_clusters * cluster_size > QCOW2_MAX_REFTABLE_BYTES)
    return blk_why (why, whylen, "invalid refcount table size (%" PRIu32 " clusters)",
                    h->refcount_table_clusters);
  if (h->refcount_table_offset % cluster_size || h->refcount_table_offset == 0)
    return blk_why (why, whylen, "refcount table offset %" PRIu64
                    " is not cluster aligned", h->refcount_table_offset);
  if (!inside (h->refcount_table_offset,
               (uint64_t) h->refcount_table_clusters * cluster_size, file_size))
    return blk_why (why, whylen, "refcount table (offset %" PRIu64
                    ") lies outside the file (%" PRIu64 " bytes)",
                    h->refcount_table_offset, file_size);
  if (h->nb_snapshots > QCOW2_MAX_SNAPSHOTS)
    return blk_why (why, whylen, "too many snapshots (%" PRIu32 ")", h->nb_snapshots);
  if (h->nb_snapshots) {
    if (h->snapshots_offset % cluster_size || h->snapshots_offset == 0)
      return blk_why (why, whylen, "snapshot table offset %" PRIu64
                      " is not cluster aligned", h->snapshots_offset);
    if (!inside (h->snapshots_offset, 40ull * h->nb_snapshots, file_size))
      return blk_why (why, whylen, "snapshot table lies outside the file");
  }
  return 0;
}

void
qcow2_header_free (struct qcow2_header *h)
{
  free (h->backing_file);
  free (h->backing_format);
  free (h->data_file);
  h->backing_file = h->backing_format = h->data_file = NULL;
}

size_t
qcow2_header_encode (const struct qcow2_header *h, uint8_t *buf, size_t len)
{
  size_t n = h->version == 2 ? QCOW2_V2_HEADER_LEN : QCOW2_V3_HEADER_LEN;

  if (len < n)
    return 0;
  blk_store_be32 (buf, QCOW2_MAGIC);
  blk_store_be32 (buf + 4, h->version);
  blk_store_be64 (buf + 8, h->backing_file_offset);
  blk_store_be32 (buf + 16, h->backing_file_size);
  blk_store_be32 (buf + 20, h->cluster_bits);
  blk_store_be64 (buf + 24, h->size);
  blk_store_be32 (buf + 32, h->crypt_method);
  blk_store_be32 (buf + 36, h->l1_size);
  blk_store_be64 (buf + 40, h->l1_table_offset);
  blk_store_be64 (buf + 48, h->refcount_table_offset);
  blk_store_be32 (buf + 56, h->refcount_table_clusters);
  blk_store_be32 (buf + 60, h->nb_snapshots);
  blk_store_be64 (buf + 64, h->snapshots_offset);
  if (h->version >= 3) {
    blk_store_be64 (buf + 72, h->incompatible);
    blk_store_be64 (buf + 80, h->compatible);
    blk_store_be64 (buf + 88, h->autoclear);
    blk_store_be32 (buf + 96, h->refcount_order);
    blk_store_be32 (buf + 100, h->header_length);
  }
  return n;
}

int
qcow2_snapshots_parse (const uint8_t *buf, size_t len, uint32_t nb,
                       const struct qcow2_header *h, uint64_t file_size,
                       struct qcow2_snapshot **out, char *why, size_t whylen)
{
  struct qcow2_snapshot *s = calloc (nb ? nb : 1, sizeof *s);
  uint64_t cluster_size = 1ull << h->cluster_bits;
  size_t off = 0;
  uint32_t i;

  if (s == NULL)
    return blk_why (why, whylen, "out of memory");
  for (i = 0; i < nb; i++) {
    uint32_t extra, id_len, name_len;
    size_t ent;

    if (len - off < 40) {
      blk_why (why, whylen, "snapshot table truncated at entry %" PRIu32, i);
      goto fail;
    }
    s[i].l1_table_offset = blk_load_be64 (buf + off);
    s[i].l1_size = blk_load_be32 (buf + off + 8);
    id_len = blk_load_be16 (buf + off + 12);
    name_len = blk_load_be16 (buf + off + 14);
    extra = blk_load_be32 (buf + off + 36);
    ent = 40 + (size_t) extra + id_len + name_len;
    if (extra > 1024 || ent > len - off) {
      blk_why (why, whylen, "snapshot entry %" PRIu32 " overruns the table", i);
      goto fail;
    }
    s[i].disk_size = extra >= 16 ? blk_load_be64 (buf + off + 48) : h->size;
    s[i].id = dup_part (buf + off + 40 + extra, id_len);
    s[i].name = dup_part (buf + off + 40 + extra + id_len, name_len);
    if (!s[i].id || !s[i].name) {
      blk_why (why, whylen, "out of memory");
      goto fail;
    }
    if ((uint64_t) s[i].l1_size * 8 > QCOW2_MAX_L1_BYTES ||
        s[i].l1_table_offset % cluster_size ||
        (s[i].l1_size &&
         !inside (s[i].l1_table_offset, (uint64_t) s[i].l1_size * 8, file_size))) {
      blk_why (why, whylen, "snapshot '%s': L1 table (offset %" PRIu64
               ", %" PRIu32 " entries) is invalid or outside the file",
               s[i].name, s[i].l1_table_offset, s[i].l1_size);
      goto fail;
    }
    if (s[i].disk_size > (1ull << 62)) {
      blk_why (why, whylen, "snapshot '%s': absurd size", s[i].name);
      goto fail;
    }
    off += (ent + 7) & ~(size_t) 7;
    if (off > len)
      off = len;
  }
  *out = s;
  return 0;

 fail:
  qcow2_snapshots_free (s, nb);
  return -1;
}

void
qcow2_snapshots_free (struct qcow2_snapshot *s, uint32_t nb)
{
  uint32_t i;

  if (s == NULL)
    return;
  for (i = 0; i < nb; i++) {
    free (s[i].id);
    free (s[i].name);
  }
  free (s);
}
