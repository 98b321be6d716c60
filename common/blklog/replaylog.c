/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk blkreplay: log encoding and decoding (see replaylog.h and
 * docs/blkreplay-format.md).  All integers are little-endian.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "blkaes64.h"
#include "byte-order.h"
#include "crc32c.h"
#include "replaylog.h"
#include "why.h"

static const char *const op_names[BLKLOG_OP__MAX] = {
  "read", "write", "zero", "trim", "flush", "extents", "cache"
};

const char *
blklog_op_name (unsigned op)
{
  return op < BLKLOG_OP__MAX ? op_names[op] : "unknown";
}

int
blklog_op_lookup (const char *name)
{
  int i;

  for (i = 0; i < BLKLOG_OP__MAX; i++)
    if (strcmp (name, op_names[i]) == 0)
      return i;
  return -1;
}

const char *
blklog_data_name (unsigned mode)
{
  switch (mode) {
  case BLKLOG_DATA_NONE: return "none";
  case BLKLOG_DATA_HASH: return "hash";
  case BLKLOG_DATA_FULL: return "full";
  default: return "unknown";
  }
}

const char *
blklog_hash_name (unsigned hash_alg)
{
  switch (hash_alg) {
  case BLKLOG_HASH_BLKHASH64: return "blkhash64";
  case BLKLOG_HASH_XXH3: return "xxh3-64";
  case BLKLOG_HASH_BLKAES64: return "blkaes64";
  default: return "unknown";
  }
}

const char *
blklog_layer_name (unsigned layer)
{
  switch (layer) {
  case BLKLOG_LAYER_NBDKIT: return "nbdkit";
  case BLKLOG_LAYER_BACKEND: return "backend";
  default: return "unknown";
  }
}

uint64_t
blklog_payload_hash (unsigned hash_alg, const void *buf, size_t len)
{
  switch (hash_alg) {
  case BLKLOG_HASH_BLKAES64: return blkaes64 (buf, len);
  case BLKLOG_HASH_XXH3: return XXH3_64bits (buf, len);     /* seed 0 */
  default: return blkhash64 (buf, len);
  }
}

static uint64_t
xxh3_hash (const void *buf, size_t len)
{
  return XXH3_64bits (buf, len);                            /* seed 0 */
}

blklog_hash_fn *
blklog_payload_hash_fn (unsigned hash_alg)
{
  switch (hash_alg) {
  case BLKLOG_HASH_BLKAES64: return blkaes64_impl ();
  case BLKLOG_HASH_XXH3: return xxh3_hash;
  default: return blkhash64_impl ();
  }
}

unsigned
blklog_hash_default (void)
{
  if (blkaes64_hw ())
    return BLKLOG_HASH_BLKAES64;
  return crc32c_hw () ? BLKLOG_HASH_BLKHASH64 : BLKLOG_HASH_XXH3;
}

const char *
blklog_flags_str (uint32_t flags, char *buf, size_t len)
{
  static const char *const names[] = { "fua", "no_hole", "fast_zero",
                                       "req_one" };
  size_t pos = 0;
  unsigned i;

  buf[0] = '\0';
  for (i = 0; i < 4; i++) {
    if (flags & (UINT32_C (1) << i)) {
      int n = snprintf (buf + pos, len - pos, "%s%s", pos ? "|" : "",
                        names[i]);
      if (n < 0 || (size_t) n >= len - pos)
        break;
      pos += (size_t) n;
    }
  }
  return buf;
}

