/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: blkdebug's control commands (break, resume, inject ...),
 * registered with the shared control library.  See control-cmds.h.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control-cmds.h"
#include "duration.h"

/* Set before the control thread starts, read-only afterwards. */
static bool client_layer;
static bool strict_qemu;        /* blkdebug-strict=qemu */

void
bd_control_set_layer (bool client)
{
  client_layer = client;
}

void
bd_control_set_strict (bool qemu)
{
  strict_qemu = qemu;
}

static int
add_rule (struct bd_engine *e, enum bd_action act, const char *text,
          struct blk_ctl_reply *r)
{
  char why[512];
  struct bd_rule *rule;
  int id;

  rule = bd_parse_inline (act, text, "control", why, sizeof why);
  if (rule == NULL)
    return blk_ctl_err (r, "%s", why);
  /* blkdebug-strict=qemu holds for every rule, wherever it comes from:
   * a rule file written from a session's commands stays QEMU's syntax.
   */
  if ((strict_qemu && bd_rule_check_qemu (rule, why, sizeof why) == -1) ||
      bd_event_usable (rule->event, client_layer, true,
                       why, sizeof why) == -1) {
    bd_rule_free (rule);
    return blk_ctl_err (r, "%s", why);
  }
  id = bd_engine_add (e, rule);
  if (id < 0)
    return blk_ctl_err (r, "out of memory");
  return blk_ctl_ok_value (r, id);
}

static int
cmd_break (void *opaque, int argc, char **argv, const char *rest,
           struct blk_ctl_reply *r)
{
  char why[512];
  int ev = bd_event_lookup (argv[1]);

  if (ev < 0)
    return blk_ctl_err (r, "unknown event '%s'", argv[1]);
  if (bd_event_usable (ev, client_layer, true, why, sizeof why) == -1)
    return blk_ctl_err (r, "%s", why);
  if (bd_engine_break (opaque, ev, argv[2]) == -1)
    return blk_ctl_err (r, "out of memory");
  return blk_ctl_ok (r, NULL);
}

static int
cmd_wait_break (void *opaque, int argc, char **argv, const char *rest,
                struct blk_ctl_reply *r)
{
  uint64_t ns = 0;
  char why[256];

  if (argc == 3 &&
      blk_parse_duration (argv[2], UINT64_C (1000000000), &ns,
                          why, sizeof why) == -1)
    return blk_ctl_err (r, "timeout: %s", why);
  /* An explicit 0 is a check that does not wait (the engine's 0 means
   * "forever", which is what no TIMEOUT asks for).
   */
  if (argc == 3 && ns == 0)
    ns = 1;
  if (bd_engine_wait_break (opaque, argv[1], ns) == -1)
    return blk_ctl_err (r, "no request suspended with tag '%s' (timeout "
                        "or shutdown)", argv[1]);
  return blk_ctl_ok (r, NULL);
}

static int
cmd_resume (void *opaque, int argc, char **argv, const char *rest,
            struct blk_ctl_reply *r)
{
  if (bd_engine_resume (opaque, argv[1]) == -1)
    return blk_ctl_err (r, "no request suspended with tag '%s'", argv[1]);
  return blk_ctl_ok (r, NULL);
}

static int
cmd_remove_break (void *opaque, int argc, char **argv, const char *rest,
                  struct blk_ctl_reply *r)
{
  if (bd_engine_remove_break (opaque, argv[1]) == -1)
    return blk_ctl_err (r, "no breakpoint or request with tag '%s'",
                        argv[1]);
  return blk_ctl_ok (r, NULL);
}

static int
cmd_state (void *opaque, int argc, char **argv, const char *rest,
           struct blk_ctl_reply *r)
{
  return blk_ctl_ok_value (r, bd_engine_get_state (opaque));
}

static int
cmd_set_state (void *opaque, int argc, char **argv, const char *rest,
               struct blk_ctl_reply *r)
{
  char *end;
  long v;

