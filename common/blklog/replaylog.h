/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk blkreplay: the log format, shared by the filter and the
 * blkreplay tool.  docs/blkreplay-format.md is the specification; this
 * is its only implementation.
 *
 * Encoding is into caller-provided memory (the filter encodes outside
 * its queue lock); decoding works on a buffer (the tool maps the file)
 * and never trusts a length it has not checked against the buffer.
 *
 * Thread-safety: the encode/decode functions are pure; a blklog_reader
 * or blklog_writer belongs to one thread at a time.
 */
#ifndef BLKREPLAY_REPLAYLOG_H
#define BLKREPLAY_REPLAYLOG_H

#include <stddef.h>
#include <stdint.h>

#include "byte-order.h"

#define BLKLOG_MAGIC "BLKRPLAY"
/* The version writers write.  Readers also read version 1 (no hash_alg
 * or layer in the header: blkhash64 and "nbdkit" are implied).
 */
#define BLKLOG_VERSION 2
#define BLKLOG_HEADER_FIXED 44          /* v2 header bytes besides creator */
#define BLKLOG_HEADER_FIXED_V1 42       /* v1 header bytes besides creator */
#define BLKLOG_CREATOR_MAX 1024
#define BLKLOG_NAME_MAX 4096            /* NBD's limit on export names */
/* A record body is at most one 64 MiB payload plus its fields: any
 * longer length field is corruption, not a record cut short.
 */
#define BLKLOG_BODY_MAX ((UINT32_C (64) << 20) + 4096)
#define BLKLOG_REQ_FIXED 59             /* request body before payload */
/* Bounds of a request a reader accepts: nothing a real NBD request can
 * carry is refused, and what consumes records (a replay buffer of
 * LENGTH bytes, a schedule in ns) never overflows.  Reads and writes:
 * nbdkit refuses requests over 64 MiB; other operations: NBD's 32-bit
 * length field; times: 2^62 ns (146 years) after the log started.
 */
#define BLKLOG_IO_MAX (UINT64_C (64) << 20)
#define BLKLOG_LENGTH_MAX UINT64_C (0xffffffff)
#define BLKLOG_TIME_MAX (UINT64_C (1) << 62)

enum blklog_data { BLKLOG_DATA_NONE = 0, BLKLOG_DATA_HASH = 1,
                   BLKLOG_DATA_FULL = 2 };

/* The payload hash (header field hash_alg, version 2). */
enum blklog_hash { BLKLOG_HASH_BLKHASH64 = 1, BLKLOG_HASH_XXH3 = 2,
                  BLKLOG_HASH_BLKAES64 = 3 };

/* Which I/O the log holds (header field layer, version 2). */
enum blklog_layer { BLKLOG_LAYER_NBDKIT = 0, BLKLOG_LAYER_BACKEND = 1 };

enum blklog_type { BLKLOG_CONN_OPEN = 1, BLKLOG_CONN_CLOSE = 2,
                   BLKLOG_REQUEST = 3,
                   BLKLOG_MARK = 4 /* version 2 only */ };

/* A mark's name: 1 to 255 bytes of printable UTF-8. */
#define BLKLOG_MARK_NAME_MAX 255
#define BLKLOG_MARK_FIXED 11            /* mark body before the name */
/* The shortest record body: a mark with a 1-byte name. */
#define BLKLOG_BODY_MIN (BLKLOG_MARK_FIXED + 1)

/* Operations: the same numbers as enum blk_hook_op. */
enum blklog_op { BLKLOG_READ = 0, BLKLOG_WRITE, BLKLOG_ZERO, BLKLOG_TRIM,
                 BLKLOG_FLUSH, BLKLOG_EXTENTS, BLKLOG_CACHE, BLKLOG_OP__MAX };

/* Request flags (the NBD command flags). */
#define BLKLOG_F_FUA       UINT32_C (1)
#define BLKLOG_F_NO_HOLE   UINT32_C (2)
#define BLKLOG_F_FAST_ZERO UINT32_C (4)
#define BLKLOG_F_REQ_ONE   UINT32_C (8)
#define BLKLOG_F__ALL      UINT32_C (15)