int
blklog_mark_name_check (const char *name, size_t len, char *why, size_t whylen)
{
  const unsigned char *p = (const unsigned char *) name;
  size_t i = 0;

  if (len == 0) {
    blk_why (why, whylen, "a mark name must not be empty");
    return -1;
  }
  if (len > BLKLOG_MARK_NAME_MAX) {
    blk_why (why, whylen, "a mark name is at most %d bytes, this one has %zu",
             BLKLOG_MARK_NAME_MAX, len);
    return -1;
  }
  while (i < len) {
    uint32_t cp;
    size_t n, k;

    if (p[i] < 0x80) {
      if (p[i] < 0x20 || p[i] == 0x7f) {
        blk_why (why, whylen, "a mark name must not contain control "
                 "characters (byte 0x%02x at position %zu)", p[i], i);
        return -1;
      }
      i++;
      continue;
    }
    if (p[i] >= 0xc2 && p[i] <= 0xdf) { n = 2; cp = p[i] & 0x1f; }
    else if (p[i] >= 0xe0 && p[i] <= 0xef) { n = 3; cp = p[i] & 0x0f; }
    else if (p[i] >= 0xf0 && p[i] <= 0xf4) { n = 4; cp = p[i] & 0x07; }
    else goto bad;
    if (len - i < n)
      goto bad;
    for (k = 1; k < n; k++) {
      if ((p[i + k] & 0xc0) != 0x80)
        goto bad;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    /* Overlong forms, surrogates and beyond U+10FFFF are not UTF-8. */
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
      goto bad;
    if (cp >= 0x80 && cp <= 0x9f) {
      blk_why (why, whylen, "a mark name must not contain control "
               "characters (U+%04" PRIX32 " at position %zu)", cp, i);
      return -1;
    }
    i += n;
  }
  return 0;

 bad:
  blk_why (why, whylen, "a mark name must be UTF-8 (invalid byte 0x%02x at "
           "position %zu)", p[i], i);
  return -1;
}

/* ---- header ---- */

static size_t
header_fixed (uint32_t version)
{
  return version == 1 ? BLKLOG_HEADER_FIXED_V1 : BLKLOG_HEADER_FIXED;
}

size_t
blklog_header_size (const struct blklog_header *h)
{
  return header_fixed (h->version) +
    strnlen (h->creator, BLKLOG_CREATOR_MAX);
}

size_t
blklog_encode_header (unsigned char *buf, const struct blklog_header *h)
{
  size_t clen = strnlen (h->creator, BLKLOG_CREATOR_MAX);
  size_t total = header_fixed (h->version) + clen;
  unsigned char *p = buf;

  memcpy (p, BLKLOG_MAGIC, 8);
  p += 8;
  p = blk_store_le32 (p, h->version == 1 ? 1 : BLKLOG_VERSION);
  p = blk_store_le32 (p, (uint32_t) total);
  p = blk_store_le64 (p, h->export_size);
  p = blk_store_le64 (p, h->created_ns);
  p = blk_store_le32 (p, h->data_mode);
  if (h->version != 1) {
    *p++ = h->hash_alg;
    *p++ = h->layer;
  }
  p = blk_store_le16 (p, (uint16_t) clen);
  memcpy (p, h->creator, clen);
  p += clen;
  blk_store_le32 (p, crc32c (buf, total - 4));
  return total;
}

int
blklog_parse_header (const unsigned char *buf, size_t len,
                     struct blklog_header *h, char *why, size_t whylen)
{
  size_t clen, total, fixed;

  if (len < 8 || memcmp (buf, BLKLOG_MAGIC, 8) != 0) {
    if (len < 8 && memcmp (buf, BLKLOG_MAGIC, len) == 0) {
      blk_why (why, whylen,
               "the header is cut short (%zu of at least %d bytes)",
               len, BLKLOG_HEADER_FIXED_V1);
      return BLKLOG_SHORT;
    }
    blk_why (why, whylen, "not a blkreplay log (no '%s' magic at offset 0)",
             BLKLOG_MAGIC);
    return BLKLOG_BAD;
  }
  if (len < 16) {
    blk_why (why, whylen, "the header is cut short (%zu of at least %d bytes)",
             len, BLKLOG_HEADER_FIXED_V1);
    return BLKLOG_SHORT;
  }
  h->version = blk_load_le32 (buf + 8);
  if (h->version != 1 && h->version != BLKLOG_VERSION) {
    blk_why (why, whylen, "log format version %" PRIu32 " is not supported "
             "(this build reads versions 1 and %d)", h->version,
             BLKLOG_VERSION);
    return BLKLOG_BAD;
  }
  fixed = header_fixed (h->version);
  total = blk_load_le32 (buf + 12);
  if (total < fixed || total > fixed + BLKLOG_CREATOR_MAX) {
    blk_why (why, whylen, "header length %zu is impossible", total);
    return BLKLOG_BAD;
  }
  if (len < total) {
    blk_why (why, whylen, "the header is cut short (%zu of %zu bytes)",
             len, total);
    return BLKLOG_SHORT;
  }
  clen = blk_load_le16 (buf + fixed - 6);
  if (clen + fixed != total) {
    blk_why (why, whylen, "header length %zu does not match the creator "
             "length %zu", total, clen);
    return BLKLOG_BAD;
  }
  if (crc32c (buf, total - 4) != blk_load_le32 (buf + total - 4)) {
    blk_why (why, whylen, "header checksum mismatch (CRC32C 0x%08" PRIx32
             ", stored 0x%08" PRIx32 ")", crc32c (buf, total - 4),
             blk_load_le32 (buf + total - 4));
    return BLKLOG_BAD;
  }
  h->export_size = blk_load_le64 (buf + 16);
  h->created_ns = blk_load_le64 (buf + 24);
  h->data_mode = blk_load_le32 (buf + 32);
  if (h->data_mode > BLKLOG_DATA_FULL) {
    blk_why (why, whylen, "unknown data mode %" PRIu32, h->data_mode);
    return BLKLOG_BAD;
  }
  if (h->version == 1) {
    h->hash_alg = BLKLOG_HASH_BLKHASH64;
    h->layer = BLKLOG_LAYER_NBDKIT;
  }
  else {
    h->hash_alg = buf[36];
    h->layer = buf[37];
    if (h->hash_alg != BLKLOG_HASH_BLKHASH64 &&
        h->hash_alg != BLKLOG_HASH_XXH3 &&
        h->hash_alg != BLKLOG_HASH_BLKAES64) {
      blk_why (why, whylen, "unknown payload hash algorithm %u (this build "
               "knows 1 blkhash64, 2 xxh3-64 and 3 blkaes64)", h->hash_alg);
      return BLKLOG_BAD;
    }
    if (h->layer > BLKLOG_LAYER_BACKEND) {
      blk_why (why, whylen, "unknown layer %u (this build knows 0 nbdkit "
               "and 1 backend)", h->layer);
      return BLKLOG_BAD;
    }
  }
  memcpy (h->creator, buf + fixed - 4, clen);
  h->creator[clen] = '\0';
  h->header_len = total;
  return BLKLOG_OK;
}

/* ---- records ---- */

static size_t
body_size (const struct blklog_record *r)
{
  switch (r->type) {
  case BLKLOG_CONN_OPEN:
    return 28 + r->name_len;
  case BLKLOG_CONN_CLOSE:
    return 17;
  case BLKLOG_MARK:
    return BLKLOG_MARK_FIXED + r->name_len;
  default:
    switch (r->payload) {
    case BLKLOG_PAYLOAD_HASH: return BLKLOG_REQ_FIXED + 8;
    case BLKLOG_PAYLOAD_DATA: return BLKLOG_REQ_FIXED + 8 + r->length;
    default: return BLKLOG_REQ_FIXED;
    }
  }
}

size_t
blklog_record_size (const struct blklog_record *r)
{
  return 8 + body_size (r);
}

/* A request's fields after its type, up to its payload data. */
static unsigned char *
encode_request_fields (unsigned char *p, const struct blklog_record *r)
{
  return blklog_store_request_fields (p, r->id, r->conn, r->op, r->flags,
                                      r->offset, r->length, r->submit_ns,
                                      r->complete_ns, r->error, r->payload,
                                      r->hash);
}

size_t
blklog_encode_request_head (unsigned char *head, unsigned char crc[4],
                            const struct blklog_record *r)
{
  size_t body = body_size (r);
  unsigned char *p = blk_store_le32 (head, (uint32_t) body);
  uint32_t c;

  *p++ = r->type;
  p = encode_request_fields (p, r);
  c = crc32c_update (~UINT32_C (0), head, (size_t) (p - head));
  c = crc32c_update (c, r->data, r->length);
  blk_store_le32 (crc, ~c);
  return (size_t) (p - head);
}

size_t
blklog_encode_record (unsigned char *buf, const struct blklog_record *r)
{
  size_t body = body_size (r);
  unsigned char *p = blk_store_le32 (buf, (uint32_t) body);

  *p++ = r->type;
  switch (r->type) {
  case BLKLOG_CONN_OPEN:
    p = blk_store_le64 (p, r->conn);
    p = blk_store_le64 (p, r->time_ns);
    p = blk_store_le64 (p, r->export_size);
    *p++ = r->readonly;
    p = blk_store_le16 (p, r->name_len);
    if (r->name_len)
      memcpy (p, r->name, r->name_len);
    p += r->name_len;
    break;
  case BLKLOG_CONN_CLOSE:
    p = blk_store_le64 (p, r->conn);
    p = blk_store_le64 (p, r->time_ns);
    break;
  case BLKLOG_MARK:
    p = blk_store_le64 (p, r->time_ns);
    p = blk_store_le16 (p, r->name_len);
    memcpy (p, r->name, r->name_len);
    p += r->name_len;
    break;
  default:
    p = encode_request_fields (p, r);
    if (r->payload == BLKLOG_PAYLOAD_DATA) {
      memcpy (p, r->data, r->length);
      p += r->length;
    }
  }
  blk_store_le32 (p, crc32c (buf, 4 + body));
  return 8 + body;
}

int
blklog_parse_record (const unsigned char *buf, size_t len,
                     struct blklog_record *r, size_t *used,
                     char *why, size_t whylen)
{
  const unsigned char *b;
  uint32_t body, want;

  if (len < 4) {
    blk_why (why, whylen, "%zu bytes left, too few for a record's length",
             len);
    return BLKLOG_SHORT;
  }
  body = blk_load_le32 (buf);
  if (body < BLKLOG_BODY_MIN || body > BLKLOG_BODY_MAX) {
    blk_why (why, whylen, "record length %" PRIu32 " is impossible", body);
    return BLKLOG_BAD;
  }
  if (len - 4 < (size_t) body + 4) {
    blk_why (why, whylen,
             "the record needs %" PRIu32 " bytes, the file has %zu",
             body + 8, len);
    return BLKLOG_SHORT;
  }
  if (crc32c (buf, 4 + (size_t) body) != blk_load_le32 (buf + 4 + body)) {
    blk_why (why, whylen, "record checksum mismatch");
    return BLKLOG_BAD;
  }
  b = buf + 4;
  memset (r, 0, sizeof *r);
  r->type = b[0];
  switch (r->type) {
  case BLKLOG_CONN_OPEN:
    if (body < 28) {
      blk_why (why, whylen, "connection record too short (%" PRIu32 " bytes)",
               body);
      return BLKLOG_BAD;
    }
    r->conn = blk_load_le64 (b + 1);
    r->time_ns = blk_load_le64 (b + 9);
    r->export_size = blk_load_le64 (b + 17);
    r->readonly = b[25];
    r->name_len = blk_load_le16 (b + 26);
    if (r->time_ns > BLKLOG_TIME_MAX) {
      blk_why (why, whylen, "connection %" PRIu64 ": time %" PRIu64
               " ns is out of range", r->conn, r->time_ns);
      return BLKLOG_BAD;
    }
    if (r->readonly > 1 || r->name_len > BLKLOG_NAME_MAX ||
        body != 28u + r->name_len) {
      blk_why (why, whylen, "malformed connection record");
      return BLKLOG_BAD;
    }
    r->name = (const char *) b + 28;
    break;
  case BLKLOG_CONN_CLOSE:
    if (body != 17) {
      blk_why (why, whylen, "malformed disconnection record");
      return BLKLOG_BAD;
    }
    r->conn = blk_load_le64 (b + 1);
    r->time_ns = blk_load_le64 (b + 9);
    if (r->time_ns > BLKLOG_TIME_MAX) {
      blk_why (why, whylen, "connection %" PRIu64 ": time %" PRIu64
               " ns is out of range", r->conn, r->time_ns);
      return BLKLOG_BAD;
    }
    break;
  case BLKLOG_MARK: {
    char nwhy[160];

    if (body < BLKLOG_MARK_FIXED) {
      blk_why (why, whylen, "mark record too short (%" PRIu32 " bytes)",
               body);
      return BLKLOG_BAD;
    }
    r->time_ns = blk_load_le64 (b + 1);
    r->name_len = blk_load_le16 (b + 9);
    r->name = (const char *) b + BLKLOG_MARK_FIXED;
    if (body != BLKLOG_MARK_FIXED + (uint32_t) r->name_len) {
      blk_why (why, whylen, "malformed mark record (name length %u, record "
               "length %" PRIu32 ")", r->name_len, body);
      return BLKLOG_BAD;
    }
    if (r->time_ns > BLKLOG_TIME_MAX) {
      blk_why (why, whylen, "mark: time %" PRIu64 " ns is out of range",
               r->time_ns);
      return BLKLOG_BAD;
    }
    if (blklog_mark_name_check (r->name, r->name_len, nwhy,
                                sizeof nwhy) == -1) {
      blk_why (why, whylen, "mark: %s", nwhy);
      return BLKLOG_BAD;
    }
    break;
  }
  case BLKLOG_REQUEST:
    if (body < BLKLOG_REQ_FIXED) {
      blk_why (why, whylen, "request record too short (%" PRIu32 " bytes)",
               body);
      return BLKLOG_BAD;
    }
    r->id = blk_load_le64 (b + 1);
    r->conn = blk_load_le64 (b + 9);
    r->op = b[17];
    r->flags = blk_load_le32 (b + 18);
    r->offset = blk_load_le64 (b + 22);
    r->length = blk_load_le64 (b + 30);
    r->submit_ns = blk_load_le64 (b + 38);
    r->complete_ns = blk_load_le64 (b + 46);
    r->error = blk_load_le32 (b + 54);
    r->payload = b[58];
    if (r->op >= BLKLOG_OP__MAX) {
      blk_why (why, whylen, "request %" PRIu64 ": unknown operation %u",
               r->id, r->op);
      return BLKLOG_BAD;
    }
    if (r->flags & ~BLKLOG_F__ALL) {
      blk_why (why, whylen, "request %" PRIu64 ": unknown flags 0x%" PRIx32,
               r->id, r->flags);
      return BLKLOG_BAD;
    }
    if (r->length > ((r->op == BLKLOG_READ || r->op == BLKLOG_WRITE) ?
                     BLKLOG_IO_MAX : BLKLOG_LENGTH_MAX)) {
      blk_why (why, whylen, "request %" PRIu64 ": %s length %" PRIu64
               " is larger than any NBD request (at most %" PRIu64 " bytes)",
               r->id,
               blklog_op_name (r->op), r->length,
               (r->op == BLKLOG_READ || r->op == BLKLOG_WRITE) ?
               BLKLOG_IO_MAX : BLKLOG_LENGTH_MAX);
      return BLKLOG_BAD;
    }
    if (r->submit_ns > BLKLOG_TIME_MAX || r->complete_ns > BLKLOG_TIME_MAX) {
      blk_why (why, whylen, "request %" PRIu64 ": time %" PRIu64
               " ns is out of range (at most %" PRIu64
               " ns after the log started)", r->id,
               r->submit_ns > BLKLOG_TIME_MAX ? r->submit_ns : r->complete_ns,
               BLKLOG_TIME_MAX);
      return BLKLOG_BAD;
    }
    if (r->offset + r->length < r->offset) {
      blk_why (why, whylen, "request %" PRIu64 ": offset + length overflows",
               r->id);
      return BLKLOG_BAD;
    }
    if (r->complete_ns < r->submit_ns) {
      blk_why (why, whylen, "request %" PRIu64 " completes before it was "
               "submitted", r->id);
      return BLKLOG_BAD;
    }
    switch (r->payload) {
    case BLKLOG_PAYLOAD_NONE:
      want = BLKLOG_REQ_FIXED;
      break;
    case BLKLOG_PAYLOAD_HASH:
      want = BLKLOG_REQ_FIXED + 8;
      break;
    case BLKLOG_PAYLOAD_DATA:
      if (r->op != BLKLOG_WRITE) {
        blk_why (why, whylen, "request %" PRIu64 ": payload data on a %s",
                 r->id, blklog_op_name (r->op));
        return BLKLOG_BAD;
      }
      want = BLKLOG_REQ_FIXED + 8 + (uint32_t) r->length;
      break;
    default:
      blk_why (why, whylen, "request %" PRIu64 ": unknown payload kind %u",
               r->id, r->payload);
      return BLKLOG_BAD;
    }
    if (r->payload != BLKLOG_PAYLOAD_NONE && r->op != BLKLOG_READ &&
        r->op != BLKLOG_WRITE) {
      blk_why (why, whylen, "request %" PRIu64 ": payload on a %s",
               r->id, blklog_op_name (r->op));
      return BLKLOG_BAD;
    }
    if (body != want) {
      blk_why (why, whylen, "request %" PRIu64 ": record length %" PRIu32
               ", expected %" PRIu32, r->id, body, want);
      return BLKLOG_BAD;
    }
    if (r->payload != BLKLOG_PAYLOAD_NONE)
      r->hash = blk_load_le64 (b + BLKLOG_REQ_FIXED);
    if (r->payload == BLKLOG_PAYLOAD_DATA)
      r->data = b + BLKLOG_REQ_FIXED + 8;
    break;
  default:
    blk_why (why, whylen, "unknown record type %u", r->type);
    return BLKLOG_BAD;
  }
  *used = 8 + (size_t) body;
  return BLKLOG_OK;
}

/* ---- the mapped reader ---- */

int
blklog_open (struct blklog_reader *rd, const char *path,
             char *why, size_t whylen)
{
  struct stat st;
  int fd, r;
  char hwhy[256];

  memset (rd, 0, sizeof *rd);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd == -1) {
    blk_why (why, whylen, "%s: %s", path, strerror (errno));
    return -1;
  }
  if (fstat (fd, &st) == -1) {
    blk_why (why, whylen, "%s: %s", path, strerror (errno));
    close (fd);
    return -1;
  }
  if (!S_ISREG (st.st_mode)) {
    blk_why (why, whylen, "%s: not a regular file", path);
    close (fd);
    return -1;
  }
  rd->size = (size_t) st.st_size;
  if (rd->size > 0) {
    void *m = mmap (NULL, rd->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      blk_why (why, whylen, "%s: mmap: %s", path, strerror (errno));
      close (fd);
      return -1;
    }
    rd->map = m;
  }
  close (fd);
  r = blklog_parse_header (rd->map ? rd->map : (const unsigned char *) "",
                           rd->size, &rd->header, hwhy, sizeof hwhy);
  if (r != BLKLOG_OK) {
    if (rd->size == 0)
      blk_why (why, whylen, "%s: the file is empty (no header)", path);
    else
      blk_why (why, whylen, "%s: %s", path, hwhy);
    blklog_close (rd);
    return -1;
  }
  rd->path = strdup (path);
  rd->pos = rd->header.header_len;
  return 0;
}

