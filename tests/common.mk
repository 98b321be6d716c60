# SPDX-License-Identifier: BSD-3-Clause
# Tests of the shared parts: common/, the hook, the build and install.

UNIT_TESTS += unit-duration unit-hook
unit_hook_SOURCES = unit-hook.c
unit_hook_LDADD = $(top_builddir)/common/hook/libnbdkit-blk-hook.la $(CRITERION_LIBS)
unit_duration_SOURCES = unit-duration.c
unit_duration_LDADD = $(top_builddir)/common/utils/libblkutils.la $(CRITERION_LIBS)

# One test per shared helper (docs/common.md).  Header-only helpers
# need no library; why and enum-param live in libblkutils.la.
UNIT_TESTS += \
	unit-common-byte-order \
	unit-common-arith \
	unit-common-random \
	unit-common-clock \
	unit-common-vector \
	unit-common-dup-part \
	unit-common-why \
	unit-common-enum-param \
	unit-common-cleanup
unit_common_byte_order_SOURCES = unit-common-byte-order.c
unit_common_byte_order_LDADD = $(CRITERION_LIBS)
unit_common_arith_SOURCES = unit-common-arith.c
unit_common_arith_LDADD = $(CRITERION_LIBS)
unit_common_random_SOURCES = unit-common-random.c
unit_common_random_LDADD = $(CRITERION_LIBS)
unit_common_clock_SOURCES = unit-common-clock.c
unit_common_clock_LDADD = $(top_builddir)/common/hook/libnbdkit-blk-hook.la $(CRITERION_LIBS)
unit_common_vector_SOURCES = unit-common-vector.c
unit_common_vector_LDADD = $(CRITERION_LIBS)
unit_common_dup_part_SOURCES = unit-common-dup-part.c
unit_common_dup_part_LDADD = $(CRITERION_LIBS)
unit_common_why_SOURCES = unit-common-why.c
unit_common_why_LDADD = $(top_builddir)/common/utils/libblkutils.la $(CRITERION_LIBS)
unit_common_enum_param_SOURCES = unit-common-enum-param.c
unit_common_enum_param_LDADD = $(top_builddir)/common/utils/libblkutils.la $(CRITERION_LIBS)
unit_common_cleanup_SOURCES = unit-common-cleanup.c
unit_common_cleanup_CFLAGS = $(AM_CFLAGS) -pthread
unit_common_cleanup_LDADD = $(CRITERION_LIBS)
unit_common_cleanup_LDFLAGS = -pthread

# hooktest serves RAM and brackets every access through the hook, so
# the filters that subscribe to it can be tested without the qcow2 or
# rbd plugins.  A test fixture: built for make check, not installed.
check_LTLIBRARIES += nbdkit-hooktest-plugin.la
nbdkit_hooktest_plugin_la_SOURCES = hooktest-plugin.c
nbdkit_hooktest_plugin_la_CFLAGS = $(AM_CFLAGS) $(MODULE_CFLAGS) $(NBDKIT_CFLAGS) -pthread
nbdkit_hooktest_plugin_la_LIBADD = $(top_builddir)/common/hook/libnbdkit-blk-hook.la
# -rpath makes libtool build a shared module although it is not installed.
nbdkit_hooktest_plugin_la_LDFLAGS = -module $(PLUGIN_LDFLAGS) -rpath /nowhere -pthread

SCRIPT_TESTS += \
	test-modules-exports.sh \
	test-install.sh \
	test-spdx.sh \
	test-debian-package.sh

# The shell snippets of README.md and docs/*.md run as written (their
# markers and the harness: tests/doc-snippets.py).
SCRIPT_TESTS += test-docs-snippets.sh
EXTRA_DIST += doc-snippets.py