/* What a request record carries after its fixed fields. */
enum blklog_payload { BLKLOG_PAYLOAD_NONE = 0, BLKLOG_PAYLOAD_HASH = 1,
                      BLKLOG_PAYLOAD_DATA = 2 };

struct blklog_header {
  uint32_t version;
  uint64_t export_size;
  uint64_t created_ns;          /* CLOCK_REALTIME, ns since the epoch */
  uint32_t data_mode;           /* enum blklog_data */
  uint8_t hash_alg;             /* enum blklog_hash; 1 in a v1 log */
  uint8_t layer;                /* enum blklog_layer; 0 in a v1 log */
  char creator[BLKLOG_CREATOR_MAX + 1];
  size_t header_len;            /* bytes on disk */
};

struct blklog_record {
  uint8_t type;                 /* enum blklog_type */
  uint64_t conn;
  /* CONN_OPEN, CONN_CLOSE, MARK: */
  uint64_t time_ns;
  /* CONN_OPEN: */
  uint64_t export_size;
  uint8_t readonly;
  /* CONN_OPEN (export name), MARK (mark name): */
  const char *name;             /* not NUL-terminated */
  uint16_t name_len;
  /* REQUEST: */
  uint64_t id;
  uint8_t op;                   /* enum blklog_op */
  uint32_t flags;
  uint64_t offset;
  uint64_t length;
  uint64_t submit_ns, complete_ns;  /* monotonic, since log creation */
  uint32_t error;               /* 0 or the errno the request returned */
  uint8_t payload;              /* enum blklog_payload */
  uint64_t hash;                /* PAYLOAD_HASH, also computed for DATA */
  const unsigned char *data;    /* PAYLOAD_DATA: length bytes */
};

extern const char *blklog_op_name (unsigned op);
extern int blklog_op_lookup (const char *name);
extern const char *blklog_data_name (unsigned mode);
extern const char *blklog_hash_name (unsigned hash_alg);
extern const char *blklog_layer_name (unsigned layer);

/* The payload hash of LEN bytes of BUF with the log's HASH_ALG (enum
 * blklog_hash).  Everything that computes or checks a payload hash
 * goes through this, so a log verifies with the algorithm it was
 * written with.  An unknown HASH_ALG (the parser refuses those) hashes
 * as blkhash64.
 */
extern uint64_t blklog_payload_hash (unsigned hash_alg,
                                     const void *buf, size_t len);
/* blklog_payload_hash with its algorithm chosen once: the function
 * that hashes with HASH_ALG on this CPU (the AES-NI or CRC32C
 * instruction path where the CPU has it), for a writer that hashes
 * every request (one indirect call instead of two dispatches).  Same
 * values as blklog_payload_hash (HASH_ALG, ...).  Resolve it after
 * any blkaes64_force_software/crc32c_force_software call, not before.
 */
typedef uint64_t blklog_hash_fn (const void *buf, size_t len);
extern blklog_hash_fn *blklog_payload_hash_fn (unsigned hash_alg);
/* The hash a writer should use on this CPU: blkaes64 where AES-NI and
 * AVX are there (one vaesenc per 16 bytes), else blkhash64 where
 * CRC32C is an instruction (598 instructions per 4 KiB against XXH3's
 * 4563, see docs/blkreplay-cost.md), else XXH3 (the table paths of
 * both others cost far more).  A log names its hash, so readers
 * verify any of them, on any CPU.
 */
extern unsigned blklog_hash_default (void);
/* "fua|no_hole" style, into BUF. */
extern const char *blklog_flags_str (uint32_t flags, char *buf, size_t len);

/* Whether LEN bytes of NAME make a valid mark name: 1 to 255 bytes of
 * UTF-8 with no control character (C0, DEL, C1) and so no NUL.  -1
 * with the reason in WHY (which echoes no raw byte of NAME).
 */
extern int blklog_mark_name_check (const char *name, size_t len,
                                   char *why, size_t whylen);

