/* SPDX-License-Identifier: BSD-3-Clause */
/* blkreplay crash / image: the states a power cut could leave, built
 * from a log recorded with blkreplay-data=full and a base image, and
 * checked by a user command (docs/crash-testing.md).
 *
 * Two files in a private directory: state.raw, which only the tool
 * writes, and check.raw, the copy the check command gets (it may
 * write: mounting a filesystem replays its journal).  Both receive the
 * same incremental updates; after a check that changed check.raw (its
 * mtime, which the tool sets to 1970 before each check, moved, or the
 * file was replaced) the differing chunks are copied back from
 * state.raw.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crashimg.h"
#include "json-string.h"
#include "tool.h"

static uint64_t
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static const char *
kind_name (unsigned kind)
{
  switch (kind) {
  case CM_PT_FLUSH: return "flush";
  case CM_PT_FUA: return "fua";
  case CM_PT_WRITE: return "write";
  case CM_PT_SPREAD: return "spread";
  case CM_PT_MARK: return "mark";
  default: return "?";
  }
}

static int
parse_trim (const char *v, int *modes)
{
  if (strcmp (v, "keep") == 0)
    *modes = 1;
  else if (strcmp (v, "zero") == 0)
    *modes = 2;
  else if (strcmp (v, "both") == 0)
    *modes = 3;
  else {
    fprintf (stderr, "blkreplay: --trim: unknown value '%s' (use keep, "
             "zero or both)\n", v);
    return -1;
  }
  return 0;
}

static int
parse_u64 (const char *opt, const char *v, uint64_t max, uint64_t *out)
{
  unsigned long long n;
  char *end;

  errno = 0;
  n = strtoull (v, &end, 10);
  if (errno || end == v || *end || *v == '-' || n > max) {
    fprintf (stderr, "blkreplay: %s: cannot parse '%s' (use 0 to %" PRIu64
             ")\n", opt, v, max);
    return -1;
  }
  *out = n;
  return 0;
}

/* ---- blkreplay image ---- */

int
cmd_image (int argc, char **argv)
{
  const char *path = NULL, *base = NULL, *at = NULL, *out = NULL;
  const char *format = "raw";
  int acked = 0, trim = 1, ai, ret = EXIT_USAGE, fd = -1;
  struct crash_log cl;
  struct cm_model m;
  struct cm_builder b;
  struct crash_files f = { .base_fd = -1, .fd = { -1, -1 } };
  struct cm_point pt = { .kind = CM_PT_SPREAD };
  struct cm_io io = { &f, crash_base_pread, crash_pwrite };
  uint8_t *set = NULL;
  char why[512], dir[] = "/tmp/blkreplay-image.XXXXXX";
  int have_dir = 0;

  for (ai = 1; ai < argc; ai++) {
    const char *a = argv[ai];
    if (strncmp (a, "--at=", 5) == 0)
      at = a + 5;
    else if (strcmp (a, "-o") == 0 && ai + 1 < argc)
      out = argv[++ai];
    else if (strncmp (a, "--output=", 9) == 0)
      out = a + 9;
    else if (strcmp (a, "--acked") == 0)
      acked = 1;
    else if (strncmp (a, "--base-format=", 14) == 0)
      format = a + 14;
    else if (strncmp (a, "--trim=", 7) == 0) {
      if (parse_trim (a + 7, &trim) == -1)
        return EXIT_USAGE;
      if (trim == 3) {
        fprintf (stderr, "blkreplay: image: --trim=both builds two states; "
                 "use keep or zero\n");
        return EXIT_USAGE;
      }
    }
    else if (strcmp (a, "-o") == 0)
      missing_value ("image", a);
    else if (a[0] == '-')
      bad_option ("image", a);
    else if (!path)
      path = a;
    else if (!base)
      base = a;
    else
      extra_argument ("image", a);
  }
  if (!path || !base || !out) {
    fprintf (stderr, "blkreplay: image: needs LOG BASE and -o OUT\n");
    return EXIT_USAGE;
  }
  if (crash_log_load (&cl, path) == -1)
    return EXIT_USAGE;
  if (!at)
    at = "end";
  if (crash_point_pos (&cl.log, at, 0, &pt.pos, why, sizeof why) == -1) {
    fprintf (stderr, "blkreplay: --at: %s\n", why);
    crash_log_free (&cl);
    return EXIT_USAGE;
  }
  pt.acked = acked;
  if (cm_model_init (&m, cl.reqs, cl.nreqs, cl.size,
                     trim == 2 ? CM_TRIM_ZERO : CM_TRIM_KEEP,
                     why, sizeof why) == -1) {
    fprintf (stderr, "blkreplay: %s: %s\n", path, why);
    crash_log_free (&cl);
    return EXIT_USAGE;
  }
  if (strcmp (format, "qcow2") == 0) {
    if (mkdtemp (dir) == NULL) {
      fprintf (stderr, "blkreplay: %s: %m\n", dir);
      goto out;
    }
    have_dir = 1;
  }
  if (crash_open_base (&f, base, format, dir, &cl) == -1)
    goto out;
  fd = crash_copy_base (&f, out, cl.base_size);
  if (fd == -1)
    goto out;
  f.fd[0] = fd;
  set = calloc (m.nw + 1, 1);
  if (set == NULL || cm_builder_init (&b, &m, &io) == -1) {
    fprintf (stderr, "blkreplay: out of memory\n");
    goto out;
  }
  cm_target (&m, &pt, set);
  if (cm_build (&b, set, NULL) == -1 ||
      crash_files_resize (&f, crash_state_size (&cl, &m, set, NULL)) == -1 ||
      fsync (fd) == -1)
    fprintf (stderr, "blkreplay: writing %s: %m\n", out);
  else {
    size_t i, n = 0;
    for (i = 0; i < m.nw; i++)
      n += set[i];
    fprintf (stderr, "blkreplay: %s: the state at request #%" PRIu64
             " (log position %zu): %zu of %zu writes\n", out,
             cl.reqs[pt.pos].id, pt.pos + 1, n, m.nw);
    ret = 0;
  }
  cm_builder_free (&b);
 out:
  free (set);
  if (fd >= 0)
    close (fd);
  if (f.base_fd >= 0)
    close (f.base_fd);
  if (have_dir) {
    char raw[sizeof dir + 16];
    snprintf (raw, sizeof raw, "%s/base.raw", dir);
    unlink (raw);
    rmdir (dir);
  }
  cm_model_free (&m);
  crash_log_free (&cl);
  return ret;
}

