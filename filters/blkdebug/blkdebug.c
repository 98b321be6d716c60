/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: nbdkit-blkdebug-filter.so, QEMU-compatible error
 * injection with breakpoints and run-time control.
 *
 * Files: rules.c (parsers), engine.c (QEMU's state machine),
 * control-cmds.c (control commands, served by common/control), this
 * file (nbdkit glue).
 *
 * Thread model: parallel (the filter adds no restriction).  Shared
 * state and what guards it:
 * - configuration globals: written in .config/.config_complete only,
 *   read-only afterwards;
 * - the engine (rules, armed set, state, suspended requests): its own
 *   mutex, see engine.h;
 * - the dirty flags (QEMU's flush elision): atomics, see below;
 * - the control socket: the control library's own lock; ctl itself is
 *   set in .config_complete and freed in .unload.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-filter.h>

#include "blk-hook.h"
#include "cleanup.h"
#include "control-cmds.h"
#include "engine.h"
#include "enum-param.h"
#include "rules.h"
#include "vector.h"

/* -D blkdebug.rules=1: list every rule with its counters at exit. */
NBDKIT_DLL_PUBLIC int blkdebug_debug_rules = 0;

/* Configuration (read-only after .config_complete). */
static bd_rule_list pending = empty_vector; /* in command-line order */
static unsigned ninline;
static uint64_t seed = 1;
static int backend_layer;               /* blkdebug-layer=backend */
static int strict_qemu;                 /* blkdebug-strict=qemu */
static char *control_path;
static uint32_t align, max_transfer;
static uint32_t opt_write_zero, max_write_zero, opt_discard, max_discard;

static struct bd_engine *engine;
static struct blk_ctl *ctl;             /* with blkdebug-control= */
static int hook_handle = -1;

/* Backend layer: set (once, relaxed) when the plugin reported anything
 * through the hook; without it no rule can fire, which .close warns
 * about once (warned).  Rules configured at start-up: nrules.
 */
static bool hook_seen;
static bool warned;
static size_t nrules;

/* QEMU skips parts of a flush when nothing was written since the last
 * successful one, judged per node by a write generation: the raw
 * format node above blkdebug decides whether flush_to_disk is raised,
 * blkdebug's own node whether flush rules are judged.  The two differ
 * after a FUA write: QEMU emulates its flush on the raw node before the
 * raw node counts the write (blkdebug has already counted it).
 *
 * Here a bit per node says "written since the last flush": a write
 * sets it, and only if it is clear, so a stream of writes between two
 * flushes only reads a shared cache line (counters cost two locked
 * adds per write, and moved the line between the worker threads).  A
 * flush takes the bits with an atomic exchange when it starts and sets
 * them again if it fails.  A write that completes while a flush runs
 * may leave its bit set although the flush covered it: the next flush
 * then raises flush_to_disk, as the generations did.  Of two
 * concurrent flushes the second sees what the first left, as in QEMU
 * (which runs a node's flushes one at a time).
 */
#define DIRTY_RAW 1u
#define DIRTY_BD 2u
static unsigned char dirty;

static inline void
mark_dirty (unsigned bits)
{
  if ((__atomic_load_n (&dirty, __ATOMIC_RELAXED) & bits) != bits)
    __atomic_fetch_or (&dirty, (unsigned char) bits, __ATOMIC_RELAXED);
}

/* ---- configuration ---- */

DEFINE_VECTOR_TYPE (char_vector, char);

/* Rule files are small; a larger file is a wrong path, not rules. */
#define MAX_RULE_FILE (16 * 1024 * 1024)

static int
read_file (const char *key, const char *path, char **text, size_t *len)
{
  CLEANUP_FCLOSE FILE *fp = fopen (path, "r");
  char_vector buf = empty_vector;
  size_t r;

  if (fp == NULL) {
    nbdkit_error ("%s: cannot open '%s': %m", key, path);
    return -1;
  }
  do {
    if (buf.len >= MAX_RULE_FILE || char_vector_reserve (&buf, 4096) == -1) {
      nbdkit_error ("%s: '%s' is too large for a rule file", key, path);
      char_vector_reset (&buf);
      return -1;
    }
    r = fread (buf.ptr + buf.len, 1, buf.cap - buf.len, fp);
    buf.len += r;
  } while (r > 0);
  if (ferror (fp)) {
    nbdkit_error ("%s: cannot read '%s': %m", key, path);
    char_vector_reset (&buf);
    return -1;
  }
  *text = buf.ptr;
  *len = buf.len;
  return 0;
}

static int
parse_u32 (const char *key, const char *value, uint32_t *out, int pow2)
{
  int64_t v = nbdkit_parse_size (value);

  if (v == -1)
    return -1;
  if (v < 1 || v > UINT32_MAX) {
    nbdkit_error ("%s: '%s' is out of range (1 .. 4G-1)", key, value);
    return -1;
  }
  if (pow2 && (v & (v - 1))) {
    nbdkit_error ("%s: '%s' is not a power of two", key, value);
    return -1;
  }
  *out = (uint32_t) v;
  return 0;
}

static int
blkdebug_config (nbdkit_next_config *next, nbdkit_backend *nxdata,
                 const char *key, const char *value)
{
  char why[512], origin[64];

  if (strcmp (key, "blkdebug-config") == 0) {
    CLEANUP_FREE char *text = NULL;
    size_t len;
    if (read_file (key, value, &text, &len) == -1)
      return -1;
    if (bd_parse_config (text, len, value, &pending, why, sizeof why) == -1) {
      nbdkit_error ("%s: %s", key, why);
      return -1;
    }
    return 0;
  }
  if (strcmp (key, "blkdebug-inject") == 0 ||
      strcmp (key, "blkdebug-set-state") == 0) {
    enum bd_action act = key[9] == 'i' ? BD_INJECT : BD_SET_STATE;
    struct bd_rule *r;
    snprintf (origin, sizeof origin, "%s #%u", key, ++ninline);
    r = bd_parse_inline (act, value, origin, why, sizeof why);
    if (r == NULL) {
      nbdkit_error ("%s: cannot parse '%s': %s", key, value, why);
      return -1;
    }
    if (bd_rule_list_append (&pending, r) == -1) {
      bd_rule_free (r);
      nbdkit_error ("%s: out of memory", key);
      return -1;
    }
    return 0;
  }
  if (strcmp (key, "blkdebug-seed") == 0) {
    if (nbdkit_parse_uint64_t (key, value, &seed) == -1)
      return -1;
    return 0;
  }
  if (strcmp (key, "blkdebug-layer") == 0) {
    static const struct blk_enum_name layers[] = {
      { "client", 0 }, { "backend", 1 }, { NULL, 0 }
    };
    if (blk_parse_enum (key, value, layers, &backend_layer,
                        why, sizeof why) == -1) {
      nbdkit_error ("%s", why);
      return -1;
    }
    return 0;
  }
  if (strcmp (key, "blkdebug-strict") == 0) {
    static const struct blk_enum_name modes[] = {
      { "none", 0 }, { "qemu", 1 }, { NULL, 0 }
    };
    if (blk_parse_enum (key, value, modes, &strict_qemu,
                        why, sizeof why) == -1) {
      nbdkit_error ("%s", why);
      return -1;
    }
    return 0;
  }
  if (strcmp (key, "blkdebug-control") == 0) {
    free (control_path);
    control_path = nbdkit_absolute_path (value);
    return control_path ? 0 : -1;
  }
  if (strcmp (key, "blkdebug-align") == 0)
    return parse_u32 (key, value, &align, 1);
  if (strcmp (key, "blkdebug-max-transfer") == 0)
    return parse_u32 (key, value, &max_transfer, 0);
  if (strcmp (key, "blkdebug-opt-write-zero") == 0)
    return parse_u32 (key, value, &opt_write_zero, 0);
  if (strcmp (key, "blkdebug-max-write-zero") == 0)
    return parse_u32 (key, value, &max_write_zero, 0);
  if (strcmp (key, "blkdebug-opt-discard") == 0)
    return parse_u32 (key, value, &opt_discard, 0);
  if (strcmp (key, "blkdebug-max-discard") == 0)
    return parse_u32 (key, value, &max_discard, 0);
  if (strncmp (key, "blkdebug-", 9) == 0) {
    nbdkit_error ("%s: unknown blkdebug parameter (see "
                  "nbdkit-blkdebug-filter(1))", key);
    return -1;
  }
  return next (nxdata, key, value);
}

/* nbdkit loads a module once per process: --filter=blkdebug given
 * twice makes two layers that share every global above (one engine,
 * one control socket, events raised twice).  .load runs once per
 * layer, before any other callback, so count them and refuse.
 */
static unsigned nloads;

static void
blkdebug_load (void)
{
  nloads++;
}

static int
blkdebug_config_complete (nbdkit_next_config_complete *next,
                          nbdkit_backend *nxdata)
{
  size_t i;

  if (nloads > 1) {
    nbdkit_error ("blkdebug: the filter is stacked %u times "
                  "(--filter=blkdebug given more than once); nbdkit "
                  "loads a filter once per process, so the layers would "
                  "share one set of rules, state and control socket: "
                  "give --filter=blkdebug once", nloads);
    return -1;
  }

  if (align && align > 65536) {
    nbdkit_error ("blkdebug-align: %" PRIu32 " is more than NBD can "
                  "advertise (64K)", align);
    return -1;
  }
  if (max_transfer && align && max_transfer % align) {
    nbdkit_error ("blkdebug-max-transfer: %" PRIu32 " is not a multiple of "
                  "blkdebug-align=%" PRIu32, max_transfer, align);
    return -1;
  }
  if (max_write_zero && opt_write_zero && max_write_zero < opt_write_zero) {
    nbdkit_error ("blkdebug-max-write-zero is below blkdebug-opt-write-zero");
    return -1;
  }
  if (max_discard && opt_discard && max_discard < opt_discard) {
    nbdkit_error ("blkdebug-max-discard is below blkdebug-opt-discard");
    return -1;
  }

  /* In the client layer, only the filter's own events are raised: a
   * rule on a plugin event could never fire, so refuse it now.
   */
  for (i = 0; i < pending.len; i++) {
    char why[512];
    /* Checked here, not while parsing: blkdebug-strict= may come after
     * the rules on the command line.
     */
    if (strict_qemu &&
        bd_rule_check_qemu (pending.ptr[i], why, sizeof why) == -1) {
      nbdkit_error ("%s", why);
      return -1;
    }
    if (bd_event_usable (pending.ptr[i]->event, !backend_layer, false,
                         why, sizeof why) == -1) {
      nbdkit_error ("%s: %s", pending.ptr[i]->origin, why);
      return -1;
    }
  }
  nrules = pending.len;
  bd_control_set_layer (!backend_layer);
  bd_control_set_strict (strict_qemu);

  engine = bd_engine_new (seed);
  if (engine == NULL) {
    nbdkit_error ("blkdebug: out of memory");
    return -1;
  }
  for (i = 0; i < pending.len; i++)
    if (bd_engine_add (engine, pending.ptr[i]) < 0) {
      /* The engine owns (or freed) rules 0..i; free the rest. */
      for (i++; i < pending.len; i++)
        bd_rule_free (pending.ptr[i]);
      pending.len = 0;
      nbdkit_error ("blkdebug: out of memory");
      return -1;
    }
  bd_rule_list_reset (&pending);
  if (control_path && (ctl = bd_control_new (engine)) == NULL) {
    nbdkit_error ("blkdebug: out of memory");
    return -1;
  }
  return next (nxdata);
}

#define blkdebug_config_help \
  "blkdebug-config=FILE          QEMU blkdebug rule file.\n" \
  "blkdebug-inject=RULE          event=E[,errno=N][,iotype=T][,sector=S]...\n" \
  "blkdebug-set-state=RULE       event=E,state=N,new_state=M\n" \
  "blkdebug-control=PATH         Control socket (break/resume/inject...).\n" \
  "blkdebug-layer=client|backend Where rules fail I/O (default client).\n" \
  "blkdebug-seed=N               Seed for probability= and corrupt=.\n" \
  "blkdebug-strict=qemu          Refuse rules QEMU's blkdebug cannot read.\n" \
  "blkdebug-align=, -max-transfer=, -opt-write-zero=, -max-write-zero=,\n" \
  "blkdebug-opt-discard=, -max-discard=  QEMU's request limits."

/* ---- the hook: events and backend I/O of the plugin ---- */

static int
hook_alive (void)
{
  /* Ends early (and fails) when nbdkit shuts down or the client left. */
  return nbdkit_nanosleep (0, 1000) == 0;
}

static inline void
note_hook_seen (void)
{
  if (!__atomic_load_n (&hook_seen, __ATOMIC_RELAXED))
    __atomic_store_n (&hook_seen, true, __ATOMIC_RELAXED);
}

/* Subscribed only in the backend layer: the client layer raises its
 * own events, as QEMU's raw format over blkdebug does, whatever the
 * plugin below reports.
 */
static void
blkdebug_hook_event (void *opaque, enum blk_hook_event ev)
{
  note_hook_seen ();
  bd_engine_event (engine, (int) ev);
}

static const int op_iotype[BLK_IO__MAX] = {
  [BLK_IO_READ] = BD_IO_READ, [BLK_IO_WRITE] = BD_IO_WRITE,
  [BLK_IO_ZERO] = BD_IO_WRITE_ZEROES, [BLK_IO_TRIM] = BD_IO_DISCARD,
  [BLK_IO_FLUSH] = BD_IO_FLUSH, [BLK_IO_EXTENTS] = BD_IO_BLOCK_STATUS,
  [BLK_IO_CACHE] = -1,
};

/* Log a fired rule (O) on the request OP OFFSET+COUNT in LAYER.  Only
 * called once a rule fired, so the no-match path does not pay for it.
 *
 * Level: a request that fails, or whose data is damaged, is logged
 * with nbdkit_error (as nbdkit's error filter does): without -v that is
 * the only way to tell an injected EIO from real disk trouble in the
 * server's log, and the text starts with "blkdebug: injected" so that
 * no one takes it for one.  A rule that only delays is nbdkit_debug
 * (-v): a slow request is not a failure.  Rate limit: engine.h.
 */
static void
log_injection (const char *op, uint64_t offset, uint64_t count,
               const char *layer, const struct bd_outcome *o)
{
  char what[96], more[96] = "";
  const char *en;
  size_t n = 0;

  if (!o->log)
    return;
  if (o->error) {
    en = bd_errno_name (o->error);
    if (en)
      n += snprintf (what + n, sizeof what - n, "%s", en);
    else
      n += snprintf (what + n, sizeof what - n, "errno %d", o->error);
  }
  if (o->torn && n < sizeof what)
    n += snprintf (what + n, sizeof what - n, "%storn write after %" PRIu64
                   " bytes", n ? ", " : "", o->torn_bytes);
  if (o->corrupt && n < sizeof what)
    n += snprintf (what + n, sizeof what - n, "%s%" PRIu32 " flipped bits",
                   n ? ", " : "", o->corrupt);
  if (o->delay_ns && n < sizeof what)
    n += snprintf (what + n, sizeof what - n, "%sdelay %" PRIu64 ".%03" PRIu64
                   "s", n ? ", " : "", o->delay_ns / 1000000000u,
                   o->delay_ns / 1000000u % 1000u);
  if (o->log_suppressed)
    snprintf (more, sizeof more, " (%" PRIu64 " earlier injections of this "
              "rule not logged: rate limit)", o->log_suppressed);

#define LOG_ARGS                                                          "blkdebug: injected %s into %s offset=%" PRIu64 " count=%" PRIu64       " layer=%s: rule %u (%s), fired %" PRIu64 "%s",                           what, op, offset, count, layer, o->rule_id, o->origin, o->fired, more
  if (o->error || o->corrupt || o->torn)
    nbdkit_error (LOG_ARGS);
  else
    nbdkit_debug (LOG_ARGS);
#undef LOG_ARGS
}

static int
blkdebug_hook_io_begin (void *opaque, struct blk_hook_io *io)
{
  struct bd_outcome o;
  int t;

  note_hook_seen ();
  if ((unsigned) io->op >= BLK_IO__MAX || (t = op_iotype[io->op]) < 0)
    return 0;
  if (!bd_engine_check (engine, (enum bd_iotype) t, io->offset,
                        io->op == BLK_IO_FLUSH ? 0 : io->length, &o))
    return 0;
  log_injection (bd_iotype_names[t], io->offset, io->length,
                 io->layer ? io->layer : "backend", &o);
  if (o.delay_ns &&
      nbdkit_nanosleep ((unsigned) (o.delay_ns / 1000000000u),
                        (unsigned) (o.delay_ns % 1000000000u)) == -1)
    return ESHUTDOWN;
  /* corrupt= and torn= need the data: only on client requests. */
  return o.error;
}

/* ---- lifecycle ---- */

static int
blkdebug_get_ready (int thread_model)
{
  struct blk_hook_subscriber sub = {
    .name = "blkdebug",
    .event = blkdebug_hook_event,
    .io_begin = blkdebug_hook_io_begin,
    /* Before the observers: latency and blkreplay see the outcome. */
    .role = BLK_HOOK_INJECTOR,
  };

  bd_engine_set_alive_cb (engine, hook_alive);
  if (backend_layer) {
    hook_handle = blk_hook_subscribe (&sub);
    if (hook_handle == -1) {
      nbdkit_error ("blkdebug-layer=backend: the nbdkit-blk hook has no "
                    "free subscriber slot (%d in use), so the plugin's "
                    "events and I/O would not be seen",
                    BLK_HOOK_MAX_SUBSCRIBERS);
      return -1;
    }
  }
  if (ctl && blk_ctl_listen (ctl, control_path) == -1) {
    nbdkit_error ("blkdebug-control: cannot listen on '%s': %m",
                  control_path);
    return -1;
  }
  /* QEMU raises "none" once, when the blkdebug node is created. */
  bd_engine_event (engine, BLK_EV_NONE);
  return 0;
}

static int
blkdebug_after_fork (nbdkit_backend *nxdata)
{
  if (ctl && blk_ctl_start (ctl) == -1) {
    nbdkit_error ("blkdebug-control: cannot start the control thread: %m");
    return -1;
  }
  return 0;
}

/* Whether the plugin reports through the hook is known only once it
 * ran: warn after the first connection that saw nothing.
 */
static void
blkdebug_close (void *handle)
{
  if (backend_layer && (nrules || control_path) &&
      !__atomic_load_n (&hook_seen, __ATOMIC_RELAXED) &&
      !__atomic_exchange_n (&warned, true, __ATOMIC_RELAXED))
    nbdkit_error ("blkdebug: warning: blkdebug-layer=backend, but the "
                  "plugin reported no event and no I/O through the "
                  "nbdkit-blk hook during this connection: it does not "
                  "use the hook (only nbdkit-blk plugins such as qcow2 "
                  "do), so no rule can fire; use blkdebug-layer=client");
}

static void
blkdebug_cleanup (nbdkit_backend *nxdata)
{
  /* Releases wait_break callers, so the connections can end. */
  if (engine)
    bd_engine_shutdown (engine);
  if (ctl)
    blk_ctl_stop (ctl);
}

/* Runs once per layer: with the filter stacked twice (refused in
 * .config_complete) the second call must find everything released.
 */
static void
blkdebug_unload (void)
{
  if (hook_handle >= 0)
    blk_hook_unsubscribe (hook_handle);
  hook_handle = -1;
  if (engine)
    bd_engine_shutdown (engine);
  blk_ctl_free (ctl);
  ctl = NULL;
  if (engine && blkdebug_debug_rules) {
    unsigned n;
    char *text = bd_engine_list (engine, true, &n), *line, *save = NULL;
    if (text) {
      fprintf (stderr, "nbdkit: blkdebug: %u rules at exit\n", n);
      for (line = strtok_r (text, "\n", &save); line;
           line = strtok_r (NULL, "\n", &save))
        fprintf (stderr, "nbdkit: blkdebug: rule %s\n", line);
      free (text);
    }
  }
  bd_engine_free (engine);
  engine = NULL;
  bd_list_free (&pending);
  free (control_path);
  control_path = NULL;
}

/* ---- block size (QEMU's align / max-transfer) ---- */

static int
blkdebug_block_size (nbdkit_next *next, void *handle, uint32_t *minimum,
                     uint32_t *preferred, uint32_t *maximum)
{
  if (next->block_size (next, minimum, preferred, maximum) == -1)
    return -1;
  if (align == 0 && max_transfer == 0)
    return 0;
  if (*minimum == 0) {
    *minimum = 1;
    *preferred = 4096;
    *maximum = 0xffffffff;
  }
  if (align > *minimum)
    *minimum = align;
  if (*preferred < *minimum)
    *preferred = *minimum;
  if (max_transfer && max_transfer < *maximum)
    *maximum = max_transfer;
  if (*maximum < *preferred)
    *preferred = *minimum;
  *maximum -= *maximum % *minimum;
  return 0;
}

/* ---- the request path ---- */

#define RAISE(ev)                                                       \
  do {                                                                  \
    if (bd_engine_event (engine, (ev)) == -1) {                         \
      *err = ESHUTDOWN;                                                 \
      return -1;                                                        \
    }                                                                   \
  } while (0)

/* Judge a client request; returns -1 (with *err) if it must fail now,
 * 1 if O holds an action the caller applies (corrupt, torn), else 0.
 * The no-match path is judge(), inline (a few loads); the rest is out
 * of line so that callers need no stack frame for it.
 */
static int __attribute__ ((noinline))
judge_slow (enum bd_iotype t, uint64_t offset, uint64_t length,
            struct bd_outcome *o, int *err)
{
  if (!bd_engine_check_slow (engine, t, offset, length, o))
    return 0;
  log_injection (bd_iotype_names[t], offset, length, "client", o);
  if (o->delay_ns &&
      nbdkit_nanosleep ((unsigned) (o->delay_ns / 1000000000u),
                        (unsigned) (o->delay_ns % 1000000000u)) == -1) {
    *err = ESHUTDOWN;
    return -1;
  }
  if (o->torn || o->corrupt)
    return 1;
  if (o->error) {
    *err = o->error;
    return -1;
  }
  return 0;
}

static inline int
judge (enum bd_iotype t, uint64_t offset, uint64_t length,
       struct bd_outcome *o, int *err)
{
  if (backend_layer || !bd_engine_may_match (engine, t, offset, length))
    return 0;
  return judge_slow (t, offset, length, o, err);
}

/* The flush of the raw node (TAKEN: the dirty bits it took when it
 * began) up to the point where the data would be flushed.
 */
static int
flush_begin (unsigned taken, int *err)
{
  struct bd_outcome o;

  RAISE (BLK_EV_FLUSH_TO_OS);
  if (taken & DIRTY_RAW)
    RAISE (BLK_EV_FLUSH_TO_DISK);
  if ((taken & DIRTY_BD) && judge (BD_IO_FLUSH, 0, 0, &o, err) == -1)
    return -1;
  return 0;
}

/* A flush that took the dirty bits TAKEN failed: they are still
 * unflushed.
 */
static void
flush_failed (unsigned taken)
{
  if (taken)
    mark_dirty (taken);
}

/* The general case of write_done: pwritev_done judged under the lock,
 * or QEMU's flush for a FUA write.
 */
static int __attribute__ ((noinline))
write_done_slow (int r, uint32_t flags, int *err)
{
  mark_dirty (DIRTY_BD);
  if (bd_engine_event (engine, BLK_EV_PWRITEV_DONE) == -1 && r == 0) {
    *err = ESHUTDOWN;
    r = -1;
  }
  if (r == 0 && (flags & NBDKIT_FLAG_FUA)) {
    unsigned taken = __atomic_exchange_n (&dirty, 0, __ATOMIC_RELAXED);
    /* The plugin made the data durable (FUA was passed down). */
    if (flush_begin (taken, err) == -1) {
      flush_failed (taken);
      r = -1;
    }
  }
  /* The raw node counts the write last (see dirty above). */
  mark_dirty (DIRTY_RAW);
  return r;
}

/* After a write or zero (R: its result so far): pwritev_done, the
 * dirty bits, and QEMU's flush for FUA.  Returns the final result.
 */
static inline int
write_done (int r, uint32_t flags, int *err)
{
  /* Without FUA, and with pwritev_done raised lock-free (it cannot
   * suspend us between the two nodes' counts), both bits at once.
   */
  if (!(flags & NBDKIT_FLAG_FUA) &&
      bd_engine_event_fast (engine, BLK_EV_PWRITEV_DONE)) {
    mark_dirty (DIRTY_RAW | DIRTY_BD);
    return r;
  }
  return write_done_slow (r, flags, err);
}

/* A read whose event needs the lock (RAISE) or that a rule may match:
 * out of line, so that blkdebug_pread needs no stack frame.
 */
static int __attribute__ ((noinline))
pread_slow (nbdkit_next *next, void *buf, uint32_t count, uint64_t offset,
            uint32_t flags, int *err, bool raise)
{
  struct bd_outcome o;
  int j;

  if (raise)
    RAISE (BLK_EV_READ_AIO);
  j = judge (BD_IO_READ, offset, count, &o, err);
  if (j == -1)
    return -1;
  if (next->pread (next, buf, count, offset, flags, err) == -1)
    return -1;
  if (j == 1 && o.corrupt)
    bd_corrupt (buf, count, o.corrupt, o.corrupt_seed);
  return 0;
}

static int
blkdebug_pread (nbdkit_next *next, void *handle, void *buf, uint32_t count,
                uint64_t offset, uint32_t flags, int *err)
{
  int m;

  if (!backend_layer &&
      (m = bd_engine_event_in_bounds (engine, BLK_EV_READ_AIO, BD_IO_READ,
                                      offset, count)) != 0)
    return pread_slow (next, buf, count, offset, flags, err, m == -1);
  return next->pread (next, buf, count, offset, flags, err);
}

/* A write whose events need the lock or that a rule may match: out of
 * line, see pread_slow.  RAISED: how many of its two events
 * blkdebug_pwrite raised already.
 */
static int __attribute__ ((noinline))
pwrite_slow (nbdkit_next *next, const void *buf, uint32_t count,
             uint64_t offset, uint32_t flags, int *err, int raised)
{
  struct bd_outcome o;
  int j, r;

  if (raised < 1)
    RAISE (BLK_EV_WRITE_AIO);
  if (raised < 2)
    RAISE (BLK_EV_PWRITEV);
  j = judge (BD_IO_WRITE, offset, count, &o, err);
  if (j == 1 && o.torn) {
    /* A torn write: the head reaches the disk, then the error. */
    if (o.torn_bytes &&
        next->pwrite (next, buf, (uint32_t) o.torn_bytes, offset, flags,
                      err) == -1)
      r = -1;
    else {
      *err = o.error;
      r = -1;
    }
  }
  else if (j == -1)
    r = -1;
  else
    r = next->pwrite (next, buf, count, offset, flags, err);
  return write_done (r, flags, err);
}

static int
blkdebug_pwrite (nbdkit_next *next, void *handle, const void *buf,
                 uint32_t count, uint64_t offset, uint32_t flags, int *err)
{
  int m, r;

  if (backend_layer)
    return next->pwrite (next, buf, count, offset, flags, err);
  if (!bd_engine_event_fast (engine, BLK_EV_WRITE_AIO))
    return pwrite_slow (next, buf, count, offset, flags, err, 0);
  m = bd_engine_event_in_bounds (engine, BLK_EV_PWRITEV, BD_IO_WRITE,
                                 offset, count);
  if (m != 0)
    return pwrite_slow (next, buf, count, offset, flags, err, m == -1 ? 1 : 2);
  r = next->pwrite (next, buf, count, offset, flags, err);
  return write_done (r, flags, err);
}

static int
blkdebug_zero (nbdkit_next *next, void *handle, uint32_t count,
               uint64_t offset, uint32_t flags, int *err)
{
  struct bd_outcome o;
  int r = 0;

  if (!backend_layer) {
    RAISE (BLK_EV_ZERO_AIO);
    RAISE (BLK_EV_PWRITEV_ZERO);
  }
  /* QEMU's blkdebug refuses zeroing below its optimum size with
   * ENOTSUP and the block layer falls back to writing zeroes, which
   * blkdebug then judges as a write.  nbdkit lets a filter return
   * ENOTSUP only for fast zero requests, so the fallback is here.
   */
  if (opt_write_zero && count < opt_write_zero) {
    if (flags & NBDKIT_FLAG_FAST_ZERO) {
      *err = ENOTSUP;
      r = -1;
    }
    else if (judge (BD_IO_WRITE, offset, count, &o, err) == -1)
      r = -1;
    else {
      CLEANUP_FREE void *zeroes = calloc (1, count);
      if (zeroes == NULL) {
        *err = ENOMEM;
        r = -1;
      }
      else
        r = next->pwrite (next, zeroes, count, offset,
                          flags & NBDKIT_FLAG_FUA, err);
    }
  }
  else if (judge (BD_IO_WRITE_ZEROES, offset, count, &o, err) == -1)
    r = -1;
  else {
    while (count > 0 && r == 0) {
      uint32_t n = max_write_zero && count > max_write_zero
        ? max_write_zero : count;
      r = next->zero (next, n, offset, flags, err);
      count -= n;
      offset += n;
    }
  }
  if (!backend_layer)
    r = write_done (r, flags, err);
  return r;
}

static int
blkdebug_trim (nbdkit_next *next, void *handle, uint32_t count,
               uint64_t offset, uint32_t flags, int *err)
{
  struct bd_outcome o;
  int r = 0;

  if (!backend_layer)
    RAISE (BLK_EV_TRIM_AIO);
  /* QEMU's blkdebug answers ENOTSUP, which QEMU's block layer turns
   * into success (discard is advisory).  nbdkit would send ENOTSUP to
   * the client as EINVAL, so answer what the QEMU user sees: success,
   * nothing discarded.
   */
  if (opt_discard && count < opt_discard)
    goto out;
  if (judge (BD_IO_DISCARD, offset, count, &o, err) == -1)
    r = -1;
  while (r == 0 && count > 0) {
    uint32_t n = max_discard && count > max_discard ? max_discard : count;
    r = next->trim (next, n, offset, flags, err);
    count -= n;
    offset += n;
  }
 out:
  if (!backend_layer)
    mark_dirty (DIRTY_RAW | DIRTY_BD);
  return r;
}

static int
blkdebug_flush (nbdkit_next *next, void *handle, uint32_t flags, int *err)
{
  unsigned taken;

  if (backend_layer)
    return next->flush (next, flags, err);
  taken = __atomic_exchange_n (&dirty, 0, __ATOMIC_RELAXED);
  /* QEMU would not flush the file when nothing was written; flushing
   * anyway costs little and never loses data.
   */
  if (flush_begin (taken, err) == -1 ||
      next->flush (next, flags, err) == -1) {
    flush_failed (taken);
    return -1;
  }
  return 0;
}

static int
blkdebug_extents (nbdkit_next *next, void *handle, uint32_t count,
                  uint64_t offset, uint32_t flags,
                  struct nbdkit_extents *extents, int *err)
{
  struct bd_outcome o;

  if (!backend_layer)
    RAISE (BLK_EV_EXTENTS_AIO);
  if (judge (BD_IO_BLOCK_STATUS, offset, count, &o, err) == -1)
    return -1;
  return next->extents (next, count, offset, flags, extents, err);
}

static int
blkdebug_cache (nbdkit_next *next, void *handle, uint32_t count,
                uint64_t offset, uint32_t flags, int *err)
{
  if (!backend_layer)
    RAISE (BLK_EV_CACHE_AIO);
  return next->cache (next, count, offset, flags, err);
}

static struct nbdkit_filter filter = {
  .name = "blkdebug",
  .longname = "nbdkit-blk blkdebug filter",
  .description = "QEMU-compatible error injection, breakpoints and "
                 "run-time control",
  .load = blkdebug_load,
  .config = blkdebug_config,
  .config_complete = blkdebug_config_complete,
  .config_help = blkdebug_config_help,
  .get_ready = blkdebug_get_ready,
  .after_fork = blkdebug_after_fork,
  .close = blkdebug_close,
  .cleanup = blkdebug_cleanup,
  .unload = blkdebug_unload,
  .block_size = blkdebug_block_size,
  .pread = blkdebug_pread,
  .pwrite = blkdebug_pwrite,
  .zero = blkdebug_zero,
  .trim = blkdebug_trim,
  .flush = blkdebug_flush,
  .extents = blkdebug_extents,
  .cache = blkdebug_cache,
};

NBDKIT_REGISTER_FILTER (filter)
