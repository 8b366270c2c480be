#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What heedkeyframe and heedclassify (the default model) each add to a frame, side by side in
# one run: `videotestsrc pattern=ball ! FORMAT WIDTHxHEIGHT ! ELEMENT ! fakesink` for N and 2N
# frames, (time of 2N - time of N) / N, start-up excluded, the median of 5 rounds that take the
# three in turn (this machine's neighbours make single runs noisy); identity is the pipeline
# without heed, subtracted.
#   tools/bench_keyframe_cost.sh [WIDTH HEIGHT [N [FORMAT...]]]      (640 480 300 BGRA I420)
set -euo pipefail
shopt -s inherit_errexit # a pipeline that fails inside $(...) ends the script
cd "$(dirname "$0")/.."
[ -f build/plugin/libgstheed.so ] && export GST_PLUGIN_PATH="$PWD/build/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
w=${1:-640} h=${2:-480} n=${3:-300}
shift $(( $# < 3 ? $# : 3 ))
formats=${*:-BGRA I420}
seconds () { # wall seconds of a run of $2 frames through element $1
  local start end
  start=$(date +%s.%N)
  gst-launch-1.0 -q videotestsrc num-buffers="$2" pattern=ball \
    ! "video/x-raw,format=$fmt,width=$w,height=$h,framerate=30/1" ! $1 ! fakesink sync=false \
    || { echo "the pipeline failed" >&2; exit 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
per_frame () { # ms a frame: the run of 2N less the run of N, over N
  local t1 t2
  t1=$(seconds "$1" "$n"); t2=$(seconds "$1" $((2 * n)))
  echo "($t2 - $t1) * 1000 / $n" | bc -l
}
median () { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for fmt in $formats; do
  # the three in turn, 5 rounds, each figure the median of its rounds: a busy spell of this
  # machine's neighbours then slows all three alike, and one spell cannot decide a figure
  base=() kf=() cl=()
  for _ in 1 2 3 4 5; do
    base+=("$(per_frame identity)") kf+=("$(per_frame heedkeyframe)") cl+=("$(per_frame heedclassify)")
  done
  base=$(median "${base[@]}") kf=$(median "${kf[@]}") cl=$(median "${cl[@]}")
  kf_add=$(echo "$kf - $base" | bc -l); cl_add=$(echo "$cl - $base" | bc -l)
  printf '%s %sx%s: identity %.2f ms; heedkeyframe adds %.2f ms, heedclassify adds %.2f ms: %.1f%%\n' \
    "$fmt" "$w" "$h" "$base" "$kf_add" "$cl_add" "$(echo "100 * $kf_add / $cl_add" | bc -l)"
done
