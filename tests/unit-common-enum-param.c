/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: common/utils/enum-param.c */
#include <config.h>

#include <string.h>

#include <criterion/criterion.h>

#include "enum-param.h"

enum { TEXT = 10, JSON = 11, PROMETHEUS = 12 };

static const struct blk_enum_name formats[] = {
  { "text", TEXT }, { "json", JSON }, { "prometheus", PROMETHEUS },
  { NULL, 0 }
};

static const struct blk_enum_name discard[] = {
  { "unmap", 1 }, { "ignore", 0 },
  { "on", 1 }, { "off", 0 },            /* synonyms: not listed */
  { NULL, 0 }
};

Test (enum_param, known_values)
{
  char why[256] = "";
  int v = -1;

  cr_assert_eq (blk_parse_enum ("latency-format", "json", formats, &v,
                                why, sizeof why), 0);
  cr_assert_eq (v, JSON);
  cr_assert_eq (blk_parse_enum ("latency-format", "prometheus", formats, &v,
                                why, sizeof why), 0);
  cr_assert_eq (v, PROMETHEUS);
  cr_assert_str_eq (why, "", "success must not write a message");
}

/* The one wording every module will share. */
Test (enum_param, unknown_value_wording)
{
  char why[256] = "";
  int v = 77;

  cr_assert_eq (blk_parse_enum ("latency-format", "jsn", formats, &v,
                                why, sizeof why), -1);
  cr_assert_str_eq (why, "latency-format: unknown value 'jsn' "
                    "(expected one of: text, json, prometheus)");
  cr_assert_eq (v, 77, "*out must be left alone on failure");
}

Test (enum_param, exact_case_sensitive_match)
{
  char why[256];
  int v;

  cr_assert_eq (blk_parse_enum ("k", "JSON", formats, &v, why, sizeof why), -1);
  cr_assert_eq (blk_parse_enum ("k", "json ", formats, &v, why, sizeof why), -1);
  cr_assert_eq (blk_parse_enum ("k", "jso", formats, &v, why, sizeof why), -1);
  cr_assert_eq (blk_parse_enum ("k", "", formats, &v, why, sizeof why), -1);
  cr_assert_str_eq (why, "k: unknown value '' "
                    "(expected one of: text, json, prometheus)");
}

Test (enum_param, synonyms_accepted_not_listed)
{
  char why[256];
  int v = -1;

  cr_assert_eq (blk_parse_enum ("discard", "on", discard, &v,
                                why, sizeof why), 0);
  cr_assert_eq (v, 1);
  cr_assert_eq (blk_parse_enum ("discard", "off", discard, &v,
                                why, sizeof why), 0);
  cr_assert_eq (v, 0);
  cr_assert_eq (blk_parse_enum ("discard", "yes", discard, &v,
                                why, sizeof why), -1);
  cr_assert_str_eq (why, "discard: unknown value 'yes' "
                    "(expected one of: unmap, ignore)");
}

Test (enum_param, to_name)
{
  cr_assert_str_eq (blk_enum_to_name (formats, PROMETHEUS), "prometheus");
  cr_assert_str_eq (blk_enum_to_name (discard, 1), "unmap");
  cr_assert_null (blk_enum_to_name (formats, 99));
}

Test (enum_param, empty_table_and_small_buffer)
{
  static const struct blk_enum_name none[] = { { NULL, 0 } };
  char why[24];
  int v;

  cr_assert_eq (blk_parse_enum ("k", "x", none, &v, why, sizeof why), -1);
  cr_assert_eq (strncmp (why, "k: unknown value 'x'", 20), 0, "%s", why);
  cr_assert_eq (strlen (why), sizeof why - 1);
  cr_assert_str_eq (why + sizeof why - 4, "...");
  /* No buffer at all is allowed. */
  cr_assert_eq (blk_parse_enum ("k", "x", formats, &v, NULL, 0), -1);
}
