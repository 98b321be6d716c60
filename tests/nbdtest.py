# SPDX-License-Identifier: BSD-3-Clause
# nbdkit-blk: Python helpers for the snippets tests run in nbdsh.
#
# tests/functions.sh puts tests/ on PYTHONPATH, so a snippet says
#   nbdsh -u "$(uri srv)" -c '
#   from nbdtest import outcome
#   assert outcome(h.pread, 512, 0) == "EIO"
#   '
#
# Why a module and not a shell function that prints the code: a module
# is ordinary Python (one definition, readable, importable from any
# snippet, heredoc or --run script) and needs no quoting inside the
# shell strings the snippets already are.

import errno

import nbd


def errname(e):
    """The errno name ("EIO") of an nbd.Error.  libnbd's bindings give
    the name already; an int (other versions) is turned into one."""
    if isinstance(e.errno, int):
        return errno.errorcode.get(e.errno, str(e.errno))
    return e.errno


def outcome(f, *args):
    """Call f(*args), e.g. outcome(h.pread, 512, 0): "ok" when it
    succeeds, the errno name ("EIO", "ENOSPC") when the server answers
    with an error.  Other exceptions propagate."""
    try:
        f(*args)
        return "ok"
    except nbd.Error as e:
        return errname(e)
