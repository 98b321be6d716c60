#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# nbdkit-blk: the random workload of the qcow2 crash proofs with
# backing files and snapshots (tests/test-blkreplay-qcow2-cow.sh,
# bench/bench-qcow2-crash.sh); tests/qcow2-crash-check.py checks it.
#
#   qcow2-crash-workload.py URI BLKCTL CTLSOCK DIR PHASES OPS SEED
#
# PHASES phases of OPS requests each on the export URI: writes (most,
# one in eight FUA) of 512 bytes to 192 KiB at random, often unaligned
# offsets, zeroes and trims; up to 4 in flight, no two overlapping
# within a phase (their order would be undefined).  After each phase:
# drain, flush, then `BLKCTL CTLSOCK mark phase-K`, so the mark sits in
# the log after everything the flush made durable.  Writes anywhere in
# the image hit clusters the image does not allocate (copy-on-write
# from the backing file), clusters shared with internal snapshots
# (copy-on-write, refcount > 1) and clusters written before.  The
# phases go to DIR/phases.json.

import json
import random
import subprocess
import sys

import nbd

uri, blkctl, ctl, d = sys.argv[1:5]
nphases, nops, seed = map(int, sys.argv[5:8])
rnd = random.Random(seed)
h = nbd.NBD()
h.connect_uri(uri)
size = h.get_size()
phases = []
for k in range(nphases):
    ops, taken = [], []
    while len(ops) < nops:
        ln = rnd.choice([512, 4096, 5000, 65536, 70000, 196608])
        off = rnd.randrange(0, size - ln)
        if rnd.random() < 0.5:
            off -= off % 4096
        if any(off < b and a < off + ln for a, b in taken):
            continue
        taken.append((off, off + ln))
        r = rnd.random()
        byte = rnd.randrange(1, 256)
        if r < 0.12:
            ops.append(["zero", off, ln, 0])
            h.aio_zero(ln, off)
        elif r < 0.2:
            ops.append(["trim", off, ln, 0])
            h.aio_trim(ln, off)
        else:
            ops.append(["write", off, ln, byte])
            h.aio_pwrite(bytes([byte]) * ln, off,
                         flags=nbd.CMD_FLAG_FUA if r > 0.875 else 0)
        while h.aio_in_flight() >= 4:
            h.poll(-1)
    while h.aio_in_flight() > 0:
        h.poll(-1)
    h.flush()
    subprocess.run([blkctl, ctl, "mark", "phase-%d" % k], check=True,
                   stdout=subprocess.DEVNULL)
    phases.append(ops)
h.shutdown()
with open(d + "/phases.json", "w") as f:
    json.dump(phases, f)
