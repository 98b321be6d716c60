/* nbdkit-blk: the blkdebug control protocol and socket.  See control.h
 * for the protocol and the threads.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "control.h"
#include "duration.h"

/* ---- the commands ---- */

#define MAXARGS 4

/* Set before the control thread starts, read-only afterwards. */
static bool client_layer;

void
bd_control_set_layer (bool client)
{
  client_layer = client;
}

static int
reply_err (FILE *out, const char *fmtstr, ...)
  __attribute__ ((format (printf, 2, 3)));

static int
reply_err (FILE *out, const char *fmtstr, ...)
{
  va_list ap;

  fputs ("ERR ", out);
  va_start (ap, fmtstr);
  vfprintf (out, fmtstr, ap);
  va_end (ap);
  fputc ('\n', out);
  return -1;
}

static int
add_rule (struct bd_engine *e, enum bd_action act, const char *text,
          FILE *out)
{
  char why[512];
  struct bd_rule *r;
  int id;

  r = bd_parse_inline (act, text, "control", why, sizeof why);
  if (r == NULL)
    return reply_err (out, "%s", why);
  if (bd_event_usable (r->event, client_layer, true, why, sizeof why) == -1) {
    bd_rule_free (r);
    return reply_err (out, "%s", why);
  }
  id = bd_engine_add (e, r);
  if (id < 0)
    return reply_err (out, "%s", "out of memory");
  fprintf (out, "OK %d\n", id);
  return 0;
}

int
bd_control_exec (struct bd_engine *e, const char *line, FILE *out)
{
  char buf[1024], rest[1024], *argv[MAXARGS + 1], *p, *save = NULL;
  const char *r;
  int argc = 0;
  size_t n = strlen (line);

  while (n && (line[n - 1] == '\r' || line[n - 1] == '\n'))
    n--;
  if (n >= sizeof buf)
    return reply_err (out, "%s", "command too long");
  memcpy (buf, line, n);
  buf[n] = '\0';

  /* The rule text of inject/set-state-rule is everything after the
   * command word, spaces included.
   */
  r = buf + strspn (buf, " \t");
  r += strcspn (r, " \t");
  r += strspn (r, " \t");
  snprintf (rest, sizeof rest, "%s", r);

  for (p = buf; argc <= MAXARGS && (argv[argc] = strtok_r (p, " \t", &save));
       p = NULL)
    argc++;
  if (argc == 0)
    return reply_err (out, "%s", "empty command (try 'help')");

#define NEED(lo, hi, usage)                                             \
  if (argc < (lo) || argc > (hi))                                       \
    return reply_err (out, "usage: %s", usage)

  if (strcmp (argv[0], "break") == 0) {
    char why[512];
    int ev;
    NEED (3, 3, "break EVENT TAG");
    ev = bd_event_lookup (argv[1]);
    if (ev < 0)
      return reply_err (out, "unknown event '%s'", argv[1]);
    if (bd_event_usable (ev, client_layer, true, why, sizeof why) == -1)
      return reply_err (out, "%s", why);
    if (bd_engine_break (e, ev, argv[2]) == -1)
      return reply_err (out, "%s", "out of memory");
    fputs ("OK\n", out);
    return 0;
  }
  if (strcmp (argv[0], "wait_break") == 0) {
    uint64_t ns = 0;
    char why[256];
    NEED (2, 3, "wait_break TAG [TIMEOUT]");
    if (argc == 3 &&
        blk_parse_duration (argv[2], UINT64_C (1000000000), &ns,
                            why, sizeof why) == -1)
      return reply_err (out, "timeout: %s", why);
    /* An explicit 0 is a check that does not wait (the engine's 0
     * means "forever", which is what no TIMEOUT asks for).
     */
    if (argc == 3 && ns == 0)
      ns = 1;
    fflush (out);
    if (bd_engine_wait_break (e, argv[1], ns) == -1)
      return reply_err (out, "no request suspended with tag '%s' (timeout "
                        "or shutdown)", argv[1]);
    fputs ("OK\n", out);
    return 0;
  }
  if (strcmp (argv[0], "resume") == 0) {
    NEED (2, 2, "resume TAG");
    if (bd_engine_resume (e, argv[1]) == -1)
      return reply_err (out, "no request suspended with tag '%s'", argv[1]);
    fputs ("OK\n", out);
    return 0;
  }
  if (strcmp (argv[0], "remove_break") == 0) {
    NEED (2, 2, "remove_break TAG");
    if (bd_engine_remove_break (e, argv[1]) == -1)
      return reply_err (out, "no breakpoint or request with tag '%s'",
                        argv[1]);
    fputs ("OK\n", out);
    return 0;
  }
  if (strcmp (argv[0], "state") == 0) {
    NEED (1, 1, "state");
    fprintf (out, "OK %d\n", bd_engine_get_state (e));
    return 0;
  }
  if (strcmp (argv[0], "set-state") == 0) {
    char *end;
    long v;
    NEED (2, 2, "set-state N");
    errno = 0;
    v = strtol (argv[1], &end, 10);
    if (errno || *end || end == argv[1] || v < 0 || v > 0x7fffffff)
      return reply_err (out, "set-state: '%s' is not a state number",
                        argv[1]);
    bd_engine_set_state (e, (int) v);
    fputs ("OK\n", out);
    return 0;
  }
  if (strcmp (argv[0], "rules") == 0) {
    unsigned cnt = 0;
    char *text;
    NEED (1, 1, "rules");
    text = bd_engine_list (e, false, &cnt);
    if (text == NULL)
      return reply_err (out, "%s", "out of memory");
    fprintf (out, "OK %u\n%s", cnt, text);
    free (text);
    return 0;
  }
  if (strcmp (argv[0], "inject") == 0) {
    if (argc != 2)
      return reply_err (out, "%s", "usage: inject event=EVENT[,KEY=VALUE...]");
    return add_rule (e, BD_INJECT, rest, out);
  }
  if (strcmp (argv[0], "set-state-rule") == 0) {
    if (argc != 2)
      return reply_err (out, "%s", "usage: set-state-rule "
                        "event=EVENT,state=N,new_state=M");
    return add_rule (e, BD_SET_STATE, rest, out);
  }
  if (strcmp (argv[0], "remove") == 0) {
    char *end;
    unsigned long long id;
    NEED (2, 2, "remove RULE-ID");
    /* Whole digits only, and no truncation: 4294967297 is not rule 1. */
    errno = 0;
    id = argv[1][0] >= '0' && argv[1][0] <= '9'
      ? strtoull (argv[1], &end, 10) : (end = argv[1], 0);
    if (errno || *end || end == argv[1] || id == 0 || id > UINT_MAX)
      return reply_err (out, "remove: '%s' is not a rule id (1 .. %u, "
                        "see 'rules')", argv[1], UINT_MAX);
    if (bd_engine_remove (e, (unsigned) id) == -1)
      return reply_err (out, "no rule with id '%s' (see 'rules')", argv[1]);
    fputs ("OK\n", out);
    return 0;
  }
  if (strcmp (argv[0], "clear") == 0) {
    NEED (1, 1, "clear");
    bd_engine_clear (e);
    fputs ("OK\n", out);
    return 0;
  }
  if (strcmp (argv[0], "ping") == 0) {
    fputs ("OK pong\n", out);
    return 0;
  }
  if (strcmp (argv[0], "help") == 0) {
    fputs ("OK commands: break EVENT TAG | wait_break TAG [TIMEOUT] | "
           "resume TAG | remove_break TAG | state | set-state N | rules | "
           "inject RULE | set-state-rule RULE | remove ID | clear | ping\n",
           out);
    return 0;
  }
  return reply_err (out, "unknown command '%s' (try 'help')", argv[0]);
#undef NEED
}

