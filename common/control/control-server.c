/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: the control socket: one accept thread plus one thread
 * per connection, so a client blocked in a long command (blkdebug's
 * wait_break) does not stop another from answering it.  Locks and
 * ownership: see struct blk_ctl in control-int.h.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "control-int.h"

#define STR_(x) #x
#define STR(x) STR_ (x)

int
blk_ctl_listen (struct blk_ctl *c, const char *path)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct stat st;
  char *copy;
  int fd;

  if (c->listen_fd >= 0) {
    errno = EBUSY;
    return -1;
  }
  if (strlen (path) >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy (addr.sun_path, path);
  copy = strdup (path);
  if (copy == NULL)
    return -1;
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1) {
    free (copy);
    return -1;
  }
  /* A socket left by a killed server is replaced; a socket a live
   * server listens on is refused (unlinking it would leave that server
   * unreachable, and our exit would then remove the path altogether);
   * anything else is not ours to remove.
   */
  if (lstat (path, &st) == 0) {
    if (!S_ISSOCK (st.st_mode)) {
      close (fd);
      free (copy);
      errno = EEXIST;
      return -1;
    }
    if (connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0) {
      close (fd);
      free (copy);
      errno = EADDRINUSE;
      return -1;
    }
    /* The connect attempt leaves FD unusable for bind: a fresh one. */
    close (fd);
    fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1) {
      free (copy);
      return -1;
    }
    unlink (path);
  }
  if (bind (fd, (struct sockaddr *) &addr, sizeof addr) == -1 ||
      listen (fd, BLK_CTL_MAX_CONNS) == -1) {
    int e = errno;
    close (fd);
    free (copy);
    errno = e;
    return -1;
  }
  c->path = copy;
  c->listen_fd = fd;
  return 0;
}

/* Read one line of at most BLK_CTL_MAX_LINE bytes (without its
 * newline) into LINE.  1: a line; 0: end of input; -1: too long.
 */
static int
read_line (FILE *in, char *line)
{
  size_t n = 0;
  int ch;

  while ((ch = getc (in)) != EOF && ch != '\n') {
    if (n == BLK_CTL_MAX_LINE)
      return -1;
    line[n++] = (char) ch;
  }
  line[n] = '\0';
  return ch == EOF && n == 0 ? 0 : 1;
}

struct conn_arg {
  struct blk_ctl *c;
  struct blk_ctl_conn *conn;
};

static void *
conn_thread (void *arg)
{
  struct conn_arg a = *(struct conn_arg *) arg;
  struct blk_ctl *c = a.c;
  struct blk_ctl_conn *conn = a.conn;
  FILE *in = NULL, *out = NULL;
  char line[BLK_CTL_MAX_LINE + 1];
  int fd2 = dup (conn->fd);

  free (arg);
  if (fd2 >= 0) {
    in = fdopen (conn->fd, "r");
    out = fdopen (fd2, "w");
  }
  if (in && out) {
    int r;
    while ((r = read_line (in, line)) == 1) {
      blk_ctl_exec (c, line, out);
      if (fflush (out) == EOF)
        break;
    }
    /* A line without end would grow without bound: refuse, close. */
    if (r == -1) {
      fprintf (out, "ERR line longer than %d bytes: closing the "
               "connection\n", BLK_CTL_MAX_LINE);
      fflush (out);
    }
  }
  /* Unlink before closing: _stop must not shut down a recycled fd. */
  {
    LOCK_GUARD (&c->conn_lock);
    struct blk_ctl_conn **pp;
    for (pp = &c->conns; *pp; pp = &(*pp)->next)
      if (*pp == conn) {
        *pp = conn->next;
        break;
      }
  }
  if (in)
    fclose (in);
  else
    close (conn->fd);
  if (out)
    fclose (out);
  else if (fd2 >= 0)
    close (fd2);
  free (conn);
  {
    LOCK_GUARD (&c->conn_lock);
    c->nconns--;
    pthread_cond_broadcast (&c->conn_cond);
  }
  return NULL;
}

/* Take FD as a new connection: 0, or -1 (FD closed) when refused. */
static int
admit (struct blk_ctl *c, int fd, struct blk_ctl_conn *conn)
{
  LOCK_GUARD (&c->conn_lock);

  if (c->stopping)
    return -1;
  /* Each connection holds a thread and a descriptor: past the cap, say
   * why and close, so idle control clients cannot starve the NBD
   * clients of descriptors.
   */
  if (c->nconns >= BLK_CTL_MAX_CONNS) {
    static const char msg[] = "ERR too many control connections "
      "(at most " STR (BLK_CTL_MAX_CONNS) " at once): close one and "
      "retry\n";
    ssize_t w = send (fd, msg, sizeof msg - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void) w;   /* best effort: the close says it too */
    return -1;
  }
  conn->fd = fd;
  conn->next = c->conns;
  c->conns = conn;
  c->nconns++;
  return 0;
}

static void *
accept_loop (void *arg)
{
  struct blk_ctl *c = arg;

  for (;;) {
    struct pollfd fds[2] = {
      { .fd = c->listen_fd, .events = POLLIN },
      { .fd = c->stop_pipe[0], .events = POLLIN },
    };
    struct blk_ctl_conn *conn;
    struct conn_arg *a;
    pthread_t t;
    int fd;

    if (poll (fds, 2, -1) == -1) {
      if (errno == EINTR)
        continue;
      return NULL;
    }
    if (fds[1].revents)
      return NULL;
    fd = accept4 (c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd == -1)
      continue;
    conn = calloc (1, sizeof *conn);
    a = malloc (sizeof *a);
    if (conn == NULL || a == NULL || admit (c, fd, conn) == -1) {
      close (fd);
      free (conn);
      free (a);
      continue;
    }
    a->c = c;
    a->conn = conn;
    if (pthread_create (&t, NULL, conn_thread, a) != 0) {
      LOCK_GUARD (&c->conn_lock);
      c->conns = conn->next;
      c->nconns--;
      close (fd);
      free (conn);
      free (a);
      continue;
    }
    pthread_detach (t);
  }
}

int
blk_ctl_start (struct blk_ctl *c)
{
  int err;

  if (c->listen_fd == -1 || c->accept_running)
    return 0;
  if (pipe2 (c->stop_pipe, O_CLOEXEC) == -1)
    return -1;
  err = pthread_create (&c->accept_thread, NULL, accept_loop, c);
  if (err) {
    errno = err;
    return -1;
  }
  c->accept_running = true;
  return 0;
}

void
blk_ctl_stop (struct blk_ctl *c)
{
  if (c->accept_running) {
    struct blk_ctl_conn *conn;
    ssize_t w = write (c->stop_pipe[1], "x", 1);

    (void) w;  /* a full pipe already wakes the thread */
    pthread_join (c->accept_thread, NULL);
    c->accept_running = false;
    LOCK_GUARD (&c->conn_lock);
    c->stopping = true;
    for (conn = c->conns; conn; conn = conn->next)
      shutdown (conn->fd, SHUT_RDWR);
    /* Handlers blocked in the filter were released by the filter. */
    while (c->nconns > 0)
      pthread_cond_wait (&c->conn_cond, &c->conn_lock);
  }
  if (c->stop_pipe[0] >= 0) {
    close (c->stop_pipe[0]);
    close (c->stop_pipe[1]);
    c->stop_pipe[0] = c->stop_pipe[1] = -1;
  }
  if (c->listen_fd >= 0) {
    close (c->listen_fd);
    c->listen_fd = -1;
  }
  if (c->path) {
    unlink (c->path);
    free (c->path);
    c->path = NULL;
  }
}
