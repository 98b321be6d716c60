/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: common/control, the control library, as a filter other
 * than blkdebug would use it (a counter with "get", "add N", "say
 * TEXT..."), through the parser and through a real Unix socket.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "control.h"

static long counter;

static int
cmd_get (void *opaque, int argc, char **argv, const char *rest,
         struct blk_ctl_reply *r)
{
  return blk_ctl_ok_value (r, *(long *) opaque);
}

static int
cmd_add (void *opaque, int argc, char **argv, const char *rest,
         struct blk_ctl_reply *r)
{
  char *end;
  long v = strtol (argv[1], &end, 10);

  if (*end || end == argv[1])
    return blk_ctl_err (r, "add: '%s' is not a number", argv[1]);
  *(long *) opaque += v;
  return blk_ctl_ok (r, NULL);
}

static int
cmd_say (void *opaque, int argc, char **argv, const char *rest,
         struct blk_ctl_reply *r)
{
  return blk_ctl_ok (r, "%s", rest);
}

static int
cmd_query (void *opaque, int argc, char **argv, const char *rest,
           struct blk_ctl_reply *r)
{
  char json[64];

  snprintf (json, sizeof json, "{\"counter\":%ld}", *(long *) opaque);
  return blk_ctl_ok_json (r, "counter report (use --json)", json);
}

static int
cmd_list (void *opaque, int argc, char **argv, const char *rest,
          struct blk_ctl_reply *r)
{
  return blk_ctl_ok_lines (r, "a \"quoted\" line\nsecond\ttab\n");
}

static int
cmd_silent (void *opaque, int argc, char **argv, const char *rest,
            struct blk_ctl_reply *r)
{
  return 0;                     /* a buggy handler: no answer */
}

static const struct blk_ctl_command cmds[] = {
  { "get", "get", "the counter", 0, 0, cmd_get },
  { "add", "add N", "add N to the counter", 1, 1, cmd_add },
  { "say", "say TEXT...", NULL, 1, 15, cmd_say },
  { NULL, NULL, NULL, 0, 0, NULL }
};
static const struct blk_ctl_command more[] = {
  { "query", "query", "report", 0, 0, cmd_query },
  { "list", "list", "two lines", 0, 0, cmd_list },
  { "silent", "silent", NULL, 0, 0, cmd_silent },
  { NULL, NULL, NULL, 0, 0, NULL }
};
static const struct blk_ctl_command clash[] = {
  { "help", "help", NULL, 0, 0, cmd_get },
  { NULL, NULL, NULL, 0, 0, NULL }
};

static struct blk_ctl *c;
static char out[4096];

static void
setup (void)
{
  counter = 0;
  c = blk_ctl_new ("counter", &counter);
  cr_assert_not_null (c);
  cr_assert_eq (blk_ctl_register (c, cmds), 0);
  cr_assert_eq (blk_ctl_register (c, more), 0);
}

static void
teardown (void)
{
  blk_ctl_free (c);
}

static int
run (const char *cmd)
{
  FILE *fp = fmemopen (out, sizeof out, "w");
  int r = blk_ctl_exec (c, cmd, fp);
  fclose (fp);
  return r;
}

TestSuite (ctl, .init = setup, .fini = teardown);

Test (ctl, dispatch)
{
  cr_assert_eq (run ("add 5\n"), 0);
  cr_assert_str_eq (out, "OK\n");
  cr_assert_eq (run ("  add\t-2\r\n"), 0);
  cr_assert_eq (run ("get"), 0);
  cr_assert_str_eq (out, "OK 3\n");
  cr_assert_eq (run ("add x"), -1);
  cr_assert_str_eq (out, "ERR add: 'x' is not a number\n");
  /* REST keeps the blanks inside, not the newline. */
  cr_assert_eq (run ("say  hello   there \n"), 0);
  cr_assert_str_eq (out, "OK hello   there \n");
  cr_assert_eq (run ("ping"), 0);
  cr_assert_str_eq (out, "OK pong\n");
  cr_assert_eq (run ("list"), 0);
  cr_assert_str_eq (out, "OK 2\na \"quoted\" line\nsecond\ttab\n");
  cr_assert_eq (run ("query"), 0);
  cr_assert_str_eq (out, "OK counter report (use --json)\n");
}

Test (ctl, errors)
{
  cr_assert_eq (run (""), -1);
  cr_assert_str_eq (out, "ERR empty command (try 'help')\n");
  cr_assert_eq (run ("frob"), -1);
  cr_assert_str_eq (out, "ERR unknown command 'frob' (try 'help')\n");
  cr_assert_eq (run ("add"), -1);
  cr_assert_str_eq (out, "ERR usage: add N\n");
  cr_assert_eq (run ("get 1"), -1);
  cr_assert_str_eq (out, "ERR usage: get\n");
  cr_assert_eq (run ("say 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16"), -1);
  cr_assert_str_eq (out, "ERR too many words (at most 16)\n");
  cr_assert_eq (run ("silent"), -1);
  cr_assert_str_eq (out, "ERR internal error: 'silent' gave no answer\n");
  /* Names are unique, the built-ins included. */
  cr_assert_eq (blk_ctl_register (c, clash), -1);
  cr_assert_eq (errno, EEXIST);
  cr_assert_eq (blk_ctl_register (c, cmds), -1);
}

Test (ctl, json)
{
  cr_assert_eq (run ("--json get"), 0);
  cr_assert_str_eq (out, "{\"ok\":true,\"value\":0}\n");
  cr_assert_eq (run ("--json add 2"), 0);
  cr_assert_str_eq (out, "{\"ok\":true}\n");
  cr_assert_eq (run ("--json query"), 0);
  cr_assert_str_eq (out, "{\"ok\":true,\"result\":{\"counter\":2}}\n");
  cr_assert_eq (run ("--json list"), 0);
  cr_assert_str_eq (out, "{\"ok\":true,\"count\":2,\"lines\":"
                    "[\"a \\\"quoted\\\" line\",\"second\\ttab\"]}\n");
  cr_assert_eq (run ("--json say a\x01z"), 0);
  cr_assert_str_eq (out, "{\"ok\":true,\"text\":\"a\\u0001z\"}\n");
  cr_assert_eq (run ("--json add x"), -1);
  cr_assert_str_eq (out, "{\"ok\":false,\"error\":\"add: 'x' is not a "
                    "number\"}\n");
  cr_assert_eq (run ("--json"), -1);
  cr_assert_str_eq (out, "{\"ok\":false,\"error\":\"empty command (try "
                    "'help')\"}\n");
  /* Only the whole word is the prefix. */
  cr_assert_eq (run ("--jsonx get"), -1);
  cr_assert_str_eq (out, "ERR unknown command '--jsonx' (try 'help')\n");
}

Test (ctl, help)
{
  cr_assert_eq (run ("help"), 0);
  cr_assert_str_eq (out, "OK commands: get | add N | say TEXT... | query | "
                    "list | silent | ping | help\n");
  cr_assert_eq (run ("--json help"), 0);
  cr_assert (strncmp (out, "{\"ok\":true,\"filter\":\"counter\",\"commands\":"
                      "[{\"name\":\"get\",\"usage\":\"get\",\"help\":"
                      "\"the counter\"},{\"name\":\"add\"", 95) == 0,
             "%s", out);
  /* A command without help text has no "help" member. */
  cr_assert (strstr (out, "{\"name\":\"say\",\"usage\":\"say TEXT...\"}")
             != NULL, "%s", out);
}

/* The socket: serve, answer, stop, and the socket file is gone. */
Test (ctl, socket)
{
  char dir[] = "/tmp/unit-control-XXXXXX", path[128], buf[256];
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct stat st;
  ssize_t n, got = 0;
  int fd;

  cr_assert_not_null (mkdtemp (dir));
  snprintf (path, sizeof path, "%s/c.sock", dir);
  /* Not a socket: refused, left alone. */
  fclose (fopen (path, "w"));
  cr_assert_eq (blk_ctl_listen (c, path), -1);
  cr_assert_eq (errno, EEXIST);
  unlink (path);

  cr_assert_eq (blk_ctl_listen (c, path), 0);
  cr_assert_eq (blk_ctl_start (c), 0);
  fd = socket (AF_UNIX, SOCK_STREAM, 0);
  /* A wrong answer fails the test instead of hanging it. */
  {
    struct timeval tv = { .tv_sec = 10 };
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  strcpy (addr.sun_path, path);
  cr_assert_eq (connect (fd, (struct sockaddr *) &addr, sizeof addr), 0);
  cr_assert_eq (write (fd, "add 4\n--json get\n", 17), 17);
  while (got < 25 && (n = read (fd, buf + got, sizeof buf - 1 - got)) > 0)
    got += n;
  buf[got] = '\0';
  cr_assert_str_eq (buf, "OK\n{\"ok\":true,\"value\":4}\n");
  /* Stop with a connection still open: it is shut down. */
  blk_ctl_stop (c);
  cr_assert_eq (read (fd, buf, sizeof buf), 0);
  close (fd);
  cr_assert_eq (stat (path, &st), -1, "socket left behind");
  /* Idempotent. */
  blk_ctl_stop (c);
  rmdir (dir);
}