/* ---- the socket ---- */

#define BD_STR_(x) #x
#define BD_STR(x) BD_STR_ (x)

struct conn {
  struct conn *next;
  int fd;
};

static int listen_fd = -1;
static char *sock_path;
static int stop_pipe[2] = { -1, -1 };
static struct bd_engine *engine;
static pthread_t accept_thread;
static int accept_running;
static pthread_mutex_t conn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t conn_cond = PTHREAD_COND_INITIALIZER;
static struct conn *conns;
static unsigned nconns;
static int stopping;

int
bd_control_listen (const char *path)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct stat st;
  int fd;

  if (strlen (path) >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy (addr.sun_path, path);
  /* A socket left by a killed server is replaced; anything else is
   * not ours to remove.
   */
  if (lstat (path, &st) == 0) {
    if (!S_ISSOCK (st.st_mode)) {
      errno = EEXIST;
      return -1;
    }
    unlink (path);
  }
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1)
    return -1;
  if (bind (fd, (struct sockaddr *) &addr, sizeof addr) == -1 ||
      listen (fd, 16) == -1) {
    int e = errno;
    close (fd);
    errno = e;
    return -1;
  }
  sock_path = strdup (path);
  listen_fd = fd;
  return 0;
}

/* Read one line of at most BD_CONTROL_MAX_LINE bytes (without its
 * newline) into LINE.  1: a line; 0: end of input; -1: too long.
 */
static int
read_line (FILE *in, char *line)
{
  size_t n = 0;
  int ch;

  while ((ch = getc (in)) != EOF && ch != '\n') {
    if (n == BD_CONTROL_MAX_LINE)
      return -1;
    line[n++] = (char) ch;
  }
  line[n] = '\0';
  return ch == EOF && n == 0 ? 0 : 1;
}

