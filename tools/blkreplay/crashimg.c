/* SPDX-License-Identifier: BSD-3-Clause */
/* blkreplay tool: logs, points and image files for the crash and
 * image commands (see crashimg.h).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crashimg.h"

#define COPY_CHUNK (1 << 20)

/* What extends a file written past its end: a pwrite, a zero (as
 * fallocate's zero range or a written buffer would).  A trim (a hole
 * punched) keeps the size.
 */
static int
grows_file (unsigned op)
{
  return op == BLKLOG_WRITE || op == BLKLOG_ZERO;
}

uint64_t
crash_state_size (const struct crash_log *cl, const struct cm_model *m,
                  const uint8_t *set, const struct cm_torn *torn)
{
  uint64_t size = cl->base_size;
  size_t i;

  if (!cl->backend)
    return cl->size;
  for (i = 0; i < m->nw; i++) {
    const struct cm_req *r = &m->reqs[m->w[i]];
    /* A torn write grew the file: its size is metadata the file
     * system journals, the sectors not persisted read as zeroes.
     */
    if ((set[i] || (torn && torn->w == i)) && grows_file (r->op) &&
        r->offset + r->length > size)
      size = r->offset + r->length;
  }
  return size;
}

int
crash_files_resize (const struct crash_files *f, uint64_t size)
{
  int i;

  for (i = 0; i < 2; i++)
    if (f->fd[i] >= 0 && ftruncate (f->fd[i], (off_t) size) == -1)
      return -1;
  return 0;
}

int
crash_log_load (struct crash_log *cl, const char *path)
{
  const struct tl_log *log = &cl->log;
  size_t i;

  memset (cl, 0, sizeof *cl);
  if (tl_load (&cl->log, path) == -1)
    return -1;
  if (log->rd.header.data_mode != BLKLOG_DATA_FULL) {
    fprintf (stderr, "blkreplay: %s was recorded with blkreplay-data=%s: "
             "crash states need the data of every write; record with "
             "blkreplay-data=full\n", path,
             blklog_data_name (log->rd.header.data_mode));
    goto err;
  }
  /* One device: every connection must name the same export. */
  for (i = 1; i < log->nconns; i++)
    if (strcmp (log->conns[i].name, log->conns[0].name) != 0) {
      fprintf (stderr, "blkreplay: %s holds connections to several exports "
               "('%s', '%s'): crash states model one device\n", path,
               log->conns[0].name, log->conns[i].name);
      goto err;
    }
  cl->size = log->rd.header.export_size;
  cl->backend = log->rd.header.layer == BLKLOG_LAYER_BACKEND;
  if (cl->size == 0 && log->nconns && !cl->backend)
    cl->size = log->conns[0].export_size;
  cl->base_size = cl->size;
  if (cl->backend) {
    /* The file grows: the model spans every write that succeeded. */
    for (i = 0; i < log->nreqs; i++) {
      const struct tl_req *r = &log->reqs[i];
      if (r->error == 0 && grows_file (r->op) &&
          r->offset + r->length > cl->size)
        cl->size = r->offset + r->length;
    }
  }
  cl->nreqs = log->nreqs;
  cl->reqs = calloc (log->nreqs + 1, sizeof *cl->reqs);
  if (cl->reqs == NULL) {
    fprintf (stderr, "blkreplay: %s: out of memory\n", path);
    goto err;
  }
  for (i = 0; i < log->nreqs; i++) {
    const struct tl_req *r = &log->reqs[i];
    cl->reqs[i] = (struct cm_req) {
      .id = r->id, .offset = r->offset, .length = r->length,
      .submit_ns = r->submit_ns, .complete_ns = r->complete_ns,
      .flags = r->flags, .error = r->error, .op = r->op,
      .data = r->payload == BLKLOG_PAYLOAD_DATA ? r->data : NULL,
    };
  }
  return 0;
 err:
  crash_log_free (cl);
  return -1;
}

void
crash_log_free (struct crash_log *cl)
{
  free (cl->reqs);
  tl_free (&cl->log);
  memset (cl, 0, sizeof *cl);
}

