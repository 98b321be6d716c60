/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: blkdebug's control commands.
 *
 * The protocol, the socket and the help text are the shared control
 * library's (common/control/control.h, docs/control.md); this module
 * registers blkdebug's commands with it.  The handlers call only the
 * engine, which has its own lock, so they are safe on the library's
 * connection threads; unit tests and the fuzzer drive them through
 * blk_ctl_exec without a socket.
 */
#ifndef NBDKIT_BLK_BLKDEBUG_CONTROL_CMDS_H
#define NBDKIT_BLK_BLKDEBUG_CONTROL_CMDS_H

#include <stdbool.h>

#include "control.h"
#include "engine.h"

/* A control server named "blkdebug" with blkdebug's commands, acting
 * on E.  NULL when out of memory.  Free with blk_ctl_free.
 */
extern struct blk_ctl *bd_control_new (struct bd_engine *e);

/* Rules added through the socket go to the client layer (CLIENT) or
 * the backend layer: refuse events that can never fire there.  Before
 * any call: backend (only "none" is refused).
 */
extern void bd_control_set_layer (bool client);
/* blkdebug-strict=qemu: refuse rules added at run time that QEMU's
 * blkdebug could not read.  Before the control thread starts.
 */
extern void bd_control_set_strict (bool qemu);

#endif /* NBDKIT_BLK_BLKDEBUG_CONTROL_CMDS_H */
