/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: blkdebug rule parsers.  See rules.h.
 *
 * The rule-file reader follows the grammar QEMU 7.2's config reader
 * implements with sscanf (observed with qemu-io, see docs/blkdebug.md):
 *   - a line that is exactly "\n" is skipped, as is one starting '#';
 *   - "[group]" or "[group "id"]" opens a section;
 *   - anything else must be <ws> key <ws> = <ws> "value".
 * sscanf makes QEMU accept some broken lines with a different meaning
 * (or with an error that does not say what is wrong); those are
 * refused here with the line number and the fix.
 */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blk-hook.h"
#include "duration.h"
#include "enum-param.h"
#include "rules.h"
#include "why.h"

const char *const bd_iotype_names[BD_IO__MAX] = {
  [BD_IO_READ] = "read",
  [BD_IO_WRITE] = "write",
  [BD_IO_WRITE_ZEROES] = "write-zeroes",
  [BD_IO_DISCARD] = "discard",
  [BD_IO_FLUSH] = "flush",
  [BD_IO_BLOCK_STATUS] = "block-status",
};

/* iotype= values, for blk_parse_enum (the names above, in order). */
static const struct blk_enum_name iotype_table[] = {
  { "read", BD_IO_READ },
  { "write", BD_IO_WRITE },
  { "write-zeroes", BD_IO_WRITE_ZEROES },
  { "discard", BD_IO_DISCARD },
  { "flush", BD_IO_FLUSH },
  { "block-status", BD_IO_BLOCK_STATUS },
  { NULL, 0 }
};

/* The hook's event table, read from its header only: the parser must
 * not need the hook library (unit tests, fuzzer).
 */
static const char *const event_names[] = {
#define BD_EVENT_NAME_(id, name) name,
  BLK_HOOK_EVENTS (BD_EVENT_NAME_)
#undef BD_EVENT_NAME_
};
#define NR_EVENTS ((int) (sizeof event_names / sizeof event_names[0]))

int
bd_event_lookup (const char *name)
{
  int i;

  for (i = 0; i < NR_EVENTS; i++)
    if (strcmp (event_names[i], name) == 0)
      return i;
  return -1;
}

const char *
bd_event_name (int ev)
{
  if (ev < 0 || ev >= NR_EVENTS)
    return "unknown";
  return event_names[ev];
}

bool
bd_event_client_raised (int ev)
{
  switch (ev) {
  case BLK_EV_READ_AIO: case BLK_EV_WRITE_AIO: case BLK_EV_PWRITEV:
  case BLK_EV_PWRITEV_ZERO: case BLK_EV_PWRITEV_DONE:
  case BLK_EV_FLUSH_TO_OS: case BLK_EV_FLUSH_TO_DISK: case BLK_EV_NONE:
  case BLK_EV_TRIM_AIO: case BLK_EV_ZERO_AIO: case BLK_EV_CACHE_AIO:
  case BLK_EV_EXTENTS_AIO:
    return true;
  default:
    return false;
  }
}

int
bd_event_usable (int ev, bool client, bool at_runtime, char *why,
                 size_t whylen)
{
  if (at_runtime && ev == BLK_EV_NONE) {
    snprintf (why, whylen, "event 'none' is raised once, at start-up: "
              "a rule added now would never fire (put it on the command "
              "line, or use another event)");
    return -1;
  }
  if (client && !bd_event_client_raised (ev)) {
    snprintf (why, whylen, "event '%s' is raised only by plugins, and "
              "blkdebug-layer=client (the default) sees only the "
              "filter's own events: the rule would never fire (use "
              "blkdebug-layer=backend over a plugin that reports it, "
              "e.g. qcow2)", bd_event_name (ev));
    return -1;
  }
  return 0;
}