/* ---- blkreplay crash ---- */

/* Set by SIGINT/SIGTERM: stop after the current state and remove the
 * private directory (the check command gets the signal too on ^C).
 */
static volatile sig_atomic_t interrupted;

static void
on_signal (int sig)
{
  interrupted = sig;
}

struct failure {
  size_t point;                 /* index into the points, from 0 */
  size_t pos;
  uint64_t id;
  unsigned kind;
  const char *trim;
  char variant[32];
  int status;                   /* exit status, or 128+signal */
  char *deps;                   /* "#3 #5 ..." */
  uint64_t *ids;                /* the same writes, all of them */
  size_t nids;
  uint64_t torn_id;             /* 0: no torn write */
  size_t torn_sectors, torn_of;
  const char *mark;             /* nearest preceding mark, or NULL */
};

struct sweep {
  /* Options. */
  const char *check;
  unsigned kinds;
  uint64_t nspread, reorder, seed;
  int torn, json, progress;
  const char *from, *to;
  /* --points=mark (all marks) and mark:NAME (the marks of that name):
   * checked against the log once it is loaded.
   */
  int all_marks;
  char **mark_names;
  size_t nmark_names;
  const struct blklog_log *log;         /* for the marks */
  const struct crash_log *cl;
  /* Files. */
  char dir[PATH_MAX];
  char state_path[PATH_MAX + 16], check_path[PATH_MAX + 16];
  struct crash_files f;
  uint64_t size;                /* of the state now in the files */
  /* Counters. */
  uint64_t states, restores, restored_bytes, build_ns, check_ns, restore_ns;
  size_t npoints_total;
  struct failure *fails;
  size_t nfails;
};

/* "{}" in the command becomes the image path, single-quoted. */
static char *
expand (const char *cmd, const char *path)
{
  size_t cap = strlen (cmd) + 1, len = 0;
  char *out = malloc (cap), *p;
  const char *c;

  for (c = cmd; out && *c; c++) {
    char tmp[PATH_MAX * 4 + 8];
    const char *add = tmp;
    size_t n;
    if (c[0] == '{' && c[1] == '}') {
      const char *s;
      char *t = tmp;
      *t++ = '\'';
      for (s = path; *s; s++) {
        if (*s == '\'') {
          memcpy (t, "'\\''", 4);
          t += 4;
        }
        else
          *t++ = *s;
      }
      *t++ = '\'';
      *t = 0;
      c++;
    }
    else {
      tmp[0] = *c;
      tmp[1] = 0;
    }
    n = strlen (add);
    if (len + n + 1 > cap) {
      cap = (len + n + 1) * 2;
      p = realloc (out, cap);
      if (!p) {
        free (out);
        return NULL;
      }
      out = p;
    }
    memcpy (out + len, add, n);
    len += n;
  }
  if (out)
    out[len] = 0;
  return out;
}

