/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: filters/blkdebug/rules.c (QEMU rule files, inline rules). */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "blk-hook.h"
#include "rules.h"

static bd_rule_list
parse_ok (const char *text)
{
  bd_rule_list l = empty_vector;
  char why[512] = "";
  cr_assert_eq (bd_parse_config (text, strlen (text), "t.cfg", &l, why,
                                 sizeof why), 0, "rejected: %s", why);
  return l;
}

static void
parse_bad (const char *text, const char *needle)
{
  bd_rule_list l = empty_vector;
  char why[512] = "";
  cr_assert_eq (bd_parse_config (text, strlen (text), "t.cfg", &l, why,
                                 sizeof why), -1, "accepted: %s", text);
  cr_assert (strstr (why, needle) != NULL, "message '%s' lacks '%s'", why,
             needle);
  cr_assert_eq (l.len, 0);
}

Test (rules, qemu_file)
{
  bd_rule_list l = parse_ok (
    "# a comment\n"
    "\n"
    "[inject-error]\n"
    "event = \"write_aio\"\n"
    "errno = \"28\"\n"
    "sector = \"8\"\n"
    "once = \"on\"\n"
    "iotype = \"write\"\n"
    "\n"
    "[set-state]\n"
    "  event   =   \"read_aio\"\n"
    "state = \"1\"\n"
    "new_state = \"0x2\"\n"
    "[inject-error \"named\"] # QEMU ignores the rest of the line\r\n"
    "event = \"l2_load\"   # so a comment here is fine\r\n");

  cr_assert_eq (l.len, 3);
  cr_assert_eq (l.ptr[0]->action, BD_INJECT);
  cr_assert_eq (l.ptr[0]->event, BLK_EV_WRITE_AIO);
  cr_assert_eq (l.ptr[0]->error, ENOSPC);
  cr_assert_eq (l.ptr[0]->sector_offset, 8 * 512);
  cr_assert (l.ptr[0]->once);
  cr_assert_eq (l.ptr[0]->iotype_mask, 1u << BD_IO_WRITE);
  cr_assert_str_eq (l.ptr[0]->origin, "t.cfg:3");
  cr_assert_eq (l.ptr[1]->action, BD_SET_STATE);
  cr_assert_eq (l.ptr[1]->state, 1);
  cr_assert_eq (l.ptr[1]->new_state, 2);
  cr_assert_eq (l.ptr[2]->event, BLK_EV_L2_LOAD);
  cr_assert_eq (l.ptr[2]->error, EIO, "default errno is EIO");
  cr_assert_eq (l.ptr[2]->iotype_mask, BD_IOMASK_DEFAULT);
  cr_assert_eq (l.ptr[2]->sector_offset, -1);
  bd_list_free (&l);
}

Test (rules, last_value_wins)
{
  bd_rule_list l = parse_ok ("[inject-error]\nevent = \"read_aio\"\n"
                                    "errno = \"5\"\nerrno = \"22\"\n");
  cr_assert_eq (l.ptr[0]->error, 22);
  bd_list_free (&l);
}

