#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# This tree's DeiT-Tiny forward pass (or BENCH_MODEL's, a checkpoint's path, where it is set)
# against another built tree's (say the commit before), taking
# turns for ROUNDS rounds so a noisy machine hurts both alike: `heed bench --no-torch` each turn,
# every round's forward pass (wall clock) and the sum of its ops (GPU timestamps) printed, then
# each tree's medians and the median of the rounds' ratios (this / base). The op sums move less
# with the machine than the wall clock does. Each tree goes first in every other round.
#   tools/bench_rounds.sh BASE_TREE [ROUNDS]     (default 8)
# e.g. git worktree add /tmp/base HEAD~1 && (cd /tmp/base && meson setup build && ninja -C build)
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BASE_TREE [ROUNDS]" >&2; exit 2; }
base=$(cd "$1" 2> /dev/null && pwd) || { echo "$1: no such tree" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
rounds=${2:-8}
case "$rounds" in '' | *[!0-9]* | 0) echo "ROUNDS must be a number of rounds" >&2; exit 2 ;; esac
for tree in "$base" "$here"; do
  [ -x "$tree/build/tools/heed" ] || { echo "$tree/build/tools/heed: build that tree first" >&2; exit 1; }
done
runs=$(mktemp)
trap 'rm -f "$runs"' EXIT
ops='qkv attention proj fc1 fc2'
printf '%-6s %-5s %9s %9s' round tree forward op-sum
for op in $ops; do printf ' %9s' "$op"; done
echo
for r in $(seq "$rounds"); do
  # the first of a pair runs slower or faster on a busy machine: each tree goes first every
  # other round
  order=("$base" "$here")
  [ $((r % 2)) = 1 ] || order=("$here" "$base")
  for tree in "${order[@]}"; do
    name=$([ "$tree" = "$base" ] && echo base || echo this)
    # the model's rows only (trees from before the pipeline rows do not know the option)
    no_pipelines=$("$tree/build/tools/heed" bench --help | grep -c pipeline-frames > /dev/null &&
      echo --pipeline-frames=0 || true)
    model=(--shape deit-tiny)
    [ -z "${BENCH_MODEL:-}" ] || model=(--model "$BENCH_MODEL")
    "$tree/build/tools/heed" bench "${model[@]}" --runs 8 --warmup 2 --no-torch $no_pipelines 2>&1 |
      awk -v r="$r" -v name="$name" -v ops="$ops" '
        /^forward / { forward = $3 }
        /^(patch_embed|layernorm|qkv|attention|proj|fc1|fc2|head) / { sum += $3; ms[$1] = $3 }
        END {
          printf "%-6s %-5s %9.2f %9.2f", r, name, forward, sum
          n = split(ops, o, " ")
          for (i = 1; i <= n; i++) printf " %9.2f", ms[o[i]]
          printf "\n"
        }' | tee -a "$runs"
  done
done
/usr/bin/python3 - "$runs" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    rows[f[1]].append([float(x) for x in f[2:]])
for name in ('base', 'this'):
    cols = list(zip(*rows[name]))
    print('%-6s %-5s' % ('median', name) + ''.join(' %9.2f' % statistics.median(c) for c in cols))
# each round's this / base, then their median: a machine that drifts between rounds moves both
# sides of a round alike
ratios = [[t / b for t, b in zip(tr, br)] for tr, br in zip(rows['this'], rows['base'])]
print('%-12s' % 'this/base' + ''.join(' %9.3f' % statistics.median(c) for c in zip(*ratios)))
PY