static void
deps_str (const struct cm_model *m, const uint8_t *set, const uint8_t *prev,
          const struct cm_torn *torn, char *buf, size_t len)
{
  size_t i, n = 0, shown = 0, used = 0;

  buf[0] = 0;
  for (i = 0; i < m->nw; i++) {
    if (!set[i] || (prev && prev[i]))
      continue;
    n++;
    if (shown < 16 && used + 24 < len) {
      used += (size_t) snprintf (buf + used, len - used, "%s#%" PRIu64,
                                 used ? " " : "", m->reqs[m->w[i]].id);
      shown++;
    }
  }
  if (n > shown && used + 24 < len)
    used += (size_t) snprintf (buf + used, len - used, " (+%zu more)",
                               n - shown);
  if (torn && torn->w != SIZE_MAX && used + 40 < len) {
    size_t s, k = 0;
    for (s = 0; s < torn->nsectors; s++)
      k += torn->mask[s];
    snprintf (buf + used, len - used, "%storn #%" PRIu64 " (%zu of %zu "
              "sectors)", used ? " " : "", m->reqs[m->w[torn->w]].id, k,
              torn->nsectors);
  }
}

/* The failure's machine-readable parts: every write new in the state
 * (the ids, in log order), the torn write, the nearest preceding mark.
 */
static int
fail_details (const struct cm_model *m, const uint8_t *set,
              const uint8_t *prev, const struct cm_torn *torn,
              const struct blklog_log *log, struct failure *fl)
{
  size_t i, n = 0;

  for (i = 0; i < m->nw; i++)
    if (set[i] && !(prev && prev[i]))
      n++;
  fl->ids = malloc ((n + 1) * sizeof *fl->ids);
  if (fl->ids == NULL)
    return -1;
  for (i = 0; i < m->nw; i++)
    if (set[i] && !(prev && prev[i]))
      fl->ids[fl->nids++] = m->reqs[m->w[i]].id;
  if (torn && torn->w != SIZE_MAX) {
    fl->torn_id = m->reqs[m->w[torn->w]].id;
    fl->torn_of = torn->nsectors;
    for (i = 0; i < torn->nsectors; i++)
      fl->torn_sectors += torn->mask[i];
  }
  {
    const struct blklog_mark *mk = crash_mark_before (log, fl->pos);
    fl->mark = mk ? mk->name : NULL;
  }
  return 0;
}

/* Adds the mark points the options select to PTS (sorted by position,
 * each position once: a position that already is a point keeps its
 * kind).  Marks with no request before them are the base image: left
 * out.  -1 on OOM.
 */
static int
add_mark_points (const struct sweep *sw, const struct blklog_log *log,
                 size_t from, size_t to, struct cm_point **pts, size_t *npts)
{
  struct cm_point *p;
  size_t i, j, n = *npts, k;

  if (!sw->all_marks && sw->nmark_names == 0)
    return 0;
  p = realloc (*pts, (n + log->nmarks + 1) * sizeof *p);
  if (p == NULL)
    return -1;
  *pts = p;
  for (i = 0; i < log->nmarks; i++) {
    const struct blklog_mark *mk = &log->marks[i];
    size_t pos;
    int want = sw->all_marks;

    for (k = 0; !want && k < sw->nmark_names; k++)
      want = strcmp (sw->mark_names[k], mk->name) == 0;
    if (!want || mk->seq == 0)
      continue;
    pos = mk->seq - 1;
    if (pos < from || pos > to)
      continue;
    for (j = 0; j < n && p[j].pos < pos; j++)
      ;
    if (j < n && p[j].pos == pos)
      continue;
    memmove (&p[j + 1], &p[j], (n - j) * sizeof *p);
    p[j] = (struct cm_point) { .pos = pos, .kind = CM_PT_MARK, .acked = 0 };
    n++;
  }
  *npts = n;
  return 0;
}

