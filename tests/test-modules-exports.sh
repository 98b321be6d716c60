#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Modules export only their entry point (and -D debug flags): nbdkit
# dlopens with RTLD_GLOBAL, so any other symbol could collide with
# another module's.
. "$abs_top_srcdir/tests/functions.sh"
requires_cmd nm
found=0
for so in "$abs_top_builddir"/filters/*/.libs/nbdkit-*-filter.so \
          "$abs_top_builddir"/plugins/*/.libs/nbdkit-*-plugin.so; do
  [ -e "$so" ] || continue
  found=$((found + 1))
  extra="$(nm -D --defined-only "$so" | awk '{print $3}' |
           grep -Ev '^(filter_init|plugin_init|[a-z0-9]+_debug_[a-z0-9_]+|__odr_asan[._].*|__asan_.*|__ubsan_.*)$' || true)"
  [ -z "$extra" ] || fail "$(basename "$so") exports: $extra"
done
[ $found -ge 1 ] || fail "no modules found"
# The hook library exports only its blk_hook_* API.
extra="$(nm -D --defined-only "$abs_top_builddir"/common/hook/.libs/libnbdkit-blk-hook.so |
         awk '{print $3}' | grep -Ev '^(blk_hook_.*|__odr_asan[._].*|__asan_.*|__ubsan_.*)$' || true)"
[ -z "$extra" ] || fail "hook library exports: $extra"
