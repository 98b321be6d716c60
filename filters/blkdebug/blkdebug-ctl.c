/* nbdkit-blk: blkdebug-ctl, the shell's way into the blkdebug control
 * socket.
 *
 *   blkdebug-ctl SOCKET COMMAND [ARGS...]
 *
 * Sends the words joined by spaces as one command line, prints the
 * reply (and, after "OK N" to "rules", the N rule lines) on stdout and
 * exits 0 for OK, 1 for ERR, 2 for a usage or connection problem.
 * Single-threaded; no shared state.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void
usage (FILE *fp)
{
  fprintf (fp,
           "usage: blkdebug-ctl SOCKET COMMAND [ARGS...]\n"
           "commands: break EVENT TAG | wait_break TAG [TIMEOUT] | "
           "resume TAG |\n"
           "  remove_break TAG | state | set-state N | rules | "
           "inject RULE |\n"
           "  set-state-rule RULE | remove ID | clear | ping | help\n");
}

int
main (int argc, char *argv[])
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  char *line = NULL;
  size_t cap = 0;
  FILE *fp;
  int fd, i, ok;
  unsigned extra = 0;

  if (argc >= 2 && (strcmp (argv[1], "--help") == 0 ||
                    strcmp (argv[1], "-h") == 0)) {
    usage (stdout);
    return 0;
  }
  if (argc < 3) {
    usage (stderr);
    return 2;
  }
  if (strlen (argv[1]) >= sizeof addr.sun_path) {
    fprintf (stderr, "blkdebug-ctl: socket path too long: %s\n", argv[1]);
    return 2;
  }
  strcpy (addr.sun_path, argv[1]);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1 || connect (fd, (struct sockaddr *) &addr, sizeof addr) == -1) {
    fprintf (stderr, "blkdebug-ctl: cannot connect to %s: %s\n", argv[1],
             strerror (errno));
    return 2;
  }
  fp = fdopen (fd, "r+");
  if (fp == NULL) {
    perror ("blkdebug-ctl: fdopen");
    return 2;
  }
  for (i = 2; i < argc; i++)
    fprintf (fp, "%s%s", i > 2 ? " " : "", argv[i]);
  fputc ('\n', fp);
  if (fflush (fp) == EOF) {
    perror ("blkdebug-ctl: send");
    return 2;
  }
  if (getline (&line, &cap, fp) == -1) {
    fprintf (stderr, "blkdebug-ctl: no reply from %s\n", argv[1]);
    return 2;
  }
  fputs (line, stdout);
  ok = strncmp (line, "OK", 2) == 0;
  if (ok && strcmp (argv[2], "rules") == 0)
    sscanf (line, "OK %u", &extra);
  while (extra-- > 0 && getline (&line, &cap, fp) != -1)
    fputs (line, stdout);
  free (line);
  fclose (fp);
  return ok ? 0 : 1;
}
