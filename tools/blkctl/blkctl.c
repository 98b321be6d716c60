/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: blkctl, the shell's way into the control socket of any
 * nbdkit-blk filter (blkdebug-control=, and the other filters'
 * *-control= sockets, which speak the same protocol: docs/control.md).
 * Installed also as blkdebug-ctl, its name before other filters had a
 * socket.
 *
 *   blkctl [--json] SOCKET COMMAND [ARGS...]
 *
 * Sends the words joined by spaces as one command line and prints the
 * whole reply on stdout; exits 0 for OK, 1 for ERR, 2 for a usage or
 * connection problem.
 *
 * How it knows where a reply ends without knowing the command: after
 * the command it sends "--json ping", which every server of the
 * library answers with the line SENTINEL below, and prints the lines
 * before that one.  (A text reply of N lines is "OK N" plus N lines,
 * but "OK 3" is also the answer of commands that return a number.)
 * The server runs the lines of one connection in order, so a command
 * that blocks (wait_break) delays the sentinel, never overtakes it.
 *
 * Single-threaded; no shared state.
 */
#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SENTINEL "{\"ok\":true,\"text\":\"pong\"}\n"

static const char *progname = "blkctl";

static void
usage (FILE *fp)
{
  fprintf (fp,
           "usage: %s [--json] SOCKET COMMAND [ARGS...]\n"
           "Sends COMMAND to the control socket of an nbdkit-blk filter\n"
           "and prints the reply.  '%s SOCKET help' lists the filter's\n"
           "commands; --json asks for the reply as one JSON line.\n"
           "Exit status: 0 OK, 1 ERR, 2 usage or connection problem.\n",
           progname, progname);
}

int
main (int argc, char *argv[])
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  const char *base = strrchr (argv[0], '/');
  char *line = NULL;
  size_t cap = 0;
  bool json = false, first = true, ok = false, ended = false;
  FILE *fp;
  int fd, i, a = 1;

  progname = base ? base + 1 : argv[0];
  if (argc >= 2 && (strcmp (argv[1], "--help") == 0 ||
                    strcmp (argv[1], "-h") == 0)) {
    usage (stdout);
    return 0;
  }
  if (argc >= 2 && strcmp (argv[1], "--json") == 0) {
    json = true;
    a++;
  }
  if (argc - a < 2) {
    usage (stderr);
    return 2;
  }
  if (strlen (argv[a]) >= sizeof addr.sun_path) {
    fprintf (stderr, "%s: socket path too long: %s\n", progname, argv[a]);
    return 2;
  }
  strcpy (addr.sun_path, argv[a]);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1 || connect (fd, (struct sockaddr *) &addr, sizeof addr) == -1) {
    fprintf (stderr, "%s: cannot connect to %s: %s\n", progname, argv[a],
             strerror (errno));
    return 2;
  }
  fp = fdopen (fd, "r+");
  if (fp == NULL) {
    fprintf (stderr, "%s: fdopen: %s\n", progname, strerror (errno));
    return 2;
  }
  if (json)
    fputs ("--json ", fp);
  for (i = a + 1; i < argc; i++)
    fprintf (fp, "%s%s", i > a + 1 ? " " : "", argv[i]);
  fputs ("\n--json ping\n", fp);
  if (fflush (fp) == EOF) {
    fprintf (stderr, "%s: cannot send to %s: %s\n", progname, argv[a],
             strerror (errno));
    return 2;
  }
  /* Reading a reply never re-enters the stream for writing, so one
   * r+ stream is enough: the writes were flushed above.
   */
  while (getline (&line, &cap, fp) != -1) {
    if (!first && strcmp (line, SENTINEL) == 0) {
      ended = true;
      break;
    }
    if (first)
      ok = json ? strncmp (line, "{\"ok\":true", 10) == 0
        : strncmp (line, "OK", 2) == 0;
    first = false;
    fputs (line, stdout);
  }
  free (line);
  fclose (fp);
  if (first) {
    fprintf (stderr, "%s: no reply from %s\n", progname, argv[a]);
    return 2;
  }
  /* The server closed after the reply (a line too long): the reply
   * said why; it is an ERR.
   */
  if (!ended)
    return 1;
  return ok ? 0 : 1;
}
