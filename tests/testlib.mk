# SPDX-License-Identifier: BSD-3-Clause
# Tests of the shell helper library (tests/functions.sh and
# tests/core-functions.sh, shared with bench/; docs/testing.md).

SCRIPT_TESTS += test-testlib.sh
