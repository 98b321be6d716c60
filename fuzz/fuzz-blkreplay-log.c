/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the blkreplay log reader (header and records), the
 * code that reads logs from CI artefacts and bug reports, and what
 * consumes the parsed records: blkreplay verify, dump, stats and the
 * planning of run (its --dry-run: ordering, dependencies, the --timing
 * schedule check; no server).
 *
 * Every header and record carries a CRC32C, so a mutated input almost
 * never gets past the checksum.  The input is parsed twice: as it is
 * (the checksum and framing paths), then with every checksum recomputed
 * (the framing is walked by the length fields and each CRC rewritten),
 * so that mutations of the fields reach the field checks and the
 * consumers.
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "blkaes64.h"
#include "crc32c.h"
#include "replaylog.h"
#include "tool.h"

/* The tool's usage() exits: the calls below never have bad arguments. */
void
usage (int status)
{
  abort ();
}

static void
check_record (const struct blklog_record *r, const uint8_t *buf, size_t len,
              size_t used)
{
  /* The reader promised: everything it points at lies in the buffer,
   * and re-encoding gives back the same bytes.
   */
  unsigned char *out;

  if (used > len)
    abort ();
  if (r->type == BLKLOG_CONN_OPEN &&
      ((const uint8_t *) r->name < buf ||
       (const uint8_t *) r->name + r->name_len > buf + used))
    abort ();
  if (r->data && (r->data < buf || r->data + r->length > buf + used))
    abort ();
  if (r->type == BLKLOG_REQUEST &&
      (r->length > BLKLOG_LENGTH_MAX || r->submit_ns > BLKLOG_TIME_MAX ||
       r->complete_ns > BLKLOG_TIME_MAX))
    abort ();
  if (blklog_record_size (r) != used)
    abort ();
  out = malloc (used);
  if (out == NULL)
    return;
  if (blklog_encode_record (out, r) != used || memcmp (out, buf, used) != 0)
    abort ();
  free (out);
}

static void
parse_all (const uint8_t *data, size_t size)
{
  struct blklog_header h;
  struct blklog_record r;
  char why[512];
  size_t pos = 0, used;

  /* A whole log: header, then records until the first problem. */
  if (blklog_parse_header (data, size, &h, why, sizeof why) == BLKLOG_OK) {
    if (h.header_len > size || strlen (h.creator) > BLKLOG_CREATOR_MAX)
      abort ();
    pos = h.header_len;
  }
  while (pos < size &&
         blklog_parse_record (data + pos, size - pos, &r, &used,
                              why, sizeof why) == BLKLOG_OK) {
    check_record (&r, data + pos, size - pos, used);
    pos += used;
  }
}

static uint32_t
le32 (const uint8_t *p)
{
  return (uint32_t) p[0] | ((uint32_t) p[1] << 8) |
    ((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}

static void
put_le32 (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t) v;
  p[1] = (uint8_t) (v >> 8);
  p[2] = (uint8_t) (v >> 16);
  p[3] = (uint8_t) (v >> 24);
}

/* Rewrites the header's and every record's CRC32C in place. */
static void
fix_checksums (uint8_t *b, size_t size)
{
  size_t pos = 0;

  if (size >= 16 && memcmp (b, BLKLOG_MAGIC, 8) == 0) {
    uint32_t total = le32 (b + 12);
    if (total >= BLKLOG_HEADER_FIXED_V1 && total <= size) {
      put_le32 (b + total - 4, crc32c (b, total - 4));
      pos = total;
    }
  }
  while (size - pos >= 8) {
    uint32_t body = le32 (b + pos);
    if (body < BLKLOG_BODY_MIN || body > size - pos - 8)
      break;
    put_le32 (b + pos + 4 + body, crc32c (b + pos, 4 + (size_t) body));
    pos += 8 + (size_t) body;
  }
}

/* The tool's commands read a path: the fixed input, in a memfd. */
static int mfd = -1;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  /* The commands print every record: keep libFuzzer's output readable. */
  if (freopen ("/dev/null", "w", stdout) == NULL)
    abort ();
  mfd = memfd_create ("fuzz-blkreplay-log", 0);
  if (mfd == -1)
    abort ();
  return 0;
}

static void
run_tool (int (*cmd) (int, char **), const char *a1, const char *a2,
          const char *a3, const char *a4)
{
  char *argv[6];
  int argc = 0;

  argv[argc++] = (char *) "cmd";
  argv[argc++] = (char *) a1;
  if (a2) argv[argc++] = (char *) a2;
  if (a3) argv[argc++] = (char *) a3;
  if (a4) argv[argc++] = (char *) a4;
  argv[argc] = NULL;
  cmd (argc, argv);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  uint8_t *fixed;
  char path[64];

  parse_all (data, size);
  (void) blkhash64 (data, size);
  (void) blkaes64 (data, size);        /* its tail must not read past SIZE */

  fixed = malloc (size ? size : 1);
  if (fixed == NULL)
    return 0;
  memcpy (fixed, data, size);
  fix_checksums (fixed, size);
  parse_all (fixed, size);

  if (ftruncate (mfd, 0) == -1 ||
      pwrite (mfd, fixed, size, 0) != (ssize_t) size) {
    free (fixed);
    return 0;
  }
  free (fixed);
  snprintf (path, sizeof path, "/proc/self/fd/%d", mfd);
  run_tool (cmd_verify, path, NULL, NULL, NULL);
  run_tool (cmd_dump, path, NULL, NULL, NULL);
  run_tool (cmd_dump, path, "--json", NULL, NULL);
  run_tool (cmd_stats, path, NULL, NULL, NULL);
  run_tool (cmd_stats, path, "--json", NULL, NULL);
  run_tool (cmd_run, path, "--dry-run", "--timing=recorded", "--quiet");
  run_tool (cmd_run, path, "--dry-run", "--timing=scale=1e300", "--quiet");
  return 0;
}