static void *
conn_thread (void *arg)
{
  struct conn *c = arg;
  FILE *in = NULL, *out = NULL;
  char line[BD_CONTROL_MAX_LINE + 1];
  int fd2 = dup (c->fd);

  if (fd2 >= 0) {
    in = fdopen (c->fd, "r");
    out = fdopen (fd2, "w");
  }
  if (in && out) {
    int r;
    while ((r = read_line (in, line)) == 1) {
      bd_control_exec (engine, line, out);
      if (fflush (out) == EOF)
        break;
    }
    /* A line without end would grow without bound: refuse, close. */
    if (r == -1) {
      fprintf (out, "ERR line longer than %d bytes: closing the "
               "connection\n", BD_CONTROL_MAX_LINE);
      fflush (out);
    }
  }
  /* Unlink before closing: _stop must not shut down a recycled fd. */
  {
    LOCK_GUARD (&conn_lock);
    struct conn **pp;
    for (pp = &conns; *pp; pp = &(*pp)->next)
      if (*pp == c) {
        *pp = c->next;
        break;
      }
  }
  if (in)
    fclose (in);
  else
    close (c->fd);
  if (out)
    fclose (out);
  else if (fd2 >= 0)
    close (fd2);
  free (c);
  {
    LOCK_GUARD (&conn_lock);
    nconns--;
    pthread_cond_broadcast (&conn_cond);
  }
  return NULL;
}

static void *
accept_loop (void *arg)
{
  for (;;) {
    struct pollfd fds[2] = {
      { .fd = listen_fd, .events = POLLIN },
      { .fd = stop_pipe[0], .events = POLLIN },
    };
    struct conn *c;
    pthread_t t;
    int fd;

    if (poll (fds, 2, -1) == -1) {
      if (errno == EINTR)
        continue;
      return NULL;
    }
    if (fds[1].revents)
      return NULL;
    fd = accept4 (listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd == -1)
      continue;
    c = calloc (1, sizeof *c);
    if (c == NULL) {
      close (fd);
      continue;
    }
    c->fd = fd;
    {
      LOCK_GUARD (&conn_lock);
      if (stopping) {
        close (fd);
        free (c);
        return NULL;
      }
      /* Each connection holds a thread and a descriptor: past the cap,
       * say why and close, so idle control clients cannot starve the
       * NBD clients of descriptors.
       */
      if (nconns >= BD_CONTROL_MAX_CONNS) {
        static const char msg[] = "ERR too many control connections "
          "(at most " BD_STR (BD_CONTROL_MAX_CONNS) " at once): close one "
          "and retry\n";
        ssize_t w = send (fd, msg, sizeof msg - 1,
                          MSG_DONTWAIT | MSG_NOSIGNAL);
        (void) w;   /* best effort: the close says it too */
        close (fd);
        free (c);
        continue;
      }
      c->next = conns;
      conns = c;
      nconns++;
    }
    if (pthread_create (&t, NULL, conn_thread, c) != 0) {
      LOCK_GUARD (&conn_lock);
      conns = c->next;
      nconns--;
      close (fd);
      free (c);
      continue;
    }
    pthread_detach (t);
  }
}

int
bd_control_start (struct bd_engine *e)
{
  int err;

  if (listen_fd == -1)
    return 0;
  engine = e;
  if (pipe2 (stop_pipe, O_CLOEXEC) == -1)
    return -1;
  err = pthread_create (&accept_thread, NULL, accept_loop, NULL);
  if (err) {
    errno = err;
    return -1;
  }
  accept_running = 1;
  return 0;
}

void
bd_control_stop (void)
{
  if (accept_running) {
    struct conn *c;

    ssize_t w = write (stop_pipe[1], "x", 1);
    (void) w;  /* a full pipe already wakes the thread */
    pthread_join (accept_thread, NULL);
    accept_running = 0;
    LOCK_GUARD (&conn_lock);
    stopping = 1;
    for (c = conns; c; c = c->next)
      shutdown (c->fd, SHUT_RDWR);
    /* wait_break callers were released by bd_engine_shutdown. */
    while (nconns > 0)
      pthread_cond_wait (&conn_cond, &conn_lock);
  }
  if (stop_pipe[0] >= 0) {
    close (stop_pipe[0]);
    close (stop_pipe[1]);
    stop_pipe[0] = stop_pipe[1] = -1;
  }
  if (listen_fd >= 0) {
    close (listen_fd);
    listen_fd = -1;
  }
  if (sock_path) {
    unlink (sock_path);
    free (sock_path);
    sock_path = NULL;
  }
}
