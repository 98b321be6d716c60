#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Add the SPDX licence tag (BSD-3-Clause, see LICENSE) to every tracked
# source file that lacks it; idempotent, so it can be run again after new
# files land.
#
#   build-aux/add-spdx.sh            add the tag where it is missing
#   build-aux/add-spdx.sh --check    list the files without it, exit 1 if any
#
# The tag goes on the first line, or on the second after a "#!" line
# (the kernel's and REUSE's practice: tools look for it near the top).
# One comment form per kind of file, each one its language ignores:
#   .c .h .syms              /* SPDX-License-Identifier: BSD-3-Clause */
#   .sh .py .am .mk, and     # SPDX-License-Identifier: BSD-3-Clause
#   scripts without suffix
#   configure.ac (.ac)       dnl SPDX-License-Identifier: BSD-3-Clause
#                            (m4's own comment: a "#" line would be copied
#                            into the generated configure script)
#   .pod                     =for comment SPDX-License-Identifier: BSD-3-Clause
#                            (a paragraph every POD formatter skips; it
#                            needs the blank line after it)
# Skipped: data (fuzz seeds, *.blog), .gitignore, Markdown and the
# debian/ directory (debian/copyright states the licence of every file,
# DEP-5).  A file already carrying "SPDX-License-Identifier:" in its
# first five lines is left alone.

set -euo pipefail

tag="SPDX-License-Identifier: BSD-3-Clause"
mode=add
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

top="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
cd "$top"

# comment_for FILE: the tag line for FILE, or nothing to skip it.
comment_for ()
{
  case "$1" in
    debian/*|*.md|*.gitignore|fuzz/seeds/*|*.blog) return ;;
    *.c|*.h|*.syms) echo "/* $tag */" ;;
    *.sh|*.py|*.am|*.mk) echo "# $tag" ;;
    *.ac) echo "dnl $tag" ;;
    *.pod) printf '=for comment %s\n' "$tag" ;;
    *)
      # No suffix: a script if it starts with a shell or Python "#!".
      case "$(head -c 64 "$1" | head -1)" in
        '#!'*sh*|'#!'*python*) echo "# $tag" ;;
      esac
      ;;
  esac
}

missing=0
while IFS= read -r -d '' f; do
  [ -f "$f" ] && [ ! -L "$f" ] || continue
  line="$(comment_for "$f")"
  [ -n "$line" ] || continue
  head -5 "$f" | grep -q 'SPDX-License-Identifier:' && continue
  if [ "$mode" = check ]; then
    echo "$f"
    missing=1
    continue
  fi
  tmp="$(mktemp)"
  {
    if head -1 "$f" | grep -q '^#!'; then
      head -1 "$f"
      echo "$line"
      tail -n +2 "$f"
    else
      echo "$line"
      # POD: "=for comment" is a paragraph and ends at a blank line.
      case "$f" in *.pod) echo ;; esac
      cat "$f"
    fi
  } >"$tmp"
  # Write in place, so the file keeps its mode (scripts stay executable).
  cat "$tmp" >"$f"
  rm -f "$tmp"
  echo "tagged $f"
done < <(git ls-files -z)

if [ "$mode" = check ] && [ "$missing" = 1 ]; then
  echo "files above lack '$tag' (run build-aux/add-spdx.sh)" >&2
  exit 1
fi
exit 0