static int
all_zero (const unsigned char *p, size_t len)
{
  size_t i;

  for (i = 0; i < len; i++)
    if (p[i])
      return 0;
  return 1;
}

/* The record at rd->pos did not parse.  A recorder that did not stop
 * (killed, crashed) leaves its preallocated tail: zeros from a record
 * boundary to the end of the file, possibly after one torn record (the
 * one being stored: its length is stored first, its checksum last, so
 * the checksum does not match).  Both end the log like a truncated
 * last record.  Zeros followed by anything else are not such a tail.
 */
static int
unclean_tail (struct blklog_reader *rd)
{
  const unsigned char *p = rd->map + rd->pos;
  size_t left = rd->size - rd->pos;
  uint32_t body;

  if (all_zero (p, left)) {
    rd->truncated = rd->unclean = 1;
    rd->prealloc = left;
    blk_why (rd->why, sizeof rd->why,
             "the recorder did not stop cleanly: %zu bytes of preallocated "
             "space after the last record (%" PRIu64 " whole records read, "
             "the last one ends at byte %zu)", left, rd->nrecords, rd->pos);
    return 1;
  }
  if (left < 8)
    return 0;
  body = blk_load_le32 (p);
  if (body < BLKLOG_BODY_MIN || body > BLKLOG_BODY_MAX ||
      (size_t) body + 8 >= left ||
      !all_zero (p + 8 + body, left - 8 - body) ||
      crc32c (p, 4 + (size_t) body) == blk_load_le32 (p + 4 + body))
    return 0;
  rd->truncated = rd->unclean = rd->torn = 1;
  rd->prealloc = left - 8 - body;
  blk_why (rd->why, sizeof rd->why,
           "the recorder did not stop cleanly: %zu bytes of preallocated "
           "space after the last record and a torn record before them "
           "(never acknowledged; %" PRIu64 " whole records read, the last "
           "one ends at byte %zu)", rd->prealloc, rd->nrecords, rd->pos);
  return 1;
}

