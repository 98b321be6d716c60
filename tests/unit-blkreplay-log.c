/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: the blkreplay log format (common/blklog/replaylog.c)
 * and its checksums (crc32c.c).
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "crc32c.h"
#include "replaylog.h"

Test (crc32c, known_values)
{
  /* The CRC-32C check value, and RFC 3720's 32 bytes of zeroes. */
  unsigned char z[32] = { 0 };

  cr_assert_eq (crc32c ("123456789", 9), 0xe3069283);
  cr_assert_eq (crc32c (z, 32), 0x8a9136aa);
  crc32c_force_software (1);
  cr_assert_eq (crc32c ("123456789", 9), 0xe3069283);
  cr_assert_eq (crc32c (z, 32), 0x8a9136aa);
  crc32c_force_software (0);
}

Test (crc32c, hardware_and_table_agree)
{
  unsigned char buf[4096 + 77];
  size_t i, len;

  for (i = 0; i < sizeof buf; i++)
    buf[i] = (unsigned char) (i * 131 + (i >> 3));
  for (len = 0; len < sizeof buf; len += len < 80 ? 1 : 61) {
    uint32_t a, b;
    uint64_t ha, hb;
    crc32c_force_software (0);
    a = crc32c (buf + 1, len);
    ha = blkhash64 (buf + 1, len);
    crc32c_force_software (1);
    b = crc32c (buf + 1, len);
    hb = blkhash64 (buf + 1, len);
    crc32c_force_software (0);
    cr_assert_eq (a, b, "crc32c differs at length %zu", len);
    cr_assert_eq (ha, hb, "blkhash64 differs at length %zu", len);
  }
}

Test (blkhash64, sensitive)
{
  unsigned char a[4096] = { 0 }, b[4096] = { 0 };
  uint64_t h = blkhash64 (a, sizeof a);
  size_t i;

  /* Every single-bit flip and the length change the hash. */
  for (i = 0; i < sizeof b * 8; i += 7) {
    b[i / 8] ^= (unsigned char) (1 << (i % 8));
    cr_assert_neq (blkhash64 (b, sizeof b), h, "bit %zu", i);
    b[i / 8] ^= (unsigned char) (1 << (i % 8));
  }
  cr_assert_neq (blkhash64 (a, 4095), h);
  cr_assert_neq (blkhash64 (a, 0), blkhash64 (a, 1));
}

static size_t
sample_log_v (unsigned char *buf, size_t cap, uint32_t version)
{
  struct blklog_header h;
  struct blklog_record r;
  static const unsigned char data[512] = { 1, 2, 3 };
  size_t pos;

  memset (&h, 0, sizeof h);
  h.export_size = 1 << 20;
  h.created_ns = 1234;
  h.data_mode = BLKLOG_DATA_FULL;
  h.version = version;
  h.hash_alg = version == 1 ? BLKLOG_HASH_BLKHASH64 : BLKLOG_HASH_XXH3;
  h.layer = BLKLOG_LAYER_BACKEND;       /* not written in a v1 header */
  strcpy (h.creator, "unit test");
  cr_assert (blklog_header_size (&h) < cap);
  pos = blklog_encode_header (buf, &h);

  memset (&r, 0, sizeof r);
  r.type = BLKLOG_CONN_OPEN;
  r.conn = 7;
  r.time_ns = 10;
  r.export_size = 1 << 20;
  r.name = "disk";
  r.name_len = 4;
  pos += blklog_encode_record (buf + pos, &r);

  memset (&r, 0, sizeof r);
  r.type = BLKLOG_REQUEST;
  r.id = 1;
  r.conn = 7;
  r.op = BLKLOG_WRITE;
  r.flags = BLKLOG_F_FUA;
  r.offset = 4096;
  r.length = sizeof data;
  r.submit_ns = 100;
  r.complete_ns = 150;
  r.payload = BLKLOG_PAYLOAD_DATA;
  r.hash = blklog_payload_hash (h.hash_alg, data, sizeof data);
  r.data = data;
  pos += blklog_encode_record (buf + pos, &r);

  memset (&r, 0, sizeof r);
  r.type = BLKLOG_REQUEST;
  r.id = 2;
  r.conn = 7;
  r.op = BLKLOG_READ;
  r.offset = 0;
  r.length = 512;
  r.submit_ns = 160;
  r.complete_ns = 170;
  r.error = 5;
  pos += blklog_encode_record (buf + pos, &r);

  memset (&r, 0, sizeof r);
  r.type = BLKLOG_CONN_CLOSE;
  r.conn = 7;
  r.time_ns = 200;
  pos += blklog_encode_record (buf + pos, &r);
  cr_assert (pos <= cap);
  return pos;
}

/* The log writers write: version 2, XXH3 payload hashes. */
static size_t
sample_log (unsigned char *buf, size_t cap)
{
  return sample_log_v (buf, cap, BLKLOG_VERSION);
}