Test (rules, qemu_misreads_are_errors)
{
  parse_bad ("[inject-error]\nevent = write_aio\n",
             "t.cfg:2: the value of 'event' must be in double quotes");
  parse_bad ("[inject-error]\nevent=\"write_aio\"\n",
             "t.cfg:2: write 'event = ...' with spaces");
  parse_bad ("[inject-error]\nevent = \"l2_alloc.write\"\n",
             "t.cfg:2: event: 'l2_alloc.write' is the old dotted name; "
             "use 'l2_alloc_write'");
  parse_bad ("[inject-error]\n  # indented\nevent = \"read_aio\"\n",
             "t.cfg:2: comments must start in the first column");
  parse_bad ("[inject-error]\n  \nevent = \"read_aio\"\n",
             "t.cfg:2: a line with only white space");
  parse_bad ("[inject-error]\nerrno = \"5\"\n",
             "t.cfg:1: [inject-error] section: missing event=");
  parse_bad ("event = \"read_aio\"\n", "t.cfg:1: 'event' before any");
  parse_bad ("[inject-eror]\n", "t.cfg:1: unknown section [inject-eror]");
  parse_bad ("[inject-error\n", "t.cfg:1: missing ']'");
  parse_bad ("[inject-error]\nevent = \"read_aio\n", "missing closing");
  parse_bad ("[inject-error]\nevent = \"read_aio\" x\n", "unexpected text");
  parse_bad ("[inject-error]\nevent = \"bogus\"\n",
             "t.cfg:2: event: unknown event 'bogus'");
  parse_bad ("[inject-error]\nevent = \"read_aio\"\nerrno = \"-5\"\n",
             "t.cfg:3: errno: '-5' is not");
  parse_bad ("[inject-error]\nevent = \"read_aio\"\nstate = \"2x\"\n",
             "t.cfg:3: state: '2x' is not a state number");
  parse_bad ("[inject-error]\nevent = \"read_aio\"\nonce = \"maybe\"\n",
             "t.cfg:3: once: 'maybe' is not a boolean");
  parse_bad ("[inject-error]\nevent = \"read_aio\"\niotype = \"trim\"\n",
             "t.cfg:3: iotype: unknown value 'trim' (expected one of: read, "
             "write, write-zeroes, discard, flush, block-status)");
  parse_bad ("[set-state]\nevent = \"read_aio\"\nerrno = \"5\"\n",
             "t.cfg:3: unknown set-state attribute 'errno'");
  parse_bad ("[inject-error]\nevnt = \"read_aio\"\n",
             "t.cfg:2: unknown inject-error attribute 'evnt'");
  parse_bad ("[inject-error]\nevent = \"\"\n", "unknown event ''");
  parse_bad ("[inject-error]\nevent\n", "t.cfg:2: expected '=' after 'event'");
}

Test (rules, nul_byte)
{
  bd_rule_list l = empty_vector;
  char why[256];
  cr_assert_eq (bd_parse_config ("[a]\0", 4, "t.cfg", &l, why, sizeof why), -1);
  cr_assert (strstr (why, "NUL") != NULL);
}

Test (rules, inline)
{
  char why[512] = "";
  struct bd_rule *r = bd_parse_inline (BD_INJECT,
    "event=write_aio,errno=ENOSPC,sector=2048,once=on", "x", why, sizeof why);
  cr_assert_not_null (r, "%s", why);
  cr_assert_eq (r->error, ENOSPC);
  cr_assert_eq (r->sector_offset, 2048 * 512);
  cr_assert_eq (r->count, 1, "once means count=1");
  bd_rule_free (r);

  r = bd_parse_inline (BD_SET_STATE, "event=read_aio,state=1,new_state=2",
                       "x", why, sizeof why);
  cr_assert_not_null (r, "%s", why);
  cr_assert_eq (r->new_state, 2);
  bd_rule_free (r);

  r = bd_parse_inline (BD_INJECT, "event=read_aio,errno=EBOGUS", "x", why,
                       sizeof why);
  cr_assert_null (r);
  cr_assert (strstr (why, "errno: 'EBOGUS' is not") != NULL, "%s", why);
  r = bd_parse_inline (BD_INJECT, "event=read_aio,junk", "x", why, sizeof why);
  cr_assert_null (r);
  cr_assert (strstr (why, "'junk' is not key=value") != NULL, "%s", why);
  r = bd_parse_inline (BD_INJECT, "errno=5", "x", why, sizeof why);
  cr_assert_null (r);
  cr_assert (strstr (why, "missing event=") != NULL, "%s", why);
}