int
blklog_next (struct blklog_reader *rd, struct blklog_record *r)
{
  char why[256];
  size_t used;
  int ret;

  if (rd->pos >= rd->size)
    return 0;
  ret = blklog_parse_record (rd->map + rd->pos, rd->size - rd->pos, r, &used,
                             why, sizeof why);
  if (ret == BLKLOG_OK && r->type == BLKLOG_MARK && rd->header.version < 2) {
    blk_why (rd->why, sizeof rd->why,
             "corrupt record at byte %zu (after %" PRIu64 " whole records): "
             "a mark record (type 4) in a version %" PRIu32 " log (marks "
             "came with version 2)", rd->pos, rd->nrecords,
             rd->header.version);
    return -1;
  }
  if (ret == BLKLOG_OK) {
    rd->pos += used;
    rd->nrecords++;
    return 1;
  }
  if (unclean_tail (rd))
    return 0;
  if (ret == BLKLOG_SHORT) {
    rd->truncated = 1;
    blk_why (rd->why, sizeof rd->why,
             "the log is truncated: %" PRIu64 " whole records read, the "
             "last one ends at byte %zu, the file has %zu bytes (%s)",
             rd->nrecords, rd->pos, rd->size, why);
    return 0;
  }
  blk_why (rd->why, sizeof rd->why,
           "corrupt record at byte %zu (after %" PRIu64 " whole records): "
           "%s", rd->pos, rd->nrecords, why);
  return -1;
}

