/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk qcow2: decompression of compressed clusters.
 *
 * deflate clusters are raw deflate streams (no zlib header, 4 KiB
 * window), zstd clusters are zstd frames.  The stored data is padded
 * to 512-byte sectors, so the input may carry trailing bytes: what
 * matters is that exactly one cluster comes out.
 *
 * Thread model: no shared state (contexts are per call).
 */
#include <config.h>

#include <errno.h>
#include <string.h>

#include <zlib.h>
#include <zstd.h>

#include "header.h"
#include "image.h"

static int
inflate_cluster (const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen)
{
  z_stream z;
  int r;

  memset (&z, 0, sizeof z);
  if (inflateInit2 (&z, -12) != Z_OK)
    return -1;
  z.next_in = (Bytef *) in;
  z.avail_in = (uInt) inlen;
  z.next_out = out;
  z.avail_out = (uInt) outlen;
  r = inflate (&z, Z_FINISH);
  inflateEnd (&z);
  if ((r == Z_STREAM_END || r == Z_BUF_ERROR || r == Z_OK) && z.avail_out == 0)
    return 0;
  return -1;
}

static int
zstd_cluster (const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen)
{
  ZSTD_DCtx *d = ZSTD_createDCtx ();
  ZSTD_inBuffer ib = { in, inlen, 0 };
  ZSTD_outBuffer ob = { out, outlen, 0 };
  int r = -1;

  if (d == NULL)
    return -1;
  while (ob.pos < ob.size) {
    size_t ret = ZSTD_decompressStream (d, &ob, &ib);
    if (ZSTD_isError (ret))
      break;
    if (ob.pos == ob.size) {
      r = 0;
      break;
    }
    if (ib.pos == ib.size)      /* input ended before a full cluster */
      break;
  }
  ZSTD_freeDCtx (d);
  return r;
}

int
qcow2_decompress (int type, const uint8_t *in, size_t inlen,
                  uint8_t *out, size_t outlen)
{
  if (type == QCOW2_COMPRESSION_ZSTD)
    return zstd_cluster (in, inlen, out, outlen);
  return inflate_cluster (in, inlen, out, outlen);
}
