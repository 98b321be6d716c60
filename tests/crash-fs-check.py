#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# The strict checker of test-blkreplay-crash-ext4.sh, run on a mounted
# crash state (the journal replayed).
#
#   crash-fs-check.py MODE MOUNTDIR HISTORY LOGJSON
#
# The steps whose marker read (see crash-fs-workload.py) is in the log
# before the point ($BLKREPLAY_LOGPOS) were durable: every file they
# left must be there with exactly that content, unless a later step
# touched it (then it may also be in a state a later step left, or in
# between for a write: longer than before, a prefix of after).
# MODE "forget": the application's own invariant instead, every data
# file up to the step the commit file names holds its data.
import json
import os
import sys

mode, mnt, history_path, log_path = sys.argv[1:5]
logpos = int(os.environ["BLKREPLAY_LOGPOS"])
history = [{k: (bytes.fromhex(v) if v is not None else None)
            for k, v in ch.items()} for ch in json.load(open(history_path))]

marker_pos = {}
pos = 0
for line in open(log_path):
    r = json.loads(line)
    if r["type"] != "request":
        continue
    pos += 1
    if r["op"] == "read" and r["length"] == 1536:
        marker_pos[r["offset"] // 4096] = pos
K = 0
while K + 1 in marker_pos and marker_pos[K + 1] < logpos:
    K += 1


def read(name):
    try:
        with open(os.path.join(mnt, name), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def bad(msg):
    print("point %s (log position %d, request #%s, %s): %d steps durable: %s"
          % (os.environ["BLKREPLAY_POINT"], logpos,
             os.environ["BLKREPLAY_REQID"], os.environ["BLKREPLAY_VARIANT"],
             K, msg))
    sys.exit(1)


if mode == "forget":
    c = read("commit")
    n = int(c) if c and c.strip().isdigit() else 0
    for k in range(1, n + 1):
        got = read("d%d" % k)
        if got != history[k - 1]["d%d" % k]:
            bad("commit says step %d but d%d holds %s, not its %d bytes "
                "of data" % (n, k, "nothing" if got is None else
                             "%d other bytes" % len(got),
                             len(history[k - 1]["d%d" % k])))
    sys.exit(0)

names = set()
for ch in history:
    names.update(ch)
extra = set(os.listdir(mnt)) - names - {"lost+found"}
if extra:
    bad("unexpected files %s" % sorted(extra))
for name in sorted(names):
    state = None
    for ch in history[:K]:
        if name in ch:
            state = ch[name]
    allowed = [state] + [ch[name] for ch in history[K:] if name in ch]
    got = read(name)
    if got in allowed:
        continue
    ok = False
    for a, b in zip(allowed, allowed[1:]):
        if got is not None and b is not None and \
           got.startswith(a or b"") and b.startswith(got):
            ok = True
    if not ok:
        bad("%s holds %s, expected %s" % (
            name, "nothing" if got is None else "%d bytes" % len(got),
            " or ".join("nothing" if s is None else "%d bytes" % len(s)
                        for s in allowed)))
