#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# blkdebug-align / -max-transfer are advertised as NBD block sizes;
# zero and discard requests below -opt-write-zero / -opt-discard are
# refused with ENOTSUP as in QEMU, and end as QEMU's block layer ends
# them: a zero falls back to writing zeroes (a fast zero fails with
# ENOTSUP), a discard succeeds without discarding; bigger ones are
# split at -max-*.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nbdsh nbdinfo jq

start_nbdkit srv --filter="$(filter blkdebug)" memory 4M \
  blkdebug-align=4096 blkdebug-max-transfer=1M \
  blkdebug-opt-write-zero=64K blkdebug-max-write-zero=128K \
  blkdebug-opt-discard=64K
j="$(nbdinfo --json "$(uri srv)")"
echo "$j" | jq -e '.exports[0]."block_size_minimum" == 4096 and
                   .exports[0]."block_size_maximum" == 1048576' >/dev/null ||
  fail "block sizes: $(echo "$j" | jq -c '.exports[0] | with_entries(select(.key | startswith("block")))')"
nbdsh -u "$(uri srv)" -c '
from nbdtest import outcome
h.pwrite(b"z" * 262144, 0)
assert outcome(h.zero, 4096, 0, nbd.CMD_FLAG_FAST_ZERO) == "ENOTSUP"
assert h.pread(4096, 0) == b"z" * 4096
assert outcome(h.zero, 4096, 0) == "ok"
assert h.pread(8192, 0) == b"\0" * 4096 + b"z" * 4096
assert outcome(h.zero, 262144, 0) == "ok"
assert h.pread(262144, 0) == b"\0" * 262144
# QEMU ignores the ENOTSUP of a small discard: it succeeds, no-op.
h.pwrite(b"z" * 4096, 8192)
assert outcome(h.trim, 4096, 8192) == "ok"
assert h.pread(4096, 8192) == b"z" * 4096
assert outcome(h.trim, 65536, 0) == "ok"
'
