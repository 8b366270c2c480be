#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# This tree against another built tree of heed (say an earlier commit), in one run, taking turns
# so a noisy machine hurts both alike: `heed bench --shape deit-tiny` (with PyTorch beside each),
# then the issue's pipelines at 640x480 (BASE: heedclassify ! heedoverlay; this tree: the same,
# and heedclassify ! heedkeyframe ! heedoverlay).
#   tools/bench_compare.sh BASE_TREE [ROUNDS]
# e.g. git worktree add /tmp/base <commit> && (cd /tmp/base && meson setup build && ninja -C build)
#      tools/bench_compare.sh /tmp/base 2
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BASE_TREE [ROUNDS]" >&2; exit 2; }
base=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
rounds=${2:-2}
for tree in "$base" "$here"; do
  [ -x "$tree/build/tools/heed" ] || { echo "$tree/build/tools/heed: build that tree first" >&2; exit 1; }
done
forward () {
  "$1/build/tools/heed" bench --shape deit-tiny --runs 20 --warmup 3 2>&1 |
    awk '/^(device|peak):/ || /^forward, heed/ { print "   ", $0 }
      /^(forward|qkv|attention|proj|fc1|fc2|layernorm) / {
      # torch ms: the next to last column (the 5th in trees before the % peak column, else
      # the 6th), but for op rows ending with the % torch column (8 fields), where it is the 6th
      t = NF == 8 ? 6 : NF - 1
      printf "    %-10s heed %8.2f ms %6.2f GFLOP/s   torch %7.2f ms %7.2f GFLOP/s   ratio %.2f\n",
             $1, $3, $4, $t, $(t + 1), $3 / $t }'
}
registries=$(mktemp -d)
trap 'rm -rf "$registries"' EXIT
registry () { # each tree its own GStreamer registry, so each loads its own plugin; made up front,
  # so no timed run pays for the plugin scan
  local file="$registries/$(echo "$1" | tr / _).bin"
  [ -f "$file" ] || GST_REGISTRY_1_0="$file" GST_PLUGIN_PATH="$1/build/plugin" \
    gst-inspect-1.0 heedclassify > /dev/null
  echo "$file"
}
pipeline () { # TREE NAME ELEMENTS...
  local tree=$1 name=$2
  shift 2
  echo -n "    $name: "
  GST_REGISTRY_1_0="$(registry "$tree")" "$tree/tools/bench_pipeline.sh" 640 480 300 "$@"
}
for r in $(seq "$rounds"); do
  echo "== round $r: DeiT-Tiny forward, heed and PyTorch on the CPU in the same run"
  echo "  base ($base)"
  forward "$base"
  echo "  this tree ($here)"
  forward "$here"
  echo "== round $r: pipelines at 640x480"
  pipeline "$base" base heedclassify ! heedoverlay
  pipeline "$here" "this tree" heedclassify ! heedoverlay
  pipeline "$here" "this tree" heedclassify ! heedkeyframe ! heedoverlay
done