Test (rules, extras)
{
  char why[512] = "";
  struct bd_rule *r = bd_parse_inline (BD_INJECT,
    "event=none,iotype=read,probability=25%,after=3,count=2,offset=1M,"
    "length=64K,delay=10ms,seed=7", "x", why, sizeof why);
  cr_assert_not_null (r, "%s", why);
  cr_assert_eq (r->prob, UINT64_C (1) << 30);
  cr_assert_eq (r->after, 3);
  cr_assert_eq (r->count, 2);
  cr_assert_eq (r->offset, 1 << 20);
  cr_assert_eq (r->length, 64 << 10);
  cr_assert_eq (r->delay_ns, 10000000);
  cr_assert_eq (r->error, 0, "delay= alone is not an error");
  bd_rule_free (r);

  r = bd_parse_inline (BD_INJECT, "event=none,delay=1s", "x", why, sizeof why);
  cr_assert_not_null (r, "%s", why);
  cr_assert_eq (r->error, 0, "delay alone does not fail");
  bd_rule_free (r);

  r = bd_parse_inline (BD_INJECT, "event=none,probability=1:4", "x", why,
                       sizeof why);
  cr_assert_eq (r->prob, UINT64_C (1) << 30);
  bd_rule_free (r);

  cr_assert_null (bd_parse_inline (BD_INJECT, "event=none,probability=1.5",
                                   "x", why, sizeof why));
  cr_assert_null (bd_parse_inline (BD_INJECT, "event=none,corrupt=3", "x",
                                   why, sizeof why));
  cr_assert (strstr (why, "iotype=read") != NULL, "%s", why);
  cr_assert_null (bd_parse_inline (BD_INJECT, "event=none,torn=512", "x",
                                   why, sizeof why));
  cr_assert (strstr (why, "iotype=write") != NULL, "%s", why);
  cr_assert_null (bd_parse_inline (BD_INJECT, "event=none,delay=5xs", "x",
                                   why, sizeof why));
  cr_assert (strstr (why, "delay:") != NULL, "%s", why);
}

Test (rules, errno_names)
{
  cr_assert_eq (bd_errno_parse ("EIO"), EIO);
  cr_assert_eq (bd_errno_parse ("5"), 5);
  cr_assert_eq (bd_errno_parse ("0x1c"), 28);
  cr_assert_eq (bd_errno_parse ("EFOO"), -1);
  cr_assert_eq (bd_errno_parse ("99999"), -1);
  cr_assert_str_eq (bd_errno_name (ENOSPC), "ENOSPC");
}

/* Out-of-range values are refused, never wrapped into something else. */
Test (rules, bounds)
{
  char why[512] = "";
  struct bd_rule *r;

  /* 2^54 sectors is 2^63 bytes: it used to become "every sector". */
  cr_assert_null (bd_parse_inline (BD_INJECT,
                                   "event=none,sector=18014398509481984",
                                   "x", why, sizeof why));
  cr_assert (strstr (why, "sector: '18014398509481984' is out of range")
             != NULL, "%s", why);
  r = bd_parse_inline (BD_INJECT, "event=none,sector=18014398509481983",
                       "x", why, sizeof why);
  cr_assert_not_null (r, "%s", why);
  cr_assert_eq (r->sector_offset, INT64_C (18014398509481983) * 512);
  bd_rule_free (r);

  cr_assert_null (bd_parse_inline (BD_INJECT, "event=none,delay=5124095.6h",
                                   "x", why, sizeof why));
  cr_assert (strstr (why, "too large") != NULL, "%s", why);
  cr_assert_null (bd_parse_inline (BD_INJECT, "event=none,delay=2000000h",
                                   "x", why, sizeof why));
  cr_assert (strstr (why, "too long") != NULL, "%s", why);

  cr_assert_null (bd_parse_inline (BD_INJECT,
                                   "event=none,iotype=write,torn=99999999999",
                                   "x", why, sizeof why));
  cr_assert (strstr (why, "torn: '99999999999' is larger than any request")
             != NULL, "%s", why);
}

/* offset= alone runs to the end of the disk: say so, not 2^64 - offset. */
Test (rules, describe_open_range)
{
  char why[512] = "", line[512];
  struct bd_rule *r = bd_parse_inline (BD_INJECT, "event=none,offset=300M",
                                       "x", why, sizeof why);
  cr_assert_not_null (r, "%s", why);
  bd_rule_describe (r, line, sizeof line);
  cr_assert (strstr (line, " offset=314572800 to end") != NULL, "%s", line);
  cr_assert (strstr (line, "length=") == NULL, "%s", line);
  bd_rule_free (r);
}

