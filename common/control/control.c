/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: the control protocol: command registry, line parser,
 * replies in text or JSON.  See control.h.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "control-int.h"

struct blk_ctl_reply {
  FILE *out;
  bool json;
  bool answered;
};

struct blk_ctl *
blk_ctl_new (const char *filter, void *opaque)
{
  struct blk_ctl *c = calloc (1, sizeof *c);

  if (c == NULL)
    return NULL;
  c->filter = strdup (filter);
  if (c->filter == NULL) {
    free (c);
    return NULL;
  }
  c->opaque = opaque;
  c->listen_fd = -1;
  c->stop_pipe[0] = c->stop_pipe[1] = -1;
  pthread_mutex_init (&c->conn_lock, NULL);
  pthread_cond_init (&c->conn_cond, NULL);
  return c;
}

void
blk_ctl_free (struct blk_ctl *c)
{
  if (c == NULL)
    return;
  blk_ctl_stop (c);
  blk_ctl_commands_reset (&c->cmds);
  pthread_mutex_destroy (&c->conn_lock);
  pthread_cond_destroy (&c->conn_cond);
  free (c->filter);
  free (c);
}

static bool
is_builtin (const char *name)
{
  return strcmp (name, "help") == 0 || strcmp (name, "ping") == 0;
}

static const struct blk_ctl_command *
lookup (const struct blk_ctl *c, const char *name)
{
  size_t i;

  for (i = 0; i < c->cmds.len; i++)
    if (strcmp (c->cmds.ptr[i]->name, name) == 0)
      return c->cmds.ptr[i];
  return NULL;
}

int
blk_ctl_register (struct blk_ctl *c, const struct blk_ctl_command *table)
{
  size_t n = 0, i;

  for (n = 0; table[n].name; n++)
    if (is_builtin (table[n].name) || lookup (c, table[n].name)) {
      errno = EEXIST;
      return -1;
    }
  /* All or nothing. */
  if (blk_ctl_commands_reserve (&c->cmds, n) == -1)
    return -1;
  for (i = 0; i < n; i++)
    blk_ctl_commands_append (&c->cmds, &table[i]);
  return 0;
}

/* ---- replies ---- */

void
blk_ctl_json_string (FILE *fp, const char *s)
{
  fputc ('"', fp);
  for (; *s; s++) {
    unsigned char ch = (unsigned char) *s;
    switch (ch) {
    case '"': fputs ("\\\"", fp); break;
    case '\\': fputs ("\\\\", fp); break;
    case '\n': fputs ("\\n", fp); break;
    case '\t': fputs ("\\t", fp); break;
    case '\r': fputs ("\\r", fp); break;
    default:
      /* Control bytes escaped; bytes >= 0x80 passed through (JSON is
       * UTF-8, and the protocol never makes up non-ASCII itself).
       */
      if (ch < 0x20 || ch == 0x7f)
        fprintf (fp, "\\u%04x", ch);
      else
        fputc (ch, fp);
    }
  }
  fputc ('"', fp);
}

bool
blk_ctl_json (const struct blk_ctl_reply *r)
{
  return r->json;
}

/* Format FMT into a new string ("" when FMT is NULL), NULL if out of
 * memory.
 */
static char *vformat (const char *fmt, va_list ap)
  __attribute__ ((format (printf, 1, 0)));

static char *
vformat (const char *fmt, va_list ap)
{
  char *s = NULL;

  if (fmt == NULL)
    return strdup ("");
  if (vasprintf (&s, fmt, ap) == -1)
    return NULL;
  return s;
}

int
blk_ctl_ok (struct blk_ctl_reply *r, const char *fmt, ...)
{
  CLEANUP_FREE char *text = NULL;
  va_list ap;

  va_start (ap, fmt);
  text = vformat (fmt, ap);
  va_end (ap);
  if (text == NULL)
    return blk_ctl_err (r, "out of memory");
  r->answered = true;
  if (r->json) {
    fputs ("{\"ok\":true", r->out);
    if (*text) {
      fputs (",\"text\":", r->out);
      blk_ctl_json_string (r->out, text);
    }
    fputs ("}\n", r->out);
  }
  else
    fprintf (r->out, "OK%s%s\n", *text ? " " : "", text);
  return 0;
}

int
blk_ctl_ok_value (struct blk_ctl_reply *r, long long v)
{
  r->answered = true;
  if (r->json)
    fprintf (r->out, "{\"ok\":true,\"value\":%lld}\n", v);
  else
    fprintf (r->out, "OK %lld\n", v);
  return 0;
}

int
blk_ctl_ok_lines (struct blk_ctl_reply *r, const char *lines)
{
  const char *p;
  size_t n = 0;

  for (p = lines; *p; p++)
    n += *p == '\n';
  /* An unterminated last line still counts. */
  if (p != lines && p[-1] != '\n')
    n++;
  r->answered = true;
  if (!r->json) {
    fprintf (r->out, "OK %zu\n%s", n, lines);
    if (p != lines && p[-1] != '\n')
      fputc ('\n', r->out);
    return 0;
  }
  fprintf (r->out, "{\"ok\":true,\"count\":%zu,\"lines\":[", n);
  for (p = lines; *p; ) {
    const char *nl = strchr (p, '\n');
    size_t len = nl ? (size_t) (nl - p) : strlen (p);
    CLEANUP_FREE char *one = strndup (p, len);

    if (one == NULL)
      break;                    /* the array ends early, still valid */
    fprintf (r->out, "%s", p == lines ? "" : ",");
    blk_ctl_json_string (r->out, one);
    p += len + (nl ? 1 : 0);
  }
  fputs ("]}\n", r->out);
  return 0;
}

