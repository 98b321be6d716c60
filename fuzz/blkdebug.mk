# libFuzzer target of the blkdebug module: the rule parsers.
#   fuzz/fuzz-blkdebug-rules -max_total_time=60 fuzz/corpus-blkdebug fuzz/seeds/blkdebug
noinst_PROGRAMS += fuzz-blkdebug-rules
fuzz_blkdebug_rules_SOURCES = fuzz-blkdebug-rules.c \
	../filters/blkdebug/rules.c ../common/utils/duration.c
fuzz_blkdebug_rules_CPPFLAGS = -I$(top_srcdir)/common/utils \
	-I$(top_srcdir)/common/hook -I$(top_srcdir)/filters/blkdebug
fuzz_blkdebug_rules_CFLAGS = $(FUZZ_CFLAGS)
fuzz_blkdebug_rules_LDFLAGS = $(FUZZ_CFLAGS)
fuzz_blkdebug_rules_LDADD = -lm
EXTRA_DIST += seeds/blkdebug/file1 seeds/blkdebug/file2 seeds/blkdebug/inline1
