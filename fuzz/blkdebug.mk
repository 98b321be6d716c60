# SPDX-License-Identifier: BSD-3-Clause
# libFuzzer target of the blkdebug module: the rule parsers, and the
# engine's index built from the rules they accept.
#   fuzz/fuzz-blkdebug-rules -max_total_time=60 fuzz/corpus-blkdebug-rules fuzz/seeds/blkdebug-rules
noinst_PROGRAMS += fuzz-blkdebug-rules
fuzz_blkdebug_rules_SOURCES = fuzz-blkdebug-rules.c \
	../filters/blkdebug/rules.c ../filters/blkdebug/engine.c \
	../common/utils/duration.c \
	../common/utils/why.c ../common/utils/enum-param.c
fuzz_blkdebug_rules_CPPFLAGS = -I$(top_srcdir)/common/utils \
	-I$(top_srcdir)/common/include -I$(top_srcdir)/common/hook \
	-I$(top_srcdir)/filters/blkdebug
fuzz_blkdebug_rules_CFLAGS = $(FUZZ_CFLAGS)
fuzz_blkdebug_rules_LDFLAGS = $(FUZZ_CFLAGS)
fuzz_blkdebug_rules_LDADD = -lm -lpthread
EXTRA_DIST += seeds/blkdebug-rules/file1 seeds/blkdebug-rules/file2 seeds/blkdebug-rules/inline1 \
	seeds/blkdebug-rules/file3 seeds/blkdebug-rules/inline2 \
	seeds/blkdebug-rules/file4

# libFuzzer target of the control protocol (common/control: line
# parser, --json, registry, replies) with blkdebug's commands, no socket.
#   fuzz/fuzz-blkdebug-control -max_total_time=60 fuzz/corpus-blkdebug-control fuzz/seeds/blkdebug-control
noinst_PROGRAMS += fuzz-blkdebug-control
fuzz_blkdebug_control_SOURCES = fuzz-blkdebug-control.c \
	../filters/blkdebug/control-cmds.c ../filters/blkdebug/engine.c \
	../common/control/control.c ../common/control/control-server.c \
	../filters/blkdebug/rules.c ../common/utils/duration.c \
	../common/utils/why.c ../common/utils/enum-param.c
fuzz_blkdebug_control_CPPFLAGS = -I$(top_srcdir)/common/utils \
	-I$(top_srcdir)/common/include -I$(top_srcdir)/common/hook \
	-I$(top_srcdir)/common/control -I$(top_srcdir)/filters/blkdebug
fuzz_blkdebug_control_CFLAGS = $(FUZZ_CFLAGS)
fuzz_blkdebug_control_LDFLAGS = $(FUZZ_CFLAGS)
fuzz_blkdebug_control_LDADD = -lm -lpthread
EXTRA_DIST += seeds/blkdebug-control/session1 seeds/blkdebug-control/session2 \
	seeds/blkdebug-control/limits seeds/blkdebug-control/json1
