# Tests of the shared parts: common/, the hook, the build and install.

UNIT_TESTS += unit-duration unit-hook
unit_hook_SOURCES = unit-hook.c
unit_hook_LDADD = $(top_builddir)/common/hook/libnbdkit-blk-hook.la $(CRITERION_LIBS)
unit_duration_SOURCES = unit-duration.c
unit_duration_LDADD = $(top_builddir)/common/utils/libblkutils.la $(CRITERION_LIBS)

# hooktest serves RAM and brackets every access through the hook, so
# the filters that subscribe to it can be tested without the qcow2 or
# rbd plugins.  A test fixture: built for make check, not installed.
check_LTLIBRARIES += nbdkit-hooktest-plugin.la
nbdkit_hooktest_plugin_la_SOURCES = hooktest-plugin.c
nbdkit_hooktest_plugin_la_CFLAGS = $(AM_CFLAGS) $(MODULE_CFLAGS) $(NBDKIT_CFLAGS) -pthread
nbdkit_hooktest_plugin_la_LIBADD = $(top_builddir)/common/hook/libnbdkit-blk-hook.la
# -rpath makes libtool build a shared module although it is not installed.
nbdkit_hooktest_plugin_la_LDFLAGS = -module $(PLUGIN_LDFLAGS) -rpath /nowhere -pthread

SCRIPT_TESTS += \
	test-modules-exports.sh \
	test-install.sh \
	test-debian-package.sh
