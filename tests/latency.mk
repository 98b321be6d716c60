# SPDX-License-Identifier: BSD-3-Clause
# Tests of filters/latency.

UNIT_TESTS += unit-histogram unit-report
unit_histogram_SOURCES = unit-histogram.c
unit_histogram_LDADD = $(top_builddir)/filters/latency/liblatency.la $(CRITERION_LIBS)
unit_report_SOURCES = unit-report.c
unit_report_LDADD = $(top_builddir)/filters/latency/liblatency.la $(CRITERION_LIBS)

SCRIPT_TESTS += \
	test-latency-basic.sh \
	test-latency-bins.sh \
	test-latency-formats.sh \
	test-latency-params.sh \
	test-latency-layers.sh \
	test-latency-interval.sh \
	test-latency-file-startup.sh \
	test-latency-file-exit.sh \
	test-latency-twice.sh \
	test-latency-unknown-params.sh \
	test-latency-outputs.sh \
	test-latency-daemon.sh \
	test-latency-debug.sh \
	test-latency-control.sh
