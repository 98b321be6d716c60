/* SPDX-License-Identifier: BSD-3-Clause */
/* blkreplay tool: the subcommands (one file each). */
#ifndef BLKREPLAY_TOOL_H
#define BLKREPLAY_TOOL_H

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

#endif
