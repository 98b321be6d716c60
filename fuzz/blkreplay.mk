# SPDX-License-Identifier: BSD-3-Clause
# libFuzzer targets of the blkreplay module.

# The log reader, and what consumes its records: blkreplay verify, dump,
# stats and run --dry-run (the tool's sources, linked in).
noinst_PROGRAMS += fuzz-blkreplay-log
fuzz_blkreplay_log_SOURCES = fuzz-blkreplay-log.c \
	../common/blklog/replaylog.c ../common/blklog/crc32c.c \
	../common/blklog/blkaes64.c \
	../common/blklog/load.c ../common/utils/why.c \
	../common/utils/enum-param.c ../common/utils/duration.c \
	../tools/blkreplay/loadlog.c ../tools/blkreplay/dump.c \
	../tools/blkreplay/stats.c ../tools/blkreplay/run.c \
	../tools/blkreplay/crashmodel.c ../tools/blkreplay/crashimg.c
fuzz_blkreplay_log_CPPFLAGS = -I$(top_srcdir)/common/blklog \
	-I$(top_srcdir)/tools/blkreplay -I$(top_srcdir)/common/include \
	-I$(top_srcdir)/common/utils
fuzz_blkreplay_log_CFLAGS = $(FUZZ_CFLAGS) $(LIBNBD_CFLAGS)
fuzz_blkreplay_log_LDFLAGS = $(FUZZ_CFLAGS)
fuzz_blkreplay_log_LDADD = $(LIBNBD_LIBS) $(LIBXXHASH_LIBS) -lm

# import --fio-iolog and --blkparse.
noinst_PROGRAMS += fuzz-blkreplay-import
fuzz_blkreplay_import_SOURCES = fuzz-blkreplay-import.c \
	../common/blklog/replaylog.c ../common/blklog/crc32c.c \
	../common/blklog/blkaes64.c \
	../common/utils/why.c
fuzz_blkreplay_import_CPPFLAGS = -I$(top_srcdir)/common/blklog \
	-I$(top_srcdir)/tools/blkreplay -I$(top_srcdir)/common/include \
	-I$(top_srcdir)/common/utils
fuzz_blkreplay_import_CFLAGS = $(FUZZ_CFLAGS)
fuzz_blkreplay_import_LDFLAGS = $(FUZZ_CFLAGS)
fuzz_blkreplay_import_LDADD = $(LIBXXHASH_LIBS)

# Crash states built from arbitrary logs (the harness fixes the CRCs).
noinst_PROGRAMS += fuzz-crash-state
fuzz_crash_state_SOURCES = fuzz-crash-state.c \
	../tools/blkreplay/crashmodel.c \
	../common/blklog/replaylog.c ../common/blklog/crc32c.c \
	../common/blklog/blkaes64.c \
	../common/utils/why.c
fuzz_crash_state_CPPFLAGS = -I$(top_srcdir)/common/blklog \
	-I$(top_srcdir)/tools/blkreplay -I$(top_srcdir)/common/include \
	-I$(top_srcdir)/common/utils
fuzz_crash_state_CFLAGS = $(FUZZ_CFLAGS)
fuzz_crash_state_LDFLAGS = $(FUZZ_CFLAGS)
fuzz_crash_state_LDADD = $(LIBXXHASH_LIBS)