const struct blklog_mark *
crash_find_mark (const struct blklog_log *log, const char *name)
{
  size_t i;

  for (i = 0; i < log->nmarks; i++)
    if (strcmp (log->marks[i].name, name) == 0)
      return &log->marks[i];
  return NULL;
}

const struct blklog_mark *
crash_mark_before (const struct blklog_log *log, size_t pos)
{
  const struct blklog_mark *best = NULL;
  size_t i;

  for (i = 0; i < log->nmarks && log->marks[i].seq <= pos + 1; i++)
    best = &log->marks[i];
  return best;
}

/* Is S all digits (a request id)? */
static int
is_number (const char *s)
{
  if (*s == '\0')
    return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9')
      return 0;
  return 1;
}

int
crash_point_pos (const struct blklog_log *log, const char *spec, int from,
                 size_t *pos, char *why, size_t whylen)
{
  const struct tl_req *reqs = log->reqs;
  size_t nreqs = log->nreqs;
  const char *num = spec;
  unsigned long long v;
  char *end;
  size_t i;

  if (strncmp (spec, "mark:", 5) == 0 ||
      (!is_number (spec) && strcmp (spec, "end") != 0 &&
       strncmp (spec, "flush:", 6) != 0 && strncmp (spec, "id:", 3) != 0)) {
    const char *name = strncmp (spec, "mark:", 5) == 0 ? spec + 5 : spec;
    const struct blklog_mark *mk;

    if (log->nmarks == 0) {
      snprintf (why, whylen, "'%s': this log has no marks (marks are taken "
                "while recording, with blkreplay-control=SOCKET and the "
                "command 'mark NAME'; log format version 1 has no mark "
                "records)%s", spec, name == spec ?
                "; a point is a request id, id:ID, flush:N, mark:NAME or end"
                : "");
      return -1;
    }
    mk = crash_find_mark (log, name);
    if (mk == NULL) {
      snprintf (why, whylen, "'%s': no mark named '%s' in the log (it has "
                "%zu mark%s, the first '%s'; a point is a request id, "
                "id:ID, flush:N, mark:NAME or end)", spec, name,
                log->nmarks, log->nmarks == 1 ? "" : "s",
                log->marks[0].name);
      return -1;
    }
    if (mk->seq == 0) {
      if (from) {
        *pos = 0;
        return 0;
      }
      snprintf (why, whylen, "'%s': the mark precedes every request (its "
                "state is the base image)", spec);
      return -1;
    }
    *pos = mk->seq - 1;
    return 0;
  }
  if (nreqs == 0) {
    snprintf (why, whylen, "'%s': the log holds no requests", spec);
    return -1;
  }
  if (strcmp (spec, "end") == 0) {
    *pos = nreqs - 1;
    return 0;
  }
  if (strncmp (spec, "flush:", 6) == 0 || strncmp (spec, "id:", 3) == 0)
    num = strchr (spec, ':') + 1;
  errno = 0;
  v = strtoull (num, &end, 10);
  if (errno || end == num || *end || *num == '-') {
    snprintf (why, whylen, "cannot parse '%s' (use a request id, id:ID, "
              "flush:N, mark:NAME or end)", spec);
    return -1;
  }
  if (strncmp (spec, "flush:", 6) == 0) {
    unsigned long long k = 0;
    for (i = 0; i < nreqs; i++)
      if (reqs[i].op == BLKLOG_FLUSH && reqs[i].error == 0 && ++k == v) {
        *pos = i;
        return 0;
      }
    snprintf (why, whylen, "'%s': the log holds %llu successful flush%s",
              spec, k, k == 1 ? "" : "es");
    return -1;
  }
  for (i = 0; i < nreqs; i++)
    if (reqs[i].id == v) {
      *pos = i;
      return 0;
    }
  snprintf (why, whylen, "'%s': no request with id %llu in the log%s", spec,
            v, crash_find_mark (log, spec) ? " (a mark has this name: "
            "write mark:NAME for it)" : "");
  return -1;
}

int
crash_until (struct tl_log *log, const char *spec)
{
  char why[512];
  size_t pos;

  if (crash_point_pos (log, spec, 0, &pos, why, sizeof why) == -1) {
    fprintf (stderr, "blkreplay: --until: %s\n", why);
    return -1;
  }
  log->nreqs = pos + 1;
  return 0;
}

