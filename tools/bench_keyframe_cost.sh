#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What heedkeyframe and heedclassify (the default model) each add to a frame, side by side in
# one run: `videotestsrc pattern=ball ! FORMAT WIDTHxHEIGHT ! ELEMENT ! fakesink` for N and 2N
# frames, (time of 2N - time of N) / N, start-up excluded, best of 3 rounds (this machine's
# neighbours make single runs noisy); identity is the pipeline without heed, subtracted.
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
per_frame () { # best of 3: ms a frame
  local best=1000000 t1 t2 ms
  for _ in 1 2 3; do
    t1=$(seconds "$1" "$n"); t2=$(seconds "$1" $((2 * n)))
    ms=$(echo "($t2 - $t1) * 1000 / $n" | bc -l)
    best=$(echo "if ($ms < $best) $ms else $best" | bc -l)
  done
  echo "$best"
}
for fmt in $formats; do
  base=$(per_frame identity)
  kf=$(per_frame heedkeyframe)
  cl=$(per_frame heedclassify)
  kf_add=$(echo "$kf - $base" | bc -l); cl_add=$(echo "$cl - $base" | bc -l)
  printf '%s %sx%s: identity %.2f ms; heedkeyframe adds %.2f ms, heedclassify adds %.2f ms: %.1f%%\n' \
    "$fmt" "$w" "$h" "$base" "$kf_add" "$cl_add" "$(echo "100 * $kf_add / $cl_add" | bc -l)"
done