Test (payload_hash, algorithms)
{
  static const unsigned char z[4096];

  /* XXH3-64 with seed 0: the reference value of the empty input. */
  cr_assert_eq (blklog_payload_hash (BLKLOG_HASH_XXH3, "", 0),
                UINT64_C (0x2d06800538d394c2));
  cr_assert_eq (blklog_payload_hash (BLKLOG_HASH_BLKHASH64, z, sizeof z),
                blkhash64 (z, sizeof z));
  cr_assert_neq (blklog_payload_hash (BLKLOG_HASH_XXH3, z, sizeof z),
                 blkhash64 (z, sizeof z));
  cr_assert_neq (blklog_payload_hash (BLKLOG_HASH_XXH3, z, 4095),
                 blklog_payload_hash (BLKLOG_HASH_XXH3, z, 4096));
}

/* The v2 header, byte by byte as docs/blkreplay-format.md lays it out. */
Test (log, v2_header_layout)
{
  unsigned char buf[4096];
  size_t len = sample_log (buf, sizeof buf);
  struct blklog_header h;
  char why[256];

  cr_assert_eq (buf[8], 2);
  cr_assert_eq (buf[12], 44 + 9);       /* header_len = 44 + creator_len */
  cr_assert_eq (buf[36], BLKLOG_HASH_XXH3);
  cr_assert_eq (buf[37], BLKLOG_LAYER_BACKEND);
  cr_assert_eq (buf[38], 9);            /* creator_len */
  cr_assert (memcmp (buf + 40, "unit test", 9) == 0);
  cr_assert_eq (crc32c (buf, 49), (uint32_t) buf[49] | (uint32_t) buf[50] << 8 |
                (uint32_t) buf[51] << 16 | (uint32_t) buf[52] << 24);
  cr_assert_eq (blklog_parse_header (buf, len, &h, why, sizeof why),
                BLKLOG_OK, "%s", why);
  cr_assert_eq (h.version, 2);
  cr_assert_eq (h.header_len, 53);
  cr_assert_eq (h.hash_alg, BLKLOG_HASH_XXH3);
  cr_assert_eq (h.layer, BLKLOG_LAYER_BACKEND);
  cr_assert_str_eq (h.creator, "unit test");
}

/* Logs written before version 2 still read: blkhash64, layer nbdkit. */
Test (log, v1_still_reads)
{
  unsigned char buf[4096];
  size_t len = sample_log_v (buf, sizeof buf, 1);
  char path[] = "/tmp/unit-blkreplay-XXXXXX", why[512];
  int fd = mkstemp (path);
  struct blklog_log log;

  cr_assert_eq (buf[8], 1);
  cr_assert_eq (buf[12], 42 + 9);
  cr_assert (fd >= 0);
  cr_assert_eq (pwrite (fd, buf, len, 0), (ssize_t) len);
  cr_assert_eq (blklog_load (&log, path, why, sizeof why), 0, "%s", why);
  cr_assert_eq (log.rd.header.version, 1);
  cr_assert_eq (log.rd.header.header_len, 51);
  cr_assert_eq (log.rd.header.hash_alg, BLKLOG_HASH_BLKHASH64);
  cr_assert_eq (log.rd.header.layer, BLKLOG_LAYER_NBDKIT);
  cr_assert_str_eq (log.rd.header.creator, "unit test");
  cr_assert_eq (log.nreqs, 2);
  cr_assert_eq (log.reqs[0].hash, blkhash64 (log.reqs[0].data, 512));
  blklog_free (&log);
  close (fd);
  unlink (path);
}

/* Rewrites the header CRC of BUF after a field was changed. */
static void
refix_header_crc (unsigned char *buf)
{
  size_t total = buf[12] | (size_t) buf[13] << 8;
  uint32_t c = crc32c (buf, total - 4);

  buf[total - 4] = (unsigned char) c;
  buf[total - 3] = (unsigned char) (c >> 8);
  buf[total - 2] = (unsigned char) (c >> 16);
  buf[total - 1] = (unsigned char) (c >> 24);
}

Test (log, v2_unknown_values_refused)
{
  unsigned char buf[4096];
  size_t len = sample_log (buf, sizeof buf);
  struct blklog_header h;
  char why[256];

  buf[36] = 4;
  refix_header_crc (buf);
  cr_assert_eq (blklog_parse_header (buf, len, &h, why, sizeof why),
                BLKLOG_BAD);
  cr_assert (strstr (why, "unknown payload hash algorithm 4 (this build "
                     "knows 1 blkhash64, 2 xxh3-64 and 3 blkaes64)") != NULL,
             "%s", why);
  buf[36] = BLKLOG_HASH_BLKAES64;
  refix_header_crc (buf);
  cr_assert_eq (blklog_parse_header (buf, len, &h, why, sizeof why),
                BLKLOG_OK, "%s", why);
  cr_assert_eq (h.hash_alg, BLKLOG_HASH_BLKAES64);
  buf[36] = 0;
  refix_header_crc (buf);
  cr_assert_eq (blklog_parse_header (buf, len, &h, why, sizeof why),
                BLKLOG_BAD);
  buf[36] = BLKLOG_HASH_BLKHASH64;
  buf[37] = 2;
  refix_header_crc (buf);
  cr_assert_eq (blklog_parse_header (buf, len, &h, why, sizeof why),
                BLKLOG_BAD);
  cr_assert (strstr (why, "unknown layer 2") != NULL, "%s", why);
  buf[37] = BLKLOG_LAYER_NBDKIT;
  refix_header_crc (buf);
  cr_assert_eq (blklog_parse_header (buf, len, &h, why, sizeof why),
                BLKLOG_OK, "%s", why);
  cr_assert_eq (h.hash_alg, BLKLOG_HASH_BLKHASH64);
  /* A v1 header length in a v2 log does not match its creator. */
  buf[12] = 42 + 9;
  cr_assert_eq (blklog_parse_header (buf, len, &h, why, sizeof why),
                BLKLOG_BAD);
  buf[12] = 44 + 9;
  buf[8] = 3;
  cr_assert_eq (blklog_parse_header (buf, len, &h, why, sizeof why),
                BLKLOG_BAD);
  cr_assert (strstr (why, "version 3 is not supported (this build reads "
                     "versions 1 and 2)") != NULL, "%s", why);
}