/* ---- files ---- */

static int
pread_full (int fd, void *buf, size_t len, uint64_t off)
{
  unsigned char *p = buf;

  while (len) {
    ssize_t n = pread (fd, p, len, (off_t) off);
    if (n == -1 && errno == EINTR)
      continue;
    if (n == -1)
      return -1;
    if (n == 0) {               /* past the end: zeroes */
      memset (p, 0, len);
      return 0;
    }
    p += n;
    len -= (size_t) n;
    off += (uint64_t) n;
  }
  return 0;
}

static int
pwrite_full (int fd, const void *buf, size_t len, uint64_t off)
{
  const unsigned char *p = buf;

  while (len) {
    ssize_t n = pwrite (fd, p, len, (off_t) off);
    if (n == -1 && errno == EINTR)
      continue;
    if (n == -1)
      return -1;
    p += n;
    len -= (size_t) n;
    off += (uint64_t) n;
  }
  return 0;
}

int
crash_base_pread (void *opaque, void *buf, size_t len, uint64_t off)
{
  const struct crash_files *f = opaque;

  if (off >= f->base_size) {
    memset (buf, 0, len);
    return 0;
  }
  return pread_full (f->base_fd, buf, len, off);
}

int
crash_pwrite (void *opaque, const void *buf, size_t len, uint64_t off)
{
  const struct crash_files *f = opaque;
  int i;

  for (i = 0; i < 2; i++)
    if (f->fd[i] >= 0 && pwrite_full (f->fd[i], buf, len, off) == -1)
      return -1;
  return 0;
}

static int
run_qemu_img (const char *base, const char *out)
{
  pid_t pid = fork ();
  int status;

  if (pid == -1)
    return -1;
  if (pid == 0) {
    execlp ("qemu-img", "qemu-img", "convert", "-q", "-f", "qcow2",
            "-O", "raw", base, out, (char *) NULL);
    fprintf (stderr, "blkreplay: qemu-img: %m\n");
    _exit (127);
  }
  if (waitpid (pid, &status, 0) == -1)
    return -1;
  return WIFEXITED (status) && WEXITSTATUS (status) == 0 ? 0 : -1;
}

int
crash_open_base (struct crash_files *f, const char *base, const char *format,
                 const char *dir, const struct crash_log *cl)
{
  char raw[4096];
  struct stat st;
  const char *path = base;
  uint64_t size = cl->base_size;

  f->fd[0] = f->fd[1] = -1;
  if (cl->backend && strcmp (format, "raw") != 0) {
    fprintf (stderr, "blkreplay: %s is a backend-layer log "
             "(blkreplay-layer=backend): its offsets are in the plugin's "
             "image file, so BASE is a copy of that file taken before "
             "recording, read as bytes: use --base-format=raw (not '%s')\n",
             cl->log.rd.path, format);
    return -1;
  }
  if (strcmp (format, "qcow2") == 0) {
    /* The guest's view of a qcow2 BASE, as a raw private copy. */
    snprintf (raw, sizeof raw, "%s/base.raw", dir);
    if (run_qemu_img (base, raw) == -1) {
      fprintf (stderr, "blkreplay: cannot convert BASE '%s' to raw with "
               "qemu-img convert (is it a qcow2 image?)\n", base);
      return -1;
    }
    path = raw;
  }
  else if (strcmp (format, "raw") != 0) {
    fprintf (stderr, "blkreplay: --base-format: unknown format '%s' (use "
             "raw or qcow2)\n", format);
    return -1;
  }
  f->base_fd = open (path, O_RDONLY | O_CLOEXEC);
  if (f->base_fd == -1 || fstat (f->base_fd, &st) == -1) {
    fprintf (stderr, "blkreplay: BASE '%s': %m\n", path);
    return -1;
  }
  f->base_size = (uint64_t) st.st_size;
  if (!S_ISREG (st.st_mode)) {
    fprintf (stderr, "blkreplay: BASE '%s' is not a regular file\n", path);
    return -1;
  }
  if (cl->backend && f->base_size != size) {
    fprintf (stderr, "blkreplay: BASE '%s' has %" PRIu64 " bytes, but the "
             "image file had %" PRIu64 " bytes when recording started: "
             "BASE must be a copy of the file taken before nbdkit started "
             "(%s is a backend-layer log)\n", path, f->base_size, size,
             cl->log.rd.path);
    return -1;
  }
  if (f->base_size > size) {
    unsigned char magic[4] = { 0 };
    int q = pread (f->base_fd, magic, 4, 0) == 4 &&
      memcmp (magic, "QFI\xfb", 4) == 0;
    fprintf (stderr, "blkreplay: BASE '%s' has %" PRIu64 " bytes, more than "
             "the log's export (%" PRIu64 " bytes): is it the image the "
             "recording started from?%s\n", path, f->base_size, size,
             q ? " (it is a qcow2 image: use --base-format=qcow2 to start "
             "from what its guest sees)" : "");
    return -1;
  }
  return 0;
}

