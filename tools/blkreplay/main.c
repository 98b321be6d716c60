/* SPDX-License-Identifier: BSD-3-Clause */
/* blkreplay: inspect, verify, import and replay the logs of
 * nbdkit-blkreplay-filter (docs/blkreplay-format.md).
 *
 * Single-threaded: run drives all its NBD connections from one poll
 * loop (run.c), so there is no shared state to guard.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

void
usage (int status)
{
  fprintf (status ? stderr : stdout,
"Usage:\n"
"  blkreplay run LOG URI [--timing=recorded|fast|scale=X] [--queue-depth=N]\n"
"                [--connect-timeout=DURATION] [--recorded-exports] [--no-verify]\n"
"                [--progress|--quiet] [--json]\n"
"                [--until=ID|flush:N|mark:NAME]\n"
"  blkreplay run LOG --dry-run [--timing=...]   (load and plan only)\n"
"  blkreplay dump LOG [--json]\n"
"  blkreplay stats LOG [--json]\n"
"  blkreplay verify LOG\n"
"  blkreplay import (--fio-iolog FILE | --blkparse FILE) -o LOG [--size=BYTES]\n"
"  blkreplay crash LOG BASE --check 'CMD {}' [--points=flush,fua,every-write,N]\n"
"                [--from=POINT] [--to=POINT] [--trim=keep|zero|both]\n"
"                [--reorder=K] [--seed=S] [--torn] [--base-format=raw|qcow2]\n"
"                [--json] [--progress|--quiet]\n"
"  blkreplay image LOG BASE -o OUT [--at=POINT] [--acked] [--trim=keep|zero]\n"
"                [--base-format=raw|qcow2]\n"
"\n"
"LOG is a log written by nbdkit-blkreplay-filter (or by import).  URI is\n"
"an NBD URI (nbd://host/export, nbd+unix:///?socket=PATH).  See\n"
"blkreplay(1) and docs/ci-replay-guide.md.\n");
  exit (status);
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    usage (EXIT_USAGE);
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0 ||
      strcmp (argv[1], "help") == 0)
    usage (0);
  if (strcmp (argv[1], "--version") == 0) {
    printf ("blkreplay %s\n", PACKAGE_VERSION);
    return 0;
  }
  if (strcmp (argv[1], "dump") == 0)
    return cmd_dump (argc - 1, argv + 1);
  if (strcmp (argv[1], "verify") == 0)
    return cmd_verify (argc - 1, argv + 1);
  if (strcmp (argv[1], "stats") == 0)
    return cmd_stats (argc - 1, argv + 1);
  if (strcmp (argv[1], "run") == 0)
    return cmd_run (argc - 1, argv + 1);
  if (strcmp (argv[1], "import") == 0)
    return cmd_import (argc - 1, argv + 1);
  if (strcmp (argv[1], "crash") == 0)
    return cmd_crash (argc - 1, argv + 1);
  if (strcmp (argv[1], "image") == 0)
    return cmd_image (argc - 1, argv + 1);
  fprintf (stderr, "blkreplay: unknown command '%s' (use run, dump, stats, "
           "verify, import, crash or image; --help)\n", argv[1]);
  return EXIT_USAGE;
}
