/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: the text of an errno for messages written while serving.
 *
 * The rule (docs/common.md): code that can run on an nbdkit worker
 * thread or a module's own thread names errno with blk_errstr, never
 * with %m or strerror().  strerror() (which %m uses) takes glibc's
 * locale lock through gettext, and under the sanitizer preload a
 * thread that did so leaves nbdkit hanging at exit (libp11-kit's
 * destructor waits in freelocale).  strerrordesc_np reads a plain
 * table.  %m stays fine in .config/.config_complete/.get_ready, which
 * run on the main thread before any worker exists.
 */
#ifndef NBDKIT_BLK_ERRSTR_H
#define NBDKIT_BLK_ERRSTR_H

#include <string.h>

static inline const char *
blk_errstr (int e)
{
  const char *s = strerrordesc_np (e);
  return s ? s : "Unknown error";
}

#endif /* NBDKIT_BLK_ERRSTR_H */
