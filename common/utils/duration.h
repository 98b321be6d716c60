/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: parsing durations such as "250us", "1.5ms", "2s".
 *
 * Shared by every module that takes a time on its command line
 * (latency boundaries and intervals, blkdebug delays, rbd timeouts).
 */
#ifndef NBDKIT_BLK_DURATION_H
#define NBDKIT_BLK_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parse STR as a duration and store it in nanoseconds in *NS.
 * Accepted: a decimal number (fraction allowed) followed by one of
 * ns, us, ms, s, m (minutes), h; a bare number means DEFAULT_UNIT_NS
 * nanoseconds per unit (pass 1 for "ns").  Returns 0 on success, or
 * -1 with a reason in ERRBUF.
 */
extern int blk_parse_duration (const char *str, uint64_t default_unit_ns,
                               uint64_t *ns, char *errbuf, size_t errlen);

/* Format NS for humans with the largest unit that keeps at most four
 * significant digits ("1.024us", "16ms", "2.5s").  Returns BUF.
 */
extern char *blk_format_duration (uint64_t ns, char *buf, size_t len);

#endif /* NBDKIT_BLK_DURATION_H */