  errno = 0;
  v = strtol (argv[1], &end, 10);
  if (errno || *end || end == argv[1] || v < 0 || v > 0x7fffffff)
    return blk_ctl_err (r, "set-state: '%s' is not a state number",
                        argv[1]);
  bd_engine_set_state (opaque, (int) v);
  return blk_ctl_ok (r, NULL);
}

static int
cmd_rules (void *opaque, int argc, char **argv, const char *rest,
           struct blk_ctl_reply *r)
{
  unsigned cnt = 0;
  char *text = bd_engine_list (opaque, false, &cnt);
  int ret;

  if (text == NULL)
    return blk_ctl_err (r, "out of memory");
  ret = blk_ctl_ok_lines (r, text);
  free (text);
  return ret;
}

static int
cmd_inject (void *opaque, int argc, char **argv, const char *rest,
            struct blk_ctl_reply *r)
{
  return add_rule (opaque, BD_INJECT, rest, r);
}

static int
cmd_set_state_rule (void *opaque, int argc, char **argv, const char *rest,
                    struct blk_ctl_reply *r)
{
  return add_rule (opaque, BD_SET_STATE, rest, r);
}

static int
cmd_remove (void *opaque, int argc, char **argv, const char *rest,
            struct blk_ctl_reply *r)
{
  char *end;
  unsigned long long id;

  /* Whole digits only, and no truncation: 4294967297 is not rule 1. */
  errno = 0;
  id = argv[1][0] >= '0' && argv[1][0] <= '9'
    ? strtoull (argv[1], &end, 10) : (end = argv[1], 0);
  if (errno || *end || end == argv[1] || id == 0 || id > UINT_MAX)
    return blk_ctl_err (r, "remove: '%s' is not a rule id (1 .. %u, "
                        "see 'rules')", argv[1], UINT_MAX);
  if (bd_engine_remove (opaque, (unsigned) id) == -1)
    return blk_ctl_err (r, "no rule with id '%s' (see 'rules')", argv[1]);
  return blk_ctl_ok (r, NULL);
}

static int
cmd_clear (void *opaque, int argc, char **argv, const char *rest,
           struct blk_ctl_reply *r)
{
  bd_engine_clear (opaque);
  return blk_ctl_ok (r, NULL);
}

static const struct blk_ctl_command commands[] = {
  { "break", "break EVENT TAG",
    "suspend the next request that raises EVENT, under TAG", 2, 2,
    cmd_break },
  { "wait_break", "wait_break TAG [TIMEOUT]",
    "wait until a request is suspended under TAG", 1, 2, cmd_wait_break },
  { "resume", "resume TAG", "let the request suspended under TAG go on",
    1, 1, cmd_resume },
  { "remove_break", "remove_break TAG",
    "drop breakpoint TAG and resume its requests", 1, 1, cmd_remove_break },
  { "state", "state", "the current state", 0, 0, cmd_state },
  { "set-state", "set-state N", "set the state to N", 1, 1, cmd_set_state },
  { "rules", "rules", "the live rules with their counters", 0, 0,
    cmd_rules },
  { "inject", "inject event=EVENT[,KEY=VALUE...]",
    "add an inject-error rule; answers its id", 1, 1, cmd_inject },
  { "set-state-rule", "set-state-rule event=EVENT,state=N,new_state=M",
    "add a set-state rule; answers its id", 1, 1, cmd_set_state_rule },
  { "remove", "remove RULE-ID", "remove a rule (see 'rules')", 1, 1,
    cmd_remove },
  { "clear", "clear", "remove every rule (breakpoints stay)", 0, 0,
    cmd_clear },
  { .name = NULL }
};

struct blk_ctl *
bd_control_new (struct bd_engine *e)
{
  struct blk_ctl *c = blk_ctl_new ("blkdebug", e);

  if (c && blk_ctl_register (c, commands) == -1) {
    blk_ctl_free (c);
    return NULL;
  }
  return c;
}
