/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: blkdebug rules and their parsers (pure, no nbdkit calls).
 *
 * Two sources of rules share one attribute parser:
 * - QEMU's rule files (bd_parse_config): "[inject-error]" and
 *   "[set-state]" sections of `key = "value"` lines, read exactly as
 *   QEMU 7.2 reads them, except that where QEMU silently misreads a
 *   line (unquoted values, `key="v"`, dotted event names, indented
 *   comments) we refuse it with the line number and a fix;
 * - inline rules (bd_parse_inline): "event=write_aio,errno=ENOSPC".
 *
 * Nothing here is shared between threads: the engine owns the rules
 * once parsed.
 */
#ifndef NBDKIT_BLK_BLKDEBUG_RULES_H
#define NBDKIT_BLK_BLKDEBUG_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vector.h"

/* QEMU's BlkdebugIOType, same names and order. */
enum bd_iotype {
  BD_IO_READ,
  BD_IO_WRITE,
  BD_IO_WRITE_ZEROES,
  BD_IO_DISCARD,
  BD_IO_FLUSH,
  BD_IO_BLOCK_STATUS,
  BD_IO__MAX
};

/* QEMU's default when iotype= is absent: everything but block-status. */
#define BD_IOMASK_DEFAULT                                               \
  ((1u << BD_IO_READ) | (1u << BD_IO_WRITE) |                           \
   (1u << BD_IO_WRITE_ZEROES) | (1u << BD_IO_DISCARD) | (1u << BD_IO_FLUSH))

enum bd_action {
  BD_INJECT,            /* [inject-error] / blkdebug-inject= */
  BD_SET_STATE,         /* [set-state] / blkdebug-set-state= */
  BD_SUSPEND,           /* a breakpoint (control socket: break) */
};

struct bd_rule {
  unsigned id;                  /* 1, 2, ... assigned by the engine */
  enum bd_action action;
  int event;                    /* enum blk_hook_event */
  int state;                    /* 0: any state */
  char origin[96];              /* "rules.cfg:12", "blkdebug-inject #2" */

  /* set-state */
  int new_state;

  /* suspend */
  char *tag;

  /* inject-error: QEMU's attributes */
  uint32_t iotype_mask;
  int error;                    /* errno; 0 = match but do not fail */
  bool error_set;               /* errno= given explicitly */
  bool once;
  bool immediately;             /* accepted; no observable effect here */
  int64_t sector_offset;        /* byte offset of sector=, -1 if none */

  /* inject-error: beyond QEMU */
  uint64_t offset, length;      /* byte range; length 0: no range */
  uint64_t prob;                /* fires with probability prob / 2^32 */
  bool has_prob;
  uint64_t after;               /* skip the first AFTER matches */
  uint64_t count;               /* fire at most COUNT times (0: no limit) */
  uint64_t delay_ns;            /* sleep before the outcome */
  uint32_t corrupt;             /* reads: flip this many bits */
  uint64_t torn;                /* writes: write this many bytes, fail */
  bool has_torn;
  uint64_t seed;
  bool has_seed;

  /* The first attribute that QEMU's blkdebug rule syntax lacks (for
   * blkdebug-strict=qemu), "" if none, and its line in a rule file
   * (0: an inline rule, or not from a file).
   */
  char ext_key[24];
  unsigned ext_line;

  /* Run-time, owned by the engine (under its lock). */
  uint64_t matches;             /* requests that matched (before after=) */
  uint64_t fired;               /* times the action was taken */
  /* Injection log rate limit (engine.h: bd_log_admit). */
  uint64_t log_sec;             /* the second of the current window */
  uint32_t log_n;               /* lines logged in that second */
  uint64_t log_suppressed;      /* injections not logged since */
  uint64_t rng;                 /* xorshift state */
  bool removed;
};

/* Rules in definition order (ptr[0 .. len-1]), owned by the list. */
DEFINE_VECTOR_TYPE (bd_rule_list, struct bd_rule *);

extern const char *const bd_iotype_names[BD_IO__MAX];

/* Event names: the hook's list (QEMU's BlkdebugEvent plus ours). */
extern int bd_event_lookup (const char *name);
extern const char *bd_event_name (int ev);

/* Does the filter itself raise EV in blkdebug-layer=client?  Plugin
 * events (l2_load, ...) are not seen there: QEMU's raw format over
 * blkdebug never raises them either.
 */
extern bool bd_event_client_raised (int ev);

/* Can a rule on EV added to the layer (CLIENT or backend) ever fire?
 * 0, or -1 with the reason in WHY.  "none" is raised once, at start-up,
 * so AT_RUNTIME rules on it never fire.
 */
extern int bd_event_usable (int ev, bool client, bool at_runtime,
                            char *why, size_t whylen);

/* errno by number ("28") or name ("ENOSPC").  -1 if unknown. */
extern int bd_errno_parse (const char *s);
extern const char *bd_errno_name (int err);

extern struct bd_rule *bd_rule_new (enum bd_action action, const char *origin);
extern void bd_rule_free (struct bd_rule *r);

/* Set one attribute.  Returns 0, or -1 with a message in WHY. */
extern int bd_rule_set (struct bd_rule *r, const char *key, const char *value,
                        char *why, size_t whylen);
/* Check a complete rule (event given, attributes consistent). */
extern int bd_rule_finish (struct bd_rule *r, char *why, size_t whylen);

/* "event=write_aio,errno=ENOSPC,once=on".  ORIGIN names the source in
 * messages.  Returns a new rule, or NULL with a message in WHY.
 */
extern struct bd_rule *bd_parse_inline (enum bd_action action,
                                        const char *text, const char *origin,
                                        char *why, size_t whylen);

/* A whole QEMU rule file held in TEXT (LEN bytes, may hold NULs, which
 * are refused).  Appends the rules to LIST in file order.  Returns 0,
 * or -1 with "FILENAME:LINE: message" in WHY (LIST is then unchanged).
 */
extern int bd_parse_config (const char *text, size_t len,
                            const char *filename, bd_rule_list *list,
                            char *why, size_t whylen);

extern void bd_list_free (bd_rule_list *list);

/* blkdebug-strict=qemu: is R written in QEMU 7.2's blkdebug rule
 * syntax?  0, or -1 with "ORIGIN[:LINE]: option 'KEY' is not ..." in
 * WHY.
 */
extern int bd_rule_check_qemu (const struct bd_rule *r, char *why,
                               size_t whylen);

/* One line describing R (for "rules" and the exit report). */
extern void bd_rule_describe (const struct bd_rule *r, char *buf, size_t len);

#endif /* NBDKIT_BLK_BLKDEBUG_RULES_H */
