/* nbdkit-blk: the blkdebug control protocol and its Unix socket.
 *
 * Protocol (documented in nbdkit-blkdebug-filter(1)): one command per
 * line; the reply is one line "OK ..." or "ERR message", except that
 * "OK N" to "rules" is followed by N lines, one per rule.
 *
 * bd_control_exec is pure (engine calls only), so unit tests drive it
 * without sockets.  The server (bd_control_listen/_start/_stop) runs
 * one accept thread plus one thread per connection, so a client
 * blocked in wait_break does not stop another from resuming.  conns
 * (under conn_lock) lists the open connections so _stop can shut
 * them down; nconns counts the live threads, _stop waits for 0.
 */
#ifndef NBDKIT_BLK_BLKDEBUG_CONTROL_H
#define NBDKIT_BLK_BLKDEBUG_CONTROL_H

#include <stdbool.h>
#include <stdio.h>

#include "engine.h"

/* Limits of the socket: connections served at once (further ones get
 * an ERR line and are closed) and bytes in a command line (a longer
 * one gets an ERR line and the connection is closed).
 */
#define BD_CONTROL_MAX_CONNS 16
#define BD_CONTROL_MAX_LINE 4096

/* Run one command LINE (no newline) against E, writing the reply
 * (with its newline) to OUT.  Returns 0 for OK, -1 for ERR.
 */
extern int bd_control_exec (struct bd_engine *e, const char *line, FILE *out);

/* Rules added through the socket go to the client layer (CLIENT) or
 * the backend layer: refuse events that can never fire there.  Before
 * any call: backend (only "none" is refused).
 */
extern void bd_control_set_layer (bool client);

/* Bind and listen on PATH (replacing a stale socket).  0, or -1 with
 * errno set.
 */
extern int bd_control_listen (const char *path);
/* Start serving E (after nbdkit forked).  0 or -1 (errno). */
extern int bd_control_start (struct bd_engine *e);
/* Stop: close the socket, end every connection, remove PATH. */
extern void bd_control_stop (void);

#endif /* NBDKIT_BLK_BLKDEBUG_CONTROL_H */
