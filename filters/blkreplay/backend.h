/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk blkreplay: blkreplay-layer=backend (backend.c), the
 * recording of the plugin's own I/O on its image file, reported
 * through the hook (common/hook/blk-hook.h), instead of the client's
 * requests.
 */
#ifndef BLKREPLAY_BACKEND_H
#define BLKREPLAY_BACKEND_H

#include <stdint.h>

struct backend_config {
  uint64_t base_ns;             /* time 0 of the log (blk_mono_ns) */
  uint32_t data_mode;           /* enum blklog_data */
  unsigned hash_alg;            /* enum blklog_hash */
  int on_error_fail;            /* blkreplay-on-error=fail */
  uint64_t *next_id;            /* the filter's request id counter */
  /* Says once that the log failed; ID: the first I/O not recorded. */
  void (*report_loss) (uint64_t id);
};

/* Subscribes to the hook (from .after_fork, once the log writer runs).
 * -1 with nbdkit_error if the hook table is full.
 */
extern int backend_start (const struct backend_config *c);
/* Unsubscribes (before the log is closed).  Idempotent. */
extern void backend_stop (void);

/* The connection whose request the calling thread serves, 0 for none:
 * the filter sets it around next->OP so that the plugin's I/O on this
 * thread is recorded with the connection that caused it.
 */
extern void backend_set_conn (uint64_t conn);

/* The header's export_size: the image file's size the plugin
 * published when it opened it (blk_hook_file_size), 0 if it did not.
 */
extern uint64_t backend_export_size (void);

/* I/O records appended so far, and I/Os of other files (backing, data
 * file) seen and not recorded.
 */
extern void backend_counts (uint64_t *recorded, uint64_t *other_files);

#endif /* BLKREPLAY_BACKEND_H */