static const struct {
  const char *name;
  int err;
} errnos[] = {
  { "EPERM", EPERM }, { "ENOENT", ENOENT }, { "EINTR", EINTR },
  { "EIO", EIO }, { "ENXIO", ENXIO }, { "EBADF", EBADF },
  { "EAGAIN", EAGAIN }, { "ENOMEM", ENOMEM }, { "EACCES", EACCES },
  { "EFAULT", EFAULT }, { "EBUSY", EBUSY }, { "EEXIST", EEXIST },
  { "ENODEV", ENODEV }, { "EINVAL", EINVAL }, { "EFBIG", EFBIG },
  { "ENOSPC", ENOSPC }, { "ESPIPE", ESPIPE }, { "EROFS", EROFS },
  { "EPIPE", EPIPE }, { "ERANGE", ERANGE }, { "EDQUOT", EDQUOT },
  { "ENOTSUP", ENOTSUP }, { "EOPNOTSUPP", EOPNOTSUPP },
  { "EOVERFLOW", EOVERFLOW }, { "ESHUTDOWN", ESHUTDOWN },
  { "ETIMEDOUT", ETIMEDOUT }, { "ECONNRESET", ECONNRESET },
  { "ENOTCONN", ENOTCONN }, { "ECANCELED", ECANCELED },
  { "ENOMEDIUM", ENOMEDIUM }, { "EMEDIUMTYPE", EMEDIUMTYPE },
  { "ESTALE", ESTALE }, { "EREMOTEIO", EREMOTEIO },
};

/* Unsigned number as QEMU's qemu_strtou64 (base 0: 42, 0x2a, 052),
 * but with no sign: QEMU wraps "-5" silently.
 */
static int
parse_u64 (const char *s, uint64_t *v)
{
  char *end;

  if (*s == '\0' || !isdigit ((unsigned char) *s))
    return -1;
  errno = 0;
  *v = strtoull (s, &end, 0);
  if (errno || *end != '\0')
    return -1;
  return 0;
}

