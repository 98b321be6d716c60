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
	test-qcow2-crash.sh

UNIT_TESTS += unit-qcow2-header
unit_qcow2_header_SOURCES = unit-qcow2-header.c
unit_qcow2_header_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/qcow2
unit_qcow2_header_LDADD = $(top_builddir)/plugins/qcow2/libqcow2header.la $(CRITERION_LIBS)
