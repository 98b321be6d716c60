/* SPDX-License-Identifier: BSD-3-Clause */
/* blkreplay tool: what the crash and image commands share with the
 * rest of the tool: loading a log for the model, naming a point of a
 * log, and raw image files (crashimg.c).
 */
#ifndef BLKREPLAY_CRASHIMG_H
#define BLKREPLAY_CRASHIMG_H

#include <stddef.h>
#include <stdint.h>

#include "crashmodel.h"
#include "loadlog.h"

/* A log loaded for the model: LOG's requests as cm_req, and the size
 * of the device.  Refuses logs without write payloads and logs of
 * several exports.  -1 after printing the error.
 */
struct crash_log {
  struct tl_log log;
  struct cm_req *reqs;
  size_t nreqs;
  uint64_t size;                /* the model's: every write fits */
  /* A blkreplay-layer=backend log: offsets are in the plugin's image
   * FILE, which grows as the plugin appends (qcow2 clusters).  BASE
   * must have base_size bytes (the file when recording started), and
   * each state is as long as its furthest write (crash_state_size).
   * Otherwise base_size == size, a fixed device.
   */
  int backend;
  uint64_t base_size;
};
extern int crash_log_load (struct crash_log *cl, const char *path);
extern void crash_log_free (struct crash_log *cl);

/* The length of the state SET (+ TORN if not NULL) of model M: the
 * base's size, or for a backend log the end of its furthest write or
 * zero if that is further (a file store grows on write; a write that
 * is not in the state did not grow it).
 */
extern uint64_t crash_state_size (const struct crash_log *cl,
                                  const struct cm_model *m,
                                  const uint8_t *set,
                                  const struct cm_torn *torn);

/* Sets the length of each file of F (fd >= 0) to SIZE.  -1 (errno). */
struct crash_files;
extern int crash_files_resize (const struct crash_files *f, uint64_t size);

/* The log position (index of the request record) that SPEC names:
 * "ID" or "id:ID" (a request id), "flush:N" (the N-th successful
 * flush, from 1), "end" (the last request), "mark:NAME" or a bare NAME
 * that is not a number nor "end" (the first mark of that name: the
 * position of the last request before it).  A mark with no request
 * before it names no position (-1), except for FROM (then 0: the
 * range starts at the log's start).  -1 with a message in WHY.
 */
extern int crash_point_pos (const struct blklog_log *log, const char *spec,
                            int from, size_t *pos, char *why, size_t whylen);

/* The first mark of LOG named NAME, or NULL. */
extern const struct blklog_mark *crash_find_mark (const struct blklog_log *log,
                                                  const char *name);
/* The last mark at or before log position POS (its seq <= POS + 1), or
 * NULL: the nearest preceding mark of a point.
 */
extern const struct blklog_mark *crash_mark_before (const struct blklog_log *log,
                                                    size_t pos);

/* blkreplay run --until=SPEC: keeps the requests of LOG up to the
 * point SPEC names, in log (completion) order: a prefix that holds
 * everything each kept request waited for.  -1 after printing the
 * error.
 */
extern int crash_until (struct tl_log *log, const char *spec);

/* An image file: the base read through base_pread (zeroes past its
 * end), states written to one or two files.
 */
struct crash_files {
  int base_fd;
  uint64_t base_size;
  int fd[2];                    /* the state is written to each >= 0 */
};
extern int crash_base_pread (void *opaque, void *buf, size_t len,
                             uint64_t off);
extern int crash_pwrite (void *opaque, const void *buf, size_t len,
                         uint64_t off);

/* Opens BASE (converting a qcow2 BASE to DIR/base.raw with qemu-img
 * when FORMAT is "qcow2").  -1 after printing the error.
 */
extern int crash_open_base (struct crash_files *f, const char *base,
                            const char *format, const char *dir,
                            const struct crash_log *cl);
/* Creates PATH as a sparse copy of the base, SIZE bytes.  -1 after
 * printing the error; otherwise the open fd.
 */
extern int crash_copy_base (const struct crash_files *f, const char *path,
                            uint64_t size);
/* Makes DST (open as DFD) hold the same bytes as SFD, SIZE bytes,
 * writing only the chunks that differ.  -1 on error (errno set).
 */
extern int crash_sync_file (int sfd, int dfd, uint64_t size,
                            uint64_t *written);

#endif