static int
all_zero (const unsigned char *p, size_t n)
{
  return n == 0 || (p[0] == 0 && memcmp (p, p + 1, n - 1) == 0);
}

int
crash_copy_base (const struct crash_files *f, const char *path,
                 uint64_t size)
{
  unsigned char *buf = malloc (COPY_CHUNK);
  uint64_t off;
  int fd;

  if (buf == NULL) {
    fprintf (stderr, "blkreplay: out of memory\n");
    return -1;
  }
  fd = open (path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd == -1 || ftruncate (fd, (off_t) size) == -1) {
    fprintf (stderr, "blkreplay: %s: %m\n", path);
    goto err;
  }
  /* Zero chunks stay holes: an empty base costs nothing. */
  for (off = 0; off < size && off < f->base_size; off += COPY_CHUNK) {
    size_t n = size - off < COPY_CHUNK ? (size_t) (size - off) : COPY_CHUNK;
    if (crash_base_pread ((void *) f, buf, n, off) == -1) {
      fprintf (stderr, "blkreplay: reading the base: %m\n");
      goto err;
    }
    if (!all_zero (buf, n) && pwrite_full (fd, buf, n, off) == -1) {
      fprintf (stderr, "blkreplay: %s: %m\n", path);
      goto err;
    }
  }
  free (buf);
  return fd;
 err:
  free (buf);
  if (fd >= 0)
    close (fd);
  return -1;
}

/* The offset of the next data at or after OFF, OFF if unknown. */
static off_t
next_data (int fd, uint64_t off)
{
  off_t r = lseek (fd, (off_t) off, SEEK_DATA);

  if (r == -1)
    return errno == ENXIO ? INT64_MAX : (off_t) off;
  return r;
}

int
crash_sync_file (int sfd, int dfd, uint64_t size, uint64_t *written)
{
  unsigned char *a = malloc (COPY_CHUNK), *b = malloc (COPY_CHUNK);
  uint64_t off;
  int ret = -1;

  if (!a || !b) {
    errno = ENOMEM;
    goto out;
  }
  for (off = 0; off < size; off += COPY_CHUNK) {
    size_t n = size - off < COPY_CHUNK ? (size_t) (size - off) : COPY_CHUNK;
    off_t next = next_data (sfd, off), nd = next_data (dfd, off);
    /* A chunk that is a hole in both files is equal: go on from the
     * next chunk holding data in either.
     */
    if (nd < next)
      next = nd;
    if ((uint64_t) next >= off + n) {
      if ((uint64_t) next >= size)
        break;
      off = (uint64_t) next / COPY_CHUNK * COPY_CHUNK;
      n = size - off < COPY_CHUNK ? (size_t) (size - off) : COPY_CHUNK;
    }
    if (pread_full (sfd, a, n, off) == -1 || pread_full (dfd, b, n, off) == -1)
      goto out;
    if (memcmp (a, b, n) != 0) {
      if (pwrite_full (dfd, a, n, off) == -1)
        goto out;
      *written += n;
    }
  }
  if (ftruncate (dfd, (off_t) size) == -1)
    goto out;
  ret = 0;
 out:
  free (a);
  free (b);
  return ret;
}
