#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Named dispatches of this tree's forward pass against another built tree's, taking turns for
# ROUNDS rounds (each tree first in every other round): `heed bench --no-torch --dispatches` each
# turn, the GPU time of every dispatch whose name matches PATTERN (an awk regular expression)
# printed per round, then each tree's medians. For a change to a few dispatches, whose effect on
# the whole forward pass is under the machine's noise.
#   tools/bench_dispatch_rounds.sh BASE_TREE ROUNDS PATTERN [heed bench options]
# e.g. tools/bench_dispatch_rounds.sh /tmp/base 8 '^(blocks\.11\.(proj|fc1|fc2)|head)$'
# The bench options default to `--shape deit-tiny`; LP_NATIVE_VECTOR_WIDTH and the like pass
# through to both trees.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 BASE_TREE ROUNDS PATTERN [heed bench options]" >&2; exit 2; }
base=$(cd "$1" 2> /dev/null && pwd) || { echo "$1: no such tree" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
rounds=$2 pattern=$3
shift 3
case "$rounds" in '' | *[!0-9]* | 0) echo "ROUNDS must be a number of rounds" >&2; exit 2 ;; esac
[ $# -gt 0 ] || set -- --shape deit-tiny
for tree in "$base" "$here"; do
  [ -x "$tree/build/tools/heed" ] || { echo "$tree/build/tools/heed: build that tree first" >&2; exit 1; }
done
runs=$(mktemp)
trap 'rm -f "$runs"' EXIT
for r in $(seq "$rounds"); do
  order=("$base" "$here")
  [ $((r % 2)) = 1 ] || order=("$here" "$base")
  for tree in "${order[@]}"; do
    name=$([ "$tree" = "$base" ] && echo base || echo this)
    # the --dispatches rows: two spaces, the dispatch's name, its time in ms
    "$tree/build/tools/heed" bench "$@" --runs 5 --warmup 2 --no-torch --pipeline-frames 0 \
      --dispatches 2> /dev/null |
      awk -v r="$r" -v t="$name" -v pat="$pattern" \
        '/^  [a-z_]/ && $3 == "ms" && $1 ~ pat { print r, t, $1, $2 }' >> "$runs"
  done
done
[ -s "$runs" ] || { echo "no dispatch matched $pattern" >&2; exit 1; }
sort -k3,3 -k1,1n -k2,2 "$runs" | awk '{ printf "round %-3s %-5s %-24s %8.3f ms\n", $1, $2, $3, $4 }'
echo "medians (ms):"
/usr/bin/env python3 - "$runs" <<'PY'
import collections, statistics, sys
times = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r, tree, name, ms = line.split()
    times[(name, tree)].append(float(ms))
total = collections.Counter()
for name in sorted({n for n, _ in times}):
    b, t = statistics.median(times[(name, 'base')]), statistics.median(times[(name, 'this')])
    total['base'] += b
    total['this'] += t
    print('  %-24s base %8.3f  this %8.3f  this/base %.3f' % (name, b, t, t / b))
print('  %-24s base %8.3f  this %8.3f  this/base %.3f' % ('(sum)', total['base'], total['this'],
                                                         total['this'] / total['base']))
PY
