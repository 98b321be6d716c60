# Tests of the blkreplay module (filters/blkreplay, tools/blkreplay).

UNIT_TESTS += unit-blkreplay-log
unit_blkreplay_log_SOURCES = unit-blkreplay-log.c
unit_blkreplay_log_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/common/blklog
unit_blkreplay_log_LDADD = $(top_builddir)/common/blklog/libblklog.la \
	$(top_builddir)/common/utils/libblkutils.la $(CRITERION_LIBS)

SCRIPT_TESTS += \
	test-blkreplay-roundtrip.sh \
	test-blkreplay-divergent.sh \
	test-blkreplay-truncate.sh \
	test-blkreplay-crash.sh \
	test-blkreplay-record.sh \
	test-blkreplay-errors.sh \
	test-blkreplay-order.sh \
	test-blkreplay-replay-divergence.sh \
	test-blkreplay-import.sh \
	test-blkreplay-qemu-nbd.sh \
	test-blkreplay-params.sh \
	test-blkreplay-diskfull.sh \
	test-blkreplay-hostile.sh \
	test-blkreplay-twice.sh
