# SPDX-License-Identifier: BSD-3-Clause
# Tests of the blkdebug module (filters/blkdebug).

UNIT_TESTS += unit-blkdebug-rules unit-blkdebug-engine unit-blkdebug-control \
	unit-blkdebug-index
BLKDEBUG_UNIT_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/filters/blkdebug \
	-I$(top_srcdir)/common/control
unit_blkdebug_rules_SOURCES = unit-blkdebug-rules.c
unit_blkdebug_rules_CPPFLAGS = $(BLKDEBUG_UNIT_CPPFLAGS)
unit_blkdebug_rules_LDADD = $(top_builddir)/filters/blkdebug/libblkdebug.la $(CRITERION_LIBS)
unit_blkdebug_engine_SOURCES = unit-blkdebug-engine.c
unit_blkdebug_engine_CPPFLAGS = $(BLKDEBUG_UNIT_CPPFLAGS)
unit_blkdebug_engine_LDADD = $(top_builddir)/filters/blkdebug/libblkdebug.la $(CRITERION_LIBS) -lpthread
unit_blkdebug_index_SOURCES = unit-blkdebug-index.c
unit_blkdebug_index_CPPFLAGS = $(BLKDEBUG_UNIT_CPPFLAGS)
unit_blkdebug_index_LDADD = $(top_builddir)/filters/blkdebug/libblkdebug.la $(CRITERION_LIBS) -lpthread
unit_blkdebug_control_SOURCES = unit-blkdebug-control.c
unit_blkdebug_control_CPPFLAGS = $(BLKDEBUG_UNIT_CPPFLAGS)
unit_blkdebug_control_LDADD = $(top_builddir)/filters/blkdebug/libblkdebug.la $(CRITERION_LIBS) -lpthread

# common/control, the control library (owned with blkdebug, its first
# user): a filter-neutral registry, the parser, the socket.
UNIT_TESTS += unit-control-lib
unit_control_lib_SOURCES = unit-control-lib.c
unit_control_lib_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/common/control
unit_control_lib_LDADD = $(top_builddir)/common/control/libblkcontrol.la \
	$(CRITERION_LIBS) -lpthread

SCRIPT_TESTS += \
	test-blkdebug-params.sh \
	test-blkdebug-inline.sh \
	test-blkdebug-qemu-diff.sh \
	test-blkdebug-control.sh \
	test-blkdebug-breakpoint.sh \
	test-blkdebug-parallel.sh \
	test-blkdebug-hook.sh \
	test-blkdebug-hook-order.sh \
	test-blkdebug-extras.sh \
	test-blkdebug-report.sh \
	test-blkdebug-blocksize.sh \
	test-blkdebug-observe.sh \
	test-control-blkctl.sh
