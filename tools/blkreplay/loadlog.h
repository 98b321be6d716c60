/* SPDX-License-Identifier: BSD-3-Clause */
/* blkreplay tool: loading a whole log, with the tool's messages
 * (loadlog.c).  The loader itself is common/blklog's blklog_load.
 */
#ifndef BLKREPLAY_TOOL_LOADLOG_H
#define BLKREPLAY_TOOL_LOADLOG_H

#include <stddef.h>
#include <stdint.h>

#include "replaylog.h"

/* The tool's earlier names of the loader's types, for code written
 * against them; new code uses the blklog_ names.
 */
#define tl_log blklog_log
#define tl_conn blklog_conn
#define tl_req blklog_req

/* Loads PATH with blklog_load.  A truncated log loads its whole
 * records and prints a note on stderr; a corrupt one is an error.
 * -1 after printing the error (prefixed with the program name).
 */
extern int tl_load (struct blklog_log *log, const char *path);
extern void tl_free (struct blklog_log *log);

/* What a log was imported from ("fio iolog", "blkparse"), from its
 * header's creator, or NULL for a recorded log.  Imported logs hold no
 * payloads because their sources have none, not because someone chose
 * blkreplay-data=none: the tool says which.
 */
extern const char *tl_imported_from (const struct blklog_header *h);
/* The same for a sentence: "a fio iolog", "blkparse output", NULL. */
extern const char *tl_imported_desc (const struct blklog_header *h);

/* Human-readable sizes and durations, into BUF. */
extern const char *tl_size (uint64_t bytes, char *buf, size_t len);
extern const char *tl_dur (uint64_t ns, char *buf, size_t len);

#endif
