#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Frames per second of a real pipeline through heedclassify, start-up excluded: runs the
# pipeline for N and for 2N frames and divides the extra frames by the extra time.
#   tools/bench_pipeline.sh [WIDTH HEIGHT [N [ELEMENT...]]]
# e.g. tools/bench_pipeline.sh 640 480 300 heedclassify
set -euo pipefail
cd "$(dirname "$0")/.."
# the plugin from the build tree, unless one is installed
[ -f build/plugin/libgstheed.so ] && export GST_PLUGIN_PATH="$PWD/build/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
w=${1:-640} h=${2:-480} n=${3:-300}
shift $(( $# < 3 ? $# : 3 ))
element=${*:-heedclassify}
run () {
  local start end
  start=$(date +%s.%N)
  gst-launch-1.0 -q videotestsrc num-buffers="$1" pattern=ball \
    ! "video/x-raw,width=$w,height=$h,framerate=30/1" ! $element ! fakesink sync=false \
    || { echo "the pipeline failed" >&2; exit 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
t1=$(run "$n") || exit 1
t2=$(run $((2 * n))) || exit 1
echo "$element at ${w}x${h}: $(echo "$n / ($t2 - $t1)" | bc -l | xargs printf '%.1f') frames/s" \
     "($n extra frames in $(echo "$t2 - $t1" | bc -l | xargs printf '%.2f') s; videotestsrc included)"
