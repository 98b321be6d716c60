/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk blkreplay: the filter's control commands (control-cmds.c),
 * served on blkreplay-control=SOCKET by common/control.
 */
#ifndef BLKREPLAY_CONTROL_CMDS_H
#define BLKREPLAY_CONTROL_CMDS_H

#include <stdint.h>

#include "control.h"

/* What the commands need from the filter.  Filled before the control
 * thread starts (base_ns in .get_ready, before blk_ctl_start), read-only
 * afterwards; the recorder guards its own state.
 */
struct br_control_info {
  int replay;                   /* blkreplay-mode=replay */
  const char *path;             /* the log */
  uint32_t data_mode;           /* enum blklog_data */
  const uint64_t *base_ns;      /* time 0 of the log (blk_mono_ns) */
};

/* A server with the commands mark, status, sync.  NULL: out of memory. */
extern struct blk_ctl *br_control_new (const struct br_control_info *info);

#endif /* BLKREPLAY_CONTROL_CMDS_H */
