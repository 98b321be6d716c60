#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# test-blkreplay-crash-ext4.sh on xfs (a 300 MiB image, xfs's minimum):
# every flush point mounts (the log replays), passes the strict checker
# and xfs_repair -n; the forgotten fsync is caught.
CRASH_FS=xfs exec bash "$abs_top_srcdir/tests/test-blkreplay-crash-ext4.sh"
