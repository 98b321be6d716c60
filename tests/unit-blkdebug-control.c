/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: filters/blkdebug/control-cmds.c (blkdebug's commands)
 * through the shared control library's parser (common/control).
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "control-cmds.h"

static struct bd_engine *e;
static struct blk_ctl *ctl;
static void setup (void) { e = bd_engine_new (1); ctl = bd_control_new (e); }
static void teardown (void) { blk_ctl_free (ctl); bd_engine_free (e); }

static char out[4096];

static int
run (const char *cmd)
{
  FILE *fp = fmemopen (out, sizeof out, "w");
  int r = blk_ctl_exec (ctl, cmd, fp);
  fclose (fp);
  return r;
}

TestSuite (control, .init = setup, .fini = teardown);

Test (control, commands)
{
  cr_assert_eq (run ("state\n"), 0);
  cr_assert_str_eq (out, "OK 1\n");
  cr_assert_eq (run ("set-state 7"), 0);
  run ("state");
  cr_assert_str_eq (out, "OK 7\n");
  cr_assert_eq (run ("inject event=read_aio,errno=ENOSPC,once=on\n"), 0);
  cr_assert_str_eq (out, "OK 1\n");
  cr_assert_eq (run ("set-state-rule event=read_aio,state=7,new_state=8"), 0);
  cr_assert_str_eq (out, "OK 2\n");
  cr_assert_eq (run ("rules"), 0);
  cr_assert (strncmp (out, "OK 2\n1 inject event=read_aio", 28) == 0, "%s", out);
  cr_assert (strstr (out, "errno=ENOSPC") != NULL, "%s", out);
  cr_assert (strstr (out, "\n2 set-state event=read_aio state=7 new_state=8")
             != NULL, "%s", out);
  cr_assert_eq (run ("remove 1"), 0);
  cr_assert_eq (run ("remove 1"), -1);
  cr_assert (strncmp (out, "ERR no rule with id '1'", 23) == 0, "%s", out);
  cr_assert_eq (run ("clear"), 0);
  run ("rules");
  cr_assert_str_eq (out, "OK 0\n");
  cr_assert_eq (run ("break read_aio T1"), 0);
  cr_assert_eq (run ("resume T1"), -1);
  cr_assert_eq (run ("remove_break T1"), 0);
  cr_assert_eq (run ("wait_break T1 10ms"), -1);
}

Test (control, bad_commands)
{
  cr_assert_eq (run (""), -1);
  cr_assert_eq (run ("frobnicate"), -1);
  cr_assert_str_eq (out, "ERR unknown command 'frobnicate' (try 'help')\n");
  cr_assert_eq (run ("break nosuch T"), -1);
  cr_assert_str_eq (out, "ERR unknown event 'nosuch'\n");
  cr_assert_eq (run ("break read_aio"), -1);
  cr_assert_str_eq (out, "ERR usage: break EVENT TAG\n");
  cr_assert_eq (run ("set-state x"), -1);
  cr_assert_eq (run ("inject event=read_aio,errno=EWHAT"), -1);
  cr_assert (strstr (out, "errno: 'EWHAT'") != NULL, "%s", out);
  cr_assert_eq (run ("wait_break T 5parsecs"), -1);
  cr_assert (strncmp (out, "ERR timeout:", 12) == 0, "%s", out);
}

/* Rules that can never fire are refused with a reason. */
Test (control, never_fire)
{
  cr_assert_eq (run ("inject event=none,errno=EIO"), -1);
  cr_assert (strncmp (out, "ERR event 'none' is raised once", 31) == 0,
             "%s", out);
  cr_assert_eq (run ("break none T"), -1);
  bd_control_set_layer (true);
  cr_assert_eq (run ("inject event=l2_load,errno=EIO"), -1);
  cr_assert (strstr (out, "raised only by plugins") != NULL, "%s", out);
  cr_assert_eq (run ("set-state-rule event=cluster_alloc,state=1,new_state=2"),
                -1);
  cr_assert_eq (run ("break l2_load T"), -1);
  cr_assert_eq (run ("inject event=write_aio,errno=EIO"), 0);
  bd_control_set_layer (false);
  cr_assert_eq (run ("inject event=l2_load,errno=EIO"), 0);
  run ("rules");
  cr_assert (strncmp (out, "OK 2\n", 5) == 0, "%s", out);
}

Test (control, ids_and_timeouts)
{
  cr_assert_eq (run ("inject event=read_aio,errno=EIO"), 0);
  /* 2^32 + 1 must not truncate to rule 1. */
  cr_assert_eq (run ("remove 4294967297"), -1);
  cr_assert (strstr (out, "is not a rule id") != NULL, "%s", out);
  cr_assert_eq (run ("remove -1"), -1);
  cr_assert_eq (run ("remove 0"), -1);
  run ("rules");
  cr_assert (strncmp (out, "OK 1\n", 5) == 0, "rule 1 was removed: %s", out);
  /* wait_break TAG 0: a check that does not wait. */
  cr_assert_eq (run ("wait_break T 0"), -1);
  cr_assert (strncmp (out, "ERR no request suspended", 24) == 0, "%s", out);
}

/* Pending breakpoints are listed; an open range says "to end". */
Test (control, rules_listing)
{
  cr_assert_eq (run ("break write_aio B1"), 0);
  cr_assert_eq (run ("inject event=read_aio,offset=1M,errno=EIO"), 0);
  cr_assert_eq (run ("rules"), 0);
  cr_assert (strncmp (out, "OK 2\n", 5) == 0, "%s", out);
  cr_assert (strstr (out, "break event=write_aio tag=B1") != NULL, "%s", out);
  cr_assert (strstr (out, "offset=1048576 to end") != NULL, "%s", out);
}

/* The same answers as one JSON line each (--json prefix). */
Test (control, json)
{
  cr_assert_eq (run ("--json state"), 0);
  cr_assert_str_eq (out, "{\"ok\":true,\"value\":1}\n");
  cr_assert_eq (run ("--json inject event=read_aio,errno=EIO"), 0);
  cr_assert_str_eq (out, "{\"ok\":true,\"value\":1}\n");
  cr_assert_eq (run ("--json rules"), 0);
  cr_assert (strncmp (out, "{\"ok\":true,\"count\":1,\"lines\":[\"1 inject "
                      "event=read_aio", 50) == 0, "%s", out);
  cr_assert_eq (run ("--json remove 7"), -1);
  cr_assert_str_eq (out, "{\"ok\":false,\"error\":\"no rule with id '7' "
                    "(see 'rules')\"}\n");
  cr_assert_eq (run ("--json clear"), 0);
  cr_assert_str_eq (out, "{\"ok\":true}\n");
}

/* help lists blkdebug's commands from the registry, on one line. */
Test (control, help)
{
  cr_assert_eq (run ("help"), 0);
  cr_assert (strncmp (out, "OK commands: break EVENT TAG | wait_break TAG "
                      "[TIMEOUT] |", 57) == 0, "%s", out);
  cr_assert (strstr (out, "| clear | ping | help\n") != NULL, "%s", out);
  cr_assert_eq (strchr (out, '\n') - out + 1, (long) strlen (out));
  cr_assert_eq (run ("--json help"), 0);
  {
    static const char head[] = "{\"ok\":true,\"filter\":\"blkdebug\","
      "\"commands\":[{\"name\":\"break\",\"usage\":\"break EVENT TAG\"";
    cr_assert (strncmp (out, head, sizeof head - 1) == 0, "%s", out);
    cr_assert (strstr (out, "{\"name\":\"clear\",") != NULL, "%s", out);
    cr_assert (strcmp (out + strlen (out) - 4, "}]}\n") == 0, "%s", out);
  }
}
