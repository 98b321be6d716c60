#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# nbdkit-blk: what the guest view of a crashed qcow2 file must hold, for
# tests/qcow2-crash-check.sh (run once after the workload, since a
# Python start-up per crash state would cost more than the check).
#
#   qcow2-crash-expect.py DIR
#
# DIR holds initial.raw (the guest view when nbdkit started: backing
# data shows through unallocated clusters) and phases.json (from
# tests/qcow2-crash-workload.py: phases of [op, offset, length, byte];
# after phase K the client drained, flushed and took the mark
# "phase-K").  For N = 0 (no mark yet) and N = K + 1 (after mark
# phase-K), writes:
#   expect-N.raw   the guest view with phases 0..K applied, and the
#                  bytes that may hold anything (written, zeroed or
#                  trimmed by a later phase, or trimmed) set to zero
#   mask-N.cmds    qemu-io commands zeroing those bytes in a guest copy
#   bytes-N        how many bytes the comparison then checks
# Every byte no phase touched keeps its initial content (from the
# backing file, or clusters shared with a snapshot: copy-on-write must
# keep the rest of a cluster); every byte phases 0..K wrote or zeroed
# and no later phase touched holds what they wrote.

import json
import sys

d = sys.argv[1]
phases = json.load(open(d + "/phases.json"))
initial = open(d + "/initial.raw", "rb").read()
for n in range(len(phases) + 1):
    expect = bytearray(initial)
    unknown = []                # [start, end) ranges that may hold anything
    for k, ops in enumerate(phases):
        for op, off, ln, byte in ops:
            if k >= n or op == "trim":
                unknown.append((off, off + ln))
                continue
            expect[off:off + ln] = bytes([byte if op == "write" else 0]) * ln
            unknown = [p for a, b in unknown
                       for p in ((a, min(b, off)), (max(a, off + ln), b))
                       if p[0] < p[1]]
    merged = []
    for a, b in sorted(unknown):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    with open("%s/mask-%d.cmds" % (d, n), "w") as f:
        for a, b in merged:
            expect[a:b] = bytes(b - a)
            f.write("write -z %d %d\n" % (a, b - a))
    with open("%s/expect-%d.raw" % (d, n), "wb") as f:
        f.write(expect)
    with open("%s/bytes-%d" % (d, n), "w") as f:
        f.write("%d\n" % (len(expect) - sum(b - a for a, b in merged)))