/* ---- encoding ---- */

/* Bytes blklog_encode_header needs.  H->version 1 writes the old
 * layout (tests and seeds that need a v1 log; H->hash_alg and H->layer
 * are then not written); any other value writes version 2.
 */
extern size_t blklog_header_size (const struct blklog_header *h);
extern size_t blklog_encode_header (unsigned char *buf,
                                    const struct blklog_header *h);
/* Bytes blklog_encode_record needs, framing (length, CRC) included. */
extern size_t blklog_record_size (const struct blklog_record *r);
extern size_t blklog_encode_record (unsigned char *buf,
                                    const struct blklog_record *r);
/* A request record with a data payload (R->payload BLKLOG_PAYLOAD_DATA)
 * encoded in place around its data, for a gathered write: HEAD gets
 * the bytes before the data (at most BLKLOG_REQ_HEAD_MAX; the length
 * is returned), CRC the 4 bytes after it.  HEAD, R->data and CRC
 * written one after the other are blklog_encode_record's bytes,
 * without copying the data.
 */
#define BLKLOG_REQ_HEAD_MAX (4 + BLKLOG_REQ_FIXED + 8)
extern size_t blklog_encode_request_head (unsigned char *head,
                                          unsigned char crc[4],
                                          const struct blklog_record *r);

/* The one layout of a request record's fields after its type, up to
 * its payload data: the hash is stored unless PAYLOAD is
 * BLKLOG_PAYLOAD_NONE.  Returns the byte after the last one stored.
 * Inline so that the recorder's fast path (a request record without
 * data, encoded straight into the mapped log) and blklog_encode_record
 * share it at no call's cost.
 */
static inline unsigned char *
blklog_store_request_fields (unsigned char *p, uint64_t id, uint64_t conn,
                             uint8_t op, uint32_t flags, uint64_t offset,
                             uint64_t length, uint64_t submit_ns,
                             uint64_t complete_ns, uint32_t error,
                             uint8_t payload, uint64_t hash)
{
  p = blk_store_le64 (p, id);
  p = blk_store_le64 (p, conn);
  *p++ = op;
  p = blk_store_le32 (p, flags);
  p = blk_store_le64 (p, offset);
  p = blk_store_le64 (p, length);
  p = blk_store_le64 (p, submit_ns);
  p = blk_store_le64 (p, complete_ns);
  p = blk_store_le32 (p, error);
  *p++ = payload;
  if (payload != BLKLOG_PAYLOAD_NONE)
    p = blk_store_le64 (p, hash);
  return p;
}

/* A whole request record without payload data (R->payload NONE or
 * HASH) up to its CRC: the length, the type and the fields.  Returns
 * the record's bytes before the CRC (63 or 71); the caller stores the
 * CRC32C of those bytes after them (blklog_encode_record does the
 * same).
 */
static inline size_t
blklog_store_request_nodata (unsigned char *buf, uint64_t id, uint64_t conn,
                             uint8_t op, uint32_t flags, uint64_t offset,
                             uint64_t length, uint64_t submit_ns,
                             uint64_t complete_ns, uint32_t error,
                             uint8_t payload, uint64_t hash)
{
  uint32_t body = payload == BLKLOG_PAYLOAD_NONE ? BLKLOG_REQ_FIXED
                                                 : BLKLOG_REQ_FIXED + 8;
  unsigned char *p = blk_store_le32 (buf, body);

  *p++ = BLKLOG_REQUEST;
  blklog_store_request_fields (p, id, conn, op, flags, offset, length,
                               submit_ns, complete_ns, error, payload, hash);
  return 4 + (size_t) body;
}

/* ---- decoding ---- */

/* Results of the parse functions. */
#define BLKLOG_OK 1
#define BLKLOG_SHORT 0          /* the buffer ends inside it: truncated */
#define BLKLOG_BAD (-1)         /* corrupt; WHY says how */

extern int blklog_parse_header (const unsigned char *buf, size_t len,
                                struct blklog_header *h,
                                char *why, size_t whylen);
