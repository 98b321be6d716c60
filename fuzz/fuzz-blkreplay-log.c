/* libFuzzer target: the blkreplay log reader (header and records), the
 * code that reads logs from CI artefacts and bug reports.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "replaylog.h"

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
  if (blklog_record_size (r) != used)
    abort ();
  out = malloc (used);
  if (out == NULL)
    return;
  if (blklog_encode_record (out, r) != used || memcmp (out, buf, used) != 0)
    abort ();
  free (out);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
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
  (void) blkhash64 (data, size);
  return 0;
}
