# Tests of the blkreplay module (filters/blkreplay, tools/blkreplay).

UNIT_TESTS += unit-blkreplay-log
unit_blkreplay_log_SOURCES = unit-blkreplay-log.c
unit_blkreplay_log_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/filters/blkreplay
unit_blkreplay_log_LDADD = $(top_builddir)/filters/blkreplay/libblkreplaylog.la $(CRITERION_LIBS)

SCRIPT_TESTS += \
	test-blkreplay-roundtrip.sh \
	test-blkreplay-divergent.sh \
	test-blkreplay-truncate.sh \
	test-blkreplay-order.sh \
	test-blkreplay-replay-divergence.sh
SCRIPT_TESTS += \
	test-blkreplay-record.sh \
	test-blkreplay-errors.sh \
	test-blkreplay-params.sh
SCRIPT_TESTS += test-blkreplay-import.sh
SCRIPT_TESTS += test-blkreplay-crash.sh
SCRIPT_TESTS += test-blkreplay-qemu-nbd.sh
