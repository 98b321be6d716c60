# SPDX-License-Identifier: BSD-3-Clause
# Tests of the blkreplay module (filters/blkreplay, tools/blkreplay).

UNIT_TESTS += unit-blkreplay-log
unit_blkreplay_log_SOURCES = unit-blkreplay-log.c
unit_blkreplay_log_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/common/blklog
unit_blkreplay_log_LDADD = $(top_builddir)/common/blklog/libblklog.la \
	$(top_builddir)/common/utils/libblkutils.la $(CRITERION_LIBS)

# blkaes64, the AES-round payload hash: AES-NI path == portable path,
# known answers, sensitivity.
UNIT_TESTS += unit-blkaes64
unit_blkaes64_SOURCES = unit-blkaes64.c
unit_blkaes64_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/common/blklog
unit_blkaes64_LDADD = $(top_builddir)/common/blklog/libblklog.la \
	$(top_builddir)/common/utils/libblkutils.la $(CRITERION_LIBS)

SCRIPT_TESTS += \
	test-blkreplay-roundtrip.sh \
	test-blkreplay-divergent.sh \
	test-blkreplay-truncate.sh \
	test-blkreplay-crash.sh \
	test-blkreplay-kill.sh \
	test-blkreplay-record.sh \
	test-blkreplay-errors.sh \
	test-blkreplay-order.sh \
	test-blkreplay-replay-divergence.sh \
	test-blkreplay-import.sh \
	test-blkreplay-qemu-nbd.sh \
	test-blkreplay-params.sh \
	test-blkreplay-diskfull.sh \
	test-blkreplay-hostile.sh \
	test-blkreplay-twice.sh \
	test-blkreplay-control.sh \
	test-blkreplay-stats-flags.sh \
	test-blkreplay-import-source.sh \
	test-blkreplay-blkaes64.sh \
	test-blkreplay-hash-cpus.sh

# blkreplay run's connection set-up and command lines (issue 14).
SCRIPT_TESTS += \
	test-blkreplay-connect-timeout.sh \
	test-blkreplay-unknown-option.sh \
	test-blkreplay-unverifiable.sh \
	test-blkreplay-run-replies.sh \
	test-blkreplay-dry-run-plan.sh

# Crash-consistency testing (tools/blkreplay/crash*.c, docs/crash-testing.md).
UNIT_TESTS += unit-crash-model
unit_crash_model_SOURCES = unit-crash-model.c \
	../tools/blkreplay/crashmodel.c ../tools/blkreplay/crashmodel.h
unit_crash_model_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/common/blklog -I$(top_srcdir)/tools/blkreplay
unit_crash_model_LDADD = $(top_builddir)/common/blklog/libblklog.la \
	$(top_builddir)/common/utils/libblkutils.la $(CRITERION_LIBS)

SCRIPT_TESTS += \
	test-blkreplay-crash-flush.sh \
	test-blkreplay-crash-ext4.sh \
	test-blkreplay-crash-xfs.sh \
	test-blkreplay-crash-qemu-img.sh \
	test-blkreplay-crash-trim.sh \
	test-blkreplay-crash-marks.sh \
	test-blkreplay-qcow2-backend.sh \
	test-blkreplay-qcow2-cow.sh \
	test-blkreplay-backend-diskfull.sh
EXTRA_DIST += crash-fs-workload.py crash-fs-check.py \
	qcow2-crash-workload.py qcow2-crash-expect.py qcow2-crash-check.sh
