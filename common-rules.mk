# SPDX-License-Identifier: BSD-3-Clause
# Rules and flags every Makefile.am of the tree shares:
#   include $(top_srcdir)/common-rules.mk

# The compiler flags of everything this project builds: warnings as
# errors, and the sanitizers when configured with --enable-sanitizers.
BLK_CFLAGS = $(WARN_CFLAGS) $(SANITIZER_CFLAGS)

# One rule for every man page: NAME.1 from NAME.pod beside it.  A
# directory lists its pages in man_MANS (inside if HAVE_POD2MAN).
SUFFIXES = .pod .1
.pod.1:
	$(AM_V_GEN)$(POD2MAN) --section=1 --center="nbdkit-blk" \
	  --release="$(PACKAGE_VERSION)" --name="$$(basename $@ .1)" $< > $@
