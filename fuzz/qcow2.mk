# SPDX-License-Identifier: BSD-3-Clause
# libFuzzer targets of the qcow2 module: the header / extension /
# snapshot table parser.  Seeds: any qcow2 images (qemu-img create);
# fuzz/seeds/qcow2-image has some, with regression cases.
noinst_PROGRAMS += fuzz-qcow2-header
fuzz_qcow2_header_SOURCES = fuzz-qcow2-header.c ../plugins/qcow2/header.c \
	../common/utils/why.c
fuzz_qcow2_header_CPPFLAGS = -I$(top_srcdir)/plugins/qcow2 \
	-I$(top_srcdir)/common/include -I$(top_srcdir)/common/utils
fuzz_qcow2_header_CFLAGS = $(FUZZ_CFLAGS)
fuzz_qcow2_header_LDFLAGS = $(FUZZ_CFLAGS)

# The whole engine on an image (with backing and data files) in a
# private temporary directory: open, read, extents, write, snapshot.
noinst_PROGRAMS += fuzz-qcow2-image
fuzz_qcow2_image_SOURCES = fuzz-qcow2-image.c \
	../plugins/qcow2/header.c ../plugins/qcow2/store.c \
	../plugins/qcow2/cache.c ../plugins/qcow2/image.c \
	../plugins/qcow2/l2.c ../plugins/qcow2/cluster.c \
	../plugins/qcow2/refcount.c ../plugins/qcow2/read.c \
	../plugins/qcow2/write.c ../plugins/qcow2/extents.c \
	../plugins/qcow2/compress.c ../plugins/qcow2/store-file.c \
	../plugins/qcow2/lock.c ../plugins/qcow2/create.c \
	../plugins/qcow2/bitmaps.c \
	../common/hook/blk-hook.c ../common/utils/why.c
fuzz_qcow2_image_CPPFLAGS = -I$(top_srcdir)/plugins/qcow2 \
	-I$(top_srcdir)/common/include -I$(top_srcdir)/common/utils \
	-I$(top_srcdir)/common/hook
fuzz_qcow2_image_CFLAGS = $(FUZZ_CFLAGS) $(NBDKIT_CFLAGS) $(ZLIB_CFLAGS) $(ZSTD_CFLAGS) -pthread
fuzz_qcow2_image_LDFLAGS = $(FUZZ_CFLAGS) -pthread
fuzz_qcow2_image_LDADD = $(ZLIB_LIBS) $(ZSTD_LIBS)
EXTRA_DIST += \
	seeds/qcow2-image/backing-loop-self.qcow2 \
	seeds/qcow2-image/backing-qcow2.qcow2 \
	seeds/qcow2-image/backing-raw.qcow2 \
	seeds/qcow2-image/compressed.qcow2 \
	seeds/qcow2-image/data-file.qcow2 \
	seeds/qcow2-image/extl2.qcow2 \
	seeds/qcow2-image/l1-empty-unaligned.qcow2 \
	seeds/qcow2-image/plain.qcow2 \
	seeds/qcow2-image/small-clusters.qcow2 \
	seeds/qcow2-image/snapshot.qcow2
