/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: the run-time control protocol, one library for every
 * filter.  See docs/control.md for the protocol, the choice of one
 * socket per filter, and a worked example.
 *
 * A filter describes its commands in a static table and hands it to a
 * server object; the library parses lines, checks argument counts,
 * answers "help" and "ping", formats replies as text or JSON, and runs
 * the Unix socket (capped connections and line length):
 *
 *   static int
 *   cmd_reset (void *opaque, int argc, char **argv, const char *rest,
 *              struct blk_ctl_reply *r)
 *   {
 *     stats_reset (opaque);
 *     return blk_ctl_ok (r, NULL);
 *   }
 *   static const struct blk_ctl_command latency_cmds[] = {
 *     { "reset", "reset", "zero every counter", 0, 0, cmd_reset },
 *     { NULL }
 *   };
 *
 *   ctl = blk_ctl_new ("latency", &stats);            // .config_complete
 *   blk_ctl_register (ctl, latency_cmds);
 *   blk_ctl_listen (ctl, path);                       // .get_ready
 *   blk_ctl_start (ctl);                              // .after_fork
 *   blk_ctl_free (ctl);                               // .unload
 *
 * Protocol: one command per line, words separated by blanks.  The
 * reply is one line "OK[ text]" or "ERR message"; a command that lists
 * things answers "OK N" and N more lines.  A line that starts with the
 * word "--json" gets its reply as one line of JSON instead:
 *   {"ok":true,"text":"..."}  {"ok":true,"value":N}
 *   {"ok":true,"count":N,"lines":[...]}  {"ok":true,"result":{...}}
 *   {"ok":false,"error":"..."}
 *
 * Shared code rules (docs/common.md): no nbdkit_* calls, so the CLI,
 * the unit tests and the fuzzers link it.
 *
 * Thread model: blk_ctl_new/_register/_listen before _start, from one
 * thread (nbdkit's configuration callbacks); afterwards the command
 * table is read-only.  The server runs one accept thread and one
 * thread per connection, so handlers run concurrently with each other
 * and with the filter's requests: they must guard the filter's state
 * with the filter's own locks.  A handler may block (blkdebug's
 * wait_break); blk_ctl_stop shuts the connections down, and the
 * filter must release blocked handlers itself before it (blkdebug:
 * bd_engine_shutdown).
 */
#ifndef NBDKIT_BLK_CONTROL_H
#define NBDKIT_BLK_CONTROL_H

#include <stdbool.h>
#include <stdio.h>

/* Socket limits: connections served at once (a further one gets an
 * ERR line and is closed) and bytes in a command line (a longer one
 * gets an ERR line and the connection is closed).
 */
#define BLK_CTL_MAX_CONNS 16
#define BLK_CTL_MAX_LINE 4096
/* Words in a command line, the command included. */
#define BLK_CTL_MAX_WORDS 16

struct blk_ctl;
struct blk_ctl_reply;

/* HANDLER gets the words (argv[0] is the command, argc - 1 arguments,
 * already checked against min_args .. max_args) and REST, the raw text
 * after the command word (for arguments that may contain blanks).  It
 * must answer exactly once with one of the blk_ctl_ok* / blk_ctl_err
 * calls and return what that call returned (0 for OK, -1 for ERR).
 */
typedef int blk_ctl_handler (void *opaque, int argc, char **argv,
                             const char *rest, struct blk_ctl_reply *r);

struct blk_ctl_command {
  const char *name;             /* NULL ends a table */
  const char *usage;            /* "break EVENT TAG" (shown by help) */
  const char *help;             /* one line, for "help" (may be NULL) */
  int min_args, max_args;       /* arguments after the command word */
  blk_ctl_handler *handler;
};

/* A server for FILTER ("blkdebug"), whose handlers get OPAQUE.  NULL
 * when out of memory.
 */
extern struct blk_ctl *blk_ctl_new (const char *filter, void *opaque);

/* Add the commands of TABLE (static storage, ended by a NULL name).
 * Several tables may be added.  -1 (errno ENOMEM or EEXIST for a name
 * already registered, "help" and "ping" included).
 */
extern int blk_ctl_register (struct blk_ctl *c,
                             const struct blk_ctl_command *table);

/* Run one command LINE (trailing newline optional) and write the reply
 * to OUT.  Returns 0 for OK, -1 for ERR.  Pure: no socket.
 */
extern int blk_ctl_exec (struct blk_ctl *c, const char *line, FILE *out);

/* ---- replies (inside a handler) ---- */

/* Is the reply JSON?  A handler with its own JSON (blk_ctl_ok_json)
 * may skip building the text, and the other way round.
 */
extern bool blk_ctl_json (const struct blk_ctl_reply *r);

/* "OK" or "OK text" / {"ok":true[,"text":"..."]}.  FMT may be NULL. */
extern int blk_ctl_ok (struct blk_ctl_reply *r, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
/* "OK N" / {"ok":true,"value":N}. */
extern int blk_ctl_ok_value (struct blk_ctl_reply *r, long long v);
/* "OK N" + the N lines of LINES (each ending in '\n', or "") /
 * {"ok":true,"count":N,"lines":[...]}.
 */
extern int blk_ctl_ok_lines (struct blk_ctl_reply *r, const char *lines);
/* "OK text" / {"ok":true,"result":JSON}, JSON a complete JSON value on
 * one line (the handler's own report, e.g. latency's query).
 */
extern int blk_ctl_ok_json (struct blk_ctl_reply *r, const char *text,
                            const char *json);
/* "ERR message" / {"ok":false,"error":"message"}.  Returns -1. */
extern int blk_ctl_err (struct blk_ctl_reply *r, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* Write S as a JSON string (quoted, escaped) to FP. */
extern void blk_ctl_json_string (FILE *fp, const char *s);

/* ---- the socket (control-server.c) ---- */

/* Bind and listen on PATH (replacing a stale socket, refusing to
 * replace anything else).  0, or -1 with errno set.
 */
extern int blk_ctl_listen (struct blk_ctl *c, const char *path);
/* Start serving (after nbdkit forked).  0 (also when not listening)
 * or -1 with errno set.
 */
extern int blk_ctl_start (struct blk_ctl *c);
/* Stop serving: end every connection, wait for their threads, close
 * and remove the socket.  Idempotent; C stays usable for _exec.
 */
extern void blk_ctl_stop (struct blk_ctl *c);
/* Stop and free.  C may be NULL. */
extern void blk_ctl_free (struct blk_ctl *c);

#endif /* NBDKIT_BLK_CONTROL_H */
