/* SPDX-License-Identifier: BSD-3-Clause */
/* blkreplay tool: the subcommands (one file each). */
#ifndef BLKREPLAY_TOOL_H
#define BLKREPLAY_TOOL_H

#include <stdio.h>
#include <stdlib.h>

/* Exit statuses. */
#define EXIT_MISMATCH 1         /* run: a mismatch; verify: a bad log */
#define EXIT_USAGE 2            /* bad command line, unreadable log, ... */

extern int cmd_dump (int argc, char **argv);
extern int cmd_verify (int argc, char **argv);
extern int cmd_stats (int argc, char **argv);
extern int cmd_run (int argc, char **argv);
extern int cmd_import (int argc, char **argv);
extern int cmd_crash (int argc, char **argv);
extern int cmd_image (int argc, char **argv);

extern void usage (int status);

/* Command-line words a subcommand does not take: say which (an unknown
 * option, an option missing its value, one word too many) and exit
 * with EXIT_USAGE.  Naming the word beats printing the whole usage,
 * which leaves the user to guess what was wrong.  Inline, so that the
 * fuzz targets, which link the subcommands without main.c, get them.
 */
static inline void __attribute__ ((noreturn))
bad_option (const char *cmd, const char *arg)
{
  fprintf (stderr, "blkreplay %s: unknown option '%s' (blkreplay --help "
           "lists the options)\n", cmd, arg);
  exit (EXIT_USAGE);
}

static inline void __attribute__ ((noreturn))
missing_value (const char *cmd, const char *opt)
{
  fprintf (stderr, "blkreplay %s: option '%s' needs a value\n", cmd, opt);
  exit (EXIT_USAGE);
}

static inline void __attribute__ ((noreturn))
extra_argument (const char *cmd, const char *arg)
{
  fprintf (stderr, "blkreplay %s: unexpected argument '%s' (blkreplay "
           "--help shows what %s takes)\n", cmd, arg, cmd);
  exit (EXIT_USAGE);
}

#endif
