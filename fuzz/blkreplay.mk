# libFuzzer targets of the blkreplay module: the log reader.
noinst_PROGRAMS += fuzz-blkreplay-log
fuzz_blkreplay_log_SOURCES = fuzz-blkreplay-log.c \
	../filters/blkreplay/replaylog.c ../filters/blkreplay/crc32c.c
fuzz_blkreplay_log_CPPFLAGS = -I$(top_srcdir)/filters/blkreplay
fuzz_blkreplay_log_CFLAGS = $(FUZZ_CFLAGS)
fuzz_blkreplay_log_LDFLAGS = $(FUZZ_CFLAGS)
