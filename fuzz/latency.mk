# SPDX-License-Identifier: BSD-3-Clause
# The latency filter's boundary-list and duration parsers.
noinst_PROGRAMS += fuzz-latency-boundaries
fuzz_latency_boundaries_SOURCES = fuzz-latency-boundaries.c \
	../filters/latency/histogram.c ../common/utils/duration.c
fuzz_latency_boundaries_CPPFLAGS = -I$(top_srcdir)/common/utils -I$(top_srcdir)/filters/latency \
	-I$(top_srcdir)/common/include
fuzz_latency_boundaries_CFLAGS = $(FUZZ_CFLAGS)
fuzz_latency_boundaries_LDFLAGS = $(FUZZ_CFLAGS)
fuzz_latency_boundaries_LDADD = -lm

# latency-labels and the reports that carry them.
noinst_PROGRAMS += fuzz-latency-labels
fuzz_latency_labels_SOURCES = fuzz-latency-labels.c \
	../filters/latency/report.c ../filters/latency/stats.c \
	../filters/latency/histogram.c ../common/utils/duration.c
fuzz_latency_labels_CPPFLAGS = -I$(top_srcdir)/common/utils -I$(top_srcdir)/filters/latency \
	-I$(top_srcdir)/common/include
fuzz_latency_labels_CFLAGS = $(FUZZ_CFLAGS)
fuzz_latency_labels_LDFLAGS = $(FUZZ_CFLAGS)
fuzz_latency_labels_LDADD = -lm

EXTRA_DIST += seeds/latency-labels/basic seeds/latency-labels/escapes
