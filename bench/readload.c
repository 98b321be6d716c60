/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk bench: a deterministic NBD read load for instruction counts.
 *
 *   readload [-n COUNT] [-q DEPTH] [-b BLOCKSIZE] [-s SEED] URI
 *
 * Sends COUNT reads of BLOCKSIZE bytes at block-aligned pseudo-random
 * offsets (xorshift64* from SEED, so the same sequence every run),
 * keeping DEPTH of them in flight with libnbd's asynchronous API, then
 * disconnects cleanly.  bench/run serves N and then 2N requests under
 * callgrind and divides the difference of the server's instruction
 * totals by N; for that to cancel everything but the requests, the
 * load must be the same sequence every time, which is why it is this
 * small program and not fio (whose offsets and batching vary).
 *
 * Prints one line: "requests=N depth=D blocksize=B seconds=S iops=I".
 *
 * Single-threaded: all state below belongs to main's thread; the
 * completion callback runs inside nbd_poll on that same thread.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

#include "random.h"

#define MAX_DEPTH 64

struct slot {
  char *buf;
  int busy;
};

static struct slot slots[MAX_DEPTH];
static uint64_t completed;
static uint64_t failed;

static int
readload_done (void *user_data, int *error)
{
  struct slot *s = user_data;

  if (*error)
    failed++;
  s->busy = 0;
  completed++;
  return 1;                     /* retire the command now */
}

static int
parse_u64 (const char *opt, const char *arg, uint64_t min, uint64_t max,
           uint64_t *out)
{
  char *end;
  unsigned long long v;

  errno = 0;
  v = strtoull (arg, &end, 0);
  if (errno || end == arg || *end || v < min || v > max) {
    fprintf (stderr, "readload: %s: cannot parse '%s' "
             "(expected an integer from %" PRIu64 " to %" PRIu64 ")\n",
             opt, arg, min, max);
    return -1;
  }
  *out = v;
  return 0;
}

static void
usage (void)
{
  fprintf (stderr,
           "usage: readload [-n COUNT] [-q DEPTH] [-b BLOCKSIZE] [-s SEED] URI\n");
  exit (2);
}

int
main (int argc, char *argv[])
{
  uint64_t count = 10000, depth = 4, bs = 4096, seed = 1;
  uint64_t issued = 0, blocks, state;
  struct nbd_handle *h;
  struct timespec t0, t1;
  int64_t size;
  double secs;
  unsigned i;
  int c;

  while ((c = getopt (argc, argv, "n:q:b:s:")) != -1) {
    switch (c) {
    case 'n':
      if (parse_u64 ("-n", optarg, 1, UINT64_MAX, &count) == -1) exit (2);
      break;
    case 'q':
      if (parse_u64 ("-q", optarg, 1, MAX_DEPTH, &depth) == -1) exit (2);
      break;
    case 'b':
      if (parse_u64 ("-b", optarg, 1, 32 * 1024 * 1024, &bs) == -1) exit (2);
      break;
    case 's':
      if (parse_u64 ("-s", optarg, 0, UINT64_MAX, &seed) == -1) exit (2);
      break;
    default:
      usage ();
    }
  }
  if (optind != argc - 1)
    usage ();
  /* xorshift must not start from 0. */
  state = seed ? seed : BLK_GOLDEN_GAMMA;

  for (i = 0; i < depth; i++) {
    slots[i].buf = malloc (bs);
    if (slots[i].buf == NULL) {
      perror ("readload: malloc");
      exit (1);
    }
  }

  h = nbd_create ();
  if (h == NULL || nbd_connect_uri (h, argv[optind]) == -1) {
    fprintf (stderr, "readload: %s: %s\n", argv[optind], nbd_get_error ());
    exit (1);
  }
  size = nbd_get_size (h);
  if (size == -1) {
    fprintf (stderr, "readload: %s\n", nbd_get_error ());
    exit (1);
  }
  blocks = (uint64_t) size / bs;
  if (blocks == 0) {
    fprintf (stderr, "readload: the export (%" PRIi64 " bytes) is smaller "
             "than one block of %" PRIu64 " bytes\n", size, bs);
    exit (1);
  }

  clock_gettime (CLOCK_MONOTONIC, &t0);
  while (completed < count) {
    for (i = 0; i < depth && issued < count; i++) {
      nbd_completion_callback cb = { .callback = readload_done,
                                     .user_data = &slots[i] };
      uint64_t offset;

      if (slots[i].busy)
        continue;
      offset = (blk_xorshift64s_next (&state) % blocks) * bs;
      if (nbd_aio_pread (h, slots[i].buf, bs, offset, cb, 0) == -1) {
        fprintf (stderr, "readload: pread at %" PRIu64 ": %s\n",
                 offset, nbd_get_error ());
        exit (1);
      }
      slots[i].busy = 1;
      issued++;
    }
    if (nbd_poll (h, -1) == -1) {
      fprintf (stderr, "readload: %s\n", nbd_get_error ());
      exit (1);
    }
  }
  clock_gettime (CLOCK_MONOTONIC, &t1);

  if (nbd_shutdown (h, 0) == -1) {
    fprintf (stderr, "readload: shutdown: %s\n", nbd_get_error ());
    exit (1);
  }
  nbd_close (h);
  for (i = 0; i < depth; i++)
    free (slots[i].buf);

  if (failed) {
    fprintf (stderr, "readload: %" PRIu64 " of %" PRIu64 " reads failed\n",
             failed, count);
    exit (1);
  }
  secs = (double) (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf ("requests=%" PRIu64 " depth=%" PRIu64 " blocksize=%" PRIu64
          " seconds=%.6f iops=%.0f\n",
          count, depth, bs, secs, secs > 0 ? (double) count / secs : 0.0);
  return 0;
}
