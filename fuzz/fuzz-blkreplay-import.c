/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: blkreplay import's parsers of fio iologs and of
 * blkparse's text output (files users bring from other machines).  The
 * first input byte chooses the parser (even: fio, odd: blkparse), the
 * rest is the file.
 *
 * import.c is included, not linked: its parsers are static, and its
 * state (the requests and names read) is reset after each input.
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.c"

/* The tool's usage() exits: cmd_import is not called. */
void
usage (int status)
{
  abort ();
}

static void
reset (void)
{
  size_t i;

  for (i = 0; i < names.len; i++)
    free (names.ptr[i]);
  name_vector_reset (&names);
  ireq_vector_reset (&reqs);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  FILE *fp;
  size_t i;

  if (size < 2)
    return 0;
  fp = fmemopen ((void *) (data + 1), size - 1, "r");
  if (fp == NULL)
    return 0;
  if (data[0] & 1)
    read_blkparse (fp, "fuzz");
  else
    read_fio (fp, "fuzz");
  fclose (fp);
  /* What the parsers promise the log writer. */
  for (i = 0; i < reqs.len; i++) {
    if (reqs.ptr[i].submit_ns > BLKLOG_TIME_MAX ||
        reqs.ptr[i].complete_ns > BLKLOG_TIME_MAX ||
        reqs.ptr[i].length > BLKLOG_IO_MAX ||
        reqs.ptr[i].offset + reqs.ptr[i].length < reqs.ptr[i].offset ||
        reqs.ptr[i].conn == 0 || reqs.ptr[i].conn > names.len)
      abort ();
  }
  reset ();
  return 0;
}