Test (log, round_trip)
{
  unsigned char buf[4096];
  size_t len = sample_log (buf, sizeof buf), pos, used;
  struct blklog_header h;
  struct blklog_record r;
  char why[256];

  cr_assert_eq (blklog_parse_header (buf, len, &h, why, sizeof why),
                BLKLOG_OK, "%s", why);
  cr_assert_eq (h.export_size, 1 << 20);
  cr_assert_eq (h.created_ns, 1234);
  cr_assert_eq (h.data_mode, BLKLOG_DATA_FULL);
  cr_assert_str_eq (h.creator, "unit test");
  pos = h.header_len;

  cr_assert_eq (blklog_parse_record (buf + pos, len - pos, &r, &used, why,
                                     sizeof why), BLKLOG_OK, "%s", why);
  cr_assert_eq (r.type, BLKLOG_CONN_OPEN);
  cr_assert_eq (r.conn, 7);
  cr_assert_eq (r.name_len, 4);
  cr_assert (memcmp (r.name, "disk", 4) == 0);
  pos += used;

  cr_assert_eq (blklog_parse_record (buf + pos, len - pos, &r, &used, why,
                                     sizeof why), BLKLOG_OK, "%s", why);
  cr_assert_eq (r.type, BLKLOG_REQUEST);
  cr_assert_eq (r.op, BLKLOG_WRITE);
  cr_assert_eq (r.flags, BLKLOG_F_FUA);
  cr_assert_eq (r.offset, 4096);
  cr_assert_eq (r.length, 512);
  cr_assert_eq (r.payload, BLKLOG_PAYLOAD_DATA);
  cr_assert_eq (r.data[2], 3);
  cr_assert_eq (r.hash, blklog_payload_hash (BLKLOG_HASH_XXH3, r.data, 512));
  pos += used;

  cr_assert_eq (blklog_parse_record (buf + pos, len - pos, &r, &used, why,
                                     sizeof why), BLKLOG_OK, "%s", why);
  cr_assert_eq (r.op, BLKLOG_READ);
  cr_assert_eq (r.error, 5);
  cr_assert_eq (r.submit_ns, 160);
  cr_assert_eq (r.complete_ns, 170);
  pos += used;

  cr_assert_eq (blklog_parse_record (buf + pos, len - pos, &r, &used, why,
                                     sizeof why), BLKLOG_OK, "%s", why);
  cr_assert_eq (r.type, BLKLOG_CONN_CLOSE);
  pos += used;
  cr_assert_eq (pos, len);
}

/* Every cut of the log is read up to its last whole record, and the
 * reader says it is truncated (never corrupt, never a crash).
 */
Test (log, truncated_everywhere)
{
  unsigned char buf[4096];
  size_t len = sample_log (buf, sizeof buf), cut;
  char path[] = "/tmp/unit-blkreplay-XXXXXX", why[512];
  int fd = mkstemp (path);
  size_t ends[8], nends = 0, pos, used;
  struct blklog_header h;
  struct blklog_record r;

  cr_assert (fd >= 0);
  blklog_parse_header (buf, len, &h, why, sizeof why);
  pos = h.header_len;
  while (pos < len) {
    cr_assert_eq (blklog_parse_record (buf + pos, len - pos, &r, &used, why,
                                       sizeof why), BLKLOG_OK);
    pos += used;
    ends[nends++] = pos;
  }
  for (cut = 0; cut <= len; cut++) {
    struct blklog_reader rd;
    size_t whole = 0, k;
    int ret;

    cr_assert_eq (ftruncate (fd, 0), 0);
    cr_assert_eq (pwrite (fd, buf, cut, 0), (ssize_t) cut);
    if (cut < h.header_len) {
      cr_assert_eq (blklog_open (&rd, path, why, sizeof why), -1);
      continue;
    }
    cr_assert_eq (blklog_open (&rd, path, why, sizeof why), 0, "%s", why);
    while ((ret = blklog_next (&rd, &r)) == 1)
      whole++;
    cr_assert_eq (ret, 0, "cut %zu: %s", cut, rd.why);
    for (k = 0; k < nends && ends[k] <= cut; k++)
      ;
    cr_assert_eq (whole, k, "cut %zu: %zu records, expected %zu", cut,
                  whole, k);
    {
      int boundary = cut == h.header_len || (k > 0 && ends[k - 1] == cut);
      cr_assert_eq (rd.truncated, !boundary, "cut %zu", cut);
    }
    if (rd.truncated)
      cr_assert (strstr (rd.why, "truncated") != NULL);
    blklog_close (&rd);
  }
  close (fd);
  unlink (path);
}

