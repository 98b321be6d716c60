#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# nbdkit-blk: pull the shell snippets out of Markdown files, for
# tests/test-docs-snippets.sh.
#
#   doc-snippets.py OUTDIR FILE.md...
#
# Every ```sh block (and every ```yaml block holding a CI job's script:
# list) must follow a marker comment on the line just before it:
#
#   <!-- snippet: run -->                  run it as written
#   <!-- snippet: run setup=NAME -->       run it after the harness's
#                                          setup NAME (files it needs)
#   <!-- snippet: skip (REASON) -->        not run, REASON is shown
#
# so a new snippet cannot slip past the test unmarked: a block without
# a marker is an error, naming the file and line.  Writes OUTDIR/NNN.sh
# (the commands) and OUTDIR/index, one block a line:
#   NNN <TAB> run|skip <TAB> FILE:LINE <TAB> SETUP <TAB> REASON
# In "$ " transcripts only the "$ " lines are commands (the rest is
# what they print); a yaml block contributes its script: items.

import os
import re
import sys

MARKER = re.compile(r'^<!--\s*snippet:\s*(run|skip)\b\s*(.*?)\s*-->\s*$')
FENCE = re.compile(r'^```(\S*)\s*$')


def yaml_script(lines):
    """The script: items of a CI job, each joined with its continuation
    lines (a plain YAML scalar folds them with a space)."""
    out, indent, inscript = [], None, False
    for line in lines:
        m = re.match(r'^(\s*)script:\s*$', line)
        if m:
            inscript, indent = True, len(m.group(1))
            continue
        if not inscript:
            continue
        m = re.match(r'^(\s*)- (.*)$', line)
        if m and len(m.group(1)) > indent:
            out.append(m.group(2))
        elif line.strip() and len(line) - len(line.lstrip()) > indent + 2 \
                and out:
            out[-1] += ' ' + line.strip()
        elif line.strip():
            inscript = False
    return out


def commands(lang, lines):
    if lang == 'yaml':
        return yaml_script(lines)
    if any(line.startswith('$ ') for line in lines):
        return [line[2:] for line in lines if line.startswith('$ ')]
    return lines


def main():
    outdir, files = sys.argv[1], sys.argv[2:]
    errors, n = [], 0
    index = open(os.path.join(outdir, 'index'), 'w')
    for path in files:
        with open(path) as f:
            text = f.read().split('\n')
        i = 0
        while i < len(text):
            m = FENCE.match(text[i])
            if not m:
                i += 1
                continue
            lang, start = m.group(1), i
            j = i + 1
            while j < len(text) and not text[j].startswith('```'):
                j += 1
            body = text[i + 1:j]
            i = j + 1
            if lang not in ('sh', 'yaml'):
                continue
            if lang == 'yaml' and not yaml_script(body):
                continue
            where = '%s:%d' % (path, start + 1)
            mk = MARKER.match(text[start - 1]) if start > 0 else None
            if mk is None:
                errors.append('%s: ```%s block without a marker: put '
                              '<!-- snippet: run --> or <!-- snippet: '
                              'skip (REASON) --> on the line before it'
                              % (where, lang))
                continue
            kind, rest = mk.group(1), mk.group(2)
            setup = reason = ''
            if kind == 'skip':
                r = re.match(r'^\((.+)\)$', rest)
                if r is None:
                    errors.append('%s: skip marker without a (reason): %r'
                                  % (where, text[start - 1]))
                    continue
                reason = r.group(1)
            elif rest:
                s = re.match(r'^setup=([A-Za-z0-9_-]+)$', rest)
                if s is None:
                    errors.append('%s: run marker: expected setup=NAME, '
                                  'got %r' % (where, rest))
                    continue
                setup = s.group(1)
            n += 1
            with open(os.path.join(outdir, '%03d.sh' % n), 'w') as out:
                out.write('\n'.join(commands(lang, body)) + '\n')
            index.write('%03d\t%s\t%s\t%s\t%s\n'
                        % (n, kind, where, setup or '-', reason or '-'))
    index.close()
    for e in errors:
        print(e, file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == '__main__':
    main()