void
blklog_close (struct blklog_reader *rd)
{
  if (rd->map)
    munmap ((void *) rd->map, rd->size);
  rd->map = NULL;
  free (rd->path);
  rd->path = NULL;
}

/* ---- the buffered writer ---- */

static int
flush_buf (struct blklog_writer *w)
{
  size_t done = 0;

  while (done < w->len) {
    ssize_t n = write (w->fd, w->buf + done, w->len - done);
    if (n == -1) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    done += (size_t) n;
  }
  w->len = 0;
  return 0;
}

static int
reserve (struct blklog_writer *w, size_t n)
{
  if (w->len + n <= w->cap)
    return 0;
  if (flush_buf (w) == -1)
    return -1;
  if (n > w->cap) {
    unsigned char *b = realloc (w->buf, n);
    if (b == NULL)
      return -1;
    w->buf = b;
    w->cap = n;
  }
  return 0;
}

int
blklog_writer_open (struct blklog_writer *w, const char *path,
                    const struct blklog_header *h)
{
  w->cap = 1 << 20;
  w->len = 0;
  w->buf = malloc (w->cap);
  if (w->buf == NULL)
    return -1;
  w->fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->fd == -1) {
    free (w->buf);
    w->buf = NULL;
    return -1;
  }
  w->len = blklog_encode_header (w->buf, h);
  return 0;
}

int
blklog_writer_add (struct blklog_writer *w, const struct blklog_record *r)
{
  size_t n = blklog_record_size (r);

  if (reserve (w, n) == -1)
    return -1;
  w->len += blklog_encode_record (w->buf + w->len, r);
  return 0;
}

int
blklog_writer_close (struct blklog_writer *w)
{
  int ret = flush_buf (w);

  if (ret == 0 && fsync (w->fd) == -1)
    ret = -1;
  if (close (w->fd) == -1)
    ret = -1;
  free (w->buf);
  w->buf = NULL;
  return ret;
}