int
blk_ctl_ok_json (struct blk_ctl_reply *r, const char *text, const char *json)
{
  if (!r->json)
    return blk_ctl_ok (r, "%s", text ? text : "");
  r->answered = true;
  fprintf (r->out, "{\"ok\":true,\"result\":%s}\n", json);
  return 0;
}

static int verr (struct blk_ctl_reply *r, const char *fmt, va_list ap)
  __attribute__ ((format (printf, 2, 0)));

static int
verr (struct blk_ctl_reply *r, const char *fmt, va_list ap)
{
  CLEANUP_FREE char *text = vformat (fmt, ap);
  const char *t = text ? text : "out of memory";

  r->answered = true;
  if (r->json) {
    fputs ("{\"ok\":false,\"error\":", r->out);
    blk_ctl_json_string (r->out, t);
    fputs ("}\n", r->out);
  }
  else
    fprintf (r->out, "ERR %s\n", t);
  return -1;
}

int
blk_ctl_err (struct blk_ctl_reply *r, const char *fmt, ...)
{
  va_list ap;
  int ret;

  va_start (ap, fmt);
  ret = verr (r, fmt, ap);
  va_end (ap);
  return ret;
}

/* ---- built-in commands ---- */

static int
help (struct blk_ctl *c, struct blk_ctl_reply *r)
{
  size_t i;

  r->answered = true;
  if (r->json) {
    fputs ("{\"ok\":true,\"filter\":", r->out);
    blk_ctl_json_string (r->out, c->filter);
    fputs (",\"commands\":[", r->out);
    for (i = 0; i < c->cmds.len; i++) {
      const struct blk_ctl_command *k = c->cmds.ptr[i];
      fputs (i ? ",{\"name\":" : "{\"name\":", r->out);
      blk_ctl_json_string (r->out, k->name);
      fputs (",\"usage\":", r->out);
      blk_ctl_json_string (r->out, k->usage);
      if (k->help) {
        fputs (",\"help\":", r->out);
        blk_ctl_json_string (r->out, k->help);
      }
      fputc ('}', r->out);
    }
    fputs ("]}\n", r->out);
    return 0;
  }
  /* One line, so a client that reads one reply line gets all of it. */
  fputs ("OK commands:", r->out);
  for (i = 0; i < c->cmds.len; i++)
    fprintf (r->out, "%s %s", i ? " |" : "", c->cmds.ptr[i]->usage);
  fputs (" | ping | help\n", r->out);
  return 0;
}

/* ---- the parser ---- */

static bool
is_blank (char ch)
{
  return ch == ' ' || ch == '\t';
}

int
blk_ctl_exec (struct blk_ctl *c, const char *line, FILE *out)
{
  struct blk_ctl_reply r = { .out = out };
  char buf[BLK_CTL_MAX_LINE + 1], *argv[BLK_CTL_MAX_WORDS + 1];
  const char *rest;
  const struct blk_ctl_command *k;
  char *p;
  int argc = 0, ret;
  size_t n = strlen (line);

  while (n && (line[n - 1] == '\r' || line[n - 1] == '\n'))
    n--;
  if (n >= sizeof buf)
    return blk_ctl_err (&r, "command longer than %d bytes",
                        BLK_CTL_MAX_LINE);
  memcpy (buf, line, n);
  buf[n] = '\0';

  /* "--json" first: the reply is JSON. */
  p = buf;
  while (is_blank (*p))
    p++;
  if (strncmp (p, "--json", 6) == 0 && (p[6] == '\0' || is_blank (p[6]))) {
    r.json = true;
    p += 6;
    while (is_blank (*p))
      p++;
  }

  /* REST: the text after the command word, found in LINE (BUF is
   * about to be cut into words; offsets are the same in both).
   */
  rest = line + (p - buf);
  rest += strcspn (rest, " \t\r\n");
  rest += strspn (rest, " \t");

  while (*p) {
    if (argc == BLK_CTL_MAX_WORDS)
      return blk_ctl_err (&r, "too many words (at most %d)",
                          BLK_CTL_MAX_WORDS);
    argv[argc++] = p;
    p += strcspn (p, " \t");
    if (*p)
      *p++ = '\0';
    while (is_blank (*p))
      p++;
  }
  argv[argc] = NULL;
  if (argc == 0)
    return blk_ctl_err (&r, "empty command (try 'help')");

  if (strcmp (argv[0], "ping") == 0)
    return blk_ctl_ok (&r, "pong");
  if (strcmp (argv[0], "help") == 0)
    return help (c, &r);
  k = lookup (c, argv[0]);
  if (k == NULL)
    return blk_ctl_err (&r, "unknown command '%s' (try 'help')", argv[0]);
  if (argc - 1 < k->min_args || argc - 1 > k->max_args)
    return blk_ctl_err (&r, "usage: %s", k->usage);

  /* REST without the newline that was stripped. */
  {
    CLEANUP_FREE char *restc = strndup (rest, (size_t) (line + n - rest));
    if (restc == NULL)
      return blk_ctl_err (&r, "out of memory");
    ret = k->handler (c->opaque, argc, argv, restc, &r);
  }
  if (!r.answered)
    return blk_ctl_err (&r, "internal error: '%s' gave no answer", argv[0]);
  return ret;
}