Test (log, corruption_detected)
{
  unsigned char buf[4096];
  size_t len = sample_log (buf, sizeof buf), i;
  struct blklog_header h;
  struct blklog_record r;
  char why[256];
  size_t used;

  blklog_parse_header (buf, len, &h, why, sizeof why);
  /* Flip each byte of the first record: never accepted as it was. */
  for (i = h.header_len; i < len; i++) {
    int ret;
    buf[i] ^= 0x40;
    ret = blklog_parse_record (buf + h.header_len, len - h.header_len, &r,
                               &used, why, sizeof why);
    buf[i] ^= 0x40;
    if (i < h.header_len + 4 + 28 + 4 + 4)
      cr_assert_neq (ret, BLKLOG_OK, "byte %zu", i);
  }
  /* A bad magic and a future version are clear errors. */
  buf[0] = 'X';
  cr_assert_eq (blklog_parse_header (buf, len, &h, why, sizeof why),
                BLKLOG_BAD);
  cr_assert (strstr (why, "not a blkreplay log") != NULL);
  buf[0] = 'B';
  buf[8] = 9;
  cr_assert_eq (blklog_parse_header (buf, len, &h, why, sizeof why),
                BLKLOG_BAD);
  cr_assert (strstr (why, "version 9") != NULL, "%s", why);
}

/* A request record with the given fields, framed with a valid CRC (the
 * reader must judge the fields, not only the checksum).
 */
static size_t
request_record (unsigned char *buf, uint8_t op, uint64_t length,
                uint64_t submit_ns, uint64_t complete_ns)
{
  struct blklog_record r;

  memset (&r, 0, sizeof r);
  r.type = BLKLOG_REQUEST;
  r.id = 7;
  r.conn = 1;
  r.op = op;
  r.length = length;
  r.submit_ns = submit_ns;
  r.complete_ns = complete_ns;
  return blklog_encode_record (buf, &r);
}

Test (log, lengths_bounded)
{
  unsigned char buf[256];
  struct blklog_record r;
  char why[256];
  size_t n, used;

  /* Found by fuzzing: a write of 2^64-8 bytes passed the reader and
   * overflowed blkreplay run's pattern buffer.
   */
  n = request_record (buf, BLKLOG_WRITE, UINT64_MAX - 7, 0, 0);
  cr_assert_eq (blklog_parse_record (buf, n, &r, &used, why, sizeof why),
                BLKLOG_BAD);
  cr_assert (strstr (why, "request 7: write length 18446744073709551608 "
                     "is larger than any NBD request") != NULL, "%s", why);
  n = request_record (buf, BLKLOG_READ, BLKLOG_IO_MAX + 1, 0, 0);
  cr_assert_eq (blklog_parse_record (buf, n, &r, &used, why, sizeof why),
                BLKLOG_BAD);
  n = request_record (buf, BLKLOG_ZERO, BLKLOG_LENGTH_MAX + 1, 0, 0);
  cr_assert_eq (blklog_parse_record (buf, n, &r, &used, why, sizeof why),
                BLKLOG_BAD);
  /* The largest real requests still pass. */
  n = request_record (buf, BLKLOG_WRITE, BLKLOG_IO_MAX, 0, 0);
  cr_assert_eq (blklog_parse_record (buf, n, &r, &used, why, sizeof why),
                BLKLOG_OK, "%s", why);
  n = request_record (buf, BLKLOG_TRIM, BLKLOG_LENGTH_MAX, 0, 0);
  cr_assert_eq (blklog_parse_record (buf, n, &r, &used, why, sizeof why),
                BLKLOG_OK, "%s", why);
}

Test (log, times_bounded)
{
  unsigned char buf[256];
  struct blklog_record r;
  char why[256];
  size_t n, used;

  /* Found by fuzzing: submit_ns near 2^64 made --timing=recorded cast
   * an out-of-range double and then wait forever.
   */
  n = request_record (buf, BLKLOG_READ, 512, UINT64_MAX - 5, UINT64_MAX);
  cr_assert_eq (blklog_parse_record (buf, n, &r, &used, why, sizeof why),
                BLKLOG_BAD);
  cr_assert (strstr (why, "request 7: time 18446744073709551610 ns is out "
                     "of range") != NULL, "%s", why);
  n = request_record (buf, BLKLOG_READ, 512, BLKLOG_TIME_MAX,
                      BLKLOG_TIME_MAX);
  cr_assert_eq (blklog_parse_record (buf, n, &r, &used, why, sizeof why),
                BLKLOG_OK, "%s", why);
}

/* The split encoding of a data request (head, the data itself, CRC:
 * the recorder's gathered write) gives blklog_encode_record's bytes.
 */
