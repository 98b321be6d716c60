# SPDX-License-Identifier: BSD-3-Clause
# Tests of plugins/rbd and of the test cluster (tests/ceph/).
#
# The integration tests share one single-node cluster, started by the
# first of them and stopped when make exits (see rbd-functions.sh);
# tests that stop daemons start a private one.

UNIT_TESTS += unit-rbd-spec unit-rbd-cache-mode
unit_rbd_spec_SOURCES = unit-rbd-spec.c
unit_rbd_spec_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/common/rbd
unit_rbd_spec_LDADD = $(top_builddir)/common/rbd/libblkrbdspec.la $(CRITERION_LIBS)
unit_rbd_cache_mode_SOURCES = unit-rbd-cache-mode.c
unit_rbd_cache_mode_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/common/rbd \
	-I$(top_srcdir)/common/utils
unit_rbd_cache_mode_LDADD = $(top_builddir)/common/rbd/libblkrbdspec.la $(CRITERION_LIBS)

SCRIPT_TESTS += \
	test-rbd-fio-verify.sh \
	test-rbd-export.sh \
	test-rbd-zero-trim.sh \
	test-rbd-bad-params.sh \
	test-rbd-start-fail.sh \
	test-rbd-mon-timeout.sh \
	test-rbd-snapshot.sh \
	test-rbd-two-servers.sh \
	test-rbd-osd-restart.sh \
	test-rbd-cluster-lost.sh \
	test-rbd-latency-layers.sh \
	test-rbd-cache-modes.sh \
	test-rbd-writeback-kill.sh \
	test-rbd-bluestore.sh

EXTRA_DIST += rbd-functions.sh ceph/ceph-cluster.sh