int
bd_errno_parse (const char *s)
{
  uint64_t v;
  size_t i;

  if (parse_u64 (s, &v) == 0)
    return v <= 4095 ? (int) v : -1;
  for (i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
    if (strcmp (errnos[i].name, s) == 0)
      return errnos[i].err;
  return -1;
}

const char *
bd_errno_name (int err)
{
  size_t i;

  for (i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
    if (errnos[i].err == err)
      return errnos[i].name;
  return NULL;
}

struct bd_rule *
bd_rule_new (enum bd_action action, const char *origin)
{
  struct bd_rule *r = calloc (1, sizeof *r);

  if (r == NULL)
    return NULL;
  r->action = action;
  r->event = -1;
  r->error = EIO;
  r->iotype_mask = BD_IOMASK_DEFAULT;
  r->sector_offset = -1;
  r->prob = UINT64_C (1) << 32;
  snprintf (r->origin, sizeof r->origin, "%s", origin ? origin : "");
  return r;
}

void
bd_rule_free (struct bd_rule *r)
{
  if (r) {
    free (r->tag);
    free (r);
  }
}

/* QEMU's qapi_bool_parse. */
static int
parse_bool (const char *s, bool *b)
{
  if (!strcmp (s, "on") || !strcmp (s, "yes") || !strcmp (s, "true") ||
      !strcmp (s, "y")) {
    *b = true;
    return 0;
  }
  if (!strcmp (s, "off") || !strcmp (s, "no") || !strcmp (s, "false") ||
      !strcmp (s, "n")) {
    *b = false;
    return 0;
  }
  return -1;
}

/* A byte count: a number with an optional binary suffix (K, M, G, T). */
static int
parse_bytes (const char *s, uint64_t *v)
{
  char buf[64];
  size_t n = strlen (s);
  unsigned shift = 0;

  if (n == 0 || n >= sizeof buf)
    return -1;
  memcpy (buf, s, n + 1);
  switch (buf[n - 1]) {
  case 'k': case 'K': shift = 10; break;
  case 'm': case 'M': shift = 20; break;
  case 'g': case 'G': shift = 30; break;
  case 't': case 'T': shift = 40; break;
  }
  if (shift)
    buf[n - 1] = '\0';
  if (parse_u64 (buf, v) == -1)
    return -1;
  if (shift && *v > (UINT64_MAX >> shift))
    return -1;
  *v <<= shift;
  return 0;
}

/* 0..1, "1:N" or "N%" -> threshold out of 2^32. */
static int
parse_probability (const char *s, uint64_t *t)
{
  char *end;
  double p;
  size_t n = strlen (s);

  if (n == 0)
    return -1;
  if (strncmp (s, "1:", 2) == 0) {
    uint64_t d;
    if (parse_u64 (s + 2, &d) == -1 || d == 0)
      return -1;
    p = 1.0 / (double) d;
  }
  else {
    if (!isdigit ((unsigned char) s[0]) && s[0] != '.')
      return -1;
    errno = 0;
    p = strtod (s, &end);
    if (errno)
      return -1;
    if (*end == '%' && end[1] == '\0')
      p /= 100.0;
    else if (*end != '\0')
      return -1;
  }
  if (!(p >= 0.0 && p <= 1.0))
    return -1;
  *t = (uint64_t) (p * 4294967296.0);
  return 0;
}

static int
parse_int_state (const char *key, const char *value, int *out,
                 char *why, size_t len)
{
  uint64_t v;

  if (parse_u64 (value, &v) == -1 || v > 0x7fffffff)
    return blk_why (why, len, "%s: '%s' is not a state number "
                    "(0 .. 2147483647)", key, value);
  *out = (int) v;
  return 0;
}

static int
set_event (struct bd_rule *r, const char *value, char *why, size_t len)
{
  char alt[128];
  size_t i;
  int ev = bd_event_lookup (value);

  if (ev >= 0) {
    r->event = ev;
    return 0;
  }
  /* QEMU before 2.x spelled some events with dots ("l2_alloc.write");
   * the current names use underscores.
   */
  if (strchr (value, '.') && strlen (value) < sizeof alt) {
    for (i = 0; value[i]; i++)
      alt[i] = value[i] == '.' ? '_' : value[i];
    alt[i] = '\0';
    if (bd_event_lookup (alt) >= 0)
      return blk_why (why, len, "event: '%s' is the old dotted name; "
                      "use '%s'", value, alt);
  }
  return blk_why (why, len, "event: unknown event '%s' (see "
                  "nbdkit-blkdebug-filter(1) for the list, e.g. read_aio, "
                  "write_aio, flush_to_disk, l2_load)", value);
}

/* Remember the first attribute (or value form) that QEMU's blkdebug
 * lacks, for blkdebug-strict=qemu.  Only a record: whether it is
 * refused is decided once every parameter is known.
 */
static void
mark_ext (struct bd_rule *r, const char *what)
{
  if (r->ext_key[0] == '\0')
    snprintf (r->ext_key, sizeof r->ext_key, "%s", what);
}

/* QEMU's rule names: everything before the NBD operations we added. */
static bool
event_is_qemu (int ev)
{
  return ev >= 0 && ev < BLK_EV_TRIM_AIO;
}

int
bd_rule_set (struct bd_rule *r, const char *key, const char *value,
             char *why, size_t len)
{
  uint64_t v;
  int i;

  if (strcmp (key, "event") == 0) {
    if (set_event (r, value, why, len) == -1)
      return -1;
    if (!event_is_qemu (r->event))
      mark_ext (r, "event");
    return 0;
  }
  if (strcmp (key, "state") == 0)
    return parse_int_state (key, value, &r->state, why, len);

  if (r->action == BD_SET_STATE) {
    if (strcmp (key, "new_state") == 0)
      return parse_int_state (key, value, &r->new_state, why, len);
    return blk_why (why, len, "unknown set-state attribute '%s' (use event, "
                    "state, new_state)", key);
  }
  if (r->action != BD_INJECT)
    return blk_why (why, len, "unknown attribute '%s'", key);

  if (strcmp (key, "errno") == 0) {
    i = bd_errno_parse (value);
    if (i < 0)
      return blk_why (why, len, "errno: '%s' is not an errno number or name "
                      "(e.g. 5, EIO, ENOSPC)", value);
    r->error = i;
    r->error_set = true;
    /* QEMU reads errno= as a number only. */
    if (!isdigit ((unsigned char) value[0]))
      mark_ext (r, "errno");
    return 0;
  }
  if (strcmp (key, "iotype") == 0) {
    if (blk_parse_enum (key, value, iotype_table, &i, why, len) == -1)
      return -1;
    r->iotype_mask = 1u << i;
    return 0;
  }
  if (strcmp (key, "sector") == 0) {
    /* QEMU's default, which it also accepts written out: any sector. */
    if (strcmp (value, "-1") == 0) {
      r->sector_offset = -1;
      return 0;
    }
    if (parse_u64 (value, &v) == -1)
      return blk_why (why, len, "sector: '%s' is not a sector number "
                      "(512-byte units, or -1 for any sector)", value);
    /* The byte offset must fit in int64_t: 2^54 sectors would become
     * a negative offset, which means "no sector" (every request).
     */
    if (v >= (UINT64_C (1) << 54))
      return blk_why (why, len, "sector: '%s' is out of range (the largest "
                      "is %" PRIu64 ", the last 512-byte sector below 2^63 "
                      "bytes)", value, (UINT64_C (1) << 54) - 1);
    r->sector_offset = (int64_t) (v * 512);
    return 0;
  }
  if (strcmp (key, "once") == 0 || strcmp (key, "immediately") == 0) {
    bool b;
    if (parse_bool (value, &b) == -1)
      return blk_why (why, len, "%s: '%s' is not a boolean (use on or off)",
                      key, value);
    if (key[0] == 'o')
      r->once = b;
    else
      r->immediately = b;
    return 0;
  }
  /* Everything below is this project's, not QEMU's. */
  mark_ext (r, key);
  if (strcmp (key, "probability") == 0) {
    if (parse_probability (value, &r->prob) == -1)
      return blk_why (why, len, "probability: '%s' is not a probability "
                      "(0..1, 1:N or N%%)", value);
    r->has_prob = true;
    return 0;
  }
  if (strcmp (key, "after") == 0 || strcmp (key, "count") == 0 ||
      strcmp (key, "seed") == 0 || strcmp (key, "corrupt") == 0) {
    if (parse_u64 (value, &v) == -1)
      return blk_why (why, len, "%s: '%s' is not a number", key, value);
    switch (key[0]) {
    case 'a': r->after = v; break;
    case 'c':
      if (key[1] == 'o' && key[2] == 'u') {
        if (v == 0)
          return blk_why (why, len, "count: must be at least 1");
        r->count = v;
      }
      else {
        if (v == 0 || v > 1000000)
          return blk_why (why, len, "corrupt: '%s' bits: use 1 .. 1000000",
                          value);
        r->corrupt = (uint32_t) v;
      }
      break;
    default: r->seed = v; r->has_seed = true; break;
    }
    return 0;
  }
  if (strcmp (key, "offset") == 0 || strcmp (key, "length") == 0 ||
      strcmp (key, "torn") == 0) {
    if (parse_bytes (value, &v) == -1)
      return blk_why (why, len, "%s: '%s' is not a byte count (e.g. 4096, "
                      "64K, 1M)", key, value);
    if (key[0] == 'o')
      r->offset = v;
    else if (key[0] == 'l') {
      if (v == 0)
        return blk_why (why, len, "length: must be at least 1");
      r->length = v;
    }
    else {
      /* No NBD request is longer than 32 bits. */
      if (v > UINT32_MAX)
        return blk_why (why, len, "torn: '%s' is larger than any request "
                        "(at most 4294967295 bytes)", value);
      r->torn = v;
      r->has_torn = true;
    }
    return 0;
  }
  if (strcmp (key, "delay") == 0) {
    if (blk_parse_duration (value, UINT64_C (1000000000), &r->delay_ns,
                            why, len) == -1)
      return blk_why_prefix (why, len, "delay");
    /* nbdkit_nanosleep takes the seconds as an unsigned int. */
    if (r->delay_ns / 1000000000u > UINT32_MAX)
      return blk_why (why, len, "delay: '%s' is too long (at most "
                      "4294967295s)", value);
    return 0;
  }
  return blk_why (why, len, "unknown inject-error attribute '%s' (use event, "
                  "state, iotype, errno, sector, once, immediately, "
                  "probability, after, count, offset, length, delay, corrupt, "
                  "torn, seed)", key);
}

int
bd_rule_finish (struct bd_rule *r, char *why, size_t len)
{
  if (r->event < 0)
    return blk_why (why, len, "missing event= (every rule needs the event "
                    "that triggers it)");
  if (r->action != BD_INJECT)
    return 0;
  if (r->corrupt && r->iotype_mask != (1u << BD_IO_READ))
    return blk_why (why, len, "corrupt= only applies to reads: add "
                    "iotype=read");
  if (r->has_torn && r->iotype_mask != (1u << BD_IO_WRITE))
    return blk_why (why, len,
                    "torn= only applies to writes: add iotype=write");
  if (r->length && r->offset + r->length < r->offset)
    return blk_why (why, len, "offset + length overflows");
  /* offset= alone: from there to the end of the disk. */
  if (r->offset && r->length == 0)
    r->length = UINT64_MAX - r->offset;
  /* An action other than an error: errno only when asked for. */
  if (!r->error_set && (r->delay_ns || r->corrupt))
    r->error = 0;
  if (r->once && r->count == 0)
    r->count = 1;
  return 0;
}

struct bd_rule *
bd_parse_inline (enum bd_action action, const char *text, const char *origin,
                 char *why, size_t len)
{
  struct bd_rule *r = bd_rule_new (action, origin);
  char *copy, *p, *item, *save = NULL;

  if (r == NULL || (copy = strdup (text)) == NULL) {
    bd_rule_free (r);
    blk_why (why, len, "out of memory");
    return NULL;
  }
  p = copy;
  while ((item = strtok_r (p, ",", &save)) != NULL) {
    char *eq = strchr (item, '=');
    p = NULL;
    if (eq == NULL || eq == item) {
      blk_why (why, len, "'%s' is not key=value (e.g. event=read_aio,"
               "errno=EIO)", item);
      goto err;
    }
    *eq = '\0';
    if (bd_rule_set (r, item, eq + 1, why, len) == -1)
      goto err;
  }
  if (bd_rule_finish (r, why, len) == -1)
    goto err;
  free (copy);
  return r;

 err:
  free (copy);
  bd_rule_free (r);
  return NULL;
}

void
bd_list_free (bd_rule_list *list)
{
  size_t i;

  for (i = 0; i < list->len; i++)
    bd_rule_free (list->ptr[i]);
  bd_rule_list_reset (list);
}

static bool
is_blank (char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Finish the rule of the section that ends (if any). */
static int
close_section (struct bd_rule **cur, bd_rule_list *out,
               const char *filename, unsigned start_line,
               char *why, size_t len)
{
  if (*cur == NULL)
    return 0;
  if (bd_rule_finish (*cur, why, len) == -1)
    return blk_why_prefix (why, len, "%s:%u: [%s] section", filename,
                           start_line, (*cur)->action == BD_INJECT
                           ? "inject-error" : "set-state");
  if (bd_rule_list_append (out, *cur) == -1)
    return blk_why (why, len, "out of memory");
  *cur = NULL;
  return 0;
}

/* In bd_parse_config: report "FILE:LINE: ..." and fail. */
#define BAD(...)                                                        \
  do {                                                                  \
    blk_why_at (why, len, filename, lineno, __VA_ARGS__);               \
    goto err;                                                           \
  } while (0)

int
bd_parse_config (const char *text, size_t textlen, const char *filename,
                 bd_rule_list *list, char *why, size_t len)
{
  bd_rule_list out = empty_vector;
  struct bd_rule *cur = NULL;
  unsigned lineno = 0, section_line = 0, nrules = 0;
  size_t pos = 0;
  char origin[96];

  if (memchr (text, '\0', textlen))
    return blk_why (why, len, "%s: contains a NUL byte: not a rule file",
                    filename);

  while (pos < textlen) {
    const char *line = text + pos;
    const char *nl = memchr (line, '\n', textlen - pos);
    size_t n = nl ? (size_t) (nl - line) : textlen - pos;
    char buf[1200];
    const char *p, *q;
    char key[64], value[1024];
    size_t i;

    pos += n + (nl ? 1 : 0);
    lineno++;

    if (n >= sizeof buf) {
      BAD ("line too long (QEMU reads at most 1023 " "characters of a value)");
    }
    memcpy (buf, line, n);
    buf[n] = '\0';

    if (n == 0 || buf[0] == '#')
      continue;
    for (i = 0; i < n && is_blank (buf[i]); i++)
      ;
    if (i == n) {
      BAD ("a line with only white space (QEMU refuses it with "
           "\"parse error\"; make it empty)");
    }
    if (buf[i] == '#') {
      BAD ("comments must start in the first column (QEMU reads an "
           "indented '#' as a parameter)");
    }

    if (buf[0] == '[') {
      char group[64];
      enum bd_action act;

      p = buf + 1;
      for (i = 0; p[i] && p[i] != ']' && !is_blank (p[i]) &&
             p[i] != '"'; i++)
        ;
      if (i == 0 || i >= sizeof group) {
        BAD ("expected [inject-error] or [set-state]");
      }
      memcpy (group, p, i);
      group[i] = '\0';
      p += i;
      if (is_blank (*p)) {
        /* [group "id"]: QEMU's named section; the id is ignored. */
        while (is_blank (*p))
          p++;
        if (*p != '"' || (q = strchr (p + 1, '"')) == NULL || q[1] != ']') {
          BAD ("expected [%s] or [%s \"id\"]", group, group);
        }
        p = q + 1;
      }
      if (*p != ']') {
        BAD ("missing ']' after '[%s'", group);
      }
      for (p++; is_blank (*p); p++)
        ;
      /* QEMU ignores the rest of the line; a comment is clearly meant
       * as one, anything else is refused as a probable mistake.
       */
      if (*p && *p != '#') {
        BAD ("unexpected text '%s' after [%s]", p, group);
      }
      if (strcmp (group, "inject-error") == 0)
        act = BD_INJECT;
      else if (strcmp (group, "set-state") == 0)
        act = BD_SET_STATE;
      else {
        BAD ("unknown section [%s] (use [inject-error] or [set-state])",
             group);
      }
      if (close_section (&cur, &out, filename, section_line, why, len) == -1)
        goto err;
      nrules++;
      snprintf (origin, sizeof origin, "%s:%u", filename, lineno);
      cur = bd_rule_new (act, origin);
      if (cur == NULL) {
        blk_why (why, len, "out of memory");
        goto err;
      }
      section_line = lineno;
      continue;
    }

    /* key = "value" */
    p = buf + i;
    for (i = 0; p[i] && !is_blank (p[i]) && p[i] != '='; i++)
      ;
    if (i >= sizeof key) {
      BAD ("parameter name too long");
    }
    memcpy (key, p, i);
    key[i] = '\0';
    p += i;
    if (i == 0) {
      BAD ("expected key = \"value\"");
    }
    if (*p == '=') {
      BAD ("write '%s = ...' with spaces around '=' (QEMU does not split "
           "'%s=...' and rejects it)", key, key);
    }
    while (is_blank (*p))
      p++;
    if (*p != '=') {
      BAD ("expected '=' after '%s'", key);
    }
    p++;
    while (is_blank (*p))
      p++;
    if (*p != '"') {
      BAD ("the value of '%s' must be in double quotes: %s = \"%s\" "
           "(QEMU reads an unquoted value as empty)", key, key, p);
    }
    q = strchr (p + 1, '"');
    if (q == NULL) {
      BAD ("missing closing '\"' in the value of '%s'", key);
    }
    if ((size_t) (q - p - 1) >= sizeof value) {
      BAD ("value of '%s' too long", key);
    }
    memcpy (value, p + 1, (size_t) (q - p - 1));
    value[q - p - 1] = '\0';
    for (q++; is_blank (*q); q++)
      ;
    if (*q && *q != '#') {
      BAD ("unexpected text '%s' after the value of '%s'", q, key);
    }
    if (cur == NULL) {
      BAD ("'%s' before any [inject-error] or " "[set-state] section", key);
    }
    if (bd_rule_set (cur, key, value, why, len) == -1) {
      blk_why_prefix (why, len, "%s:%u", filename, lineno);
      goto err;
    }
    if (cur->ext_key[0] && cur->ext_line == 0)
      cur->ext_line = lineno;
  }
  if (close_section (&cur, &out, filename, section_line, why, len) == -1)
    goto err;

  /* All or nothing: LIST must be unchanged on error. */
  if (bd_rule_list_reserve (list, out.len) == -1) {
    blk_why (why, len, "out of memory");
    goto err;
  }
  for (size_t k = 0; k < out.len; k++)
    bd_rule_list_append (list, out.ptr[k]);
  bd_rule_list_reset (&out);
  return 0;

 err:
  bd_rule_free (cur);
  bd_list_free (&out);
  return -1;
}

#undef BAD

int
bd_rule_check_qemu (const struct bd_rule *r, char *why, size_t len)
{
  char where[128];

  if (r->ext_key[0] == '\0')
    return 0;
  /* A file's origin is "FILE:SECTION-LINE": name the option's line. */
  if (r->ext_line) {
    const char *colon = strrchr (r->origin, ':');
    int flen = colon ? (int) (colon - r->origin) : (int) strlen (r->origin);
    snprintf (where, sizeof where, "%.*s:%u", flen, r->origin, r->ext_line);
  }
  else
    snprintf (where, sizeof where, "%s", r->origin);
  if (strcmp (r->ext_key, "errno") == 0)
    return blk_why (why, len, "%s: errno: a name is not QEMU's blkdebug "
                    "syntax (QEMU takes a number, e.g. errno = \"5\"); "
                    "refused by blkdebug-strict=qemu", where);
  if (strcmp (r->ext_key, "event") == 0)
    return blk_why (why, len, "%s: event '%s' is not one of QEMU's "
                    "blkdebug events; refused by blkdebug-strict=qemu",
                    where, bd_event_name (r->event));
  return blk_why (why, len, "%s: option '%s' is not in QEMU's blkdebug rule "
                  "syntax (an nbdkit-blkdebug extension); refused by "
                  "blkdebug-strict=qemu", where, r->ext_key);
}

void
bd_rule_describe (const struct bd_rule *r, char *buf, size_t len)
{
  size_t n = 0;
  int i;

#define ADD(...)                                                        \
  do {                                                                  \
    if (n < len)                                                        \
      n += (size_t) snprintf (buf + n, len - n, __VA_ARGS__);           \
  } while (0)

  switch (r->action) {
  case BD_SET_STATE:
    ADD ("%u set-state event=%s state=%d new_state=%d", r->id,
         bd_event_name (r->event), r->state, r->new_state);
    break;
  case BD_SUSPEND:
    ADD ("%u break event=%s tag=%s", r->id, bd_event_name (r->event),
         r->tag ? r->tag : "");
    break;
  case BD_INJECT:
    ADD ("%u inject event=%s state=%d", r->id, bd_event_name (r->event),
         r->state);
    if (r->iotype_mask != BD_IOMASK_DEFAULT)
      for (i = 0; i < BD_IO__MAX; i++)
        if (r->iotype_mask & (1u << i))
          ADD (" iotype=%s", bd_iotype_names[i]);
    if (r->error) {
      const char *nm = bd_errno_name (r->error);
      if (nm)
        ADD (" errno=%s", nm);
      else
        ADD (" errno=%d", r->error);
    }
    else
      ADD (" errno=0");
    if (r->sector_offset >= 0)
      ADD (" sector=%" PRIi64, r->sector_offset / 512);
    if (r->count)
      ADD (" count=%" PRIu64, r->count);
    /* offset= alone means "to the end" (length UINT64_MAX - offset). */
    if (r->length && r->length == UINT64_MAX - r->offset)
      ADD (" offset=%" PRIu64 " to end", r->offset);
    else if (r->length)
      ADD (" offset=%" PRIu64 " length=%" PRIu64, r->offset, r->length);
    if (r->has_prob)
      ADD (" probability=%.6g", (double) r->prob / 4294967296.0);
    if (r->after)
      ADD (" after=%" PRIu64, r->after);
    if (r->delay_ns)
      ADD (" delay=%" PRIu64 "ns", r->delay_ns);
    if (r->corrupt)
      ADD (" corrupt=%" PRIu32, r->corrupt);
    if (r->has_torn)
      ADD (" torn=%" PRIu64, r->torn);
    break;
  }
  ADD (" hits=%" PRIu64 " fired=%" PRIu64 " origin=%s", r->matches,
       r->fired, r->origin);
#undef ADD
}