/* Runs the check command on check.raw: its exit status. */
static int
run_check (struct sweep *sw, const struct cm_model *m, size_t pi,
           const struct cm_point *pt, const char *trim, const char *variant)
{
  char *cmd = expand (sw->check, sw->check_path);
  char v[64];
  pid_t pid;
  int status;

  if (cmd == NULL)
    return -1;
  pid = fork ();
  if (pid == -1) {
    free (cmd);
    return -1;
  }
  if (pid == 0) {
    /* JSON owns stdout: the command's output goes to stderr. */
    if (sw->json)
      dup2 (2, 1);
    snprintf (v, sizeof v, "%zu", pi + 1);
    setenv ("BLKREPLAY_POINT", v, 1);
    snprintf (v, sizeof v, "%zu", pt->pos + 1);
    setenv ("BLKREPLAY_LOGPOS", v, 1);
    snprintf (v, sizeof v, "%" PRIu64, m->reqs[pt->pos].id);
    setenv ("BLKREPLAY_REQID", v, 1);
    setenv ("BLKREPLAY_KIND", kind_name (pt->kind), 1);
    setenv ("BLKREPLAY_VARIANT", variant, 1);
    setenv ("BLKREPLAY_TRIM", trim, 1);
    {
      const struct blklog_mark *mk = crash_mark_before (sw->log, pt->pos);
      if (mk)
        setenv ("BLKREPLAY_MARK", mk->name, 1);
      else
        unsetenv ("BLKREPLAY_MARK");
    }
    setenv ("BLKREPLAY_IMAGE", sw->check_path, 1);
    execl ("/bin/sh", "sh", "-c", cmd, (char *) NULL);
    _exit (127);
  }
  free (cmd);
  while (waitpid (pid, &status, 0) == -1)
    if (errno != EINTR)
      return -1;
  if (WIFSIGNALED (status))
    return 128 + WTERMSIG (status);
  return WEXITSTATUS (status);
}

