/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: the control library's private parts, shared by the
 * protocol (control.c) and the socket server (control-server.c).
 */
#ifndef NBDKIT_BLK_CONTROL_INT_H
#define NBDKIT_BLK_CONTROL_INT_H

#include <pthread.h>
#include <stdbool.h>

#include "control.h"
#include "vector.h"

DEFINE_VECTOR_TYPE (blk_ctl_commands, const struct blk_ctl_command *);

struct blk_ctl_conn {
  struct blk_ctl_conn *next;
  int fd;
};

struct blk_ctl {
  /* Written before blk_ctl_start, read-only afterwards. */
  char *filter;
  void *opaque;
  blk_ctl_commands cmds;

  /* The server.  listen_fd, path, stop_pipe, accept_thread and
   * accept_running belong to the thread that calls _listen/_start/
   * _stop (nbdkit's main thread).  conn_lock guards conns, nconns and
   * stopping; conn_cond signals nconns reaching 0.
   */
  int listen_fd;
  char *path;
  int stop_pipe[2];
  pthread_t accept_thread;
  bool accept_running;
  pthread_mutex_t conn_lock;
  pthread_cond_t conn_cond;
  struct blk_ctl_conn *conns;
  unsigned nconns;
  bool stopping;
};

#endif /* NBDKIT_BLK_CONTROL_INT_H */
