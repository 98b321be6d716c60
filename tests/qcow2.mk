# SPDX-License-Identifier: BSD-3-Clause
# Tests of the qcow2 plugin (plugins/qcow2).  Everything the plugin
# writes is judged by qemu-img check / compare.
EXTRA_DIST += qcow2-helpers.sh

SCRIPT_TESTS += \
	test-qcow2-read-interop.sh \
	test-qcow2-write-qemu-io.sh \
	test-qcow2-write-backing.sh \
	test-qcow2-random.sh \
	test-qcow2-concurrent.sh \
	test-qcow2-bad-images.sh \
	test-qcow2-hook.sh \
	test-qcow2-create.sh \
	test-qcow2-crash.sh \
	test-qcow2-events.sh \
	test-qcow2-blkdebug.sh \
	test-qcow2-readonly.sh \
	test-qcow2-bitmaps.sh \
	test-qcow2-locking.sh \
	test-qcow2-final-flush.sh \
	test-qcow2-backing-loop.sh \
	test-qcow2-data-file-zero.sh \
	test-qcow2-rbd.sh

UNIT_TESTS += unit-qcow2-header
unit_qcow2_header_SOURCES = unit-qcow2-header.c
unit_qcow2_header_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/qcow2
unit_qcow2_header_LDADD = $(top_builddir)/plugins/qcow2/libqcow2header.la \
	$(top_builddir)/common/utils/libblkutils.la $(CRITERION_LIBS)

# Test fixture: counts hook events / bracketed I/Os, fails the Nth I/O.
check_LTLIBRARIES += nbdkit-hookevents-filter.la
nbdkit_hookevents_filter_la_SOURCES = hookevents-filter.c
nbdkit_hookevents_filter_la_CFLAGS = $(AM_CFLAGS) $(MODULE_CFLAGS) $(NBDKIT_CFLAGS) -pthread
nbdkit_hookevents_filter_la_LIBADD = $(top_builddir)/common/hook/libnbdkit-blk-hook.la
nbdkit_hookevents_filter_la_LDFLAGS = -module $(FILTER_LDFLAGS) -rpath /nowhere -pthread