Test (log, encode_request_head)
{
  static unsigned char data[70000], whole[70200], split[70200];
  struct blklog_record r;
  unsigned char crc[4];
  size_t n, h, len;

  for (len = 1; len <= sizeof data; len = len * 3 + 7) {
    size_t i;
    for (i = 0; i < len; i++)
      data[i] = (unsigned char) (i * 7 + len);
    memset (&r, 0, sizeof r);
    r.type = BLKLOG_REQUEST;
    r.id = 42;
    r.conn = 3;
    r.op = BLKLOG_WRITE;
    r.flags = BLKLOG_F_FUA;
    r.offset = 8192;
    r.length = len;
    r.submit_ns = 5;
    r.complete_ns = 9;
    r.payload = BLKLOG_PAYLOAD_DATA;
    r.hash = blklog_payload_hash (BLKLOG_HASH_BLKHASH64, data, len);
    r.data = data;
    n = blklog_encode_record (whole, &r);
    cr_assert_eq (n, blklog_record_size (&r));
    h = blklog_encode_request_head (split, crc, &r);
    cr_assert (h <= BLKLOG_REQ_HEAD_MAX);
    memcpy (split + h, data, len);
    memcpy (split + h + len, crc, 4);
    cr_assert_eq (h + len + 4, n, "length %zu", len);
    cr_assert (memcmp (whole, split, n) == 0, "length %zu", len);
  }
}

