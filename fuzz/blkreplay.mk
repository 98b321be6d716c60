# libFuzzer targets of the blkreplay module: the log reader, crash states.
noinst_PROGRAMS += fuzz-blkreplay-log
fuzz_blkreplay_log_SOURCES = fuzz-blkreplay-log.c \
	../filters/blkreplay/replaylog.c ../filters/blkreplay/crc32c.c
fuzz_blkreplay_log_CPPFLAGS = -I$(top_srcdir)/filters/blkreplay
fuzz_blkreplay_log_CFLAGS = $(FUZZ_CFLAGS)
fuzz_blkreplay_log_LDFLAGS = $(FUZZ_CFLAGS)

# Crash states built from arbitrary logs (the harness fixes the CRCs).
noinst_PROGRAMS += fuzz-crash-state
fuzz_crash_state_SOURCES = fuzz-crash-state.c \
	../tools/blkreplay/crashmodel.c \
	../filters/blkreplay/replaylog.c ../filters/blkreplay/crc32c.c
fuzz_crash_state_CPPFLAGS = -I$(top_srcdir)/filters/blkreplay \
	-I$(top_srcdir)/tools/blkreplay
fuzz_crash_state_CFLAGS = $(FUZZ_CFLAGS)
fuzz_crash_state_LDFLAGS = $(FUZZ_CFLAGS)