/* On BLKLOG_OK, *USED is the bytes the record took; R points into BUF. */
extern int blklog_parse_record (const unsigned char *buf, size_t len,
                                struct blklog_record *r, size_t *used,
                                char *why, size_t whylen);

/* A whole log file, mapped.  blklog_next refuses a mark record in a
 * version 1 log (corruption: version 1 has no type 4).
 */
struct blklog_reader {
  char *path;
  const unsigned char *map;
  size_t size;
  size_t pos;                   /* offset of the next record */
  uint64_t nrecords;            /* whole records returned so far */
  struct blklog_header header;
  /* After blklog_next returned 0 or -1: */
  int truncated;                /* the file ends inside a record, or
                                 * in the preallocated tail (unclean) */
  int unclean;                  /* the recorder did not stop cleanly:
                                 * zeros (after at most one torn record)
                                 * to the end of the file */
  size_t prealloc;              /* unclean: the zero bytes at the end */
  int torn;                     /* unclean: a torn record before them */
  char why[512];                /* what stopped the reader */
};

/* Opens and checks the header.  -1 with a message in WHY. */
extern int blklog_open (struct blklog_reader *rd, const char *path,
                        char *why, size_t whylen);
/* 1: a record; 0: clean end of file, or a truncated last record, or
 * the preallocated tail of a recorder that did not stop (rd->truncated,
 * rd->unclean, rd->why); -1: a corrupt record (rd->why).
 */
extern int blklog_next (struct blklog_reader *rd, struct blklog_record *r);
extern void blklog_close (struct blklog_reader *rd);

/* ---- a whole log, loaded (load.c) ---- */

/* What the filter's replay mode and the blkreplay tool work from: the
 * header, the connections and the requests as arrays, in log order.
 */
struct blklog_conn {
  uint64_t id;
  uint64_t open_ns, close_ns;   /* close_ns: 0 if never closed */
  uint64_t export_size;
  int readonly;
  char *name;                   /* NUL-terminated copy */
};

struct blklog_req {
  uint64_t id, conn, offset, length, submit_ns, complete_ns, hash;
  uint32_t flags, error;
  uint8_t op, payload;
  const unsigned char *data;    /* into the mapped log, or NULL */
  size_t seq;                   /* position in the log (completion order) */
};

/* A mark (record type 4).  Every request record before it in the log
 * completed before the mark was taken.
 */
struct blklog_mark {
  char *name;                   /* NUL-terminated copy */
  uint64_t time_ns;
  size_t seq;                   /* requests before it in the log: the
                                 * index in reqs[] of the first request
                                 * after it (= blklog_req.seq numbering) */
  uint64_t record;              /* records of any type before it */
};

struct blklog_log {
  struct blklog_reader rd;      /* stays mapped: blklog_req.data points
                                 * in; rd.header is the log's header */
  struct blklog_conn *conns;
  size_t nconns;
  struct blklog_req *reqs;      /* in log order */
  size_t nreqs;
  struct blklog_mark *marks;    /* in log order */
  size_t nmarks;
  int truncated;                /* the file ends inside a record: the
                                 * whole records are loaded, rd.why says
                                 * where it stops */
};

/* Maps PATH, checks the header and every record.  A truncated log
 * loads (LOG->truncated); a corrupt one, an unreadable one or a lack
 * of memory is -1 with "PATH: ..." in WHY.  The caller reports.
 */
extern int blklog_load (struct blklog_log *log, const char *path,
                        char *why, size_t whylen);
/* Frees and unmaps; idempotent (LOG is zeroed). */
extern void blklog_free (struct blklog_log *log);

/* ---- a simple buffered file writer (the tool's import) ---- */

struct blklog_writer {
  int fd;
  unsigned char *buf;
  size_t len, cap;
};

extern int blklog_writer_open (struct blklog_writer *w, const char *path,
                               const struct blklog_header *h);
extern int blklog_writer_add (struct blklog_writer *w,
                              const struct blklog_record *r);
extern int blklog_writer_close (struct blklog_writer *w);

#endif /* BLKREPLAY_REPLAYLOG_H */
