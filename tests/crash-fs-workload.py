#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# The filesystem workload of test-blkreplay-crash-ext4.sh.
#
#   crash-fs-workload.py MODE MOUNTDIR NBDSOCK HISTORY
#
# MODE "fsync": 12 steps of creates, appends, renames and unlinks, each
# made durable (fsync of the file, and of the directory for names).
# MODE "forget": 4 steps that write a data file without fsync, then
# fsync only a commit file naming the step (the application bug).
#
# After each step returns, a marker read of 1536 bytes at offset
# step * 4096 goes to the export on a connection of its own: in the log
# it says "step N was durable before this request was submitted"
# (the filesystem never reads 1536 bytes).  HISTORY gets, per step,
# the files it changed (name -> hex content, or null if removed).
import json
import os
import sys

import nbd

mode, mnt, sock, history_path = sys.argv[1:5]
h = nbd.NBD()
h.connect_unix(sock)


def content(step, n):
    return bytes((step * 31 + i * 7) & 0xff for i in range(n))


def fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def write_file(name, data, mode="wb", sync=True):
    with open(os.path.join(mnt, name), mode) as f:
        f.write(data)
        f.flush()
        if sync:
            os.fsync(f.fileno())


history = []
files = {}
if mode == "fsync":
    nextname = 1
    for step in range(1, 13):
        ch = {}
        live = sorted(files)
        kind = step % 4 if len(live) > 2 else 0
        if kind == 0:
            name = "f%d" % nextname
            nextname += 1
            files[name] = content(step, 500 + step * 700)
            write_file(name, files[name])
            fsync_path(mnt)
            ch[name] = files[name]
        elif kind == 1:
            name = live[step % len(live)]
            extra = content(step + 100, 3000)
            write_file(name, extra, "ab")
            files[name] += extra
            ch[name] = files[name]
        elif kind == 2:
            old = live[step % len(live)]
            new = "r%d" % step
            os.rename(os.path.join(mnt, old), os.path.join(mnt, new))
            fsync_path(mnt)
            files[new] = files.pop(old)
            ch[old] = None
            ch[new] = files[new]
        else:
            name = live[step % len(live)]
            os.unlink(os.path.join(mnt, name))
            fsync_path(mnt)
            del files[name]
            ch[name] = None
        history.append(ch)
        h.pread(1536, step * 4096)
else:
    for step in range(1, 5):
        data = content(step, 6000)
        write_file("d%d" % step, data, sync=False)     # the bug
        write_file("commit", b"%d\n" % step)
        if step == 1:
            fsync_path(mnt)
        history.append({"d%d" % step: data, "commit": b"%d\n" % step})
        h.pread(1536, step * 4096)

h.shutdown()
with open(history_path, "w") as f:
    json.dump([{k: (v.hex() if v is not None else None) for k, v in ch.items()}
               for ch in history], f)
