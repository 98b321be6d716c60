/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: parsing and printing durations. */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

static const struct {
  const char *suffix;
  uint64_t ns;
} units[] = {
  { "ns", 1 },
  { "us", 1000 },
  { "ms", 1000000 },
  { "s", UINT64_C (1000000000) },
  { "m", UINT64_C (60000000000) },
  { "h", UINT64_C (3600000000000) },
};

int
blk_parse_duration (const char *str, uint64_t default_unit_ns,
                    uint64_t *ns, char *errbuf, size_t errlen)
{
  const char *p = str;
  uint64_t whole = 0, unit = default_unit_ns;
  long double frac = 0, scale = 1;
  size_t i, digits = 0;

  while (isspace ((unsigned char) *p))
    p++;
  if (*p == '-') {
    snprintf (errbuf, errlen, "'%s': a duration cannot be negative", str);
    return -1;
  }
  /* Integer part by hand: strtod would lose precision above 2^53 ns. */
  for (; isdigit ((unsigned char) *p); p++, digits++) {
    unsigned d = (unsigned) (*p - '0');
    if (whole > (UINT64_MAX - d) / 10) {
      snprintf (errbuf, errlen, "'%s': duration too large", str);
      return -1;
    }
    whole = whole * 10 + d;
  }
  if (*p == '.') {
    for (p++; isdigit ((unsigned char) *p); p++, digits++) {
      scale /= 10;
      frac += (*p - '0') * scale;
    }
  }
  if (digits == 0) {
    snprintf (errbuf, errlen,
              "'%s': expected a number with a unit, e.g. 250us, 1.5ms, 2s",
              str);
    return -1;
  }
  if (*p != '\0' && !isspace ((unsigned char) *p)) {
    for (i = 0; i < sizeof units / sizeof units[0]; i++) {
      if (strcmp (p, units[i].suffix) == 0)
        break;
    }
    if (i == sizeof units / sizeof units[0]) {
      snprintf (errbuf, errlen,
                "'%s': unknown unit '%s' (use ns, us, ms, s, m or h)",
                str, p);
      return -1;
    }
    unit = units[i].ns;
    p += strlen (units[i].suffix);
  }
  while (isspace ((unsigned char) *p))
    p++;
  if (*p != '\0') {
    snprintf (errbuf, errlen, "'%s': trailing characters '%s'", str, p);
    return -1;
  }
  if (unit != 0 && whole > UINT64_MAX / unit) {
    snprintf (errbuf, errlen, "'%s': duration too large", str);
    return -1;
  }
  /* The fraction can still carry the sum past 2^64 ns (584 years):
   * "5124095.6h" must not wrap to 86s.
   */
  {
    long double f = llroundl (frac * unit);
    uint64_t w = whole * unit;
    if (f > (long double) (UINT64_MAX - w)) {
      snprintf (errbuf, errlen, "'%s': duration too large", str);
      return -1;
    }
    *ns = w + (uint64_t) f;
  }
  return 0;
}

char *
blk_format_duration (uint64_t ns, char *buf, size_t len)
{
  static const struct { const char *name; uint64_t ns; } show[] = {
    { "s", UINT64_C (1000000000) }, { "ms", 1000000 }, { "us", 1000 },
  };
  size_t i;

  for (i = 0; i < sizeof show / sizeof show[0]; i++) {
    if (ns >= show[i].ns) {
      uint64_t q = ns / show[i].ns, r = ns % show[i].ns;
      if (r == 0)
        snprintf (buf, len, "%" PRIu64 "%s", q, show[i].name);
      else {
        /* Four significant digits, trailing zeroes dropped. */
        double v = (double) ns / (double) show[i].ns;
        int decimals = v >= 100 ? 1 : v >= 10 ? 2 : 3;
        char *e;
        snprintf (buf, len, "%.*f", decimals, v);
        e = buf + strlen (buf);
        while (e > buf && e[-1] == '0')
          *--e = '\0';
        if (e > buf && e[-1] == '.')
          *--e = '\0';
        snprintf (e, len - (size_t) (e - buf), "%s", show[i].name);
      }
      return buf;
    }
  }
  snprintf (buf, len, "%" PRIu64 "ns", ns);
  return buf;
}