/* QEMU: sector = "-1" is its default, any sector. */
Test (rules, sector_minus_one)
{
  char why[512];
  bd_rule_list l = parse_ok ("[inject-error]\n"
                             "event = \"read_aio\"\n"
                             "sector = \"-1\"\n");
  cr_assert_eq (l.ptr[0]->sector_offset, -1);
  cr_assert_eq (bd_rule_check_qemu (l.ptr[0], why, sizeof why), 0,
                "QEMU syntax: %s", why);
  bd_list_free (&l);
  parse_bad ("[inject-error]\nevent = \"read_aio\"\nsector = \"-2\"\n",
             "t.cfg:3: sector: '-2' is not a sector number");
}

static void
strict_bad (const char *text, const char *needle)
{
  char why[512] = "";
  bd_rule_list l = parse_ok (text);
  cr_assert_eq (l.len, 1);
  cr_assert_eq (bd_rule_check_qemu (l.ptr[0], why, sizeof why), -1,
                "accepted as QEMU's: %s", text);
  cr_assert (strstr (why, needle) != NULL, "message '%s' lacks '%s'", why,
             needle);
  bd_list_free (&l);
}

/* blkdebug-strict=qemu: the attribute and its line are named. */
Test (rules, strict_qemu)
{
  char why[512] = "";
  bd_rule_list l = parse_ok ("[inject-error]\n"
                             "event = \"write_aio\"\n"
                             "errno = \"28\"\n"
                             "sector = \"8\"\n"
                             "once = \"on\"\n"
                             "immediately = \"off\"\n"
                             "iotype = \"write\"\n"
                             "state = \"2\"\n"
                             "[set-state]\n"
                             "event = \"l2_load\"\n"
                             "state = \"1\"\n"
                             "new_state = \"2\"\n");
  for (size_t i = 0; i < l.len; i++)
    cr_assert_eq (bd_rule_check_qemu (l.ptr[i], why, sizeof why), 0,
                  "rule %zu is QEMU's: %s", i, why);
  bd_list_free (&l);

  strict_bad ("[inject-error]\nevent = \"read_aio\"\n\nprobability = \"0.5\"\n"
              "delay = \"1s\"\n",
              "t.cfg:4: option 'probability' is not in QEMU's blkdebug");
  strict_bad ("[inject-error]\nevent = \"read_aio\"\nerrno = \"EIO\"\n",
              "t.cfg:3: errno: a name is not QEMU's");
  strict_bad ("[inject-error]\nevent = \"trim_aio\"\n",
              "t.cfg:2: event 'trim_aio' is not one of QEMU's");
  const char *ext[] = { "after", "count", "offset", "length", "seed",
                        "corrupt", "torn", "delay" };
  for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
    char text[256], needle[64];
    const char *extra = "";
    if (strcmp (ext[i], "corrupt") == 0)
      extra = "iotype = \"read\"\n";
    else if (strcmp (ext[i], "torn") == 0)
      extra = "iotype = \"write\"\n";
    snprintf (text, sizeof text, "[inject-error]\nevent = \"read_aio\"\n"
              "%s = \"%s\"\n%s", ext[i],
              strcmp (ext[i], "delay") == 0 ? "1ms" : "1", extra);
    snprintf (needle, sizeof needle, "t.cfg:3: option '%s'", ext[i]);
    strict_bad (text, needle);
  }

  /* Inline rules: the parameter names the origin. */
  struct bd_rule *r = bd_parse_inline (BD_INJECT, "event=read_aio,count=2",
                                       "blkdebug-inject #3", why, sizeof why);
  cr_assert_not_null (r);
  cr_assert_eq (bd_rule_check_qemu (r, why, sizeof why), -1);
  cr_assert (strstr (why, "blkdebug-inject #3: option 'count'") != NULL,
             "%s", why);
  bd_rule_free (r);
}