/* Puts check.raw back to the state if the command changed it. */
static int
restore_check (struct sweep *sw)
{
  struct stat st, fst;
  uint64_t t0 = now_ns ();

  if (stat (sw->check_path, &st) == -1 || fstat (sw->f.fd[1], &fst) == -1 ||
      st.st_ino != fst.st_ino || st.st_dev != fst.st_dev) {
    /* Removed or replaced: a fresh copy. */
    close (sw->f.fd[1]);
    unlink (sw->check_path);
    sw->f.fd[1] = open (sw->check_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (sw->f.fd[1] == -1)
      return -1;
    if (fstat (sw->f.fd[1], &st) == -1)
      return -1;
    st.st_mtim.tv_sec = 0;
  }
  if (st.st_mtim.tv_sec != 1 || st.st_mtim.tv_nsec != 0 ||
      (uint64_t) st.st_size != sw->size) {
    sw->restores++;
    if (crash_sync_file (sw->f.fd[0], sw->f.fd[1], sw->size,
                         &sw->restored_bytes) == -1)
      return -1;
  }
  sw->restore_ns += now_ns () - t0;
  return 0;
}

static int
mark_check (struct sweep *sw)
{
  const struct timespec ts[2] = { { 1, 0 }, { 1, 0 } };

  return futimens (sw->f.fd[1], ts);
}

static void
print_failure (FILE *fp, const struct failure *fl, size_t npoints, int json)
{
  size_t i;

  if (json) {
    fprintf (fp, "{\"point\":%zu,\"kind\":\"%s\",\"log_position\":%zu,"
             "\"request_id\":%" PRIu64 ",\"mark\":", fl->point + 1,
             kind_name (fl->kind), fl->pos + 1, fl->id);
    if (fl->mark)
      blk_json_string (fp, fl->mark);
    else
      fprintf (fp, "null");
    fprintf (fp, ",\"trim\":\"%s\",\"variant\":\"%s\",\"status\":%d,"
             "\"writes\":[", fl->trim, fl->variant, fl->status);
    for (i = 0; i < fl->nids; i++)
      fprintf (fp, "%s%" PRIu64, i ? "," : "", fl->ids[i]);
    fprintf (fp, "],\"torn\":");
    if (fl->torn_id)
      fprintf (fp, "{\"request_id\":%" PRIu64 ",\"sectors\":%zu,"
               "\"of\":%zu}", fl->torn_id, fl->torn_sectors, fl->torn_of);
    else
      fprintf (fp, "null");
    fprintf (fp, "}");
  }
  else {
    fprintf (fp, "point %zu/%zu (%s, log position %zu, request #%" PRIu64,
             fl->point + 1, npoints, kind_name (fl->kind), fl->pos + 1,
             fl->id);
    if (fl->mark)
      fprintf (fp, ", mark '%s'", fl->mark);
    fprintf (fp, ", trim=%s, %s state): check exited with status %d; writes "
             "new in this state: %s\n", fl->trim, fl->variant, fl->status,
             fl->deps[0] ? fl->deps : "none");
  }
}

/* Builds SET (+TORN) and checks it.  -1 on a fatal error. */
static int
one_state (struct sweep *sw, struct cm_builder *b, const struct cm_model *m,
           size_t pi, size_t npoints, const struct cm_point *pt,
           const uint8_t *set, const uint8_t *prev, const struct cm_torn *torn,
           const char *trim, const char *variant)
{
  uint64_t t0 = now_ns ();
  int st;

  /* A backend log's file grows and shrinks with the writes in the
   * state; what lies past the new end is zeroes in the state too, so
   * the builder's idea of the image stays true.
   */
  sw->size = crash_state_size (sw->cl, m, set, torn);
  if (cm_build (b, set, torn) == -1 ||
      crash_files_resize (&sw->f, sw->size) == -1 || mark_check (sw) == -1) {
    fprintf (stderr, "blkreplay: building the state of point %zu: %m\n",
             pi + 1);
    return -1;
  }
  sw->build_ns += now_ns () - t0;
  sw->states++;
  t0 = now_ns ();
  st = run_check (sw, m, pi, pt, trim, variant);
  sw->check_ns += now_ns () - t0;
  if (st == -1) {
    fprintf (stderr, "blkreplay: cannot run the check command: %m\n");
    return -1;
  }
  if (st != 0) {
    struct failure *nf = realloc (sw->fails,
                                  (sw->nfails + 1) * sizeof *sw->fails);
    char deps[1024];
    if (nf == NULL)
      return -1;
    sw->fails = nf;
    deps_str (m, set, prev, torn, deps, sizeof deps);
    nf[sw->nfails] = (struct failure) {
      .point = pi, .pos = pt->pos, .id = m->reqs[pt->pos].id,
      .kind = pt->kind, .trim = trim, .status = st, .deps = strdup (deps),
    };
    snprintf (nf[sw->nfails].variant, sizeof nf->variant, "%s", variant);
    if (nf[sw->nfails].deps == NULL)
      return -1;
    if (fail_details (m, set, prev, torn, sw->log, &nf[sw->nfails]) == -1) {
      free (nf[sw->nfails].deps);
      return -1;
    }
    if (sw->progress)
      fprintf (stderr, "\r\033[K");
    if (!sw->json) {
      fprintf (stderr, "blkreplay: FAIL ");
      print_failure (stderr, &nf[sw->nfails], npoints, 0);
    }
    sw->nfails++;
  }
  if (interrupted) {
    fprintf (stderr, "%sblkreplay: interrupted (signal %d) at point %zu\n",
             sw->progress ? "\r\033[K" : "", (int) interrupted, pi + 1);
    return -1;
  }
  if (restore_check (sw) == -1) {
    fprintf (stderr, "blkreplay: restoring %s after the check: %m\n",
             sw->check_path);
    return -1;
  }
  if (sw->progress)
    fprintf (stderr, "\r\033[Kpoint %zu/%zu  states %" PRIu64 "  failed %zu",
             pi + 1, npoints, sw->states, sw->nfails);
  return 0;
}

/* One pass over the points with one trim model. */
static int
sweep_model (struct sweep *sw, const struct crash_log *cl, enum cm_trim tm)
{
  const char *trim = tm == CM_TRIM_ZERO ? "zero" : "keep";
  struct cm_model m;
  struct cm_builder b;
  struct cm_io io = { &sw->f, crash_base_pread, crash_pwrite };
  struct cm_point *pts = NULL;
  size_t npts = 0, pi, from = 0, to = SIZE_MAX;
  uint8_t *set = NULL, *prev = NULL, *var = NULL;
  char why[512];
  int ret = -1;

  if (cm_model_init (&m, cl->reqs, cl->nreqs, cl->size, tm, why,
                     sizeof why) == -1) {
    fprintf (stderr, "blkreplay: %s: %s\n", cl->log.rd.path, why);
    return -1;
  }
  if (sw->from && crash_point_pos (&cl->log, sw->from, 1, &from, why,
                                   sizeof why) == -1) {
    fprintf (stderr, "blkreplay: --from: %s\n", why);
    cm_model_free (&m);
    return -1;
  }
  if (sw->to && crash_point_pos (&cl->log, sw->to, 0, &to, why,
                                 sizeof why) == -1) {
    fprintf (stderr, "blkreplay: --to: %s\n", why);
    cm_model_free (&m);
    return -1;
  }
  if (cm_points (&m, sw->kinds, sw->nspread, from, to, &pts, &npts) == -1 ||
      add_mark_points (sw, &cl->log, from, to, &pts, &npts) == -1 ||
      cm_builder_init (&b, &m, &io) == -1) {
    fprintf (stderr, "blkreplay: out of memory\n");
    free (pts);
    cm_model_free (&m);
    return -1;
  }
  sw->npoints_total += npts;
  set = calloc (m.nw + 1, 1);
  prev = calloc (m.nw + 1, 1);
  var = calloc (m.nw + 1, 1);
  if (!set || !prev || !var)
    goto out;
  for (pi = 0; pi < npts; pi++) {
    const struct cm_point *pt = &pts[pi];
    uint64_t k;
    cm_target (&m, pt, set);
    if (one_state (sw, &b, &m, pi, npts, pt, set, prev, NULL, trim,
                   pt->acked ? "acked" : "durable") == -1)
      goto out;
    for (k = 0; k < sw->reorder; k++) {
      /* Each variant has its own generator: the same seed gives the
       * same states whatever --points or --from select.
       */
      uint64_t rng = sw->seed * UINT64_C (0x9E3779B97F4A7C15) +
        cl->reqs[pt->pos].id * 1000003u + k + 1;
      char name[32];
      int r;
      memcpy (var, set, m.nw);
      r = cm_reorder (&m, pt, var, k + 1, &rng);
      if (r == -1)
        goto out;
      if (r == 0)
        break;
      snprintf (name, sizeof name, "reorder-%" PRIu64, k + 1);
      if (one_state (sw, &b, &m, pi, npts, pt, var, set, NULL, trim,
                     name) == -1)
        goto out;
    }
    if (sw->torn) {
      uint64_t rng = sw->seed * UINT64_C (0xD1B54A32D192ED03) +
        cl->reqs[pt->pos].id + 1;
      struct cm_torn torn;
      int r = cm_tear (&m, pt, set, &torn, &rng);
      if (r == -1)
        goto out;
      if (r == 1) {
        r = one_state (sw, &b, &m, pi, npts, pt, set, set, &torn, trim,
                       "torn");
        free (torn.mask);
        if (r == -1)
          goto out;
      }
    }
    memcpy (prev, set, m.nw);
  }
  ret = 0;
 out:
  if (ret == -1 && errno == ENOMEM)
    fprintf (stderr, "blkreplay: out of memory\n");
  free (set);
  free (prev);
  free (var);
  free (pts);
  cm_builder_free (&b);
  cm_model_free (&m);
  return ret;
}

static int
parse_points (struct sweep *sw, const char *v)
{
  char *copy = strdup (v), *tok, *save = NULL;
  int ret = 0;

  sw->kinds = 0;
  if (copy == NULL)
    return -1;
  for (tok = strtok_r (copy, ",", &save); tok;
       tok = strtok_r (NULL, ",", &save)) {
    if (strcmp (tok, "flush") == 0)
      sw->kinds |= CM_PT_FLUSH;
    else if (strcmp (tok, "fua") == 0)
      sw->kinds |= CM_PT_FUA;
    else if (strcmp (tok, "every-write") == 0)
      sw->kinds |= CM_PT_WRITE;
    else if (strcmp (tok, "mark") == 0)
      sw->all_marks = 1;
    else if (strncmp (tok, "mark:", 5) == 0 && tok[5]) {
      char **nn = realloc (sw->mark_names,
                           (sw->nmark_names + 1) * sizeof *nn);
      if (nn == NULL || (nn[sw->nmark_names] = strdup (tok + 5)) == NULL) {
        if (nn)
          sw->mark_names = nn;
        fprintf (stderr, "blkreplay: out of memory\n");
        ret = -1;
        continue;
      }
      sw->mark_names = nn;
      sw->nmark_names++;
    }
    else if (tok[0] >= '0' && tok[0] <= '9') {
      if (parse_u64 ("--points", tok, UINT32_MAX, &sw->nspread) == -1)
        ret = -1;
      else if (sw->nspread)
        sw->kinds |= CM_PT_SPREAD;
    }
    else {
      fprintf (stderr, "blkreplay: --points: unknown kind '%s' (use flush, "
               "fua, every-write, mark, mark:NAME or a number)\n", tok);
      ret = -1;
    }
  }
  free (copy);
  if (ret == 0 && sw->kinds == 0 && !sw->all_marks && !sw->nmark_names) {
    fprintf (stderr, "blkreplay: --points: '%s' selects no points\n", v);
    ret = -1;
  }
  return ret;
}

static void
cleanup_dir (struct sweep *sw)
{
  char p[PATH_MAX + 16];

  unlink (sw->state_path);
  unlink (sw->check_path);
  snprintf (p, sizeof p, "%s/base.raw", sw->dir);
  unlink (p);
  rmdir (sw->dir);
}

int
cmd_crash (int argc, char **argv)
{
  const char *path = NULL, *base = NULL, *format = "raw";
  const char *tmp = getenv ("TMPDIR");
  struct sweep sw = { .kinds = CM_PT_FLUSH | CM_PT_FUA,
                      .f = { .base_fd = -1, .fd = { -1, -1 } } };
  struct crash_log cl;
  int trim = 1, ai, ret = EXIT_USAGE, quiet = 0, force_progress = 0;
  uint64_t t0;
  size_t i;

  for (ai = 1; ai < argc; ai++) {
    const char *a = argv[ai];
    if (strcmp (a, "--check") == 0 && ai + 1 < argc)
      sw.check = argv[++ai];
    else if (strncmp (a, "--check=", 8) == 0)
      sw.check = a + 8;
    else if (strncmp (a, "--points=", 9) == 0) {
      if (parse_points (&sw, a + 9) == -1)
        goto out_opts;
    }
    else if (strncmp (a, "--from=", 7) == 0)
      sw.from = a + 7;
    else if (strncmp (a, "--to=", 5) == 0)
      sw.to = a + 5;
    else if (strncmp (a, "--trim=", 7) == 0) {
      if (parse_trim (a + 7, &trim) == -1)
        goto out_opts;
    }
    else if (strncmp (a, "--reorder=", 10) == 0) {
      if (parse_u64 ("--reorder", a + 10, 1000000, &sw.reorder) == -1)
        goto out_opts;
    }
    else if (strncmp (a, "--seed=", 7) == 0) {
      if (parse_u64 ("--seed", a + 7, UINT64_MAX, &sw.seed) == -1)
        goto out_opts;
    }
    else if (strcmp (a, "--torn") == 0)
      sw.torn = 1;
    else if (strncmp (a, "--base-format=", 14) == 0)
      format = a + 14;
    else if (strcmp (a, "--json") == 0)
      sw.json = 1;
    else if (strcmp (a, "--progress") == 0)
      force_progress = 1;
    else if (strcmp (a, "--quiet") == 0 || strcmp (a, "-q") == 0)
      quiet = 1;
    else if (strcmp (a, "--check") == 0)
      missing_value ("crash", a);
    else if (a[0] == '-')
      bad_option ("crash", a);
    else if (!path)
      path = a;
    else if (!base)
      base = a;
    else
      extra_argument ("crash", a);
  }
  if (!path || !base || !sw.check) {
    fprintf (stderr, "blkreplay: crash: needs LOG BASE --check 'CMD {}'\n");
    goto out_opts;
  }
  sw.progress = force_progress || (!quiet && isatty (2));
  if (crash_log_load (&cl, path) == -1)
    goto out_opts;
  sw.cl = &cl;
  sw.size = cl.base_size;
  sw.log = &cl.log;
  if ((sw.all_marks || sw.nmark_names) && cl.log.nmarks == 0) {
    fprintf (stderr, "blkreplay: --points=mark: not available in this log: "
             "%s has no mark records (marks are taken while recording, with "
             "blkreplay-control=SOCKET and the command 'mark NAME'; log "
             "format version 1 has none)\n", path);
    crash_log_free (&cl);
    goto out_opts;
  }
  for (i = 0; i < sw.nmark_names; i++)
    if (crash_find_mark (&cl.log, sw.mark_names[i]) == NULL) {
      fprintf (stderr, "blkreplay: --points=mark:%s: no mark of that name "
               "in %s (it has %zu marks, the first '%s')\n",
               sw.mark_names[i], path, cl.log.nmarks, cl.log.marks[0].name);
      crash_log_free (&cl);
      goto out_opts;
    }

  snprintf (sw.dir, sizeof sw.dir, "%s/blkreplay-crash.XXXXXX",
            tmp && *tmp ? tmp : "/tmp");
  if (mkdtemp (sw.dir) == NULL) {
    fprintf (stderr, "blkreplay: %s: %m\n", sw.dir);
    crash_log_free (&cl);
    goto out_opts;
  }
  snprintf (sw.state_path, sizeof sw.state_path, "%s/state.raw", sw.dir);
  snprintf (sw.check_path, sizeof sw.check_path, "%s/check.raw", sw.dir);
  if (crash_open_base (&sw.f, base, format, sw.dir, &cl) == -1)
    goto out;

  {
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
  }
  t0 = now_ns ();
  for (i = 1; i <= 2; i++) {
    if (!(trim & (int) i))
      continue;
    /* Each trim model starts again from the base. */
    if (sw.f.fd[0] >= 0)
      close (sw.f.fd[0]);
    if (sw.f.fd[1] >= 0)
      close (sw.f.fd[1]);
    sw.f.fd[0] = crash_copy_base (&sw.f, sw.state_path, cl.base_size);
    sw.f.fd[1] = sw.f.fd[0] == -1 ? -1 :
      crash_copy_base (&sw.f, sw.check_path, cl.base_size);
    sw.size = cl.base_size;
    if (sw.f.fd[1] == -1)
      goto out;
    if (sweep_model (&sw, &cl, i == 2 ? CM_TRIM_ZERO : CM_TRIM_KEEP) == -1)
      goto out;
  }
  if (sw.progress)
    fprintf (stderr, "\r\033[K");
  if (sw.npoints_total == 0) {
    /* Passing nothing must not look like passing. */
    fprintf (stderr, "blkreplay: %s: no crash points of the kinds asked "
             "for%s (a log without flushes has no flush points: try "
             "--points=every-write or --points=N)\n", path,
             sw.from || sw.to ? " between --from and --to" : "");
    goto out;
  }

  {
    double secs = (double) (now_ns () - t0) / 1e9;
    double bsecs = (double) sw.build_ns / 1e9;
    double rate = bsecs > 0 ? (double) sw.states / bsecs : 0;
    if (sw.json) {
      printf ("{\"log\":");
      blk_json_string (stdout, path);
      printf (",\"points\":%zu,\"states\":%" PRIu64 ",\"failed\":%zu,"
              "\"states_per_second\":%.1f,\"build_seconds\":%.6f,"
              "\"check_seconds\":%.6f,\"restore_seconds\":%.6f,"
              "\"restores\":%" PRIu64 ",\"seconds\":%.6f,\"first_failure\":",
              sw.npoints_total, sw.states, sw.nfails, rate, bsecs,
              (double) sw.check_ns / 1e9, (double) sw.restore_ns / 1e9,
              sw.restores, secs);
      if (sw.nfails)
        print_failure (stdout, &sw.fails[0], 0, 1);
      else
        printf ("null");
      printf (",\"failures\":[");
      for (i = 0; i < sw.nfails; i++) {
        if (i)
          printf (",");
        print_failure (stdout, &sw.fails[i], 0, 1);
      }
      printf ("]}\n");
    }
    else {
      printf ("blkreplay crash: %zu points, %" PRIu64 " states checked, %zu "
              "failed, in %.2f s\n", sw.npoints_total, sw.states, sw.nfails,
              secs);
      printf ("  states built: %.0f/s (%.3f s building, %.3f s in the check "
              "command, %" PRIu64 " restores after it wrote, %.3f s)\n",
              rate, bsecs, (double) sw.check_ns / 1e9, sw.restores,
              (double) sw.restore_ns / 1e9);
      if (sw.nfails) {
        printf ("  first failure: ");
        print_failure (stdout, &sw.fails[0], sw.npoints_total, 0);
      }
    }
  }
  ret = sw.nfails ? EXIT_MISMATCH : 0;

 out:
  for (i = 0; i < sw.nfails; i++) {
    free (sw.fails[i].deps);
    free (sw.fails[i].ids);
  }
  free (sw.fails);
  for (i = 0; i < 2; i++)
    if (sw.f.fd[i] >= 0)
      close (sw.f.fd[i]);
  if (sw.f.base_fd >= 0)
    close (sw.f.base_fd);
  cleanup_dir (&sw);
  crash_log_free (&cl);
 out_opts:
  for (i = 0; i < sw.nmark_names; i++)
    free (sw.mark_names[i]);
  free (sw.mark_names);
  return ret;
}