/* A tiny xorshift generator: the same sequence on every run. */
static uint64_t
next_rand (uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* A random 64-bit value, often a small one (the fields' usual range)
 * or an extreme one.
 */
static uint64_t
rand_field (uint64_t *s)
{
  uint64_t v = next_rand (s);

  switch (v & 3) {
  case 0: return v >> 2;
  case 1: return (v >> 2) & 0xffff;
  case 2: return v & 4 ? UINT64_MAX : 0;
  default: return (v >> 2) & 0xffffffff;
  }
}

#if defined (__x86_64__)
__attribute__ ((target ("sse4.2")))
static uint32_t
crc_request_hw (const unsigned char *p, int with_hash)
{
  return crc32c_request_hw (p, with_hash);
}
#endif

/* The recorder's fast path (blklog_store_request_nodata and the
 * fixed-length CRC32C, crc32c_request_hw where the CPU has SSE4.2)
 * stores the bytes blklog_encode_record stores, for every request
 * record without payload data, and the reader parses them back.
 */
Test (log, request_fast_path_same_bytes)
{
  unsigned char whole[128], fast[128];
  uint64_t seed = UINT64_C (0x9e3779b97f4a7c15);
  unsigned i;

  for (i = 0; i < 20000; i++) {
    struct blklog_record r, back;
    size_t n, m, used;
    uint32_t c;
    char why[256];

    memset (&r, 0, sizeof r);
    r.type = BLKLOG_REQUEST;
    r.id = rand_field (&seed) | 1;
    r.conn = rand_field (&seed);
    r.op = (uint8_t) (next_rand (&seed) % BLKLOG_OP__MAX);
    r.flags = (uint32_t) (next_rand (&seed) & BLKLOG_F__ALL);
    r.length = rand_field (&seed) & (BLKLOG_IO_MAX - 1);
    r.offset = rand_field (&seed);
    if (r.offset > UINT64_MAX - r.length)     /* the reader refuses it */
      r.offset = UINT64_MAX - r.length;
    r.submit_ns = rand_field (&seed) & (BLKLOG_TIME_MAX - 1);
    r.complete_ns = r.submit_ns +
      (rand_field (&seed) & (BLKLOG_TIME_MAX / 2 - 1));
    if (r.complete_ns >= BLKLOG_TIME_MAX)
      r.complete_ns = BLKLOG_TIME_MAX - 1;
    r.error = next_rand (&seed) & 1 ? 0 : (uint32_t) next_rand (&seed) % 200;
    /* Only reads and writes carry a payload (the reader says so). */
    r.payload = r.op <= BLKLOG_WRITE && next_rand (&seed) & 1 ?
      BLKLOG_PAYLOAD_HASH : BLKLOG_PAYLOAD_NONE;
    r.hash = r.payload == BLKLOG_PAYLOAD_HASH ? next_rand (&seed) : 0;

    memset (whole, 0xaa, sizeof whole);
    memset (fast, 0x55, sizeof fast);
    n = blklog_encode_record (whole, &r);
    cr_assert_eq (n, blklog_record_size (&r));
    m = blklog_store_request_nodata (fast, r.id, r.conn, r.op, r.flags,
                                     r.offset, r.length, r.submit_ns,
                                     r.complete_ns, r.error, r.payload,
                                     r.hash);
    cr_assert_eq (m + 4, n, "record %u", i);
    cr_assert_eq (m, r.payload == BLKLOG_PAYLOAD_NONE ? 63u : 71u);
    /* The portable CRC, as on a CPU without SSE4.2. */
    blk_store_le32 (fast + m, crc32c (fast, m));
    cr_assert (memcmp (whole, fast, n) == 0, "record %u", i);
#if defined (__x86_64__)
    if (crc32c_hw ()) {
      c = crc_request_hw (fast, r.payload != BLKLOG_PAYLOAD_NONE);
      cr_assert_eq (c, blk_load_le32 (whole + m), "record %u", i);
    }
#endif
    (void) c;
    cr_assert_eq (blklog_parse_record (fast, n, &back, &used, why,
                                       sizeof why), BLKLOG_OK, "%s", why);
    cr_assert_eq (used, n);
    cr_assert_eq (back.type, BLKLOG_REQUEST);
    cr_assert_eq (back.id, r.id);
    cr_assert_eq (back.conn, r.conn);
    cr_assert_eq (back.op, r.op);
    cr_assert_eq (back.flags, r.flags);
    cr_assert_eq (back.offset, r.offset);
    cr_assert_eq (back.length, r.length);
    cr_assert_eq (back.submit_ns, r.submit_ns);
    cr_assert_eq (back.complete_ns, r.complete_ns);
    cr_assert_eq (back.error, r.error);
    cr_assert_eq (back.payload, r.payload);
    if (r.payload == BLKLOG_PAYLOAD_HASH)
      cr_assert_eq (back.hash, r.hash);
  }
}

/* blklog_payload_hash_fn resolves to a function giving
 * blklog_payload_hash's values, for each algorithm.
 */
Test (payload_hash, resolved_once)
{
  static unsigned char buf[5000];
  static const unsigned algs[] = { BLKLOG_HASH_BLKHASH64, BLKLOG_HASH_XXH3,
                                   BLKLOG_HASH_BLKAES64 };
  size_t i, a, len;

  for (i = 0; i < sizeof buf; i++)
    buf[i] = (unsigned char) (i * 131 + 7);
  for (a = 0; a < sizeof algs / sizeof algs[0]; a++) {
    blklog_hash_fn *f = blklog_payload_hash_fn (algs[a]);
    for (len = 0; len <= sizeof buf; len = len * 2 + 13)
      cr_assert_eq (f (buf, len), blklog_payload_hash (algs[a], buf, len),
                    "hash_alg %u length %zu", algs[a], len);
  }
}

/* Reads the LEN bytes of BUF as a log file: the whole records read,
 * and blklog_next's last result.
 */
static int
read_buf (const unsigned char *buf, size_t len, struct blklog_reader *rd,
          size_t *whole)
{
  char path[] = "/tmp/unit-blkreplay-XXXXXX", why[512];
  int fd = mkstemp (path), ret;
  struct blklog_record r;

  cr_assert (fd >= 0);
  cr_assert_eq (pwrite (fd, buf, len, 0), (ssize_t) len);
  close (fd);
  cr_assert_eq (blklog_open (rd, path, why, sizeof why), 0, "%s", why);
  unlink (path);
  *whole = 0;
  while ((ret = blklog_next (rd, &r)) == 1)
    (*whole)++;
  return ret;
}

/* A recorder that did not stop (killed) leaves the zeros of its
 * preallocated space after the last record, possibly after one torn
 * record: the log reads up to there, like a truncated one, with the
 * reason.  Zeros followed by anything else stay corruption.
 */
Test (log, preallocated_tail)
{
  static unsigned char buf[4096 + 8192];
  size_t len = sample_log (buf, 4096), whole, last;
  struct blklog_reader rd;
  struct blklog_header h;
  char why[256];

  blklog_parse_header (buf, len, &h, why, sizeof why);
  /* The last record (the connection's close) is 25 bytes. */
  last = len - 25;

  /* Whole records, then zeros. */
  memset (buf + len, 0, 8192);
  cr_assert_eq (read_buf (buf, len + 8192, &rd, &whole), 0, "%s", rd.why);
  cr_assert_eq (whole, 4);
  cr_assert_eq (rd.truncated, 1);
  cr_assert_eq (rd.unclean, 1);
  cr_assert_eq (rd.prealloc, 8192);
  cr_assert (strstr (rd.why, "the recorder did not stop cleanly: 8192 bytes "
                     "of preallocated space after the last record") != NULL,
             "%s", rd.why);
  blklog_close (&rd);

  /* A zero tail shorter than a record's length field. */
  cr_assert_eq (read_buf (buf, len + 3, &rd, &whole), 0, "%s", rd.why);
  cr_assert_eq (whole, 4);
  cr_assert_eq (rd.unclean, 1);
  blklog_close (&rd);

  /* A torn last record (its checksum not stored yet), then zeros. */
  buf[len - 1] = buf[len - 2] = buf[len - 3] = buf[len - 4] = 0;
  cr_assert_eq (read_buf (buf, len + 8192, &rd, &whole), 0, "%s", rd.why);
  cr_assert_eq (whole, 3);
  cr_assert_eq (rd.unclean, 1);
  cr_assert_eq (rd.pos, last);
  cr_assert (strstr (rd.why, "did not stop cleanly") != NULL, "%s", rd.why);
  cr_assert (strstr (rd.why, "torn") != NULL, "%s", rd.why);
  blklog_close (&rd);

  /* The same torn record at the very end of the file: no preallocated
   * space, a corrupt record as before.
   */
  cr_assert_eq (read_buf (buf, len, &rd, &whole), -1);
  cr_assert_eq (whole, 3);
  cr_assert (strstr (rd.why, "checksum") != NULL, "%s", rd.why);
  blklog_close (&rd);
  sample_log (buf, 4096);

  /* Zeros, then a non-zero byte: corruption, not a tail. */
  buf[len + 5000] = 1;
  cr_assert_eq (read_buf (buf, len + 8192, &rd, &whole), -1);
  cr_assert_eq (whole, 4);
  cr_assert_eq (rd.unclean, 0);
  cr_assert (strstr (rd.why, "corrupt record") != NULL, "%s", rd.why);
  blklog_close (&rd);

  /* A torn record followed by zeros and then data: corruption too. */
  buf[len - 1] = 0;
  cr_assert_eq (read_buf (buf, len + 8192, &rd, &whole), -1);
  cr_assert_eq (whole, 3);
  blklog_close (&rd);
  buf[len + 5000] = 0;

  /* A clean log (cut at its last record) is whole, not unclean. */
  sample_log (buf, 4096);
  cr_assert_eq (read_buf (buf, len, &rd, &whole), 0, "%s", rd.why);
  cr_assert_eq (whole, 4);
  cr_assert_eq (rd.truncated, 0);
  cr_assert_eq (rd.unclean, 0);
  blklog_close (&rd);
}

/* blklog_load: the whole log as arrays; a truncated file loads its
 * whole records, a corrupt one is refused with the path in the text.
 */
Test (log, load_whole)
{
  unsigned char buf[4096];
  size_t len = sample_log (buf, sizeof buf);
  char path[] = "/tmp/unit-blkreplay-XXXXXX", why[512];
  int fd = mkstemp (path);
  struct blklog_log log;

  cr_assert (fd >= 0);
  cr_assert_eq (pwrite (fd, buf, len, 0), (ssize_t) len);
  cr_assert_eq (blklog_load (&log, path, why, sizeof why), 0, "%s", why);
  cr_assert_eq (log.truncated, 0);
  cr_assert_eq (log.rd.header.export_size, 1 << 20);
  cr_assert_str_eq (log.rd.header.creator, "unit test");
  cr_assert_eq (log.nconns, 1);
  cr_assert_eq (log.conns[0].id, 7);
  cr_assert_eq (log.conns[0].open_ns, 10);
  cr_assert_eq (log.conns[0].close_ns, 200);
  cr_assert_str_eq (log.conns[0].name, "disk");
  cr_assert_eq (log.nreqs, 2);
  cr_assert_eq (log.reqs[0].id, 1);
  cr_assert_eq (log.reqs[0].op, BLKLOG_WRITE);
  cr_assert_eq (log.reqs[0].flags, BLKLOG_F_FUA);
  cr_assert_eq (log.reqs[0].payload, BLKLOG_PAYLOAD_DATA);
  cr_assert (log.reqs[0].data != NULL && log.reqs[0].data[0] == 1);
  cr_assert_eq (log.reqs[1].seq, 1);
  cr_assert_eq (log.reqs[1].error, 5);
  blklog_free (&log);
  blklog_free (&log);           /* idempotent */

  /* Cut inside the last record: the requests still load. */
  cr_assert_eq (ftruncate (fd, (off_t) len - 3), 0);
  cr_assert_eq (blklog_load (&log, path, why, sizeof why), 0, "%s", why);
  cr_assert_eq (log.truncated, 1);
  cr_assert_eq (log.nreqs, 2);
  cr_assert_eq (log.conns[0].close_ns, 0);
  cr_assert (strstr (log.rd.why, "truncated") != NULL);
  blklog_free (&log);

  /* A flipped byte in a record body: refused, naming the file. */
  buf[len - 10] ^= 0xff;
  cr_assert_eq (pwrite (fd, buf, len, 0), (ssize_t) len);
  cr_assert_eq (blklog_load (&log, path, why, sizeof why), -1);
  cr_assert (strncmp (why, path, strlen (path)) == 0, "%s", why);
  cr_assert (strstr (why, "checksum mismatch") != NULL, "%s", why);
  cr_assert_eq (log.nreqs, 0);
  close (fd);
  unlink (path);

  cr_assert_eq (blklog_load (&log, path, why, sizeof why), -1);
  cr_assert (strstr (why, "No such file") != NULL, "%s", why);
}

/* ---- mark records (type 4, version 2) ---- */

static size_t
mark_record (unsigned char *buf, const char *name, size_t len, uint64_t t)
{
  struct blklog_record r;

  memset (&r, 0, sizeof r);
  r.type = BLKLOG_MARK;
  r.time_ns = t;
  r.name = name;
  r.name_len = (uint16_t) len;
  return blklog_encode_record (buf, &r);
}

Test (mark, round_trip)
{
  unsigned char buf[512];
  struct blklog_record r;
  char why[256];
  size_t n = mark_record (buf, "before-upgrade", 14, 12345), used;

  /* length | type | time_ns | name_len | name | crc */
  cr_assert_eq (n, 4 + 11 + 14 + 4);
  cr_assert_eq (buf[0], 11 + 14);
  cr_assert_eq (buf[4], BLKLOG_MARK);
  cr_assert_eq (buf[4 + 9], 14);
  cr_assert_eq (blklog_parse_record (buf, n, &r, &used, why, sizeof why),
                BLKLOG_OK, "%s", why);
  cr_assert_eq (used, n);
  cr_assert_eq (r.type, BLKLOG_MARK);
  cr_assert_eq (r.time_ns, 12345);
  cr_assert_eq (r.name_len, 14);
  cr_assert (memcmp (r.name, "before-upgrade", 14) == 0);
  /* The shortest record of all: a one-byte name. */
  n = mark_record (buf, "x", 1, 0);
  cr_assert_eq (blklog_parse_record (buf, n, &r, &used, why, sizeof why),
                BLKLOG_OK, "%s", why);
  cr_assert_eq (blklog_parse_record (buf, n - 1, &r, &used, why, sizeof why),
                BLKLOG_SHORT);
}

Test (mark, names_checked)
{
  static const struct { const char *name; size_t len; const char *why; }
  bad[] = {
    { "", 0, "must not be empty" },
    { "a\001b", 3, "control characters (byte 0x01 at position 1)" },
    { "a\nb", 3, "control characters (byte 0x0a" },
    { "del\177", 4, "control characters (byte 0x7f" },
    { "nul\0x", 5, "control characters (byte 0x00" },
    { "c1\302\205", 4, "control characters (U+0085" },
    { "bad\377", 4, "must be UTF-8 (invalid byte 0xff at position 3)" },
    { "cut\303", 4, "must be UTF-8" },
    { "overlong\300\257", 10, "must be UTF-8" },
    { "surrogate\355\240\200", 12, "must be UTF-8" },
  };
  unsigned char buf[1024];
  char name[300], why[256];
  struct blklog_record r;
  size_t i, n, used;

  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cr_assert_eq (blklog_mark_name_check (bad[i].name, bad[i].len, why,
                                          sizeof why), -1, "%zu", i);
    cr_assert (strstr (why, bad[i].why) != NULL, "%zu: %s", i, why);
    /* The reader refuses the same names (the CRC is right). */
    n = mark_record (buf, bad[i].name, bad[i].len, 1);
    cr_assert_eq (blklog_parse_record (buf, n, &r, &used, why, sizeof why),
                  BLKLOG_BAD, "%zu", i);
  }
  memset (name, 'n', sizeof name);
  cr_assert_eq (blklog_mark_name_check (name, 255, why, sizeof why), 0);
  cr_assert_eq (blklog_mark_name_check (name, 256, why, sizeof why), -1);
  cr_assert (strstr (why, "at most 255 bytes, this one has 256") != NULL,
             "%s", why);
  n = mark_record (buf, name, 256, 1);
  cr_assert_eq (blklog_parse_record (buf, n, &r, &used, why, sizeof why),
                BLKLOG_BAD);
  cr_assert_eq (blklog_mark_name_check ("caf\303\251 2", 7, why, sizeof why),
                0, "%s", why);
  cr_assert_eq (blklog_mark_name_check ("\360\237\222\276", 4, why,
                                        sizeof why), 0, "%s", why);
}

/* A log of VERSION: sample_log, a mark, one more request, a mark. */
static size_t
log_with_marks (unsigned char *buf, size_t cap, uint32_t version)
{
  size_t pos = sample_log_v (buf, cap, version);

  pos += mark_record (buf + pos, "after-two", 9, 300);
  pos += request_record (buf + pos, BLKLOG_FLUSH, 0, 310, 320);
  pos += mark_record (buf + pos, "end", 3, 400);
  cr_assert (pos <= cap);
  return pos;
}

Test (mark, loaded_with_position)
{
  unsigned char buf[4096];
  size_t len = log_with_marks (buf, sizeof buf, 2);
  char path[] = "/tmp/unit-blkreplay-XXXXXX", why[512];
  int fd = mkstemp (path);
  struct blklog_log log;

  cr_assert (fd >= 0);
  cr_assert_eq (pwrite (fd, buf, len, 0), (ssize_t) len);
  cr_assert_eq (blklog_load (&log, path, why, sizeof why), 0, "%s", why);
  cr_assert_eq (log.nreqs, 3);
  cr_assert_eq (log.nmarks, 2);
  cr_assert_str_eq (log.marks[0].name, "after-two");
  cr_assert_eq (log.marks[0].seq, 2);   /* two requests before it */
  cr_assert_eq (log.marks[0].record, 4);        /* open, 2 req, close */
  cr_assert_eq (log.marks[0].time_ns, 300);
  cr_assert_str_eq (log.marks[1].name, "end");
  cr_assert_eq (log.marks[1].seq, 3);
  cr_assert_eq (log.marks[1].record, 6);
  blklog_free (&log);
  close (fd);
  unlink (path);
}

Test (mark, refused_in_v1)
{
  unsigned char buf[4096];
  size_t len = log_with_marks (buf, sizeof buf, 1);
  char path[] = "/tmp/unit-blkreplay-XXXXXX", why[512];
  int fd = mkstemp (path);
  struct blklog_log log;

  cr_assert (fd >= 0);
  cr_assert_eq (pwrite (fd, buf, len, 0), (ssize_t) len);
  cr_assert_eq (blklog_load (&log, path, why, sizeof why), -1);
  cr_assert (strstr (why, "corrupt record at byte") != NULL, "%s", why);
  cr_assert (strstr (why, "a mark record (type 4) in a version 1 log") != NULL,
             "%s", why);
  close (fd);
  unlink (path);
}
