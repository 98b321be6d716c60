/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: parameters that take one of a fixed set of words.
 *
 * Why: latency-format=, blkdebug-layer=, blkreplay-mode= ... each
 * had its own strcmp chain and its own wording of the error.  One
 * table and one parser give every module the same message:
 *
 *   latency-format: unknown value 'jsn' (expected one of: text, json,
 *   prometheus)
 *
 * Usage in a module's config callback:
 *
 *   static const struct blk_enum_name formats[] = {
 *     { "text", FORMAT_TEXT }, { "json", FORMAT_JSON },
 *     { "prometheus", FORMAT_PROMETHEUS }, { NULL }
 *   };
 *   char why[256];
 *   int v;
 *   if (blk_parse_enum (key, value, formats, &v, why, sizeof why) == -1) {
 *     nbdkit_error ("%s", why);
 *     return -1;
 *   }
 *   format = v;
 *
 * The parser never calls nbdkit_error (the tools link it too): the
 * complete message, key included, is in WHY (see why.h).
 *
 * Matching is exact and case-sensitive, like every other nbdkit key.
 * Synonyms: the first entry for a value is its name; later entries
 * with the same value are accepted but not listed in the error (old
 * or alternative spellings, e.g. qcow2 discard=on after "unmap").
 * Thread model: pure.
 */
#ifndef NBDKIT_BLK_ENUM_PARAM_H
#define NBDKIT_BLK_ENUM_PARAM_H

#include <stddef.h>

struct blk_enum_name {
  const char *name;             /* NULL ends the table */
  int value;
};

/* Look VALUE up in TABLE.  On a match store its value in *OUT and
 * return 0; otherwise fill WHY with "KEY: unknown value 'VALUE'
 * (expected one of: a, b, c)" and return -1.
 */
extern int blk_parse_enum (const char *key, const char *value,
                           const struct blk_enum_name *table, int *out,
                           char *why, size_t whylen);

/* The name of VALUE (the first entry that has it), for messages and
 * reports, or NULL.
 */
extern const char *blk_enum_to_name (const struct blk_enum_name *table,
                                     int value);

#endif /* NBDKIT_BLK_ENUM_PARAM_H */
