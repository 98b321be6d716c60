# SPDX-License-Identifier: BSD-3-Clause
# libFuzzer target of the rbd module: image specs and the Ceph
# connection parameters (no librados: params.c and spec.c are pure).
#   fuzz/fuzz-rbd-params -max_total_time=60 fuzz/corpus-rbd-params fuzz/seeds/rbd-params
noinst_PROGRAMS += fuzz-rbd-params
fuzz_rbd_params_SOURCES = fuzz-rbd-params.c \
	../common/rbd/spec.c ../common/rbd/params.c ../common/rbd/cache-mode.c \
	../common/utils/duration.c ../common/utils/enum-param.c ../common/utils/why.c
fuzz_rbd_params_CPPFLAGS = -I$(top_srcdir)/common/rbd -I$(top_srcdir)/common/utils \
	-I$(top_srcdir)/common/include
fuzz_rbd_params_CFLAGS = $(FUZZ_CFLAGS) $(NBDKIT_CFLAGS)
fuzz_rbd_params_LDFLAGS = $(FUZZ_CFLAGS)
fuzz_rbd_params_LDADD = -lm
EXTRA_DIST += seeds/rbd-params/plugin seeds/rbd-params/qcow2 \
	seeds/rbd-params/bad
